"""``siji boundaries``: validate, import and export boundary sets."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from boundaries.read import FieldMapping, read_boundaries
from boundaries.validate import DEFAULT_TOLERANCE_M2, MAX_ACCEPTED_M2, ValidationReport, repair, validate
from geo.errors import counted
from siji.console import domain_errors, err, fail, out, print_json

app = typer.Typer(help="Validate, import and export boundary sets.", no_args_is_help=True)

PathArg = Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage, Shapefile or GeoParquet file.")]
CrsOpt = Annotated[
    str | None, typer.Option("--crs", help="Source CRS: wgs84, cgcs2000, gcj02, bd09 or EPSG:<code>.")
]
CodeOpt = Annotated[str, typer.Option("--code-field", help="Field holding the unit code.")]
NameOpt = Annotated[str, typer.Option("--name-field", help="Field holding the unit name.")]
ParentOpt = Annotated[str, typer.Option("--parent-field", help="Field holding the parent code.")]
LevelFieldOpt = Annotated[str, typer.Option("--level-field", help="Field holding the level.")]
LevelOpt = Annotated[
    str | None, typer.Option("--level", help="Level of every feature, when the file has no level field.")
]
ToleranceOpt = Annotated[
    float, typer.Option("--tolerance-m2", help="Ignore gaps/overlaps/outside areas below this many m².")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]
LayerOpt = Annotated[
    str | None, typer.Option("--layer", help="The layer to read, in a GeoPackage of several layers.")
]
EncodingOpt = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        help="Text encoding of the attributes, e.g. gbk for a shapefile without .cpg (default: the file's).",
    ),
]


def _read(
    path: Path,
    crs: str | None,
    code: str,
    name: str,
    parent: str,
    level_field: str,
    level: str | None,
    encoding: str | None = None,
    layer: str | None = None,
):
    fields = FieldMapping(code=code, name=name, parent_code=parent, level=level_field)
    return read_boundaries(
        path, fields=fields, crs=crs, level=level, encoding=_checked_encoding(encoding), layer=layer
    )


def _checked_encoding(encoding: str | None) -> str | None:
    """The encoding's canonical name; an unknown one is a usage error naming it."""
    import codecs

    if encoding is None:
        return None
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        fail(
            f"unknown --encoding {encoding!r}; use a Python codec name such as utf-8, gbk, gb18030 or latin1"
        )


def show_report(report: ValidationReport, as_json: bool) -> None:
    """Print a validation report as a table (or JSON)."""
    if as_json:
        print_json(report.to_dict())
        return
    counts = ", ".join(f"{n:,} {level}" for level, n in report.counts.items())
    out.print(f"units: {counts}")
    if report.repaired:
        repaired = counted(len(report.repaired), "invalid geometry", "invalid geometries")
        out.print(f"repaired {repaired}: {', '.join(report.repaired[:20])}")
    if report.ok:
        out.print(f"[green]valid[/]: no problems above {report.tolerance_m2:g} m²")
        return
    table = Table(title=counted(len(report.problems), "problem"), show_lines=False)
    for column in ("check", "code", "area m²", "where (lon, lat)", "problem"):
        table.add_column(column)
    for p in report.problems[:200]:
        where = f"{p.lon:.6f}, {p.lat:.6f}" if p.lon is not None and p.lat is not None else ""
        area = f"{p.area_m2:,.1f}" if p.area_m2 is not None else ""
        table.add_row(p.check, p.code or "", area, where, p.message)
    out.print(table)
    if len(report.problems) > 200:
        out.print(f"... and {len(report.problems) - 200} more (use --json for all)")


