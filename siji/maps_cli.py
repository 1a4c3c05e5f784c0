"""``siji maps``: planner maps written as files that open without a server or the internet.

``siji maps density|hotspots|pocket-parks OUTPUT`` reads the same database as the
service (``SIJI_DATABASE_URL``), uses every report (an operator tool: no token, no
scope) or demo reports when there are none, and writes by the extension of OUTPUT:

* ``.html``: the map, with its scripts, styles and fonts copied to ``OUTPUT_files/``
  next to it and referenced relatively (copy both to share the map);
* ``.geojson`` / ``.json``: the analysis as a GeoJSON FeatureCollection;
* ``.csv``: the analysis table, UTF-8 with a BOM.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, get_args

import typer

from geo.errors import counted
from maps.options import (
    Areas,
    Correction,
    DensityOptions,
    HotspotOptions,
    Level,
    MapOptions,
    Metric,
    PocketParkOptions,
)
from siji.console import domain_errors, fail, out

if TYPE_CHECKING:
    import geopandas as gpd

    from maps.build import Analysis
    from maps.render import TilesLike
    from maps.sources import ReportSource

Options = TypeVar("Options", bound=MapOptions)

maps_app = typer.Typer(
    help="Planner maps (report density, hot spots, pocket parks) as offline HTML, GeoJSON or CSV.",
    no_args_is_help=True,
)


_FLAGS: dict[tuple[type[MapOptions], str], str] = {}
"""(options, field) -> the flag that sets it, for errors about the field."""


def flag(options: type[MapOptions], name: str, *declarations: str) -> Any:
    """The ``typer.Option`` of one field of a map's options: its help, bounds and (for a
    ``Literal``) choices come from the field, as the HTTP query parameter's do."""
    from annotated_types import Ge, Le

    _FLAGS[options, name] = declarations[-1] if declarations else "--" + name.replace("_", "-")

    field = options.model_fields[name]
    low: Any = next((m.ge for m in field.metadata if isinstance(m, Ge)), None)
    high: Any = next((m.le for m in field.metadata if isinstance(m, Le)), None)
    # A day is read as a datetime of that format (typer has no date type).
    formats = ["%Y-%m-%d"] if dt.date in get_args(field.annotation) else None
    return typer.Option(*declarations, min=low, max=high, formats=formats, help=field.description)


OutputArg = Annotated[
    Path,
    typer.Argument(
        metavar="OUTPUT",
        help="OUTPUT.html (map + OUTPUT_files/), OUTPUT.geojson or OUTPUT.csv (the analysis).",
    ),
]
TilesOpt = Annotated[
    str | None,
    typer.Option("--tiles", help="Basemap URL template ({z}/{x}/{y}); default: none (works offline)."),
]
AttributionOpt = Annotated[
    str | None, typer.Option("--attribution", help="Attribution of the --tiles basemap (required with it).")
]
DemoOpt = Annotated[bool, typer.Option("--demo", help="Use demo reports even when the database has reports.")]


def _kind(output: Path) -> str:
    suffix = output.suffix.lower()
    kinds = {".html": "html", ".htm": "html", ".geojson": "geojson", ".json": "geojson", ".csv": "csv"}
    if suffix not in kinds:
        fail(f"cannot tell the format of {output}: use .html, .geojson (or .json) or .csv")
    return kinds[suffix]


def _tiles(tiles: str | None, attribution: str | None) -> TilesLike:
    from maps.render import as_tiles

    if tiles is None:
        if attribution is not None:
            fail("--attribution needs --tiles")
        return None
    if not attribution:
        fail("--tiles needs --attribution (who made the tiles and the map data)")
    try:
        return as_tiles((tiles, attribution))
    except ValueError as exc:
        fail(str(exc))


