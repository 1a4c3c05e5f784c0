"""The maps' web assets, vendored in ``maps/assets/``, and how a page finds them offline.

folium writes ``<script src>`` and ``<link href>`` tags that point at about ten CDN
hosts.  Nothing here may load from the internet, so every one of those URLs is
mapped to a vendored copy (:data:`CDN_ASSETS`) and :func:`localize` rewrites the page
to load them from wherever the assets are served: ``/maps/assets`` in the service, a
``NAME_files/`` folder next to a map written by the command line.  A URL with no
vendored copy is an error, never a silent CDN load.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path, PurePosixPath

ASSETS_DIR = Path(__file__).resolve().with_name("assets")

_JSDELIVR = "https://cdn.jsdelivr.net"
_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs"
_FOLIUM = f"{_JSDELIVR}/gh/python-visualization/folium"

#: Every asset URL that folium 0.20 (Map and the plugins used here) writes into a page,
#: and the vendored file that replaces it (relative to :data:`ASSETS_DIR`).
CDN_ASSETS: dict[str, str] = {
    f"{_JSDELIVR}/npm/leaflet@1.9.3/dist/leaflet.js": "leaflet/leaflet.js",
    f"{_JSDELIVR}/npm/leaflet@1.9.3/dist/leaflet.css": "leaflet/leaflet.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery.min.js",
    f"{_JSDELIVR}/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js": (
        "bootstrap/js/bootstrap.bundle.min.js"
    ),
    f"{_JSDELIVR}/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css": "bootstrap/css/bootstrap.min.css",
    "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css": (
        "bootstrap3-glyphicons/css/bootstrap-glyphicons.css"
    ),
    f"{_JSDELIVR}/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css": (
        "fontawesome-free/css/all.min.css"
    ),
    f"{_CDNJS}/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js": (
        "leaflet.awesome-markers/leaflet.awesome-markers.js"
    ),
    f"{_CDNJS}/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css": (
        "leaflet.awesome-markers/leaflet.awesome-markers.css"
    ),
    f"{_FOLIUM}/folium/templates/leaflet.awesome.rotate.min.css": "folium/leaflet.awesome.rotate.css",
    f"{_FOLIUM}@main/folium/templates/leaflet_heat.min.js": "leaflet.heat/leaflet_heat.min.js",
}

_TAG_URL = re.compile(r"""(<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE)
_SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")


class UnvendoredAssetError(ValueError):
    """A page wants a script or stylesheet from the internet that is not vendored."""


def localize(html: str, assets_url: str) -> str:
    """Point every vendored ``<script src>``/``<link href>`` of a page at ``assets_url``.

    Parameters
    ----------
    html : str
        A page rendered by folium.
    assets_url : str
        Where :data:`ASSETS_DIR` is served: an absolute path (``/maps/assets``), a URL,
        or a path relative to the page (``density_files``); already URL-quoted.

    Returns
    -------
    str
        The page; no ``http://``/``https://`` URL is left in a script or stylesheet tag.

    Raises
    ------
    UnvendoredAssetError
        A script or stylesheet URL that has no vendored copy.

    Examples
    --------
    >>> localize('<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>', "/a")
    '<script src="/a/jquery/jquery.min.js"></script>'
    """
    base = assets_url.rstrip("/")

    def swap(match: re.Match[str]) -> str:
        url = match.group(3)
        if not url.lower().startswith(("http://", "https://", "//")):
            return match.group(0)
        local = CDN_ASSETS.get(url)
        if local is None:
            raise UnvendoredAssetError(
                f"the page loads {url} from the internet and siji has no vendored copy of it; "
                "add the file to maps/assets/ and to maps.offline.CDN_ASSETS"
            )
        return f"{match.group(1)}{match.group(2)}{base}/{local}{match.group(2)}"

    return _TAG_URL.sub(swap, html)


def external_asset_urls(html: str) -> list[str]:
    """The ``http(s)://`` (or protocol-relative) URLs left in script and stylesheet tags.

    Examples
    --------
    >>> external_asset_urls('<link rel="stylesheet" href="https://x.org/a.css"/><script src="/b.js">')
    ['https://x.org/a.css']
    """
    return [
        m.group(3)
        for m in _TAG_URL.finditer(html)
        if m.group(3).lower().startswith(("http://", "https://", "//"))
    ]


def asset_file(relative: str) -> Path | None:
    """The vendored file at ``relative`` (a ``/``-separated path), or None when it is not one.

    Only plain names are accepted: no ``..``, no absolute paths, no backslashes, no
    hidden files, nothing outside :data:`ASSETS_DIR`, no directories.

    Examples
    --------
    >>> asset_file("leaflet/leaflet.js").name
    'leaflet.js'
    >>> asset_file("../offline.py") is None
    True
    """
    if not relative or len(relative) > 200 or "\\" in relative or "\x00" in relative:
        return None
    parts = PurePosixPath(relative).parts
    if not parts or any(not _SAFE_PART.match(part) or part in {".", ".."} for part in parts):
        return None
    path = ASSETS_DIR.joinpath(*parts)
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not resolved.is_relative_to(ASSETS_DIR) or not resolved.is_file():
        return None
    return resolved


def copy_assets(target: Path) -> Path:
    """Copy the vendored assets (files the pages load, with their licences) into ``target``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     (copy_assets(Path(tmp) / "map_files") / "leaflet" / "leaflet.js").is_file()
    True
    """
    shutil.copytree(
        ASSETS_DIR, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", ".*")
    )
    return target


ASSET_CACHE_CONTROL = {"Cache-Control": "public, max-age=86400"}
"""The caching of a vendored file (the maps' and the docs' assets)."""


def media_type(path: Path) -> str:
    """The Content-Type of a vendored file (text types in UTF-8)."""
    types = {
        ".js": "text/javascript; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".png": "image/png",
        ".svg": "image/svg+xml",
        ".woff2": "font/woff2",
        ".woff": "font/woff",
        ".ttf": "font/ttf",
        ".eot": "application/vnd.ms-fontobject",
        ".md": "text/markdown; charset=utf-8",
        ".txt": "text/plain; charset=utf-8",
    }
    if path.name.startswith("LICENSE"):
        return "text/plain; charset=utf-8"
    return types.get(path.suffix.lower(), "application/octet-stream")
