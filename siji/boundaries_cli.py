"""``siji boundaries``: validate, import and export boundary sets."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from boundaries.read import FieldMapping, read_boundaries
from boundaries.validate import DEFAULT_TOLERANCE_M2, ValidationReport, repair, validate
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
):
    fields = FieldMapping(code=code, name=name, parent_code=parent, level=level_field)
    return read_boundaries(path, fields=fields, crs=crs, level=level, encoding=_checked_encoding(encoding))


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
        out.print(f"repaired {len(report.repaired)} invalid geometries: {', '.join(report.repaired[:20])}")
    if report.ok:
        out.print(f"[green]valid[/]: no problems above {report.tolerance_m2:g} m²")
        return
    table = Table(title=f"{len(report.problems)} problems", show_lines=False)
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
    tolerance_m2: ToleranceOpt = DEFAULT_TOLERANCE_M2,
    encoding: EncodingOpt = None,
    fix: Annotated[
        Path | None, typer.Option("--fix", help="Repair invalid geometries and write the result here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check geometry validity, codes, parents, levels, nesting and tiling."""
    with domain_errors():
        frame = _read(path, crs, code_field, name_field, parent_field, level_field, level, encoding)
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
    tolerance_m2: ToleranceOpt = DEFAULT_TOLERANCE_M2,
    valid_from: Annotated[
        datetime | None,
        typer.Option(
            "--valid-from", formats=["%Y-%m-%d"], help="First day the set is valid (default today)."
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Generation name (default: the file name).")
    ] = None,
    commit: Annotated[
        bool, typer.Option("--commit", help="Store it; without this the import is a dry run.")
    ] = False,
    accept_problems: Annotated[
        bool, typer.Option("--accept-problems", help="Commit even if the validator reports problems.")
    ] = False,
    as_json: JsonOpt = False,
    encoding: EncodingOpt = None,
) -> None:
    """Validate a boundary set and, with --commit, store it as a new generation."""
    from siji.sources import boundary_service
    from store.generations import import_generation

    with domain_errors():
        frame = _read(path, crs, code_field, name_field, parent_field, level_field, level, encoding)
        report = validate(frame, tolerance_m2=tolerance_m2)
        show_report(report, as_json)
        start = (valid_from or datetime.now()).date()
        service = boundary_service()
        changes = _changes_against_active(service, frame)
        err.print(changes)
        if report.blocking:
            checks = sorted({p.check for p in report.blocking})
            fail(
                f"this set cannot be stored: {len(report.blocking)} {' and '.join(checks)} problem(s), "
                f"which --accept-problems cannot wave through; first: {report.blocking[0].message}. "
                "Repair invalid polygons with 'siji boundaries validate --fix' and make codes unique"
            )
        if not commit:
            err.print(
                f"dry run: nothing stored. Add --commit to store it as a generation valid from {start}."
            )
            return
        if not report.ok and not accept_problems:
            fail(f"not stored: {len(report.problems)} problems; fix them or pass --accept-problems")
        info = import_generation(
            service.engine, frame, name=name or path.stem, valid_from=start, source=str(path.name)
        )
    out.print(
        f"stored generation {info.id} {info.name!r}: {info.unit_count:,} units valid from {info.valid_from}"
    )


def _changes_against_active(service, frame) -> str:
    from geo.errors import NotFoundError
    from store.generations import load_frame

    try:
        active = service.generation()
    except NotFoundError:
        return "no active generation: this would be the first"
    current = set(load_frame(service.engine, active.id)["code"])
    incoming = set(frame["code"])
    return (
        f"against active generation {active.name!r}: {len(incoming - current):,} new codes, "
        f"{len(current - incoming):,} codes gone, {len(incoming & current):,} kept"
    )


@app.command("export")
def export_command(
    output: Annotated[Path, typer.Argument(help="Output file (.geojson, .gpkg, .shp, .parquet).")],
    level: Annotated[str, typer.Option("--level", help="city, district, subdistrict or community.")],
) -> None:
    """Write one level's polygons with code, name and parent_code."""
    from boundaries.write import export_level

    with domain_errors():
        frame = _active_frame()
        n = export_level(frame, level, output)
    err.print(f"wrote {n:,} units to {output}")


def _active_frame():
    from siji.sources import boundary_service
    from store.generations import load_frame

    service = boundary_service()
    return load_frame(service.engine, service.generation().id)


__all__ = ["app", "fail", "show_report"]
