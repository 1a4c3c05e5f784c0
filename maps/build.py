"""Each map for the service and the command line: run the analysis, keep its table, draw it.

:func:`density_analysis`, :func:`hotspot_analysis` and :func:`pocket_park_analysis`
take reports and units (and parks), run the analysis of :mod:`maps.analysis` and
return an :class:`Analysis`: the table that GeoJSON and CSV answers give, a summary,
and a function that draws the map (:mod:`maps.render`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from maps.render.density import density_map
from maps.render.hotspots import hotspot_map
from maps.render.page import TilesLike
from maps.render.parks import pocket_park_map
from maps.render.style import LEVEL_NAMES

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

__all__ = ["Analysis", "density_analysis", "hotspot_analysis", "pocket_park_analysis"]


@dataclass
class Analysis:
    """An analysis result: its table, a summary, and how to draw its map.

    ``table`` is what GeoJSON/CSV answers return; ``draw(tiles)`` makes the map.
    """

    kind: str
    table: gpd.GeoDataFrame
    draw: Callable[[TilesLike], folium.Map]
    summary: dict[str, Any] = field(default_factory=dict)


def _outlines_for(units: gpd.GeoDataFrame, level: str) -> gpd.GeoDataFrame | None:
    order = ["city", "district", "subdistrict", "community"]
    if "level" not in units.columns or level not in order or order.index(level) == 0:
        return None
    above = order[order.index(level) - 1]
    frame = units[units["level"] == above]
    return frame if len(frame) else None


def density_analysis(
    reports: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    *,
    level: str = "community",
    metric: str = "count",
    hex_resolution: int = 8,
    categories: Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    channels: Sequence[str] | None = None,
    states: Sequence[str] | None = None,
    population: Any = None,
    note: str | None = None,
) -> Analysis:
    """Report density per unit (and per hexagon), ready to draw.

    Parameters
    ----------
    reports : GeoDataFrame
        Report points (``routing.service.reports_geoframe`` columns).
    units : GeoDataFrame
        Every unit of a generation (``code, name, level, parent_code``, polygons).
    level, metric, hex_resolution
        See ``maps.analysis.density.density_by_unit`` and :func:`density_map`.
    categories, start, end, channels, states
        Filters (``maps.analysis.density.filter_reports``).
    population : optional
        Residents per unit, for ``per_1000``.
    note : str, optional
        Shown under the title.

    Returns
    -------
    Analysis
        ``table`` is the density per unit.

    Raises
    ------
    geo.errors.InvalidInputError
        ``metric="per_1000"`` without population data.
    """
    from geo.errors import InvalidInputError
    from maps.analysis.density import density_by_unit, filter_reports, hex_bins

    chosen = filter_reports(
        reports, categories=categories, start=start, end=end, channels=channels, states=states
    )
    density = density_by_unit(chosen, units, level=level, population=population)
    if metric not in density.columns:
        raise InvalidInputError(
            f"metric {metric!r} needs resident population per unit, which this boundary set does not have; "
            "use metric=count or metric=per_km2",
            field="metric",
            value=metric,
        )
    hexes = hex_bins(chosen, resolution=hex_resolution)
    outlines = _outlines_for(units, level)
    level_zh = LEVEL_NAMES.get(level, level)
    title = f"城市管理问题报告密度（按{level_zh}） Report density by {level}"
    summary = {"reports": len(chosen), "units": len(density), "level": level, "metric": metric}

    def draw(tiles: TilesLike = None) -> folium.Map:
        return density_map(
            density, heat_points=chosen, hexes=hexes, tiles=tiles, title=title, metric=metric,
            outlines=outlines, note=note,
        )  # fmt: skip

    return Analysis("density", density, draw, summary)


def hotspot_analysis(
    reports: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    *,
    on: str = "community",
    hex_resolution: int = 8,
    permutations: int = 999,
    local_moran: bool = False,
    note: str | None = None,
) -> Analysis:
    """Getis-Ord Gi* of report counts per community or per H3 hexagon, ready to draw.

    Parameters
    ----------
    reports, units : GeoDataFrame
    on : {"community", "hex"}
    hex_resolution : int
    permutations : int
        Conditional permutations for pseudo p-values (``maps.analysis.hotspots.getis_ord``).
    local_moran : bool
        Also compute local Moran's I (an extra map layer and columns).
    note : str, optional

    Returns
    -------
    Analysis
    """
    from maps.analysis.density import density_by_unit, hex_bins
    from maps.analysis.hotspots import getis_ord

    if on == "hex":
        areas = hex_bins(reports, resolution=hex_resolution)
        outlines = _outlines_for(units, "community")
        title = f"问题热点分析（H3 六边形 r{hex_resolution}） Gi* hot spots on hexagons"
    else:
        areas = density_by_unit(reports, units, level="community")
        outlines = _outlines_for(units, "community")
        title = "问题热点分析（按社区/村） Gi* hot spots by community"
    hotspots = getis_ord(areas, value="count", permutations=permutations, local_moran=local_moran)
    counts = hotspots["hotspot"].value_counts().to_dict() if "hotspot" in hotspots.columns else {}
    summary = {"reports": len(reports), "areas": len(hotspots), "on": on, "classes": counts}

    def draw(tiles: TilesLike = None) -> folium.Map:
        return hotspot_map(hotspots, tiles=tiles, title=title, outlines=outlines, note=note)

    return Analysis("hotspots", hotspots, draw, summary)


def pocket_park_analysis(
    reports: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    parks: gpd.GeoDataFrame,
    *,
    radius_m: float = 300.0,
    p: int = 5,
    note: str | None = None,
) -> Analysis:
    """Choose ``p`` pocket-park sites that cover the most unserved green-space demand.

    Demand is the reports flagged ``demand`` (green space / fitness categories).

    Parameters
    ----------
    reports, units : GeoDataFrame
    parks : GeoDataFrame
        Existing parks (points).
    radius_m : float
        Walking service radius (300 m; 500 m for a wider standard).
    p : int
        Sites to choose.
    note : str, optional

    Returns
    -------
    Analysis
        ``table`` is the chosen sites; ``summary["coverage"]`` the coverage figures.
    """
    from maps.analysis.parks import PocketParkPlan, generate_candidates

    demand = reports[reports["demand"].astype(bool)] if "demand" in reports.columns else reports
    candidates = generate_candidates(units, parks)
    plan = PocketParkPlan.from_geodataframe(demand, candidates, parks, radius_m=radius_m, p=p).solve()
    outlines = _outlines_for(units, "community")
    title = f"口袋公园选址（{radius_m:g} m 服务半径，{p} 处） Pocket park sites"
    summary = {"coverage": dict(plan.coverage), "demand": len(demand), "candidates": len(candidates)}

    def draw(tiles: TilesLike = None) -> folium.Map:
        return pocket_park_map(
            plan, parks=parks, candidates=candidates, demand=demand, tiles=tiles, title=title,
            outlines=outlines, note=note,
        )  # fmt: skip

    chosen = plan.chosen
    names = dict(zip(units["code"], units["name"], strict=True))
    table = chosen.assign(subdistrict_name=chosen["subdistrict_code"].map(names))
    table = table[
        ["rank", "candidate_id", "subdistrict_code", "subdistrict_name", "new_demand_covered", "geometry"]
    ]
    return Analysis("pocket-parks", table, draw, summary)