def _data(demo: bool) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, ReportSource]:
    """Units of the active generation and every report (or demo reports), and which they are."""
    from maps.demo import demo_reports
    from maps.sources import ReportSource
    from routing.service import reports_geoframe
    from siji.routing_cli import _report_service
    from store.generations import load_frame

    service = _report_service()
    generation = service.boundaries.generation()
    units = load_frame(service.engine, generation.id)
    reports = reports_geoframe(service)
    if demo or not len(reports):
        made = demo_reports(units)
        return units, made, ReportSource(used=len(made), in_database=len(reports), demo=True, asked=demo)
    return units, reports, ReportSource(used=len(reports), in_database=len(reports))


def _write(analysis: Analysis, output: Path, kind: str, tiles: TilesLike) -> str:
    from maps.render import result_csv, result_geojson, save

    output.parent.mkdir(parents=True, exist_ok=True)
    if kind == "geojson":
        document = result_geojson(analysis.table, analysis=analysis.kind, summary=analysis.summary)
        output.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        return counted(len(analysis.table), "feature")
    if kind == "csv":
        output.write_bytes(result_csv(analysis.table))
        return counted(len(analysis.table), "row")
    files = save(analysis.draw(tiles), output)
    size = output.stat().st_size / 1e6
    return f"{size:.1f} MB, assets in {files}/"


def _report(output: Path, detail: str, note: str) -> None:
    out.print(f"wrote {output} ({detail}) from {note}", highlight=False)


@maps_app.command("density")
def density(
    output: OutputArg,
    level: Annotated[Level, flag(DensityOptions, "level")] = "community",
    metric: Annotated[Metric, flag(DensityOptions, "metric")] = "count",
    hex_resolution: Annotated[int, flag(DensityOptions, "hex_resolution", "--hex-resolution")] = 8,
    categories: Annotated[list[str] | None, flag(DensityOptions, "categories", "--category")] = None,
    start: Annotated[dt.datetime | None, flag(DensityOptions, "start", "--start")] = None,
    end: Annotated[dt.datetime | None, flag(DensityOptions, "end", "--end")] = None,
    channels: Annotated[list[str] | None, flag(DensityOptions, "channels", "--channel")] = None,
    states: Annotated[list[str] | None, flag(DensityOptions, "states", "--state")] = None,
    tiles: TilesOpt = None,
    attribution: AttributionOpt = None,
    demo: DemoOpt = False,
) -> None:
    """Reports per unit (choropleth), as a heat map and on H3 hexagons."""
    from maps.build import density_analysis

    kind, basemap = _kind(output), _tiles(tiles, attribution)
    options = _options(
        DensityOptions, level=level, metric=metric, hex_resolution=hex_resolution, categories=categories,
        start=start.date() if start else None, end=end.date() if end else None, channels=channels,
        states=states,
    )  # fmt: skip
    with domain_errors():
        units, reports, source = _data(demo)
        analysis = density_analysis(reports, units, **options.analysis_kwargs(), note=source.note)
        detail = _write(analysis, output, kind, basemap)
    _report(output, detail, source.note)
    out.print(
        f"{counted(analysis.summary['reports'], 'report')} after the filters, "
        f"{counted(len(analysis.table), level + ' unit')}"
    )


