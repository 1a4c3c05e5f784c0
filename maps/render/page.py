"""The page around a map: title and note, basemap, and the offline HTML file.

:func:`base_map` starts every map (title, the note on what data it shows, an optional
basemap, the view); :func:`to_html` renders it with every asset loaded from the vendored
copies and :func:`save` writes it with its assets next to it.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import folium
from branca.element import Element

from maps.offline import copy_assets, external_asset_urls, localize
from maps.render.layers import frame_bounds
from maps.render.style import PAGE_CSS, TAIAN_CENTER


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


def base_map(
    title: str, note: str | None, tiles: TilesLike, frames: Iterable[Any], *, left_panel: bool = False
) -> folium.Map:
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
    bounds = frame_bounds(frames)
    if bounds is not None:
        # keep the data clear of the title (top) and the layer control and legends (right)
        # (and of a panel on the left, when the map has one)
        m.fit_bounds(bounds, padding_top_left=(330 if left_panel else 40, 80), padding_bottom_right=(300, 50))
    return m


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
