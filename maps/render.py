"""Planner maps as Leaflet pages: report density, Getis-Ord Gi* hot spots, pocket parks.

The analysis (``maps.analysis``) makes GeoDataFrames in EPSG:4326; this module draws
them with folium and writes pages that work offline:

* :func:`density_map` — a choropleth of reports per unit (count, per km² or per 1,000
  residents), a heat map of the reports and an H3 hexagon layer;
* :func:`hotspot_map` — Gi* hot and cold spots in a diverging palette (and the local
  Moran clusters when they were computed);
* :func:`pocket_park_map` — existing parks, candidate sites, the chosen sites ranked
  with numbered markers, their service circles and the demand left uncovered;
* :func:`to_html` — the page with every script and stylesheet loaded from the vendored
  assets (``maps/assets``), never from a CDN; :func:`save` writes a page and its
  assets for use without a server.

Every map has a layer control, a legend per thematic layer (shown while its layer is),
tooltips that name the unit and its code, Chinese labels in a CJK font stack, and no
basemap unless ``tiles`` gives one (nothing loads from the internet by default).
Unit polygons are simplified as a coverage (:func:`simplify_coverage`), so shared
edges stay shared and the whole city's 3,782 communities fit in a few MB.

The ``*_analysis`` functions run the analysis for the service and the command line
and return the table (for GeoJSON/CSV answers) with a function that draws the map.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import folium
import numpy as np
import shapely
from branca.element import Element, MacroElement
from folium.plugins import HeatMap
from jinja2 import Template

from maps.offline import copy_assets, external_asset_urls, localize

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

#: Tolerance of :func:`simplify_coverage` in degrees (about 50 m in Tai'an).
DEFAULT_TOLERANCE = 0.0005
#: Decimal places kept in drawn coordinates (about 1 m).
COORD_DIGITS = 5
#: A font stack that covers simplified Chinese on Linux, Windows and macOS.
FONT_STACK = (
    '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", '
    '"Microsoft YaHei", "PingFang SC", "Hiragino Sans GB", sans-serif'
)
TAIAN_CENTER = (36.0, 117.1)
BACKGROUND = "#e8ecef"

#: ColorBrewer YlOrRd (6 classes): reports per unit.
SEQUENTIAL = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026")
#: ColorBrewer PuBu (6 classes): reports per hexagon.
HEX_PALETTE = ("#f1eef6", "#d0d1e6", "#a6bddb", "#74a9cf", "#2b8cbe", "#045a8d")
ZERO_COLOUR = "#f7f7f7"
NODATA_COLOUR = "#bdbdbd"

#: Gi* classes, hot to cold, with a diverging ColorBrewer RdBu palette.
HOTSPOT_CLASSES: tuple[tuple[str, str, str], ...] = (
    ("hot 99%", "热点 (99% 置信)", "#b2182b"),
    ("hot 95%", "热点 (95% 置信)", "#ef8a62"),
    ("hot 90%", "热点 (90% 置信)", "#fddbc7"),
    ("not significant", "不显著", "#f7f7f7"),
    ("cold 90%", "冷点 (90% 置信)", "#d1e5f0"),
    ("cold 95%", "冷点 (95% 置信)", "#67a9cf"),
    ("cold 99%", "冷点 (99% 置信)", "#2166ac"),
)
HOTSPOT_COLOURS = {key: colour for key, _, colour in HOTSPOT_CLASSES}
#: Local Moran (LISA) clusters.
MORAN_CLASSES: tuple[tuple[str, str, str], ...] = (
    ("HH", "高-高 聚集 high-high", "#d7191c"),
    ("HL", "高-低 异常 high-low", "#fdae61"),
    ("LH", "低-高 异常 low-high", "#abd9e9"),
    ("LL", "低-低 聚集 low-low", "#2c7bb6"),
    ("not significant", "不显著 not significant", "#f7f7f7"),
)
MORAN_SIGNIFICANCE = 0.05

METRICS: dict[str, tuple[str, str]] = {
    "count": ("报告数", "reports"),
    "per_km2": ("每平方公里报告数", "reports per km²"),
    "per_1000": ("每千名居民报告数", "reports per 1,000 residents"),
}
LEVEL_NAMES = {"city": "市", "district": "区县", "subdistrict": "街道/乡镇", "community": "社区/村"}

PARK_COLOUR = "#1b7837"
CANDIDATE_COLOUR = "#737373"
CHOSEN_COLOUR = "#6a3d9a"
UNCOVERED_COLOUR = "#e31a1c"
DEMAND_COLOUR = "#1f78b4"
SERVICE_COLOUR = "#33a02c"
OUTLINE_COLOUR = "#4d4d4d"

PAGE_CSS = f"""
<style>
  html, body, .leaflet-container, .leaflet-tooltip, .leaflet-control, .siji-title {{
    font-family: {FONT_STACK};
  }}
  .leaflet-container {{ background: {BACKGROUND}; }}
  .siji-title {{
    position: absolute; top: 10px; left: 50%; transform: translateX(-50%); z-index: 1000;
    background: rgba(255, 255, 255, 0.92); padding: 6px 14px; border-radius: 6px;
    box-shadow: 0 1px 5px rgba(0, 0, 0, 0.35); pointer-events: none; text-align: center;
    max-width: 60%;
  }}
  .siji-title h1 {{ font-size: 17px; margin: 0; font-weight: 600; line-height: 1.35; }}
  .siji-title .siji-note {{ font-size: 12.5px; color: #8a2b0b; margin-top: 2px; }}
  .siji-legend, .siji-panel {{
    background: rgba(255, 255, 255, 0.94); padding: 8px 10px; font-size: 12.5px; line-height: 1.45;
    border-radius: 5px; box-shadow: 0 1px 5px rgba(0, 0, 0, 0.35); max-width: 300px;
  }}
  .siji-legend .siji-legend-title, .siji-panel .siji-panel-title {{ font-weight: 600; margin-bottom: 4px; }}
  .siji-legend .siji-row {{ display: flex; align-items: center; gap: 6px; white-space: nowrap; }}
  .siji-legend .siji-swatch {{
    display: inline-block; width: 18px; height: 12px; border: 1px solid #777; flex: none;
  }}
  .siji-legend .siji-dot {{ border-radius: 50%; width: 12px; }}
  .siji-legend .siji-n {{ color: #666; margin-left: auto; padding-left: 8px; }}
  .siji-legend .siji-foot, .siji-panel .siji-foot {{ color: #555; margin-top: 4px; font-size: 11.5px; }}
  .siji-panel table {{ border-collapse: collapse; margin-top: 4px; }}
  .siji-panel td, .siji-panel th {{ padding: 1px 6px 1px 0; text-align: left; font-weight: normal; }}
  .siji-panel th {{ color: #555; }}
  .siji-rank {{
    width: 26px; height: 26px; border-radius: 50%; background: {CHOSEN_COLOUR}; color: #fff;
    border: 2px solid #fff; box-shadow: 0 0 3px rgba(0, 0, 0, 0.6); font: 600 13px/22px {FONT_STACK};
    text-align: center;
  }}
  .leaflet-tooltip {{ font-size: 13px; }}
</style>
"""


# --- inputs ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tiles:
    """A basemap: an XYZ URL template and its attribution (shown on the map).

    Examples
    --------
    >>> Tiles("http://127.0.0.1:8080/{z}/{x}/{y}.png", "© our tile server").name
    '底图 basemap'
    """

    url: str
    attribution: str
    name: str = "底图 basemap"
    max_zoom: int = 18


TilesLike = Tiles | tuple[str, str] | None


def as_tiles(tiles: TilesLike) -> Tiles | None:
    """``None`` (no basemap), a :class:`Tiles`, or a ``(url, attribution)`` pair.

    Raises
    ------
    ValueError
        A URL without ``{z}``, ``{x}`` and ``{y}``, or no attribution.

    Examples
    --------
    >>> as_tiles(("https://t.example/{z}/{x}/{y}.png", "© example")).attribution
    '© example'
    >>> as_tiles(None) is None
    True
    """
    if tiles is None:
        return None
    if isinstance(tiles, str):
        raise ValueError("give a basemap with its attribution: (url_template, attribution)")
    value = tiles if isinstance(tiles, Tiles) else Tiles(str(tiles[0]), str(tiles[1]))
    if not all(part in value.url for part in ("{z}", "{x}", "{y}")):
        raise ValueError(f"the tile URL {value.url!r} needs {{z}}, {{x}} and {{y}} placeholders")
    if not value.attribution.strip():
        raise ValueError("a basemap needs its attribution (who made the tiles and the map data)")
    return value


# --- geometry ---------------------------------------------------------------------------


def simplify_coverage(geometries: Any, tolerance: float = DEFAULT_TOLERANCE) -> np.ndarray:
    """Simplify polygons that tile an area without gaps or overlaps, keeping topology.

    Shared edges are simplified once (``shapely.coverage_simplify``), so neighbours
    still meet exactly; coordinates are then rounded to :data:`COORD_DIGITS` places.

    Parameters
    ----------
    geometries : array of shapely geometries or GeoSeries
        EPSG:4326 polygons, e.g. the communities of one generation.
    tolerance : float
        Degrees; ``0`` keeps every vertex (only rounding).

    Returns
    -------
    numpy.ndarray of shapely geometries

    Examples
    --------
    >>> import shapely
    >>> left = shapely.Polygon([(0, 0), (1, 0), (1, 0.5001), (1, 1), (0, 1)])
    >>> right = shapely.Polygon([(1, 0), (2, 0), (2, 1), (1, 1), (1, 0.5001)])
    >>> a, b = simplify_coverage([left, right], 0.01)
    >>> int(shapely.get_num_coordinates(a)), a.intersection(b).length
    (5, 1.0)
    """
    values = np.asarray(getattr(geometries, "values", geometries), dtype=object)
    if len(values) and tolerance > 0:
        polygonal = shapely.get_type_id(values) >= 3
        if polygonal.all():
            values = shapely.coverage_simplify(values, tolerance)
    return shapely.transform(values, lambda xy: np.round(xy, COORD_DIGITS))


def _jsonable(value: Any, digits: int = 4) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return round(number, digits) if math.isfinite(number) else None
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _features(
    frame: gpd.GeoDataFrame,
    properties: Sequence[str],
    *,
    tolerance: float = 0.0,
    extra: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of ``frame`` with only ``properties`` (and ``extra``)."""
    geometries = simplify_coverage(frame.geometry.values, tolerance)
    columns = [c for c in properties if c in frame.columns]
    records = frame[columns].to_dict("records") if columns else [{} for _ in range(len(frame))]
    features = []
    for i, (geometry, record) in enumerate(zip(geometries, records, strict=True)):
        if geometry is None or geometry.is_empty:
            continue
        # tooltips put values into innerHTML: escape text from the database
        props = {
            key: html.escape(value, quote=False) if isinstance(value, str) else _jsonable(value)
            for key, value in record.items()
        }
        if extra is not None:
            props.update(extra[i])
        features.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": shapely.geometry.mapping(geometry),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _bounds(frames: Iterable[Any]) -> list[list[float]] | None:
    boxes = [f.total_bounds for f in frames if f is not None and len(f) and np.isfinite(f.total_bounds).all()]
    if not boxes:
        return None
    stacked = np.vstack(boxes)
    west, south = stacked[:, 0].min(), stacked[:, 1].min()
    east, north = stacked[:, 2].max(), stacked[:, 3].max()
    return [[float(south), float(west)], [float(north), float(east)]]


# --- classes and legends ----------------------------------------------------------------


def _fmt(value: float) -> str:
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


@dataclass(frozen=True)
class Classes:
    """Class breaks of a positive quantity (zero and missing values get their own class).

    Examples
    --------
    >>> classes = Classes.quantiles([0, 1, 1, 2, 5, 9, 30], k=3)
    >>> classes.labels()
    ['1–2', '3–9', '10–30']
    >>> classes.classify([0, 1, 7, float("nan")]).tolist()
    [-1, 0, 1, -2]
    """

    breaks: tuple[float, ...]
    integral: bool

    @classmethod
    def quantiles(cls, values: Any, k: int = 6) -> Classes:
        array = np.asarray(values, dtype=float)
        positive = array[np.isfinite(array) & (array > 0)]
        integral = bool(np.all(np.mod(array[np.isfinite(array)], 1) == 0))
        if not len(positive):
            return cls((), integral)
        edges = np.quantile(positive, np.linspace(0, 1, k + 1)[1:], method="higher")
        if integral:
            edges = np.ceil(edges)
        return cls(tuple(float(e) for e in np.unique(edges)), integral)

    def classify(self, values: Any) -> np.ndarray:
        """Class of each value: ``-1`` zero (or below), ``-2`` missing, else ``0..n-1``."""
        array = np.asarray(values, dtype=float)
        out = np.full(len(array), -2, dtype=int)
        finite = np.isfinite(array)
        out[finite & (array <= 0)] = -1
        positive = finite & (array > 0)
        if self.breaks:
            out[positive] = np.minimum(
                np.searchsorted(np.asarray(self.breaks), array[positive], side="left"), len(self.breaks) - 1
            )
        return out

    def labels(self) -> list[str]:
        labels = []
        for i, upper in enumerate(self.breaks):
            if i == 0:
                lower = 1.0 if self.integral else None
            else:
                lower = self.breaks[i - 1] + 1 if self.integral else self.breaks[i - 1]
            if lower is None:
                labels.append(f"≤ {_fmt(upper)}")
            elif self.integral and lower >= upper:
                labels.append(_fmt(upper))
            else:
                labels.append(f"{_fmt(lower)}–{_fmt(upper)}")
        return labels

    def colours(self, palette: Sequence[str]) -> list[str]:
        n = len(self.breaks)
        if n == 0:
            return []
        picks = np.linspace(0, len(palette) - 1, n).round().astype(int) if n > 1 else [len(palette) - 1]
        return [palette[i] for i in picks]


def _safe_text(value: str) -> str:
    """HTML-escaped text that is also inert inside a JavaScript template literal (folium tooltips).

    Examples
    --------
    >>> _safe_text("<b>${x}</b>`")
    '&lt;b&gt;&#36;{x}&lt;/b&gt;&#96;'
    """
    return html.escape(value).replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;")


def _legend_rows_html(rows: Sequence[tuple[str, str, int | None]], *, dot: bool = False) -> str:
    parts = []
    for colour, label, n in rows:
        count = f'<span class="siji-n">{n:,}</span>' if n is not None else ""
        swatch_class = "siji-swatch siji-dot" if dot else "siji-swatch"
        parts.append(
            f'<div class="siji-row"><i class="{swatch_class}" style="background:{colour}"></i>'
            f"<span>{html.escape(label)}</span>{count}</div>"
        )
    return "".join(parts)


def _legend_html(
    title: str, rows: Sequence[tuple[str, str, int | None]], foot: str | None = None, *, dot: bool = False
) -> str:
    body = f'<div class="siji-legend-title">{html.escape(title)}</div>' + _legend_rows_html(rows, dot=dot)
    if foot:
        body += f'<div class="siji-foot">{html.escape(foot)}</div>'
    return body


def _script_json(data: Any) -> str:
    """Compact UTF-8 JSON that is safe inside a ``<script>`` element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # "<" only occurs inside JSON strings, where \u003c means the same; no "</script>" can close the tag
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


class Legend(MacroElement):
    """A legend box (a Leaflet control); bound to a layer it shows only while that layer does.

    Parameters
    ----------
    body : str
        The legend's HTML.
    layer : folium layer, optional
        Shown with this layer, hidden when it is switched off in the layer control.
    position : str
        A map corner: ``topright``, ``topleft``, ``bottomright`` or ``bottomleft``.
    css_class : str
        Class of the box (``siji-legend`` or ``siji-panel``).

    Examples
    --------
    >>> m = folium.Map(tiles=None)
    >>> _ = Legend("<b>报告数</b>").add_to(m)
    >>> "siji-legend" in m.get_root().render()
    True
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: {{ this.position|tojson }}});
        {{ this.get_name() }}.onAdd = function (map) {
            var div = L.DomUtil.create("div", {{ this.css_class|tojson }});
            div.innerHTML = {{ this.body_json }};
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            return div;
        };
        {%- if this.layer is not none %}
        (function (map, layer, legend) {
            if (map.hasLayer(layer)) { legend.addTo(map); }
            layer.on("add", function () { legend.addTo(map); });
            layer.on("remove", function () { legend.remove(); });
        })({{ this._parent.get_name() }}, {{ this.layer.get_name() }}, {{ this.get_name() }});
        {%- else %}
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {%- endif %}
        {% endmacro %}
        """
    )

    def __init__(
        self, body: str, layer: Any = None, position: str = "bottomright", css_class: str = "siji-legend"
    ) -> None:
        super().__init__()
        self._name = "Legend"
        self.body = body
        self.body_json = _script_json(body)  # UTF-8: the Chinese text stays readable in the page
        self.layer = layer
        self.position = position
        self.css_class = css_class


class GeoJsonData(MacroElement):
    """A GeoJSON FeatureCollection written once into the page, for one or more layers.

    Written compact and in UTF-8 (Chinese names stay readable and small); several
    :class:`FeatureLayer` objects may draw the same data in different ways.

    Examples
    --------
    >>> m = folium.Map(tiles=None)
    >>> data = GeoJsonData({"type": "FeatureCollection", "features": []}).add_to(m)
    >>> f"var {data.get_name()} = " in m.get_root().render()
    True
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = {{ this.json }};
        {% endmacro %}
        """
    )

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()
        self._name = "GeoJsonData"
        self.data = data
        self.json = _script_json(data)


def _data(m: folium.Map, collection: dict[str, Any]) -> GeoJsonData:
    data = GeoJsonData(collection)
    data.add_to(m)
    return data


class FeatureLayer(folium.GeoJson):
    """A Leaflet GeoJSON layer over :class:`GeoJsonData`, coloured by a feature property.

    Parameters
    ----------
    source : GeoJsonData
        Added to the map before this layer.
    name : str
        The name in the layer control.
    style : dict
        Leaflet path options of every feature.
    fill_by : (property, {value: colour}), optional
        ``fillColor`` looked up from a feature property.
    highlight : dict, optional
        Path options while the pointer is over a feature.
    tooltip : folium.GeoJsonTooltip, optional
    show : bool
        Shown on opening (else switched on in the layer control).
    point_radius : float, optional
        Draw point features as circle markers of this radius (pixels).
    interactive : bool
        False for layers that should not catch the pointer (outlines, dense points).

    Examples
    --------
    >>> m = folium.Map(tiles=None)
    >>> data = GeoJsonData({"type": "FeatureCollection", "features": []}).add_to(m)
    >>> layer = FeatureLayer(data, name="layer", style={"weight": 1}).add_to(m)
    >>> f"{layer.get_name()}.addData({data.get_name()})" in m.get_root().render()
    True
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJson(null, {
            style: function (feature) {
                var style = Object.assign({}, {{ this.base_style|tojson }});
                {%- if this.fill_by %}
                var colour = {{ this.fill_by[1]|tojson }}[feature.properties[{{ this.fill_by[0]|tojson }}]];
                if (colour !== undefined) { style.fillColor = colour; }
                {%- endif %}
                return style;
            },
            {%- if this.point_radius is not none %}
            pointToLayer: function (feature, latlng) {
                return L.circleMarker(latlng, {radius: {{ this.point_radius|tojson }}});
            },
            {%- endif %}
            {%- if this.highlight_style %}
            onEachFeature: function (feature, layer) {
                layer.on({
                    mouseover: function (e) {
                        e.target.setStyle({{ this.highlight_style|tojson }});
                        if (e.target.bringToFront) { e.target.bringToFront(); }
                    },
                    mouseout: function (e) { {{ this.get_name() }}.resetStyle(e.target); }
                });
            },
            {%- endif %}
            interactive: {{ this.interactive|tojson }}
        });
        {{ this.get_name() }}.addData({{ this.source.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        source: GeoJsonData,
        *,
        name: str,
        style: dict[str, Any],
        fill_by: tuple[str, dict[str, str]] | None = None,
        highlight: dict[str, Any] | None = None,
        tooltip: folium.GeoJsonTooltip | None = None,
        show: bool = True,
        point_radius: float | None = None,
        interactive: bool = True,
    ) -> None:
        super().__init__(source.data, name=name, tooltip=tooltip, show=show)
        self._name = "FeatureLayer"
        self.source = source
        self.base_style = style
        self.fill_by = (fill_by[0], {str(k): v for k, v in fill_by[1].items()}) if fill_by else None
        self.highlight_style = highlight
        self.point_radius = point_radius
        self.interactive = interactive

    def render(self, **kwargs: Any) -> Any:
        # folium.GeoJson.render maps styles in Python; the style here is computed in the browser.
        return folium.map.Layer.render(self, **kwargs)


# --- the page ---------------------------------------------------------------------------


def _base_map(title: str, note: str | None, tiles: TilesLike, frames: Iterable[Any]) -> folium.Map:
    basemap = as_tiles(tiles)
    m = folium.Map(
        location=TAIAN_CENTER, zoom_start=9, tiles=None, control_scale=True, zoom_snap=0.25, zoom_delta=0.5
    )
    root = m.get_root()
    root.title = title  # type: ignore[attr-defined]
    root.header.add_child(Element(PAGE_CSS), name="siji_css")  # type: ignore[attr-defined]
    # no favicon request (a 404 in the console of every page)
    root.header.add_child(Element('<link rel="icon" href="data:,">'), name="siji_icon")  # type: ignore[attr-defined]
    note_html = f'<div class="siji-note">{html.escape(note)}</div>' if note else ""
    root.html.add_child(  # type: ignore[attr-defined]
        Element(f'<div class="siji-title"><h1>{html.escape(title)}</h1>{note_html}</div>'), name="siji_title"
    )
    if basemap is not None:
        folium.TileLayer(
            tiles=basemap.url,
            attr=basemap.attribution,
            name=basemap.name,
            max_zoom=basemap.max_zoom,
            overlay=False,
            control=True,
        ).add_to(m)
    bounds = _bounds(frames)
    if bounds is not None:
        # keep the data clear of the title (top) and the layer control and legends (right)
        m.fit_bounds(bounds, padding_top_left=(40, 80), padding_bottom_right=(300, 50))
    return m


HIGHLIGHT = {"weight": 2.5, "color": "#222222", "fillOpacity": 0.9}


def _polygon_style(fill_opacity: float = 0.8, line: str = "#8c8c8c", weight: float = 0.4) -> dict[str, Any]:
    return {"fillColor": NODATA_COLOUR, "fillOpacity": fill_opacity, "color": line, "weight": weight}


def _outline_layer(m: folium.Map, outlines: gpd.GeoDataFrame | None, tolerance: float) -> None:
    if outlines is None or not len(outlines):
        return
    levels = outlines["level"].unique().tolist() if "level" in outlines.columns else []
    label = "、".join(LEVEL_NAMES.get(level, level) for level in levels) or "上级"
    data = _data(m, _features(outlines, [], tolerance=tolerance))
    FeatureLayer(
        data,
        name=f"{label}边界 boundaries",
        style={"color": OUTLINE_COLOUR, "weight": 1.2, "fill": False, "opacity": 0.8},
        interactive=False,
    ).add_to(m)


def _field_list(frame: Any, wanted: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]]:
    fields = [name for name, _ in wanted if name in frame.columns]
    aliases = [alias for name, alias in wanted if name in frame.columns]
    return fields, aliases


def _tooltip(fields: list[str], aliases: list[str]) -> folium.GeoJsonTooltip:
    return folium.GeoJsonTooltip(fields=fields, aliases=aliases, localize=True, sticky=True, labels=True)


UNIT_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "名称 name"),
    ("code", "代码 code"),
    ("h3", "H3 单元 cell"),
)


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
    m = _base_map(title, note, tiles, [density, hexes])

    classes = Classes.quantiles(density[metric].to_numpy(dtype=float))
    colours = classes.colours(SEQUENTIAL)
    klass = classes.classify(density[metric].to_numpy(dtype=float))
    fill = {"-1": ZERO_COLOUR, "-2": NODATA_COLOUR} | {str(i): c for i, c in enumerate(colours)}
    data = _data(
        m,
        _features(
            density,
            ["code", "name", "count", "area_km2", "per_km2", "population", "per_1000"],
            tolerance=tolerance,
            extra=[{"_c": int(k)} for k in klass],
        ),
    )
    fields, aliases = _field_list(
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
        style=_polygon_style(0.78),
        fill_by=("_c", fill),
        highlight=HIGHLIGHT,
        tooltip=_tooltip(fields, aliases),
    ).add_to(m)

    hex_layer = None
    hex_classes: Classes | None = None
    hex_k = np.empty(0, dtype=int)
    if hexes is not None and len(hexes):
        hex_classes = Classes.quantiles(hexes["count"].to_numpy(dtype=float))
        hex_colours = hex_classes.colours(HEX_PALETTE)
        hex_fill = {"-1": ZERO_COLOUR, "-2": NODATA_COLOUR} | {str(i): c for i, c in enumerate(hex_colours)}
        hex_k = hex_classes.classify(hexes["count"].to_numpy(dtype=float))
        hex_data = _data(m, _features(hexes, ["h3", "count"], extra=[{"_c": int(k)} for k in hex_k]))
        hex_layer = FeatureLayer(
            hex_data,
            name="六边形网格 H3 hexagons",
            style=_polygon_style(0.8, "#ffffff", 0.5),
            fill_by=("_c", hex_fill),
            highlight=HIGHLIGHT,
            tooltip=_tooltip(["h3", "count"], ["H3 单元 cell", "报告数 reports"]),
            show=False,
        ).add_to(m)

    heat_layer = None
    if heat_points is not None and len(heat_points):
        heat_layer = HeatMap(
            heat_data(heat_points), name="热力图 heat map", radius=14, blur=18, min_opacity=0.35, show=False
        ).add_to(m)

    _outline_layer(m, outlines, tolerance)

    rows = [(ZERO_COLOUR, "0", int((klass == -1).sum()))]
    rows += [
        (colour, label, int((klass == i).sum()))
        for i, (colour, label) in enumerate(zip(colours, classes.labels(), strict=True))
    ]
    if (klass == -2).any():
        rows.append((NODATA_COLOUR, "无数据 no data", int((klass == -2).sum())))
    total = density["count"].sum() if "count" in density.columns else None
    foot = f"共 {int(total):,} 件报告 · {len(density):,} 个单元" if total is not None else None
    Legend(_legend_html(f"{zh} {en}", rows, foot), layer=choropleth).add_to(m)
    if hex_layer is not None and hex_classes is not None:
        hex_rows = [
            (colour, label, int((hex_k == i).sum()))
            for i, (colour, label) in enumerate(
                zip(hex_classes.colours(HEX_PALETTE), hex_classes.labels(), strict=True)
            )
        ]
        Legend(_legend_html("每个六边形的报告数 reports per hexagon", hex_rows), layer=hex_layer).add_to(m)
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


def hotspot_map(
    hotspots: gpd.GeoDataFrame,
    *,
    tiles: TilesLike = None,
    title: str = "问题热点分析 Getis-Ord Gi* hot spots",
    outlines: gpd.GeoDataFrame | None = None,
    note: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
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

    Returns
    -------
    folium.Map

    Examples
    --------
    >>> import geopandas as gpd, shapely
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
    m = _base_map(title, note, tiles, [hotspots])
    keys = _hotspot_key(hotspots)
    zh_of = {key: zh for key, zh, _ in HOTSPOT_CLASSES}
    colour_of = {**HOTSPOT_COLOURS, "no data": NODATA_COLOUR}
    is_hex = "h3" in hotspots.columns and "code" not in hotspots.columns
    moran = _moran_key(hotspots)
    extra = [{"_k": str(k), "gi_class": f"{zh_of.get(k, '无数据')} ({k})"} for k in keys]
    if moran is not None:
        for item, key in zip(extra, moran, strict=True):
            item["_m"] = str(key)
    data = _data(
        m,
        _features(
            hotspots,
            ["code", "name", "h3", "count", "gi_z", "gi_p", "neighbours", "moran_i", "moran_p"],
            tolerance=0.0 if is_hex else tolerance,
            extra=extra,
        ),
    )
    fields, aliases = _field_list(
        hotspots, [*UNIT_FIELDS, ("count", "报告数 reports"), ("gi_z", "Gi* z 值"), ("gi_p", "p 值 p-value")]
    )
    fields.append("gi_class")
    aliases.append("分类 class")
    if "neighbours" in hotspots.columns:
        fields.append("neighbours")
        aliases.append("邻居数 neighbours")
    layer = FeatureLayer(
        data,
        name="Gi* 冷热点 hot/cold spots",
        style=_polygon_style(0.85),
        fill_by=("_k", colour_of),
        highlight=HIGHLIGHT,
        tooltip=_tooltip(fields, aliases),
    ).add_to(m)

    moran_layer = None
    if moran is not None:
        moran_colour = {key: colour for key, _, colour in MORAN_CLASSES}
        moran_fields, moran_aliases = _field_list(
            hotspots,
            [
                *UNIT_FIELDS,
                ("count", "报告数 reports"),
                ("moran_i", "局部 Moran I"),
                ("moran_p", "p 值 p-value"),
            ],
        )
        moran_layer = FeatureLayer(
            data,
            name="局部莫兰聚类 local Moran (LISA)",
            style=_polygon_style(0.85),
            fill_by=("_m", moran_colour),
            highlight=HIGHLIGHT,
            tooltip=_tooltip(moran_fields, moran_aliases),
            show=False,
        ).add_to(m)

    _outline_layer(m, outlines, tolerance)

    rows = [(colour, f"{zh} {key}", int((keys == key).sum())) for key, zh, colour in HOTSPOT_CLASSES]
    if (keys == "no data").any():
        rows.append((NODATA_COLOUR, "无数据 no data", int((keys == "no data").sum())))
    unit = "六边形" if is_hex else "单元"
    Legend(
        _legend_html("Gi* 冷热点 hot/cold spots", rows, f"按报告数计算 · {len(hotspots):,} 个{unit}"),
        layer=layer,
    ).add_to(m)
    if moran_layer is not None and moran is not None:
        moran_rows = [(colour, label, int((moran == key).sum())) for key, label, colour in MORAN_CLASSES]
        Legend(
            _legend_html("局部莫兰 local Moran", moran_rows, f"p ≤ {MORAN_SIGNIFICANCE:g}"), layer=moran_layer
        ).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def _points(frame: Any) -> Any:
    """Point geometries of a frame (polygons become their representative points)."""
    geometry = frame.geometry
    if len(geometry) and not (geometry.geom_type == "Point").all():
        return frame.set_geometry(geometry.representative_point())
    return frame


def _point_layer(
    m: folium.Map,
    frame: Any,
    *,
    name: str,
    colour: str,
    radius: float,
    fields: Sequence[tuple[str, str]] = (),
    show: bool = True,
    interactive: bool = True,
    fill_opacity: float = 0.85,
) -> FeatureLayer | None:
    if frame is None or not len(frame):
        return None
    frame = _points(frame)
    names, aliases = _field_list(frame, fields)
    data = _data(m, _features(frame, names if interactive else []))
    layer = FeatureLayer(
        data,
        name=name,
        style={
            "color": "#ffffff",
            "weight": 1 if interactive else 0.5,
            "fillColor": colour,
            "fillOpacity": fill_opacity,
        },
        highlight={"weight": 2, "color": "#222222"} if interactive else None,
        tooltip=_tooltip(names, aliases) if names and interactive else None,
        show=show,
        point_radius=radius,
        interactive=interactive,
    )
    layer.add_to(m)
    return layer


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
) -> folium.Map:
    """Existing parks, candidate sites, the chosen sites ranked, their service areas and
    the demand they leave uncovered.

    Parameters
    ----------
    plan : solved PocketParkPlan
        With ``chosen`` (``candidate_id, rank, new_demand_covered, subdistrict_code``,
        points), ``coverage`` (``total_demand, covered_before, covered_after,
        share_before, share_after, radius_m, p``), ``uncovered`` (points) and
        ``service_areas`` (circles).
    parks : GeoDataFrame, optional
        Existing parks (``park_id, name``).
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

    Returns
    -------
    folium.Map

    Examples
    --------
    >>> import geopandas as gpd, shapely, types
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
    m = _base_map(title, note, tiles, focus)
    _outline_layer(m, outlines, tolerance)

    if parks is not None and len(parks):
        from maps.analysis.density import METRIC_CRS

        park_points = _points(parks)
        served = park_points.set_geometry(
            park_points.geometry.to_crs(METRIC_CRS).buffer(radius_m, 16).to_crs(4326)
        )
        FeatureLayer(
            _data(m, _features(served, [])),
            name=f"现有公园服务范围 existing parks' areas ({radius_m:g} m)",
            style={
                "fillColor": PARK_COLOUR,
                "fillOpacity": 0.12,
                "color": PARK_COLOUR,
                "weight": 0.8,
                "dashArray": "4 3",
            },
            interactive=False,
        ).add_to(m)

    if service_areas is not None and len(service_areas):
        fields, aliases = _field_list(
            service_areas,
            [("rank", "选址顺序 rank"), ("candidate_id", "候选点 candidate"), ("kind", "类型 kind")],
        )
        FeatureLayer(
            _data(m, _features(service_areas, fields)),
            name=f"服务范围 service areas ({radius_m:g} m)",
            style={"fillColor": SERVICE_COLOUR, "fillOpacity": 0.18, "color": SERVICE_COLOUR, "weight": 1.2},
            highlight={"weight": 2.5, "fillOpacity": 0.3} if fields else None,
            tooltip=_tooltip(fields, aliases) if fields else None,
        ).add_to(m)

    candidate_layer = _point_layer(
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
    demand_layer = _point_layer(
        m,
        demand,
        name="绿地需求 green-space demand",
        colour=DEMAND_COLOUR,
        radius=2.5,
        interactive=False,
        fill_opacity=0.75,
    )
    uncovered_layer = _point_layer(
        m,
        uncovered,
        name="未覆盖需求 uncovered demand",
        colour=UNCOVERED_COLOUR,
        radius=2.5,
        interactive=False,
        fill_opacity=0.75,
    )
    park_layer = _point_layer(
        m,
        parks,
        name="现有公园 existing parks",
        colour=PARK_COLOUR,
        radius=6,
        fields=[("name", "名称 name"), ("park_id", "编号 park id")],
    )

    chosen_group = None
    if chosen is not None and len(chosen):
        chosen_group = folium.FeatureGroup(name="新选址（按顺序） chosen sites, ranked", show=True).add_to(m)
        ranked = _points(chosen).sort_values("rank") if "rank" in chosen.columns else _points(chosen)
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
                    value = _jsonable(row[column])
                    shown = f"{value:,}" if isinstance(value, int) else str(value)
                    lines.append(f"{label}: {_safe_text(shown)}")
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
        rows.append((PARK_COLOUR, "现有公园 existing park", len(parks)))
        rows.append(("#cfe3d3", f"现有公园服务范围 {radius_m:g} m", None))
    if candidate_layer is not None and candidates is not None:
        rows.append((CANDIDATE_COLOUR, "候选地块 candidate", len(candidates)))
    if demand_layer is not None and demand is not None:
        rows.append((DEMAND_COLOUR, "绿地需求 demand (reports)", len(demand)))
    if uncovered_layer is not None and uncovered is not None:
        rows.append((UNCOVERED_COLOUR, "未覆盖需求 uncovered demand", len(uncovered)))
    Legend(_legend_html("图例 legend", rows, dot=True)).add_to(m)
    if coverage:
        Legend(coverage_html(coverage, chosen), css_class="siji-panel").add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
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
            gain = _jsonable(row.get("new_demand_covered", ""))
            body += (
                f"<tr><td>{int(row['rank'])}</td><td>{html.escape(str(row.get(where, '')))}</td>"
                f"<td>{html.escape(f'{gain:,}' if isinstance(gain, int) else str(gain))}</td></tr>"
            )
        body += "</table>"
        if len(chosen) > top:
            more = len(chosen) - top
            body += f'<div class="siji-foot">另有 {more} 处见地图 (and {more} more)</div>'
    return body


# --- pages ------------------------------------------------------------------------------


def to_html(m: folium.Map, assets_url: str) -> str:
    """The page of a map, loading every script and stylesheet from ``assets_url``.

    Parameters
    ----------
    m : folium.Map
    assets_url : str
        Where ``maps/assets`` is served (``/maps/assets``) or a folder relative to the
        page (``density_files``).

    Returns
    -------
    str
        UTF-8 HTML (``lang="zh-CN"``, a charset meta); no script or stylesheet URL
        starts with ``http://`` or ``https://`` (basemap tiles, when configured, load
        from their own server).

    Raises
    ------
    maps.offline.UnvendoredAssetError
        The map uses a folium plugin whose files are not vendored.

    Examples
    --------
    >>> page = to_html(folium.Map(tiles=None), "/maps/assets")
    >>> '<script src="/maps/assets/leaflet/leaflet.js"></script>' in page
    True
    """
    page = localize(m.get_root().render(), assets_url)
    page = page.replace("<html>", '<html lang="zh-CN">', 1)
    if "<meta charset" not in page:
        page = page.replace("<head>", '<head>\n    <meta charset="utf-8" />', 1)
    left = external_asset_urls(page)
    if left:  # localize raises first; this guards the guarantee against a changed template
        raise ValueError(f"the page still loads {left} from the internet")
    return page


def save(m: folium.Map, path: str | Path) -> Path:
    """Write a map as ``path`` with its assets in ``<stem>_files/`` next to it (works offline).

    Returns
    -------
    pathlib.Path
        The assets folder.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     files = save(folium.Map(tiles=None), Path(tmp) / "map.html")
    ...     (files / "leaflet" / "leaflet.css").is_file()
    True
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    files = copy_assets(target.with_name(f"{target.stem}_files"))
    target.write_text(to_html(m, quote(files.name)), encoding="utf-8")
    return files


# --- tables (GeoJSON and CSV answers) ---------------------------------------------------


def result_geojson(frame: gpd.GeoDataFrame, **members: Any) -> dict[str, Any]:
    """A result table as a GeoJSON FeatureCollection (geometry to 6 decimals, JSON-safe properties).

    Extra keyword arguments become top-level members (e.g. ``coverage``).

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> frame = gpd.GeoDataFrame({"code": ["1"], "count": [2]}, geometry=[shapely.Point(117, 36)], crs=4326)
    >>> result_geojson(frame, kind="density")["features"][0]["properties"]
    {'code': '1', 'count': 2}
    """
    columns = [c for c in frame.columns if c != frame.geometry.name]
    records = frame[columns].to_dict("records")
    # 6 decimal places: 0.1 m, a third of the bytes of full doubles
    values = np.asarray(frame.geometry.values, dtype=object)
    geometries = shapely.transform(values, lambda xy: np.round(xy, 6))
    features = []
    for record, geometry in zip(records, geometries, strict=True):
        features.append(
            {
                "type": "Feature",
                "properties": {key: _jsonable(value, 6) for key, value in record.items()},
                "geometry": None if geometry is None else shapely.geometry.mapping(geometry),
            }
        )
    return {
        "type": "FeatureCollection",
        **{k: _jsonable_deep(v) for k, v in members.items()},
        "features": features,
    }


def _jsonable_deep(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable_deep(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable_deep(v) for v in value]
    if isinstance(value, str):
        return value
    return _jsonable(value, 6)


def result_csv(frame: pd.DataFrame) -> bytes:
    """A result table as UTF-8 CSV with a BOM (Excel in China opens it right).

    Geometry is dropped; points keep ``lon, lat`` columns.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> frame = gpd.GeoDataFrame({"name": ["泰山区"]}, geometry=[shapely.Point(117.1, 36.2)], crs=4326)
    >>> result_csv(frame).decode("utf-8-sig").splitlines()
    ['name,lon,lat', '泰山区,117.1,36.2']
    """
    table = frame.copy()
    geometry_name = getattr(frame, "_geometry_column_name", None)
    if geometry_name is not None and geometry_name in table.columns:
        geometry = frame.geometry
        if len(geometry) and (geometry.geom_type == "Point").all():
            table["lon"] = geometry.x.round(6)
            table["lat"] = geometry.y.round(6)
        table = table.drop(columns=[geometry_name])
    buffer = io.StringIO()
    buffer.write("\ufeff")
    table.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")


# --- from reports to maps ---------------------------------------------------------------


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
