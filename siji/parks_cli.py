"""``siji parks``: the green-space register — import a park file, list, export, remove a source.

``import`` reads and checks a file like ``siji boundaries import`` does (field mapping,
``--crs``, ``--encoding``, a dry run unless ``--commit``) and refuses green spaces that
lie outside the city.  The register lives in the same database as the service
(``SIJI_DATABASE_URL``); the pocket-park map uses it as soon as it holds anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from geo.errors import counted
from siji.console import domain_errors, err, out, print_json

if TYPE_CHECKING:
    from boundaries.service import BoundaryService

parks_app = typer.Typer(
    help="The green-space register: existing parks, pocket parks and squares (import, list, export, remove).",
    no_args_is_help=True,
)

KindOpt = Annotated[
    list[str] | None,
    typer.Option("--kind", help="Only this kind: park, pocket_park or square (repeatable)."),
]
SourceOpt = Annotated[str | None, typer.Option("--source", help="Only this source.")]


def _service() -> BoundaryService:
    from siji.sources import boundary_service

    return boundary_service()


def _city_area(service: BoundaryService) -> tuple[Any, str]:
    """The active boundary set's outline (its top units) and their names."""
    import shapely

    from store.generations import load_frame

    units = load_frame(service.engine, service.generation().id)
    top = units[units["parent_code"].isna()]
    return shapely.union_all(top.geometry.to_numpy()), "、".join(top["name"].astype(str))


