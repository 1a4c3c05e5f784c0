"""The pocket-park map: existing parks and their service areas, candidates, the chosen sites ranked."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import folium

from maps.render.green import green_space_layers, standards_html
from maps.render.layers import (
    FeatureLayer,
    add_data,
    as_points,
    feature_collection,
    field_list,
    jsonable,
    make_tooltip,
    outline_layer,
    point_layer,
    safe_text,
)
from maps.render.legend import Legend, legend_html
from maps.render.page import TilesLike, base_map
from maps.render.style import (
    CANDIDATE_COLOUR,
    CHOSEN_COLOUR,
    COORD_DIGITS,
    DEFAULT_TOLERANCE,
    DEMAND_COLOUR,
    PARK_COLOUR,
    SERVICE_COLOUR,
    UNCOVERED_COLOUR,
)

if TYPE_CHECKING:
    import geopandas as gpd


def pocket_park_map(
    plan: Any,
    *,
    parks: gpd.GeoDataFrame | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    demand: gpd.GeoDataFrame | None = None,
    tiles: TilesLike = None,
    title: str = "口袋公园选址 Pocket park sites",
    outlines: gpd.GeoDataFrame | None = None,
    note: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    counted: Sequence[str] | None = None,
    standards: Sequence[dict[str, Any]] | None = None,
    by_subdistrict: Sequence[dict[str, Any]] | None = None,
) -> folium.Map:
    """Existing green space, candidate sites, the chosen sites ranked, their service areas and
    the demand they leave uncovered.

    Parameters
    ----------
    plan : solved PocketParkPlan
        With ``chosen`` (``candidate_id, rank, new_demand_covered, subdistrict_code``,
        points), ``coverage`` (``total_demand, covered_before, covered_after,
        share_before, share_after, radius_m, p``), ``uncovered`` (points) and
        ``service_areas`` (circles).
    parks : GeoDataFrame, optional
        Existing green space (``name, kind``, points or polygons): drawn as it is, with
        the area it serves measured from its edge.
    candidates : GeoDataFrame, optional
        Every candidate site (``candidate_id``); off until switched on.
    demand : GeoDataFrame, optional
        Every demand point (the uncovered ones are drawn over them in red).
    tiles : Tiles or (url, attribution), optional
    title : str
    outlines : GeoDataFrame, optional
        Units drawn as lines under the sites (e.g. subdistricts); their names label the
        chosen sites' subdistricts.
    note : str, optional
    tolerance : float
    counted : sequence of str, optional
        The green-space kinds that serve at the plan's radius (default all).
    standards, by_subdistrict : sequences of dict, optional
        The "300米见绿、500米见园" figures (:func:`maps.analysis.coverage.coverage_totals`
        and the rows of :func:`~maps.analysis.coverage.coverage_by_subdistrict`): a panel.

    Returns
    -------
    folium.Map

    Examples
    --------
    >>> import geopandas as gpd, shapely, types
    >>> from maps.render import to_html
    >>> chosen = gpd.GeoDataFrame({"candidate_id": ["c1"], "rank": [1], "new_demand_covered": [12],
    ...     "subdistrict_code": ["370902002000"]}, geometry=[shapely.Point(117.13, 36.19)], crs=4326)
    >>> plan = types.SimpleNamespace(chosen=chosen, uncovered=chosen.iloc[:0],
    ...     service_areas=chosen.set_geometry(chosen.to_crs(4548).buffer(300).to_crs(4326)),
    ...     coverage={"total_demand": 40, "covered_before": 10, "covered_after": 22,
    ...               "share_before": 0.25, "share_after": 0.55, "radius_m": 300.0, "p": 1})
    >>> "siji-rank" in to_html(pocket_park_map(plan), "/maps/assets")
    True
    """
    chosen = getattr(plan, "chosen", None)
    named = outlines is not None and {"code", "name"} <= set(outlines.columns)
    if named and chosen is not None and "subdistrict_code" in chosen.columns:
        names = dict(zip(outlines["code"], outlines["name"], strict=True))  # type: ignore[index]
        chosen = chosen.assign(subdistrict_name=chosen["subdistrict_code"].map(names))
    uncovered = getattr(plan, "uncovered", None)
    service_areas = getattr(plan, "service_areas", None)
    coverage: dict[str, Any] = dict(getattr(plan, "coverage", None) or {})
    radius_m = float(coverage.get("radius_m", 300.0))
    focus = [service_areas, chosen] if chosen is not None and len(chosen) else [parks, uncovered]
    m = base_map(title, note, tiles, focus, left_panel=bool(standards))
    outline_layer(m, outlines, tolerance)

    park_layer, reach_layer = green_space_layers(m, parks, radius_m=radius_m, counted=counted)

    if service_areas is not None and len(service_areas):
        fields, aliases = field_list(
            service_areas,
            [("rank", "选址顺序 rank"), ("candidate_id", "候选点 candidate"), ("kind", "类型 kind")],
        )
        FeatureLayer(
            add_data(m, feature_collection(service_areas, fields)),
            name=f"服务范围 service areas ({radius_m:g} m)",
            style={"fillColor": SERVICE_COLOUR, "fillOpacity": 0.18, "color": SERVICE_COLOUR, "weight": 1.2},
            highlight={"weight": 2.5, "fillOpacity": 0.3} if fields else None,
            tooltip=make_tooltip(fields, aliases) if fields else None,
        ).add_to(m)

    candidate_layer = point_layer(
        m,
        candidates,
        name="候选地块 candidate sites",
        colour=CANDIDATE_COLOUR,
        radius=3,
        fields=[
            ("candidate_id", "候选点 candidate"),
            ("subdistrict_code", "街道代码 subdistrict"),
            ("area_m2", "面积 m²"),
        ],
        show=False,
    )
    demand_layer = point_layer(
        m,
        demand,
        name="绿地需求 green-space demand",
        colour=DEMAND_COLOUR,
        radius=2.5,
        interactive=False,
        fill_opacity=0.75,
    )
    uncovered_layer = point_layer(
        m,
        uncovered,
        name="未覆盖需求 uncovered demand",
        colour=UNCOVERED_COLOUR,
        radius=2.5,
        interactive=False,
        fill_opacity=0.75,
    )
    chosen_group = None
    if chosen is not None and len(chosen):
        chosen_group = folium.FeatureGroup(name="新选址（按顺序） chosen sites, ranked", show=True).add_to(m)
        ranked = as_points(chosen).sort_values("rank") if "rank" in chosen.columns else as_points(chosen)
        for position, (_, row) in enumerate(ranked.iterrows(), start=1):
            rank = int(row["rank"]) if "rank" in ranked.columns else position
            lines = [f"<b>第 {rank} 处 rank {rank}</b>"]
            for column, label in (
                ("candidate_id", "候选点 candidate"),
                ("new_demand_covered", "新增覆盖需求 new demand covered"),
                ("subdistrict_code", "街道代码 subdistrict"),
                ("subdistrict_name", "街道 subdistrict"),
            ):
                if column in ranked.columns:
                    value = jsonable(row[column])
                    shown = f"{value:,}" if isinstance(value, int) else str(value)
                    lines.append(f"{label}: {safe_text(shown)}")
            folium.Marker(
                location=[round(row.geometry.y, COORD_DIGITS), round(row.geometry.x, COORD_DIGITS)],
                icon=folium.DivIcon(
                    html=f'<div class="siji-rank">{rank}</div>',
                    icon_size=(26, 26),
                    icon_anchor=(13, 13),
                    class_name="siji-rank-icon",
                ),
                tooltip=folium.Tooltip("<br>".join(lines)),
            ).add_to(chosen_group)

    rows: list[tuple[str, str, int | None]] = []
    if chosen_group is not None and chosen is not None:
        rows.append((CHOSEN_COLOUR, "新选址 chosen site (编号=顺序)", len(chosen)))
    if service_areas is not None and len(service_areas):
        rows.append((SERVICE_COLOUR, f"服务范围 {radius_m:g} m", None))
    if park_layer is not None and parks is not None:
        rows.append((PARK_COLOUR, "现有绿地 existing green space", len(parks)))
    if reach_layer is not None:
        rows.append(("#cfe3d3", f"现有绿地服务范围 {radius_m:g} m (自边界 from the edge)", None))
    if candidate_layer is not None and candidates is not None:
        rows.append((CANDIDATE_COLOUR, "候选地块 candidate", len(candidates)))
    if demand_layer is not None and demand is not None:
        rows.append((DEMAND_COLOUR, "绿地需求 demand (reports)", len(demand)))
    if uncovered_layer is not None and uncovered is not None:
        rows.append((UNCOVERED_COLOUR, "未覆盖需求 uncovered demand", len(uncovered)))
    Legend(legend_html("图例 legend", rows, dot=True)).add_to(m)
    if coverage:
        Legend(coverage_html(coverage, chosen), css_class="siji-panel").add_to(m)
    if standards:
        panel = standards_html(standards, by_subdistrict or [])
        Legend(panel, position="bottomleft", css_class="siji-panel").add_to(m)
    # eight layers with bilingual names: open on hover, so the title and its data note stay readable
    folium.LayerControl(collapsed=True).add_to(m)
    return m


def coverage_html(coverage: dict[str, Any], chosen: Any = None, top: int = 10) -> str:
    """The coverage panel of a pocket-park map: demand covered before and after.

    Examples
    --------
    >>> text = coverage_html({"total_demand": 200, "covered_before": 50, "covered_after": 120,
    ...                       "share_before": 0.25, "share_after": 0.6, "radius_m": 300, "p": 5})
    >>> "25.0% → 60.0%" in text
    True
    """
    total = int(coverage.get("total_demand", 0) or 0)
    before = int(coverage.get("covered_before", 0) or 0)
    after = int(coverage.get("covered_after", 0) or 0)
    share_before = float(coverage.get("share_before", before / total if total else 0.0) or 0.0)
    share_after = float(coverage.get("share_after", after / total if total else 0.0) or 0.0)
    radius = float(coverage.get("radius_m", 300.0))
    p = coverage.get("p", len(chosen) if chosen is not None else "")
    body = (
        f'<div class="siji-panel-title">需求覆盖 demand covered ({radius:g} m, {p} 处新选址)</div>'
        f"<div>{before:,} / {total:,} → {after:,} / {total:,}</div>"
        f"<div><b>{share_before:.1%} → {share_after:.1%}</b></div>"
    )
    if chosen is not None and len(chosen) and "rank" in chosen.columns:
        where = "subdistrict_name" if "subdistrict_name" in chosen.columns else "candidate_id"
        header = "街道 subdistrict" if where == "subdistrict_name" else "候选点 candidate"
        body += f"<table><tr><th>顺序 rank</th><th>{header}</th><th>新增覆盖 new</th></tr>"
        for _, row in chosen.sort_values("rank").head(top).iterrows():
            gain = jsonable(row.get("new_demand_covered", ""))
            body += (
                f"<tr><td>{int(row['rank'])}</td><td>{html.escape(str(row.get(where, '')))}</td>"
                f"<td>{html.escape(f'{gain:,}' if isinstance(gain, int) else str(gain))}</td></tr>"
            )
        body += "</table>"
        if len(chosen) > top:
            more = len(chosen) - top
            body += f'<div class="siji-foot">另有 {more} 处见地图 (and {more} more)</div>'
    return body
