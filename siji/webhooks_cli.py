"""``siji webhooks``: receivers of a unit's events, their dead letters, and the delivery loop."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from siji.console import domain_errors, err, out, print_json
from siji.routing_cli import _report_service

webhooks_app = typer.Typer(
    help="Send a unit's case events to its own system: signed webhooks, dead letters, the delivery loop.",
    no_args_is_help=True,
)


@webhooks_app.command("add")
def add(
    unit: Annotated[
        str,
        typer.Option(help="Unit code (370902002000) or department (370902000000:城管局, city:园林局)."),
    ],
    url: Annotated[str, typer.Option(help="http(s) URL the events are POSTed to.")],
    secret: Annotated[
        str, typer.Option(help="16 to 200 characters; signs each request (X-Siji-Signature, HMAC-SHA256).")
    ],
    types: Annotated[
        list[str] | None, typer.Option("--type", help="Only this event type (repeatable; default: all).")
    ] = None,
) -> None:
    """Register a webhook for a unit's events, from now on (the operator may add one for any unit)."""
    from routing.audit import operator
    from routing.webhooks import add as add_webhook

    with domain_errors():
        view = add_webhook(
            _report_service(), operator(), unit_key=unit, url=url, secret=secret, types=types or ()
        )
    out.print(f"webhook {view['id']} for {view['unit_key']} → {view['url']}")


@webhooks_app.command("list")
def list_webhooks(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Every webhook, with its pending and dead deliveries (never its secret)."""
    from routing.audit import operator
    from routing.webhooks import list_webhooks as listed

    with domain_errors():
        rows = listed(_report_service(), operator())
    if as_json:
        print_json(rows)
        return
    table = Table()
    for column in ("id", "unit", "url", "types", "pending", "dead", "last error", "disabled"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r["id"]), r["unit_key"], r["url"], ",".join(r["types"]) or "all", str(r["pending"]),
            str(r["dead"]), r["last_error"][:40] if r["failures"] else "", r["disabled_at"] or "",
        )  # fmt: skip
    out.print(table)


@webhooks_app.command("remove")
def remove(webhook_id: Annotated[int, typer.Argument(help="Webhook id from `siji webhooks list`.")]) -> None:
    """Stop a webhook: nothing more is sent to it."""
    from routing.audit import operator
    from routing.webhooks import remove as removed

    with domain_errors():
        removed(_report_service(), operator(), webhook_id)
    out.print(f"webhook {webhook_id} removed")


@webhooks_app.command("dead-letters")
def dead_letters(
    webhook_id: Annotated[int, typer.Argument(help="Webhook id.")],
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Events the webhook's receiver did not take within the retry period."""
    from routing.audit import operator
    from routing.webhooks import deliveries

    with domain_errors():
        total, rows = deliveries(_report_service(), operator(), webhook_id, "dead", limit)
    if as_json:
        print_json({"total": total, "deliveries": rows})
        return
    table = Table(title=f"webhook {webhook_id}: {total} dead letters")
    for column in ("id", "event", "type", "report", "attempts", "last attempt", "last error"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r["id"]), r["event_id"], r["event_type"], str(r["report_id"]), str(r["attempts"]),
            r["last_attempt_at"] or "", r["last_error"][:60],
        )  # fmt: skip
    out.print(table)


@webhooks_app.command("replay")
def replay(
    webhook_id: Annotated[int, typer.Argument(help="Webhook id.")],
    delivery: Annotated[
        list[int] | None, typer.Option(help="Only this dead letter (repeatable; default: all of them).")
    ] = None,
) -> None:
    """Send dead letters again, before any later event of their cases."""
    from routing.audit import operator
    from routing.webhooks import replay as replayed

    with domain_errors():
        count = replayed(_report_service(), operator(), webhook_id, delivery)
    out.print(f"{count} dead letters of webhook {webhook_id} queued again")


@webhooks_app.command("run")
def run(
    rounds: Annotated[
        int, typer.Option(min=0, help="Stop after this many rounds (0: run until Ctrl-C).")
    ] = 0,
) -> None:
    """Run the delivery loop in the foreground (when the service runs with SIJI_DELIVERY_INTERVAL_S=0)."""
    from api.settings import Settings, delivery_policy
    from routing.delivery import Deliverer

    with domain_errors():
        settings = Settings()
        deliverer = Deliverer(_report_service(), delivery_policy(settings))
    done = 0
    try:
        while rounds == 0 or done < rounds:
            result = deliverer.run_once()
            done += 1
            if result.sent or result.warned or result.queued:
                err.print(
                    f"round {done}: {result.queued} queued, {result.delivered} delivered, {result.failed} "
                    f"failed, {result.dead} dead-lettered, {result.warned} due-soon warnings"
                    + ("" if result.held else " (another process holds the lease)")
                )
            time.sleep(deliverer.policy.interval_s)
    except KeyboardInterrupt:
        pass
    finally:
        deliverer.stop()
