"""Existing green space on the pocket-park map, and the "300米见绿、500米见园" panel.

:func:`green_space_layers` draws the register's parks, pocket parks and squares as
they are (polygons as polygons, points as markers) with the area each one serves,
measured from its edge; :func:`standards_html` is the panel of demand covered per
standard, before and after the proposed sites, for the whole area and per
subdistrict.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from maps.render.layers import (
    FeatureLayer,
    add_data,
    feature_collection,
    field_list,
    make_tooltip,
    point_layer,
)
from maps.render.style import PARK_COLOUR

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

__all__ = ["GREEN_FIELDS", "green_space_layers", "standards_html"]

GREEN_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "名称 name"),
    ("kind_zh", "类型 kind"),
    ("area_m2", "面积 m²"),
    ("opened_on", "开园 opened"),
)
"""The tooltip of a green space."""
_REACH_TOLERANCE_M = 5.0


def green_space_layers(
    m: folium.Map, parks: gpd.GeoDataFrame | None, *, radius_m: float, counted: Sequence[str] | None = None
) -> tuple[Any, Any]:
    """Add the green spaces and the area they serve; return (green-space layer, service-area layer).

    Parameters
    ----------
    m : folium.Map
    parks : GeoDataFrame or None
        ``name, kind`` (and ``area_m2, opened_on``), points or polygons, EPSG:4326.
    radius_m : float
        The service radius drawn, from each green space's edge.
    counted : sequence of str, optional
        The kinds that count for the radius (the others are drawn but serve nothing
        on this map); default all.

    Returns
    -------
    (layer or None, layer or None)
        The polygons and markers, and the served area (either None when there is nothing).
    """
    from greenspace.kinds import KINDS
    from maps.analysis.density import METRIC_CRS

    if parks is None or not len(parks):
        return None, None
    names = {kind.key: kind.name_zh for kind in KINDS}
    kinds = parks["kind"] if "kind" in parks.columns else None
    shown = parks.assign(kind_zh=kinds.map(names).fillna(kinds) if kinds is not None else "公园")
    serving = shown if counted is None or kinds is None else shown[kinds.isin(list(counted)).to_numpy()]
    reach_layer = None
    if len(serving):
        buffers = serving.geometry.to_crs(METRIC_CRS).buffer(radius_m, quad_segs=16)
        reach = shapely.union_all(buffers.to_numpy())
        reach = shapely.simplify(reach, _REACH_TOLERANCE_M)
        served = serving.iloc[:1][[]].set_geometry([reach], crs=METRIC_CRS).to_crs(4326)
        reach_layer = FeatureLayer(
            add_data(m, feature_collection(served, [])),
            name=f"现有绿地服务范围 green space reach ({radius_m:g} m from the edge)",
            style={"fillColor": PARK_COLOUR, "fillOpacity": 0.12, "color": PARK_COLOUR, "weight": 0.8,
                   "dashArray": "4 3"},
            interactive=False,
        ).add_to(m)  # fmt: skip
    polygonal = np.asarray(shown.geom_type != "Point")
    layer = None
    if polygonal.any():
        areas = shown[polygonal]
        fields, aliases = field_list(areas, GREEN_FIELDS)
        layer = FeatureLayer(
            add_data(m, feature_collection(areas, fields)),
            name="现有绿地 existing green space",
            style={"fillColor": PARK_COLOUR, "fillOpacity": 0.55, "color": PARK_COLOUR, "weight": 1.5},
            highlight={"weight": 3, "fillOpacity": 0.75},
            tooltip=make_tooltip(fields, aliases),
        ).add_to(m)
    points = point_layer(
        m,
        shown[~polygonal],
        name="现有绿地（点） green space (points)",
        colour=PARK_COLOUR,
        radius=6,
        fields=GREEN_FIELDS,
    )
    return layer if layer is not None else points, reach_layer


def standards_html(
    standards: Sequence[dict[str, Any]], by_subdistrict: Sequence[dict[str, Any]], top: int = 8
) -> str:
    """The "300米见绿、500米见园" panel: demand covered before → after, overall and per subdistrict.

    Parameters
    ----------
    standards : sequence of dict
        :func:`maps.analysis.coverage.coverage_totals` rows.
    by_subdistrict : sequence of dict
        :func:`maps.analysis.coverage.coverage_by_subdistrict` rows, largest demand first.
    top : int
        Subdistricts listed.

    Examples
    --------
    >>> totals = [{"standard": "green_300", "name_zh": "300米见绿", "demand": 10, "covered_before": 4,
    ...            "covered_after": 9, "share_before": 0.4, "share_after": 0.9}]
    >>> rows = [{"subdistrict_name": "岱庙街道", "demand": 10, "green_300_before": 4, "green_300_after": 9}]
    >>> "40% → 90%" in standards_html(totals, rows)
    True
    """
    if not standards:
        return ""
    body = '<div class="siji-panel-title">300米见绿、500米见园 · 需求覆盖 demand covered (之前 → 之后)</div>'
    heads = "".join(f"<th>{html.escape(s['name_zh'])}</th>" for s in standards)
    body += f"<table><tr><th></th>{heads}</tr>"
    body += "<tr><td>合计 all</td>" + "".join(
        f"<td><b>{s['share_before']:.0%} → {s['share_after']:.0%}</b></td>" for s in standards
    ) + "</tr>"  # fmt: skip
    for row in list(by_subdistrict)[:top]:
        demand = int(row["demand"])
        name = row.get("subdistrict_name") or row.get("subdistrict_code") or "—"
        cells = "".join(
            f"<td>{_share(row, s['standard'] + '_before')} → {_share(row, s['standard'] + '_after')}</td>"
            for s in standards
        )
        body += f"<tr><td>{html.escape(str(name))} ({demand:,})</td>{cells}</tr>"
    body += "</table>"
    if len(by_subdistrict) > top:
        more = len(by_subdistrict) - top
        body += (
            f'<div class="siji-foot">另有 {more} 个街道见 GeoJSON 和命令行 '
            f"(and {more} more subdistricts in the GeoJSON and the command line)</div>"
        )
    body += (
        '<div class="siji-foot">需求 = 绿地缺失、缺少健身设施的报告；距离从绿地边界量起；'
        "新选址按口袋公园计。 Demand = reports of missing green space or fitness facilities; "
        "distances from a green space's edge; proposed sites count as pocket parks.</div>"
    )
    return body


def _share(row: dict[str, Any], column: str) -> str:
    return f"{row[column] / row['demand']:.0%}" if row["demand"] else "—"
