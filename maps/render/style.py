"""The maps' look, in one place: palettes, colours, fonts and the page's stylesheet.

Every colour a map draws with is named here, so the legends, the pages and the
browser checks (``tests/maps/test_browser.py``) agree on it.
"""

from __future__ import annotations

from typing import Any

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

#: Path options of a polygon under the pointer.
HIGHLIGHT = {"weight": 2.5, "color": "#222222", "fillOpacity": 0.9}


def polygon_style(fill_opacity: float = 0.8, line: str = "#8c8c8c", weight: float = 0.4) -> dict[str, Any]:
    """Leaflet path options of a choropleth polygon (filled grey until a class colours it).

    Examples
    --------
    >>> polygon_style(0.5)["fillOpacity"]
    0.5
    """
    return {"fillColor": NODATA_COLOUR, "fillOpacity": fill_opacity, "color": line, "weight": weight}
