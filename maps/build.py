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
    permutations: int | None = None,
    correction: str = "fdr",
    local_moran: bool = False,
    note: str | None = None,
) -> Analysis:
    """Getis-Ord Gi* of report counts per community or per H3 hexagon, ready to draw.

    Parameters
    ----------
    reports, units : GeoDataFrame
        ``units`` are the units in view (every level): their communities are the areas,
        or the hexagons cover their top level.
    on : {"community", "hex"}
        Communities, or every H3 hexagon of the area (zero counts included, so every
        hexagon has its neighbours; weights from H3's grid).
    hex_resolution : int
    permutations : int, optional
        Conditional permutations (default
        :data:`~maps.analysis.hotspots.DEFAULT_PERMUTATIONS`).
    correction : {"fdr", "none"}
        Benjamini–Hochberg false discovery rate (default) or none
        (:mod:`maps.analysis.significance`).
    local_moran : bool
        Also compute local Moran's I (an extra map layer and columns).
    note : str, optional
        What data the map shows (:mod:`maps.notes`).

    Returns
    -------
    Analysis
        ``summary["significance"]`` says which correction, the sides and the levels in words.
    """
    from maps.analysis.density import density_by_unit, hex_bins
    from maps.analysis.hexagons import hex_weights
    from maps.analysis.hotspots import DEFAULT_PERMUTATIONS, getis_ord

    outlines = _outlines_for(units, "community")
    weights: Any = "queen"
    if on == "hex":
        areas = hex_bins(reports, resolution=hex_resolution, area=_top_units(units))
        weights = hex_weights(areas["h3"])
        title = f"问题热点分析（H3 六边形 r{hex_resolution}） Gi* hot spots on hexagons"
    else:
        areas = density_by_unit(reports, units, level="community")
        title = "问题热点分析（按社区/村） Gi* hot spots by community"
    hotspots = getis_ord(
        areas,
        value="count",
        permutations=DEFAULT_PERMUTATIONS if permutations is None else permutations,
        weights=weights,
        correction=correction,
        local_moran=local_moran,
    )
    significance = dict(hotspots.attrs["significance"])
    counts = hotspots["hotspot"].value_counts().to_dict()
    summary = {
        "reports": len(reports),
        "areas": len(hotspots),
        "on": on,
        "classes": counts,
        "significance": significance,
    }

    def draw(tiles: TilesLike = None) -> folium.Map:
        return hotspot_map(
            hotspots, tiles=tiles, title=title, outlines=outlines, note=note, significance=significance
        )

    return Analysis("hotspots", hotspots, draw, summary)


def _top_units(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The units of the highest level present (the city, or the unit a token is scoped to)."""
    order = ["city", "district", "subdistrict", "community"]
    present = [level for level in order if (units["level"] == level).any()]
    return units[units["level"] == present[0]] if present else units


def pocket_park_analysis(
    reports: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    parks: gpd.GeoDataFrame | None,
    *,
    radius_m: float = 300.0,
    p: int = 5,
    note: str | None = None,
) -> Analysis:
    """Choose ``p`` pocket-park sites that cover the most unserved green-space demand.

    Demand is the reports flagged ``demand`` (green space / fitness categories).  At the
    radius of a standard (300 m: 300米见绿, 500 m: 500米见园) only the green spaces that
    count for it serve demand before the plan (:mod:`maps.analysis.coverage`); at other
    radii every green space does.  Distances to a green space are measured to its edge.

    Parameters
    ----------
    reports, units : GeoDataFrame
    parks : GeoDataFrame or None
        Existing green space (``name, kind``, points or polygons;
        :func:`maps.sources.existing_parks`).
    radius_m : float
        Walking service radius of the plan (300 m or 500 m for the standards).
    p : int
        Sites to choose.
    note : str, optional
        What data the map shows (:mod:`maps.sources`).

    Returns
    -------
    Analysis
        ``table`` is the chosen sites; ``summary["coverage"]`` the plan's figures at its
        radius, ``summary["standards"]`` the "300米见绿、500米见园" figures before and
        after the sites and ``summary["by_subdistrict"]`` the same per subdistrict.
    """
    from maps.analysis.coverage import coverage_by_subdistrict, coverage_totals, standard_for
    from maps.analysis.parks import PocketParkPlan, generate_candidates

    demand = reports[reports["demand"].astype(bool)] if "demand" in reports.columns else reports
    candidates = generate_candidates(units, parks)
    standard = standard_for(radius_m)
    counted = None if standard is None else standard.kinds
    serving = parks if parks is None or counted is None else parks[parks["kind"].isin(counted).to_numpy()]
    plan = PocketParkPlan.from_geodataframe(demand, candidates, serving, radius_m=radius_m, p=p).solve()
    names = dict(zip(units["code"], units["name"], strict=True))
    by_subdistrict = coverage_by_subdistrict(demand, parks, plan.chosen, names=names)
    standards = coverage_totals(by_subdistrict)
    rows = [{str(k): v for k, v in row.items()} for row in by_subdistrict.to_dict("records")]
    outlines = _outlines_for(units, "community")
    title = f"口袋公园选址（{radius_m:g} m 服务半径，{p} 处） Pocket park sites"
    summary = {
        "coverage": dict(plan.coverage),
        "standards": standards,
        "by_subdistrict": rows,
        "demand": len(demand),
        "candidates": len(candidates),
        "parks": 0 if parks is None else len(parks),
    }

    def draw(tiles: TilesLike = None) -> folium.Map:
        return pocket_park_map(
            plan, parks=parks, candidates=candidates, demand=demand, tiles=tiles, title=title,
            outlines=outlines, note=note, counted=counted, standards=standards,
            by_subdistrict=rows,
        )  # fmt: skip

    chosen = plan.chosen
    table = chosen.assign(subdistrict_name=chosen["subdistrict_code"].map(names))
    table = table[
        ["rank", "candidate_id", "subdistrict_code", "subdistrict_name", "new_demand_covered", "geometry"]
    ]
    return Analysis("pocket-parks", table, draw, summary)
