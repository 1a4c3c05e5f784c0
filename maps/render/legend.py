"""Legends: class breaks of a quantity, legend boxes that follow their layer.

:class:`Classes` cuts a positive quantity into quantile classes (zero and missing
values apart); :func:`legend_html` writes a legend's rows; :class:`Legend` puts a box on
the map that shows only while its layer does.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from branca.element import MacroElement
from jinja2 import Template

from maps.render.layers import script_json


def fmt_number(value: float) -> str:
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
                labels.append(f"≤ {fmt_number(upper)}")
            elif self.integral and lower >= upper:
                labels.append(fmt_number(upper))
            else:
                labels.append(f"{fmt_number(lower)}–{fmt_number(upper)}")
        return labels

    def colours(self, palette: Sequence[str]) -> list[str]:
        n = len(self.breaks)
        if n == 0:
            return []
        picks = np.linspace(0, len(palette) - 1, n).round().astype(int) if n > 1 else [len(palette) - 1]
        return [palette[i] for i in picks]


def legend_rows_html(rows: Sequence[tuple[str, str, int | None]], *, dot: bool = False) -> str:
    parts = []
    for colour, label, n in rows:
        count = f'<span class="siji-n">{n:,}</span>' if n is not None else ""
        swatch_class = "siji-swatch siji-dot" if dot else "siji-swatch"
        parts.append(
            f'<div class="siji-row"><i class="{swatch_class}" style="background:{colour}"></i>'
            f"<span>{html.escape(label)}</span>{count}</div>"
        )
    return "".join(parts)


def legend_html(
    title: str, rows: Sequence[tuple[str, str, int | None]], foot: str | None = None, *, dot: bool = False
) -> str:
    body = f'<div class="siji-legend-title">{html.escape(title)}</div>' + legend_rows_html(rows, dot=dot)
    if foot:
        body += f'<div class="siji-foot">{html.escape(foot)}</div>'
    return body


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
    >>> import folium
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
        self.body_json = script_json(body)  # UTF-8: the Chinese text stays readable in the page
        self.layer = layer
        self.position = position
        self.css_class = css_class
