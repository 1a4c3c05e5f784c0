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
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from siji.console import domain_errors, err, fail, out

if TYPE_CHECKING:
    import geopandas as gpd

    from maps.build import Analysis
    from maps.render import TilesLike

maps_app = typer.Typer(
    help="Planner maps (report density, hot spots, pocket parks) as offline HTML, GeoJSON or CSV.",
    no_args_is_help=True,
)

DEMO_NOTE = "演示数据 demo data：数据库中还没有报告，地图使用生成的演示报告和公园"
DEMO_PARKS_NOTE = "现有公园为演示数据 existing parks: demo data"


class Level(StrEnum):
    community = "community"
    subdistrict = "subdistrict"
    district = "district"


class Metric(StrEnum):
    COUNT = "count"  # a member named "count" would shadow str.count
    PER_KM2 = "per_km2"
    PER_1000 = "per_1000"


class On(StrEnum):
    community = "community"
    hex = "hex"


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
HexOpt = Annotated[
    int, typer.Option("--hex-resolution", min=4, max=10, help="H3 resolution of the hexagons.")
]


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


def _data(demo: bool) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, bool]:
    """Units of the active generation and every report (or demo reports)."""
    from maps.demo import demo_reports
    from routing.service import reports_geoframe
    from siji.routing_cli import _report_service
    from store.generations import load_frame

    service = _report_service()
    generation = service.boundaries.generation()
    units = load_frame(service.engine, generation.id)
    reports = None if demo else reports_geoframe(service)
    if reports is None or not len(reports):
        return units, demo_reports(units), True
    return units, reports, False


def _write(analysis: Analysis, output: Path, kind: str, tiles: TilesLike) -> str:
    from maps.render import result_csv, result_geojson, save

    output.parent.mkdir(parents=True, exist_ok=True)
    if kind == "geojson":
        document = result_geojson(analysis.table, analysis=analysis.kind, summary=analysis.summary)
        output.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        return f"{len(analysis.table):,} features"
    if kind == "csv":
        output.write_bytes(result_csv(analysis.table))
        return f"{len(analysis.table):,} rows"
    files = save(analysis.draw(tiles), output)
    size = output.stat().st_size / 1e6
    return f"{size:.1f} MB, assets in {files}/"


def _report(output: Path, detail: str, reports: int, demo: bool) -> None:
    source = f"{reports:,} demo reports (the database has none)" if demo else f"{reports:,} reports"
    out.print(f"wrote {output} ({detail}) from {source}", highlight=False)


@maps_app.command("density")
def density(
    output: OutputArg,
    level: Annotated[Level, typer.Option(help="Units of the choropleth.")] = Level.community,
    metric: Annotated[
        Metric, typer.Option(help="count, per_km2 or per_1000 (needs population).")
    ] = Metric.COUNT,
    hex_resolution: HexOpt = 8,
    categories: Annotated[
        list[str] | None, typer.Option("--category", help="Only this category code (repeatable).")
    ] = None,
    start: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day (China Standard Time).")
    ] = None,
    end: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Day after the last (exclusive).")
    ] = None,
    channels: Annotated[
        list[str] | None, typer.Option("--channel", help="Only this channel (repeatable).")
    ] = None,
    states: Annotated[list[str] | None, typer.Option("--state", help="Only this state (repeatable).")] = None,
    tiles: TilesOpt = None,
    attribution: AttributionOpt = None,
    demo: DemoOpt = False,
) -> None:
    """Reports per unit (choropleth), as a heat map and on H3 hexagons."""
    from maps.build import density_analysis

    kind, basemap = _kind(output), _tiles(tiles, attribution)
    with domain_errors():
        units, reports, is_demo = _data(demo)
        analysis = density_analysis(
            reports, units, level=level.value, metric=metric.value, hex_resolution=hex_resolution,
            categories=categories or None, start=start.date() if start else None,
            end=end.date() if end else None, channels=channels or None, states=states or None,
            note=DEMO_NOTE if is_demo else None,
        )  # fmt: skip
        detail = _write(analysis, output, kind, basemap)
    _report(output, detail, len(reports), is_demo)
    out.print(
        f"{analysis.summary['reports']:,} reports after the filters, "
        f"{len(analysis.table):,} {level.value} units"
    )


@maps_app.command("hotspots")
def hotspots(
    output: OutputArg,
    on: Annotated[On, typer.Option(help="community or hex (H3 hexagons).")] = On.community,
    hex_resolution: HexOpt = 8,
    permutations: Annotated[int, typer.Option(min=99, max=9999, help="Permutations of the p-values.")] = 999,
    local_moran: Annotated[bool, typer.Option("--local-moran", help="Also local Moran's I.")] = False,
    tiles: TilesOpt = None,
    attribution: AttributionOpt = None,
    demo: DemoOpt = False,
) -> None:
    """Getis-Ord Gi* hot and cold spots of report counts."""
    from maps.build import hotspot_analysis

    kind, basemap = _kind(output), _tiles(tiles, attribution)
    with domain_errors():
        units, reports, is_demo = _data(demo)
        analysis = hotspot_analysis(
            reports, units, on=on.value, hex_resolution=hex_resolution, permutations=permutations,
            local_moran=local_moran, note=DEMO_NOTE if is_demo else None,
        )  # fmt: skip
        detail = _write(analysis, output, kind, basemap)
    _report(output, detail, len(reports), is_demo)
    classes: dict[str, Any] = analysis.summary.get("classes", {})
    out.print(", ".join(f"{n:,} {name}" for name, n in classes.items()), highlight=False)


@maps_app.command("pocket-parks")
def pocket_parks(
    output: OutputArg,
    radius_m: Annotated[
        float, typer.Option("--radius-m", min=50, max=2000, help="Service radius of the map: 300 or 500.")
    ] = 300.0,
    p: Annotated[int, typer.Option("-p", "--p", min=1, max=50, help="How many sites to choose.")] = 5,
    tiles: TilesOpt = None,
    attribution: AttributionOpt = None,
    demo: DemoOpt = False,
) -> None:
    """Pocket-park sites for the unmet green-space demand; prints coverage at 300 m and 500 m."""
    from maps.build import pocket_park_analysis
    from maps.demo import demo_parks

    kind, basemap = _kind(output), _tiles(tiles, attribution)
    with domain_errors():
        units, reports, is_demo = _data(demo)
        parks = demo_parks(units)
        note = DEMO_NOTE if is_demo else DEMO_PARKS_NOTE
        analysis = pocket_park_analysis(reports, units, parks, radius_m=radius_m, p=p, note=note)
        detail = _write(analysis, output, kind, basemap)
        plans = {radius_m: analysis.summary["coverage"]}
        for radius in (300.0, 500.0):
            if radius not in plans:
                plans[radius] = pocket_park_analysis(reports, units, parks, radius_m=radius, p=p).summary[
                    "coverage"
                ]
    _report(output, detail, len(reports), is_demo)
    if not is_demo:
        err.print(DEMO_PARKS_NOTE, highlight=False)
    for radius in sorted(plans):
        c = plans[radius]
        total = c["total_demand"]
        out.print(
            f"{radius:g} m: demand covered {c['covered_before']:,}/{total:,} ({c['share_before']:.1%}) "
            f"before → {c['covered_after']:,}/{total:,} ({c['share_after']:.1%}) after {p} new sites",
            highlight=False,
        )
