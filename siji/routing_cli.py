"""``siji staff`` and ``siji routing``: tokens, escalation, unit performance."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from geo.errors import counted
from siji.console import domain_errors, err, out, print_json

if TYPE_CHECKING:
    from routing.service import ReportService

staff_app = typer.Typer(help="Staff tokens bound to a unit and a role.", no_args_is_help=True)
routing_app = typer.Typer(help="Escalation and unit performance.", no_args_is_help=True)


def _report_service() -> ReportService:
    from api.settings import Settings, report_service
    from siji.sources import boundary_service

    settings = Settings()
    boundaries = boundary_service(settings=settings)
    return report_service(settings, boundaries.engine, boundaries)


@staff_app.command("add")
def staff_add(
    name: Annotated[str, typer.Option(help="Who holds the token.")],
    unit: Annotated[
        str,
        typer.Option(
            help="Unit code (370902002000), city department (city:园林局) or district department "
            "(370902000000:城管局)."
        ),
    ],
    role: Annotated[str, typer.Option(help="dispatcher, handler, supervisor or planner.")],
    days: Annotated[float, typer.Option(help="Days until it expires.", min=0.01)] = 365,
) -> None:
    """Issue a token (printed once; only its hash is stored)."""
    from routing.audit import unit_chain
    from routing.staff import issue

    with domain_errors():
        service = _report_service()
        _check_unit(service, unit)
        chain = unit_chain(service.boundaries.index()[1], unit)
        token, token_id = issue(
            service.engine, name=name, unit_key=unit, role=role, days=days, unit_chain=chain
        )
    err.print(f"token {token_id} for {name} ({role} of {unit}); keep it secret, it is not shown again:")
    out.print(token, highlight=False)


def _check_unit(service: ReportService, unit: str) -> None:
    """A unit code of the active set, or a department the departments file lists; a code
    a boundary release removed is refused naming the unit that continues it."""
    from routing.errors import UnknownDeskError
    from routing.handover import successor_text
    from store.lineage import successors_today

    service.boundaries.index()  # no active generation: say so, not "unknown unit"
    try:
        service.desks().get(unit, field="unit")
    except UnknownDeskError as exc:
        code, separator, department = unit.partition(":")
        successors = successors_today(service.engine, code)
        if not successors:
            raise
        use = f"{successors[0].code}{separator}{department}"
        raise UnknownDeskError(
            f"{exc.message}; {successor_text(successors)}: use --unit {use}", **exc.detail
        ) from exc


@staff_app.command("list")
def staff_list() -> None:
    """Tokens and their state (never the tokens themselves)."""
    from routing.staff import list_tokens

    with domain_errors():
        rows = list_tokens(_report_service().engine)
    table = Table()
    for column in ("id", "name", "unit", "role", "expires", "revoked"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["name"],
            r["unit_key"],
            r["role"],
            str(r["expires_at"] or ""),
            str(r["revoked_at"] or ""),
        )
    out.print(table)


@staff_app.command("stale")
def staff_stale() -> None:
    """Tokens bound to units that the active boundary generation no longer has (they are
    refused), with the units that continue them."""
    from routing.handover import stale_tokens, successor_text

    with domain_errors():
        service = _report_service()
        generation, index = service.boundaries.index()
        rows = stale_tokens(service.engine, index.units.row_of_code)
    if not rows:
        out.print(
            f"no staff token is bound to a unit missing from generation {generation.id} {generation.name!r}"
        )
        return
    table = Table(
        title=f"{counted(len(rows), 'staff token')} bound to units not in generation {generation.id} "
        f"{generation.name!r}"
    )
    for column in ("id", "name", "unit", "role", "continues as"):
        table.add_column(column)
    for r in rows:
        table.add_row(str(r["id"]), r["name"], r["unit_key"], r["role"], successor_text(r["successors"]))
    out.print(table)
    err.print("issue tokens for the new units (siji staff add) and revoke these (siji staff revoke ID)")


@staff_app.command("revoke")
def staff_revoke(token_id: Annotated[int, typer.Argument(help="Token id from `siji staff list`.")]) -> None:
    """Revoke a token at once."""
    from routing.audit import unit_chain
    from routing.staff import revoke, token_unit

    with domain_errors():
        service = _report_service()
        chain = unit_chain(service.boundaries.index()[1], token_unit(service.engine, token_id))
        revoke(service.engine, token_id, unit_chain=chain or None)
    out.print(f"token {token_id} revoked")


@routing_app.command("escalate")
def escalate() -> None:
    """Escalate every overdue case one level up (督办); the service also does this on a schedule."""
    from routing.audit import operator

    with domain_errors():
        done = _report_service().escalate_overdue(actor=operator())
    out.print(f"escalated {len(done)} overdue cases")
    for item in done:
        out.print(f"  report {item['id']} → supervised by {item['supervisor']} (level {item['level']})")


@routing_app.command("handover")
def handover() -> None:
    """Move the open cases of units the active boundary generation no longer has to the
    units that own their place now (the service does this when it switches generation)."""
    from routing.audit import operator
    from routing.handover import hand_over_open_cases

    with domain_errors():
        service = _report_service()
        generation, index = service.boundaries.index()
        moved = hand_over_open_cases(
            service.engine, generation, index, actor=operator(), departments=service.departments
        )
    out.print(
        f"handed over {len(moved)} open cases to units of generation {generation.id} {generation.name!r}"
    )
    for item in moved[:50]:
        out.print(f"  report {item.report_id}: {item.from_key} → {item.to_key} {item.to_name} ({item.how})")


@routing_app.command("metrics")
def metrics(
    start: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="Period start (inclusive).")],
    end: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="Period end (exclusive).")],
    by: Annotated[str, typer.Option(help="unit_key or team.")] = "unit_key",
    csv: Annotated[Path | None, typer.Option(help="Also write the table as CSV (UTF-8 with BOM).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """结案率, 按期结案率, 按期处置率, 返工率, handling time, urgings, satisfaction and ratings per unit."""
    from routing import metrics as unit_metrics

    with domain_errors():
        service = _report_service()
        zone = dt.timezone(dt.timedelta(hours=8))  # periods are calendar days in China Standard Time
        table_data = unit_metrics.unit_metrics(
            service.cases_frame(),
            start.replace(tzinfo=zone),
            end.replace(tzinfo=zone),
            by=by,
            calendar=service.calendar,
        )
        if csv is not None:
            unit_metrics.to_csv(table_data, csv)
    if as_json:
        print_json(table_data.astype(object).where(table_data.notna(), None).to_dict("records"))
        return
    table = Table(title=f"unit performance {start:%Y-%m-%d} – {end:%Y-%m-%d} (all columns: --json or --csv)")
    headers = unit_metrics.CHINESE_HEADERS
    name_column = "unit_name" if "unit_name" in table_data.columns else by
    shown = [
        name_column, "due", *unit_metrics.RATE_COLUMNS, "median_handling_hours", "urged", "satisfaction_rate",
        "rating_zh",
    ]  # fmt: skip
    for column in shown:
        table.add_column(headers.get(column, column), justify="left" if column == name_column else "right")
    for row in table_data[shown].itertuples(index=False):
        table.add_row(*[_cell(column, value) for column, value in zip(shown, row, strict=True)])
    out.print(table)


def _cell(column: str, value: object) -> str:
    if isinstance(value, float):
        if value != value:
            return "–"
        return f"{value:.0%}" if column.endswith("rate") else f"{value:.1f}"
    return str(value)


@routing_app.command("audit")
def audit_log(
    since: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"], help="From (UTC).")
    ] = None,
    until: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"], help="Before (UTC).")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="A token holder's name, exactly.")] = None,
    report: Annotated[int | None, typer.Option(help="Actions on this report id.", min=1)] = None,
    limit: Annotated[int, typer.Option(help="Entries to show, newest first.", min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Staff actions (who, what, when, from where), newest first; every unit."""
    from routing.audit import AuditQuery, operator

    query = AuditQuery(
        since=None if since is None else since.replace(tzinfo=dt.UTC),
        until=None if until is None else until.replace(tzinfo=dt.UTC),
        actor=actor,
        report_id=report,
        limit=limit,
    )
    with domain_errors():
        total, entries = _report_service().audit_log(operator(), query)
    if as_json:
        print_json({"total": total, "entries": entries})
        return
    table = Table(title=f"audit log: {len(entries)} of {total} entries")
    for column in ("at", "actor", "role", "unit", "action", "report", "outcome", "client"):
        table.add_column(column)
    for e in entries:
        table.add_row(
            e["at"][:19], e["actor"], e["role"] or "", e["unit_key"] or "", e["action"],
            str(e["report_id"] or e["target"] or ""), e["outcome"], e["client"],
        )  # fmt: skip
    out.print(table)