@app.command("validate")
def validate_command(
    path: PathArg,
    crs: CrsOpt = None,
    code_field: CodeOpt = "code",
    name_field: NameOpt = "name",
    parent_field: ParentOpt = "parent_code",
    level_field: LevelFieldOpt = "level",
    level: LevelOpt = None,
    layer: LayerOpt = None,
    tolerance_m2: ToleranceOpt = DEFAULT_TOLERANCE_M2,
    encoding: EncodingOpt = None,
    fix: Annotated[
        Path | None, typer.Option("--fix", help="Repair invalid geometries and write the result here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check geometry validity, codes, parents, levels, nesting and tiling."""
    with domain_errors():
        frame = _read(path, crs, code_field, name_field, parent_field, level_field, level, encoding, layer)
        repaired: list[str] = []
        if fix is not None:
            frame, repaired = repair(frame)
        report = validate(frame, tolerance_m2=tolerance_m2)
        report.repaired = repaired
        show_report(report, as_json)
        if fix is not None:
            from boundaries.write import write_frame

            write_frame(frame, fix)
            err.print(f"wrote the repaired set to {fix}")
    if not report.ok:
        raise typer.Exit(1)


@app.command("import")
def import_command(
    path: PathArg,
    crs: CrsOpt = None,
    code_field: CodeOpt = "code",
    name_field: NameOpt = "name",
    parent_field: ParentOpt = "parent_code",
    level_field: LevelFieldOpt = "level",
    level: LevelOpt = None,
    layer: LayerOpt = None,
    tolerance_m2: ToleranceOpt = DEFAULT_TOLERANCE_M2,
    valid_from: Annotated[
        datetime | None,
        typer.Option(
            "--valid-from", formats=["%Y-%m-%d"], help="First day the set is valid (default today)."
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Generation name (default: the file name); unique.")
    ] = None,
    commit: Annotated[
        bool, typer.Option("--commit", help="Store it; without this the import is a dry run.")
    ] = False,
    accept_problems: Annotated[
        bool,
        typer.Option(
            "--accept-problems",
            help="Store it with gaps, overlaps or area outside a parent, each at most --max-accepted-m2 "
            "(never structural problems).",
        ),
    ] = False,
    max_accepted_m2: Annotated[
        float,
        typer.Option("--max-accepted-m2", min=0, help="Largest gap or overlap --accept-problems takes."),
    ] = MAX_ACCEPTED_M2,
    accept_change: Annotated[
        str | None,
        typer.Option(
            "--accept-change",
            metavar="REASON",
            help="Store it although the release checks object (the city's outline moves, codes vanish "
            "with nothing overlapping them); the reason is recorded with the generation.",
        ),
    ] = None,
    check_index: Annotated[
        bool,
        typer.Option(
            "--check-index",
            help="Also build and check the set's index before storing it (every server does so before it "
            "answers with the set, and keeps the generation before if that fails).",
        ),
    ] = False,
    as_json: JsonOpt = False,
    encoding: EncodingOpt = None,
) -> None:
    """Check a boundary set against the generation it follows; with --commit, store it.

    A dry run (no --commit) prints what would change and exits 1 when --commit would
    refuse the set; --commit exits 2 when it refuses it.
    """
    from boundaries.release import IndexBuild, ReleaseRefusedError, commit_release, plan_release
    from routing.audit import operator
    from siji.release_view import plan_dict, show_plan
    from siji.sources import boundary_service

    with domain_errors():
        frame = _read(path, crs, code_field, name_field, parent_field, level_field, level, encoding, layer)
        service = boundary_service()
        # An index to check is built beside the validation and the planning.
        building = IndexBuild(frame, service.snap_distance_m) if commit and check_index else None
        report = validate(frame, tolerance_m2=tolerance_m2)
        start = (valid_from or datetime.now()).date()
        plan = plan_release(service.engine, frame, start, report, index_build=building)
        refusals = plan.refusals(
            accept_problems=accept_problems, accept_change=accept_change, max_accepted_m2=max_accepted_m2
        )
        if as_json:
            print_json({"validation": report.to_dict(), **plan_dict(plan, refusals)})
        else:
            show_report(report, as_json=False)
            show_plan(plan)
        if not commit:
            if refusals:
                err.print(
                    "[bold red]dry run:[/] nothing stored; with --commit it would be refused: "
                    + " | ".join(refusals),
                    highlight=False,
                )
                raise typer.Exit(1)
            err.print(
                f"dry run: nothing stored. Add --commit to store it as a generation valid from {start}."
            )
            return
        try:
            info = commit_release(
                service.engine,
                plan,
                name=name or path.stem,
                source=path.name,
                accept_problems=accept_problems,
                accept_change=accept_change,
                max_accepted_m2=max_accepted_m2,
                snap_distance_m=service.snap_distance_m,
                by=operator().address or "",
            )
        except ReleaseRefusedError as exc:
            fail(exc)
        stored = f"stored generation {info.id} {info.name!r}: {info.unit_count:,} units"
        stored += f" valid from {info.valid_from}"
        (err if as_json else out).print(stored, highlight=False)
        from boundaries.service import ACTIVE_TTL_S

        when = "now" if info.active else f"from {info.valid_from}"
        err.print(
            f"running servers answer with it {when}, each within {ACTIVE_TTL_S:g} s plus the build and "
            "check of its index (until then, and if that fails, with the generation before)",
            highlight=False,
        )
        if info.active:
            _hand_over(service, info)


def _hand_over(service: Any, info: Any) -> None:
    """Open cases and staff tokens of units the new active generation does not have (its
    index, needed to place the cases, is built only when some case is due)."""
    from routing.audit import operator
    from routing.handover import cases_due, hand_over_open_cases, stale_tokens
    from store.units import codes_of

    engine = service.engine
    codes = codes_of(engine, info.id)
    moved = []
    if cases_due(engine, codes):
        from api.settings import Settings
        from routing.desks import load_departments

        path = Settings().departments_path
        departments = load_departments(path) if path else None
        moved = hand_over_open_cases(
            engine, info, service.index_of(info), actor=operator(), departments=departments
        )
    if moved:
        err.print(
            f"handed over {counted(len(moved), 'open case')} of units not in this generation to the units "
            "that own their place now (each is a step in its history)",
            highlight=False,
        )
    stale = stale_tokens(engine, codes)
    if stale:
        err.print(
            f"{counted(len(stale), 'staff token')} are bound to units not in this generation; they are "
            "refused from now on. List them and their successors: siji staff stale",
            highlight=False,
        )


@app.command("export")
def export_command(
    output: Annotated[Path, typer.Argument(help="Output file (.geojson, .gpkg, .shp, .parquet).")],
    level: Annotated[
        str,
        typer.Option(
            "--level",
            help="city, district, subdistrict, community, or all (one file with a level column that "
            "import reads back unchanged).",
        ),
    ] = "all",
    at: Annotated[
        datetime | None,
        typer.Option("--at", formats=["%Y-%m-%d"], help="The generation valid on this date (default today)."),
    ] = None,
) -> None:
    """Write the polygons of one level, or of all levels, of a generation."""
    from boundaries.write import export_level
    from siji.sources import boundary_service
    from store.generations import load_frame

    with domain_errors():
        service = boundary_service()
        generation = service.generation(at.date() if at else None)
        n = export_level(load_frame(service.engine, generation.id), level, output)
    note = (
        " (the shapefile keeps parent_code as parent_cod; import reads it back)"
        if output.suffix == ".shp"
        else ""
    )
    err.print(
        f"wrote {counted(n, 'unit')} of generation {generation.id} {generation.name!r} to {output}{note}",
        highlight=False,
    )


@app.command("generations")
def generations_command(as_json: JsonOpt = False) -> None:
    """Boundary generations: validity, units per level, which one answers today."""
    from siji.release_view import generation_dict, show_generations
    from siji.sources import boundary_service
    from store.generations import level_counts, list_generations

    with domain_errors():
        service = boundary_service()
        generations = list_generations(service.engine, staging=True)
        counts = level_counts(service.engine)
    if as_json:
        print_json([generation_dict(g, counts.get(g.id, {})) for g in generations])
    else:
        show_generations(generations, counts)


@app.command("lineage")
def lineage_command(
    output: Annotated[Path, typer.Argument(help="CSV file to write (UTF-8 with BOM, for Excel).")],
    from_generation: Annotated[str, typer.Option("--from", help="The old generation (id or name).")],
    to_generation: Annotated[str, typer.Option("--to", help="The new generation (id or name).")],
) -> None:
    """Write the old→new code table between two generations: every old and new code,
    the kind of change and the share of area each way."""
    from siji.lineage_export import write_lineage
    from siji.sources import boundary_service

    with domain_errors():
        rows, how = write_lineage(boundary_service().engine, from_generation, to_generation, output)
    err.print(f"wrote {counted(rows, 'link')} to {output} ({how})", highlight=False)


@app.command("withdraw")
def withdraw_command(
    generation: Annotated[str, typer.Argument(help="The generation (id or name).")],
    from_date: Annotated[
        datetime | None,
        typer.Option(
            "--from", formats=["%Y-%m-%d"], help="First day it no longer answers (default: its first day)."
        ),
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why; kept with the generation.")] = "",
    undo: Annotated[bool, typer.Option("--undo", help="Take an earlier withdrawal back.")] = False,
) -> None:
    """Stop a generation answering from a date on, deleting nothing: the generation
    before it answers again, and reports keep the generation they were routed under."""
    from boundaries.release import geometry_linker
    from routing.audit import operator
    from siji.sources import boundary_service
    from store.generations import generation_at, get_generation, withdraw_generation

    if not reason.strip():
        fail("give the reason with --reason (it is kept with the generation)")
    with domain_errors():
        service = boundary_service()
        target = get_generation(service.engine, generation)
        start = None if undo else (from_date.date() if from_date else target.valid_from)
        info = withdraw_generation(
            service.engine,
            target.id,
            start,
            reason=reason,
            by=operator().address or "",
            linker=geometry_linker,
        )
        today = generation_at(service.engine)
    from boundaries.service import ACTIVE_TTL_S

    what = "answers again" if undo else f"is withdrawn from {start}"
    err.print(
        f"generation {info.id} {info.name!r} {what}; nothing was deleted. Today generation {today.id} "
        f"{today.name!r} answers; running servers switch within {ACTIVE_TTL_S:g} s plus one index build.",
        highlight=False,
    )
    if today.id != target.id or undo:
        _hand_over(service, today)


__all__ = ["app", "fail", "show_report"]
