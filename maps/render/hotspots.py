"""The hot-spot map: Gi* hot and cold spots in a diverging palette, and local Moran clusters."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import folium
import numpy as np

from maps.render.layers import (
    UNIT_FIELDS,
    FeatureLayer,
    add_data,
    feature_collection,
    field_list,
    make_tooltip,
    outline_layer,
)
from maps.render.legend import Legend, legend_html
from maps.render.page import TilesLike, base_map
from maps.render.style import (
    DEFAULT_TOLERANCE,
    HIGHLIGHT,
    HOTSPOT_CLASSES,
    HOTSPOT_COLOURS,
    MORAN_CLASSES,
    MORAN_SIGNIFICANCE,
    NODATA_COLOUR,
    polygon_style,
)

if TYPE_CHECKING:
    import geopandas as gpd


def _hotspot_key(frame: Any) -> np.ndarray:
    values = frame["hotspot"].astype(object).to_numpy() if "hotspot" in frame.columns else None
    if values is None:
        return np.full(len(frame), "not significant", dtype=object)
    return np.array([v if v in HOTSPOT_COLOURS else "no data" for v in values], dtype=object)


def _moran_key(frame: Any) -> np.ndarray | None:
    if "moran_quadrant" not in frame.columns:
        return None
    numbers = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
    keys = []
    pvalues = frame["moran_p"].to_numpy(dtype=float) if "moran_p" in frame.columns else None
    for i, value in enumerate(frame["moran_quadrant"].tolist()):
        if isinstance(value, (int, np.integer, float, np.floating)) and not isinstance(value, bool):
            key = (
                numbers.get(int(value), "not significant")
                if math.isfinite(float(value))
                else "not significant"
            )
        else:
            text = str(value).upper()
            key = text if text in {"HH", "HL", "LH", "LL"} else "not significant"
        if pvalues is not None and not (pvalues[i] <= MORAN_SIGNIFICANCE):
            key = "not significant"
        keys.append(key)
    return np.array(keys, dtype=object)


_PROPERTIES = (
    "code", "name", "h3", "count", "gi_z", "gi_p", "gi_q", "neighbours", "moran_i", "moran_p", "moran_q",
)  # fmt: skip
"""The columns written into the page (the tooltips read them)."""


def hotspot_map(
    hotspots: gpd.GeoDataFrame,
    *,
    tiles: TilesLike = None,
    title: str = "问题热点分析 Getis-Ord Gi* hot spots",
    outlines: gpd.GeoDataFrame | None = None,
    note: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    significance: dict[str, Any] | None = None,
) -> folium.Map:
    """Gi* hot and cold spots of report counts in a diverging palette.

    Parameters
    ----------
    hotspots : GeoDataFrame
        ``getis_ord`` output: unit polygons (``code, name``) or H3 hexagons (``h3``)
        with ``count, gi_z, gi_p, hotspot, hotspot_zh, neighbours``; with
        ``moran_quadrant`` (and ``moran_p``) a local Moran cluster layer is added.
    tiles : Tiles or (url, attribution), optional
    title : str
    outlines : GeoDataFrame, optional
        Units drawn as lines on top.
    note : str, optional
    tolerance : float
        Simplification tolerance for unit polygons (hexagons are drawn as they are).
    significance : dict, optional
        How significance was decided (``Significance.to_dict()``; default
        ``hotspots.attrs["significance"]``): the legend says which correction, the
        sides and what the levels mean.

    Returns
    -------
    folium.Map

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> from maps.render import to_html
    >>> cells = gpd.GeoDataFrame(
    ...     {"code": ["1", "2"], "name": ["上高街道", "徐家楼街道"], "count": [40, 1],
    ...      "gi_z": [3.1, -1.7], "gi_p": [0.001, 0.08], "hotspot": ["hot 99%", "cold 90%"],
    ...      "hotspot_zh": ["热点 99%", "冷点 90%"], "neighbours": [1, 1]},
    ...     geometry=[shapely.box(117.10, 36.18, 117.12, 36.20), shapely.box(117.12, 36.18, 117.14, 36.20)],
    ...     crs=4326)
    >>> page = to_html(hotspot_map(cells), "/maps/assets")
    >>> HOTSPOT_COLOURS["hot 99%"] in page and "上高街道" in page
    True
    """
    m = base_map(title, note, tiles, [hotspots])
    keys = _hotspot_key(hotspots)
    zh_of = {key: zh for key, zh, _ in HOTSPOT_CLASSES}
    colour_of = {**HOTSPOT_COLOURS, "no data": NODATA_COLOUR}
    is_hex = "h3" in hotspots.columns and "code" not in hotspots.columns
    moran = _moran_key(hotspots)
    extra = [{"_k": str(k), "gi_class": f"{zh_of.get(k, '无数据')} ({k})"} for k in keys]
    if moran is not None:
        for item, key in zip(extra, moran, strict=True):
            item["_m"] = str(key)
    data = add_data(
        m,
        feature_collection(
            hotspots,
            [*_PROPERTIES],
            tolerance=0.0 if is_hex else tolerance,
            extra=extra,
        ),
    )
    fields, aliases = field_list(
        hotspots,
        [
            *UNIT_FIELDS,
            ("count", "报告数 reports"),
            ("gi_z", "Gi* z 值"),
            ("gi_p", "p 值（双侧）p-value, two-sided"),
            ("gi_q", "校正后 q 值 FDR-adjusted"),
        ],
    )
    fields.append("gi_class")
    aliases.append("分类 class")
    if "neighbours" in hotspots.columns:
        fields.append("neighbours")
        aliases.append("邻居数 neighbours")
    layer = FeatureLayer(
        data,
        name="Gi* 冷热点 hot/cold spots",
        style=polygon_style(0.85),
        fill_by=("_k", colour_of),
        highlight=HIGHLIGHT,
        tooltip=make_tooltip(fields, aliases),
    ).add_to(m)

    moran_layer = None
    if moran is not None:
        moran_colour = {key: colour for key, _, colour in MORAN_CLASSES}
        moran_fields, moran_aliases = field_list(
            hotspots,
            [
                *UNIT_FIELDS,
                ("count", "报告数 reports"),
                ("moran_i", "局部 Moran I"),
                ("moran_p", "p 值（双侧）p-value, two-sided"),
                ("moran_q", "校正后 q 值 FDR-adjusted"),
            ],
        )
        moran_layer = FeatureLayer(
            data,
            name="局部莫兰聚类 local Moran (LISA)",
            style=polygon_style(0.85),
            fill_by=("_m", moran_colour),
            highlight=HIGHLIGHT,
            tooltip=make_tooltip(moran_fields, moran_aliases),
            show=False,
        ).add_to(m)

    outline_layer(m, outlines, tolerance)

    rows = [(colour, f"{zh} {key}", int((keys == key).sum())) for key, zh, colour in HOTSPOT_CLASSES]
    if (keys == "no data").any():
        rows.append((NODATA_COLOUR, "无数据 no data", int((keys == "no data").sum())))
    unit = "六边形 hexagons" if is_hex else "单元 units"
    meaning = significance if significance is not None else hotspots.attrs.get("significance")
    Legend(
        legend_html(
            f"Gi* 冷热点 hot/cold spots · {_correction_label(meaning)}",
            rows,
            f"{_explanation(meaning)}按报告数计算 by report count · {len(hotspots):,} 个{unit}",
        ),
        layer=layer,
    ).add_to(m)
    if moran_layer is not None and moran is not None:
        moran_rows = [(colour, label, int((moran == key).sum())) for key, label, colour in MORAN_CLASSES]
        decided = "q" if meaning is not None and meaning.get("correction") == "fdr" else "p"
        Legend(
            legend_html(
                f"局部莫兰 local Moran · {_correction_label(meaning)}",
                moran_rows,
                f"双侧 two-sided, {decided} ≤ {MORAN_SIGNIFICANCE:g}",
            ),
            layer=moran_layer,
        ).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def _correction_label(significance: dict[str, Any] | None) -> str:
    """The legend's short name of the correction."""
    if significance is None:
        return "显著性未说明 significance not described"
    if significance.get("correction") == "fdr":
        return "已校正多重检验 (FDR) corrected for multiple testing"
    return "未校正多重检验 not corrected for multiple testing"


def _explanation(significance: dict[str, Any] | None) -> str:
    """What the levels mean, in both languages, ending with a separator (or nothing)."""
    if significance is None:
        return ""
    return f"{significance['explanation_zh']} {significance['explanation_en']} · "