@parks_app.command("import")
def import_command(
    path: Annotated[
        Path, typer.Argument(help="GeoPackage, GeoJSON, Shapefile (or .zip), GeoParquet or CSV (points).")
    ],
    name_field: Annotated[str, typer.Option("--name-field", help="Field holding the name.")] = "name",
    kind_field: Annotated[
        str, typer.Option("--kind-field", help="Field holding the kind (公园, 口袋公园, 广场 ...).")
    ] = "kind",
    kind: Annotated[
        str | None, typer.Option("--kind", help="The kind of every feature, when the file has no kind field.")
    ] = None,
    code_field: Annotated[
        str, typer.Option("--code-field", help="Field holding an identifier (optional).")
    ] = "code",
    opened_field: Annotated[
        str, typer.Option("--opened-field", help="Field holding the opening date (optional).")
    ] = "opened",
    area_field: Annotated[
        str,
        typer.Option("--area-field", help="Field holding the area in m² (optional; polygons are measured)."),
    ] = "area_m2",
    crs: Annotated[
        str | None,
        typer.Option(
            "--crs", help="Source CRS: wgs84, cgcs2000, gcj02, bd09 or EPSG:<code> (required for CSV)."
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option("--encoding", help="Text encoding, e.g. gbk (default: the file's, UTF-8 for CSV)."),
    ] = None,
    layer: Annotated[str | None, typer.Option("--layer", help="GeoPackage layer.")] = None,
    x_col: Annotated[str | None, typer.Option("--x-col", help="CSV column of longitude/x.")] = None,
    y_col: Annotated[str | None, typer.Option("--y-col", help="CSV column of latitude/y.")] = None,
    source: Annotated[
        str | None, typer.Option("--source", help="Name of this source (default: the file name).")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the green spaces already imported from this source.")
    ] = False,
    repair: Annotated[
        bool, typer.Option("--repair", help="Repair invalid polygons (make_valid) instead of refusing them.")
    ] = False,
    commit: Annotated[
        bool, typer.Option("--commit", help="Store them; without this the import is a dry run.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Read and check a park file and, with --commit, add it to the register."""
    from greenspace.read import GreenSpaceFields, check_inside, read_green_spaces
    from siji.boundaries_cli import _checked_encoding
    from store.greenspace import import_green_spaces, plan_import

    with domain_errors():
        fields = GreenSpaceFields(
            name=name_field, kind=kind_field, code=code_field, opened=opened_field, area=area_field
        )
        frame = read_green_spaces(
            path, fields=fields, kind=kind, crs=crs, layer=layer, encoding=_checked_encoding(encoding),
            x_col=x_col, y_col=y_col, repair=repair,
        )  # fmt: skip
        service = _service()
        engine = service.engine
        area, where = _city_area(service)
        check_inside(frame, area, where=where)
        name = source or path.name
        plan = plan_import(engine, frame, source=name, replace=replace)
        if commit:
            plan = import_green_spaces(engine, frame, source=name, replace=replace)
    summary = {
        "source": plan.source,
        "features": plan.added,
        "by_kind": plan.by_kind,
        "polygons": int((frame.geom_type != "Point").sum()),
        "points": int((frame.geom_type == "Point").sum()),
        "area_m2": round(float(frame["area_m2"].sum(skipna=True)), 1),
        "repaired": list(frame.attrs.get("repaired", [])),
        "replaced": plan.replaced,
        "register_before": plan.register_before,
        "register_after": plan.register_after,
        "already_registered": plan.already_registered,
        "stored": commit,
    }
    if as_json:
        print_json(summary)
    else:
        _print_import(summary)
    if not commit:
        err.print("dry run: nothing stored. Add --commit to store them.", highlight=False)


def _print_import(summary: dict[str, Any]) -> None:
    from greenspace.kinds import KINDS

    kinds = ", ".join(
        f"{summary['by_kind'][k.key]:,} {k.name_zh}" for k in KINDS if summary["by_kind"].get(k.key)
    )
    area = summary["area_m2"] / 10_000
    out.print(
        f"{counted(summary['features'], 'green space')} from {summary['source']!r}: {kinds}; "
        f"{counted(summary['polygons'], 'polygon')}, {counted(summary['points'], 'point')}; "
        f"{area:,.1f} ha where known",
        highlight=False,
    )
    if summary["repaired"]:
        out.print(
            f"repaired {counted(len(summary['repaired']), 'invalid polygon')}: "
            f"{', '.join(summary['repaired'][:20])}"
        )
    verb = "replaced" if summary["stored"] else "would replace"
    if summary["replaced"]:
        out.print(
            f"{verb} the {summary['replaced']:,} green spaces imported before from {summary['source']!r}"
        )
    if summary["already_registered"]:
        twice = summary["already_registered"]
        err.print(
            f"warning: {len(twice):,} of these are already in the register under another source (same name, "
            f"within 30 m): {', '.join(twice[:10])}; counted twice they would overstate the coverage",
            highlight=False,
        )
    holds = "holds" if summary["stored"] else "would hold"
    out.print(
        f"the register {holds} {summary['register_after']:,} green spaces "
        f"(before: {summary['register_before']:,})"
    )


@parks_app.command("list")
def list_command(
    kind: KindOpt = None,
    source: SourceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the register as JSON.")] = False,
) -> None:
    """List the register: name, kind, point or polygon, area, opening date, source."""
    from greenspace.kinds import KINDS
    from greenspace.write import register_records
    from store.greenspace import load_green_spaces

    with domain_errors():
        total, frame = load_green_spaces(_service().engine, kinds=_kinds(kind), source=source)
    if as_json:
        print_json({"total": total, "green_spaces": register_records(frame)})
        return
    if not total:
        out.print("the register is empty: import a park file with 'siji parks import FILE --commit'")
        return
    names = {k.key: k.name_zh for k in KINDS}
    table = Table(title=counted(total, "green space"), show_lines=False)
    for column in ("id", "name", "kind", "shape", "area m²", "opened", "source"):
        table.add_column(column)
    for row in frame.itertuples():
        area = f"{row.area_m2:,.0f}" if row.area_m2 == row.area_m2 else ""
        table.add_row(
            str(row.id), str(row.name), names.get(str(row.kind), str(row.kind)),
            "point" if row.geometry.geom_type == "Point" else "polygon",
            area, str(row.opened_on or ""), str(row.source),
        )  # fmt: skip
    out.print(table)


@parks_app.command("export")
def export_command(
    output: Annotated[
        Path, typer.Argument(help="Output file: .geojson, .gpkg, .shp, .parquet or .csv (one point per row).")
    ],
    kind: KindOpt = None,
    source: SourceOpt = None,
) -> None:
    """Write the register (or some kinds or a source of it); 'siji parks import' reads it back."""
    from greenspace.write import write_register
    from store.greenspace import load_green_spaces

    with domain_errors():
        _, frame = load_green_spaces(_service().engine, kinds=_kinds(kind), source=source)
        write_register(frame, output)
    err.print(f"wrote {counted(len(frame), 'green space')} to {output}")


def _kinds(kind: list[str] | None) -> list[str] | None:
    from greenspace.kinds import get_kind

    return None if not kind else [get_kind(k).key for k in kind]


@parks_app.command("remove")
def remove_command(
    source: Annotated[str, typer.Option("--source", help="The source whose green spaces to remove.")],
    commit: Annotated[
        bool, typer.Option("--commit", help="Remove them; without this it is a dry run.")
    ] = False,
) -> None:
    """Remove every green space of one source (a dry run unless --commit)."""
    from store.greenspace import remove_source

    with domain_errors():
        n = remove_source(_service().engine, source, dry_run=not commit)
    if commit:
        out.print(f"removed {n:,} green spaces of source {source!r}")
    else:
        err.print(
            f"dry run: would remove {n:,} green spaces of source {source!r}. Add --commit to remove them."
        )


__all__ = ["parks_app"]
