"""The density map: a choropleth of reports per unit, a heat map and H3 hexagons."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import folium
import numpy as np
from folium.plugins import HeatMap

from maps.render.layers import (
    UNIT_FIELDS,
    FeatureLayer,
    add_data,
    feature_collection,
    field_list,
    make_tooltip,
    outline_layer,
)
from maps.render.legend import Classes, Legend, legend_html
from maps.render.page import TilesLike, base_map
from maps.render.style import (
    COORD_DIGITS,
    DEFAULT_TOLERANCE,
    HEX_PALETTE,
    HIGHLIGHT,
    METRICS,
    NODATA_COLOUR,
    SEQUENTIAL,
    ZERO_COLOUR,
    polygon_style,
)

if TYPE_CHECKING:
    import geopandas as gpd


def density_map(
    density: gpd.GeoDataFrame,
    *,
    heat_points: gpd.GeoDataFrame | None = None,
    hexes: gpd.GeoDataFrame | None = None,
    tiles: TilesLike = None,
    title: str = "城市管理问题报告密度 Report density",
    metric: str = "count",
    outlines: gpd.GeoDataFrame | None = None,
    note: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> folium.Map:
    """A choropleth of reports per unit, with an optional heat map and hexagon layer.

    Parameters
    ----------
    density : GeoDataFrame
        ``density_by_unit`` output: ``code, name, count, area_km2, per_km2`` (and
        ``population, per_1000``) with unit polygons.
    heat_points : GeoDataFrame, optional
        Report points for the heat map layer (off until switched on).
    hexes : GeoDataFrame, optional
        ``hex_bins`` output (``h3, count``) for the hexagon layer (off until switched on).
    tiles : Tiles or (url, attribution), optional
        A basemap; by default none (a plain background, nothing loads from the internet).
    title : str
    metric : {"count", "per_km2", "per_1000"}
        What the choropleth colours.
    outlines : GeoDataFrame, optional
        Units drawn as lines above the choropleth (e.g. subdistricts over communities).
    note : str, optional
        A line under the title (e.g. "演示数据 demo data").
    tolerance : float
        Simplification tolerance in degrees (:func:`simplify_coverage`).

    Returns
    -------
    folium.Map

    Raises
    ------
    ValueError
        An unknown metric or one that ``density`` does not have.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> from maps.render import to_html
    >>> units = gpd.GeoDataFrame(
    ...     {"code": ["1", "2"], "name": ["岱庙街道", "财源街道"], "count": [3, 0],
    ...      "area_km2": [1.2, 1.1], "per_km2": [2.5, 0.0]},
    ...     geometry=[shapely.box(117.10, 36.18, 117.12, 36.20), shapely.box(117.12, 36.18, 117.14, 36.20)],
    ...     crs=4326)
    >>> page = to_html(density_map(units), "/maps/assets")
    >>> "岱庙街道" in page and "报告数" in page
    True
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; allowed: {', '.join(METRICS)}")
    if metric not in density.columns:
        raise ValueError(f"the density table has no {metric!r} column (per_1000 needs population)")
    zh, en = METRICS[metric]
    m = base_map(title, note, tiles, [density, hexes])

    classes = Classes.quantiles(density[metric].to_numpy(dtype=float))
    colours = classes.colours(SEQUENTIAL)
    klass = classes.classify(density[metric].to_numpy(dtype=float))
    fill = {"-1": ZERO_COLOUR, "-2": NODATA_COLOUR} | {str(i): c for i, c in enumerate(colours)}
    data = add_data(
        m,
        feature_collection(
            density,
            ["code", "name", "count", "area_km2", "per_km2", "population", "per_1000"],
            tolerance=tolerance,
            extra=[{"_c": int(k)} for k in klass],
        ),
    )
    fields, aliases = field_list(
        density,
        [
            *UNIT_FIELDS,
            ("count", "报告数 reports"),
            ("per_km2", "每平方公里 per km²"),
            ("population", "人口 residents"),
            ("per_1000", "每千人 per 1,000"),
            ("area_km2", "面积 km²"),
        ],
    )
    choropleth = FeatureLayer(
        data,
        name=f"{zh} {en}",
        style=polygon_style(0.78),
        fill_by=("_c", fill),
        highlight=HIGHLIGHT,
        tooltip=make_tooltip(fields, aliases),
    ).add_to(m)

    hex_layer = None
    hex_classes: Classes | None = None
    hex_k = np.empty(0, dtype=int)
    if hexes is not None and len(hexes):
        hex_classes = Classes.quantiles(hexes["count"].to_numpy(dtype=float))
        hex_colours = hex_classes.colours(HEX_PALETTE)
        hex_fill = {"-1": ZERO_COLOUR, "-2": NODATA_COLOUR} | {str(i): c for i, c in enumerate(hex_colours)}
        hex_k = hex_classes.classify(hexes["count"].to_numpy(dtype=float))
        hex_data = add_data(
            m, feature_collection(hexes, ["h3", "count"], extra=[{"_c": int(k)} for k in hex_k])
        )
        hex_layer = FeatureLayer(
            hex_data,
            name="六边形网格 H3 hexagons",
            style=polygon_style(0.8, "#ffffff", 0.5),
            fill_by=("_c", hex_fill),
            highlight=HIGHLIGHT,
            tooltip=make_tooltip(["h3", "count"], ["H3 单元 cell", "报告数 reports"]),
            show=False,
        ).add_to(m)

    heat_layer = None
    if heat_points is not None and len(heat_points):
        heat_layer = HeatMap(
            heat_data(heat_points), name="热力图 heat map", radius=14, blur=18, min_opacity=0.35, show=False
        ).add_to(m)

    outline_layer(m, outlines, tolerance)

    rows = [(ZERO_COLOUR, "0", int((klass == -1).sum()))]
    rows += [
        (colour, label, int((klass == i).sum()))
        for i, (colour, label) in enumerate(zip(colours, classes.labels(), strict=True))
    ]
    if (klass == -2).any():
        rows.append((NODATA_COLOUR, "无数据 no data", int((klass == -2).sum())))
    total = density["count"].sum() if "count" in density.columns else None
    foot = f"共 {int(total):,} 件报告 · {len(density):,} 个单元" if total is not None else None
    Legend(legend_html(f"{zh} {en}", rows, foot), layer=choropleth).add_to(m)
    if hex_layer is not None and hex_classes is not None:
        hex_rows = [
            (colour, label, int((hex_k == i).sum()))
            for i, (colour, label) in enumerate(
                zip(hex_classes.colours(HEX_PALETTE), hex_classes.labels(), strict=True)
            )
        ]
        Legend(legend_html("每个六边形的报告数 reports per hexagon", hex_rows), layer=hex_layer).add_to(m)
    if heat_layer is not None:
        gradient = "linear-gradient(to right, blue, cyan, lime, yellow, red)"
        body = (
            '<div class="siji-legend-title">热力图 heat map</div>'
            f'<div style="width:180px;height:10px;background:{gradient}"></div>'
            '<div class="siji-row"><span>稀 sparse</span><span class="siji-n">密 dense</span></div>'
        )
        Legend(body, layer=heat_layer).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def heat_data(points: Any, max_points: int = 20_000) -> list[list[float]]:
    """``[lat, lon]`` (or ``[lat, lon, weight]``) rows for a heat map.

    More than ``max_points`` points are binned to 4 decimal places (about 10 m) with
    a weight per bin, so a page stays small for a year of reports.

    Examples
    --------
    >>> import geopandas as gpd
    >>> heat_data(gpd.GeoSeries.from_xy([117.123456], [36.2]))
    [[36.2, 117.12346]]
    """
    geometry = getattr(points, "geometry", points)
    geometry = geometry[~(geometry.is_empty | geometry.isna())]
    lon = np.round(geometry.x.to_numpy(dtype=float), COORD_DIGITS)
    lat = np.round(geometry.y.to_numpy(dtype=float), COORD_DIGITS)
    if len(lon) <= max_points:
        return np.column_stack([lat, lon]).tolist()
    binned, counts = np.unique(
        np.column_stack([np.round(lat, 4), np.round(lon, 4)]), axis=0, return_counts=True
    )
    return np.column_stack([binned, counts / counts.max()]).tolist()
