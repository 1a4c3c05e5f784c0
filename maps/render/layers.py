"""The building blocks every map shares: GeoJSON data written once, layers styled in the browser.

* :func:`simplify_coverage` simplifies unit polygons as a coverage (shared edges stay
  shared) and rounds coordinates;
* :func:`feature_collection` turns a frame into GeoJSON with escaped, JSON-safe
  properties; :class:`GeoJsonData` writes it into the page once and
  :class:`FeatureLayer` draws it, coloured by a property;
* :func:`outline_layer`, :func:`point_layer` and the tooltip helpers.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import folium
import numpy as np
import shapely
from branca.element import MacroElement
from jinja2 import Template

from maps.render.style import COORD_DIGITS, DEFAULT_TOLERANCE, LEVEL_NAMES, OUTLINE_COLOUR

if TYPE_CHECKING:
    import geopandas as gpd


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


def jsonable(value: Any, digits: int = 4) -> Any:
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


def feature_collection(
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
            key: html.escape(value, quote=False) if isinstance(value, str) else jsonable(value)
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


def frame_bounds(frames: Iterable[Any]) -> list[list[float]] | None:
    boxes = [f.total_bounds for f in frames if f is not None and len(f) and np.isfinite(f.total_bounds).all()]
    if not boxes:
        return None
    stacked = np.vstack(boxes)
    west, south = stacked[:, 0].min(), stacked[:, 1].min()
    east, north = stacked[:, 2].max(), stacked[:, 3].max()
    return [[float(south), float(west)], [float(north), float(east)]]


def safe_text(value: str) -> str:
    """HTML-escaped text that is also inert inside a JavaScript template literal (folium tooltips).

    Examples
    --------
    >>> safe_text("<b>${x}</b>`")
    '&lt;b&gt;&#36;{x}&lt;/b&gt;&#96;'
    """
    return html.escape(value).replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;")


def script_json(data: Any) -> str:
    """Compact UTF-8 JSON that is safe inside a ``<script>`` element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # "<" only occurs inside JSON strings, where \u003c means the same; no "</script>" can close the tag
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


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
        self.json = script_json(data)


def add_data(m: folium.Map, collection: dict[str, Any]) -> GeoJsonData:
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


def outline_layer(m: folium.Map, outlines: gpd.GeoDataFrame | None, tolerance: float) -> None:
    if outlines is None or not len(outlines):
        return
    levels = outlines["level"].unique().tolist() if "level" in outlines.columns else []
    label = "、".join(LEVEL_NAMES.get(level, level) for level in levels) or "上级"
    data = add_data(m, feature_collection(outlines, [], tolerance=tolerance))
    FeatureLayer(
        data,
        name=f"{label}边界 boundaries",
        style={"color": OUTLINE_COLOUR, "weight": 1.2, "fill": False, "opacity": 0.8},
        interactive=False,
    ).add_to(m)


def field_list(frame: Any, wanted: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]]:
    fields = [name for name, _ in wanted if name in frame.columns]
    aliases = [alias for name, alias in wanted if name in frame.columns]
    return fields, aliases


def make_tooltip(fields: list[str], aliases: list[str]) -> folium.GeoJsonTooltip:
    return folium.GeoJsonTooltip(fields=fields, aliases=aliases, localize=True, sticky=True, labels=True)


UNIT_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "名称 name"),
    ("code", "代码 code"),
    ("h3", "H3 单元 cell"),
)


def as_points(frame: Any) -> Any:
    """Point geometries of a frame (polygons become their representative points)."""
    geometry = frame.geometry
    if len(geometry) and not (geometry.geom_type == "Point").all():
        return frame.set_geometry(geometry.representative_point())
    return frame


def point_layer(
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
    frame = as_points(frame)
    names, aliases = field_list(frame, fields)
    data = add_data(m, feature_collection(frame, names if interactive else []))
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
        tooltip=make_tooltip(names, aliases) if names and interactive else None,
        show=show,
        point_radius=radius,
        interactive=interactive,
    )
    layer.add_to(m)
    return layer