@maps_app.command("hotspots")
def hotspots(
    output: OutputArg,
    on: Annotated[Areas, flag(HotspotOptions, "on")] = "community",
    hex_resolution: Annotated[int, flag(HotspotOptions, "hex_resolution", "--hex-resolution")] = 8,
    permutations: Annotated[int | None, flag(HotspotOptions, "permutations", "--permutations")] = None,
    correction: Annotated[Correction, flag(HotspotOptions, "correction")] = "fdr",
    local_moran: Annotated[bool, flag(HotspotOptions, "local_moran", "--local-moran")] = False,
    tiles: TilesOpt = None,
    attribution: AttributionOpt = None,
    demo: DemoOpt = False,
) -> None:
    """Getis-Ord Gi* hot and cold spots of report counts (corrected for multiple testing by default)."""
    from maps.build import hotspot_analysis

    kind, basemap = _kind(output), _tiles(tiles, attribution)
    options = _options(
        HotspotOptions, on=on, hex_resolution=hex_resolution, permutations=permutations,
        correction=correction, local_moran=local_moran,
    )  # fmt: skip
    with domain_errors():
        units, reports, source = _data(demo)
        analysis = hotspot_analysis(reports, units, **options.analysis_kwargs(), note=source.note)
        detail = _write(analysis, output, kind, basemap)
    _report(output, detail, source.note)
    classes: dict[str, Any] = analysis.summary.get("classes", {})
    out.print(", ".join(f"{n:,} {name}" for name, n in classes.items()), highlight=False)
    significance = analysis.summary["significance"]
    explained = f"{significance['explanation_en']} ({significance['permutations']:,} permutations)"
    out.print(explained, highlight=False)


@maps_app.command("pocket-parks")
def pocket_parks(
    output: OutputArg,
    radius_m: Annotated[float, flag(PocketParkOptions, "radius_m", "--radius-m")] = 300.0,
    p: Annotated[int, flag(PocketParkOptions, "p", "-p", "--p")] = 5,
    tiles: TilesOpt = None,
    attribution: AttributionOpt = None,
    demo: DemoOpt = False,
) -> None:
    """Pocket-park sites for the unmet green-space demand, measured against the park register.

    Prints the 300米见绿 and 500米见园 coverage of demand before and after the sites, for
    the city and per subdistrict.
    """
    from maps.build import pocket_park_analysis
    from maps.demo import demo_parks
    from maps.sources import data_note, existing_parks
    from store.greenspace import load_green_spaces

    kind, basemap = _kind(output), _tiles(tiles, attribution)
    options = _options(PocketParkOptions, radius_m=radius_m, p=p)
    with domain_errors():
        units, reports, source = _data(demo)
        registered = load_green_spaces(_engine(), open_on=dt.date.today())[1]
        parks, park_source = existing_parks(registered, lambda: demo_parks(units))
        note = data_note(source, park_source)
        analysis = pocket_park_analysis(reports, units, parks, **options.analysis_kwargs(), note=note)
        detail = _write(analysis, output, kind, basemap)
    _report(output, detail, note)
    _print_standards(analysis.summary, p)


def _options(model: type[Options], **values: Any) -> Options:
    """The options checked by their model (what typer did not already check), or one line."""
    from pydantic import ValidationError

    try:
        return model(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0])
        name = _FLAGS.get((model, field), "--" + field.replace("_", "-"))
        fail(f"{name}: {error['msg']} (got {error.get('input')!r})")


def _engine() -> Any:
    from siji.sources import boundary_service

    return boundary_service().engine


def _print_standards(summary: dict[str, Any], p: int) -> None:
    """The 300米见绿/500米见园 figures: the city, then a table per subdistrict."""
    from rich.table import Table

    for row in summary["standards"]:
        out.print(
            f"{row['name_zh']} ({row['name_en']}): demand covered "
            f"{row['covered_before']:,}/{row['demand']:,} "
            f"({row['share_before']:.1%}) before → {row['covered_after']:,}/{row['demand']:,} "
            f"({row['share_after']:.1%}) after {counted(p, 'new site')}",
            highlight=False,
        )
    rows = summary["by_subdistrict"]
    if not rows:
        return
    table = Table(title="per subdistrict: demand covered before → after", show_lines=False)
    table.add_column("subdistrict")
    table.add_column("demand", justify="right")
    for row in summary["standards"]:
        table.add_column(row["name_zh"], justify="right")
    for row in rows:
        keys = [s["standard"] for s in summary["standards"]]
        cells = [f"{row[key + '_before']:,} → {row[key + '_after']:,}" for key in keys]
        table.add_row(str(row["subdistrict_name"] or row["subdistrict_code"]), f"{row['demand']:,}", *cells)
    out.print(table)
