"""The API docs, served whole by the service: Swagger UI at ``/docs``, ReDoc at ``/redoc``.

FastAPI's own pages load Swagger UI and ReDoc from a public CDN (and ReDoc its fonts
from Google), so on a city intranet with no internet they are blank.  Here the pages
load them from ``/docs/assets``: Swagger UI 5.32.6 (Apache-2.0) and ReDoc 2.5.3 (MIT) as
the ``fastapi-offline`` package ships them, byte for byte the files of the npm packages
``swagger-ui-dist`` and ``redoc`` (``api/docs_assets/README.md``).  Their licences,
with the licences of the libraries bundled in them, are served beside them.  ReDoc
keeps its system fonts, Swagger UI asks no online validator, and each page's policy
(:func:`api.security_headers.page_policy`) allows its own inline start-up script.

One URL in ReDoc's bundle leaves the machine: the logo of its "API docs by Redocly"
footer, drawn from cdn.redoc.ly.  It is served empty (:data:`REWRITES`), and ReDoc
hides an image that fails, as it would offline, instead of asking the internet.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse, Response

from api.deps import root_path
from api.security_headers import CSP, page_policy
from geo.errors import NotFoundError
from maps.offline import ASSET_CACHE_CONTROL, media_type

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS_URL = "/docs/assets"
LICENCES_DIR = Path(__file__).resolve().with_name("docs_assets")
_SHIPPED = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
LICENCES = (
    "swagger-ui.LICENSE",
    "swagger-ui.NOTICE",
    "swagger-ui-bundle.js.LICENSE.txt",
    "redoc.LICENSE",
    "redoc.standalone.js.LICENSE.txt",
    "fastapi-offline.LICENSE",
)
"""The licences in :data:`LICENCES_DIR`, served beside the scripts."""
REWRITES: dict[str, tuple[tuple[bytes, bytes], ...]] = {
    "redoc.standalone.js": ((b'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"', b'src:""'),),
}
"""Byte replacements in a served file: each must be found exactly once."""

router = APIRouter(include_in_schema=False)


def shipped_dir() -> Path:
    """Where ``fastapi-offline`` keeps Swagger UI's and ReDoc's files."""
    return Path(str(files("fastapi_offline") / "static"))


def docs_asset(name: str) -> Path | None:
    """The file served at ``/docs/assets/{name}``, or None when ``name`` is not one.

    Examples
    --------
    >>> docs_asset("redoc.standalone.js").name, docs_asset("redoc.LICENSE").parent.name
    ('redoc.standalone.js', 'docs_assets')
    >>> docs_asset("../core.py") is None
    True
    """
    if name in _SHIPPED:
        return shipped_dir() / name
    if name in LICENCES:
        return LICENCES_DIR / name
    return None


@functools.cache
def served_bytes(name: str) -> bytes:
    """The bytes served for a file of :data:`REWRITES`: the shipped file, rewritten.

    Raises
    ------
    RuntimeError
        A replacement is not found exactly once (another version of the file).

    Examples
    --------
    >>> b"cdn.redoc.ly" in served_bytes("redoc.standalone.js")
    False
    """
    data = (shipped_dir() / name).read_bytes()
    for old, new in REWRITES[name]:
        if data.count(old) != 1:
            raise RuntimeError(f"{name} does not hold {old!r} once: update api.docs.REWRITES")
        data = data.replace(old, new)
    return data


def _page(response: HTMLResponse) -> HTMLResponse:
    """The page with a policy that lets its own inline scripts run, and no other."""
    response.headers[CSP] = page_policy(bytes(response.body).decode())
    return response


@router.get(DOCS_URL)
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over the service's OpenAPI schema."""
    root, app = root_path(request), request.app
    return _page(
        get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            # null: no badge image from the public validator.swagger.io
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None},
        )
    )


@router.get(OAUTH2_REDIRECT_URL)
async def swagger_ui_redirect() -> HTMLResponse:
    """Swagger UI's OAuth2 redirect page."""
    return _page(get_swagger_ui_oauth2_redirect_html())


@router.get(REDOC_URL)
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc over the service's OpenAPI schema, with the browser's own fonts."""
    root, app = root_path(request), request.app
    return _page(
        get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
    )


@router.get(f"{ASSETS_URL}/{{name}}")
async def asset(name: Annotated[str, PathParam(max_length=100)]) -> Response:
    """A script, stylesheet, icon or licence of the docs pages."""
    file = docs_asset(name)
    if file is None:
        raise NotFoundError(f"no docs asset {name!r}; assets: {', '.join(_SHIPPED + LICENCES)}", path=name)
    media = media_type(file) if name in _SHIPPED else "text/plain; charset=utf-8"  # licences
    if name in REWRITES:
        return Response(served_bytes(name), media_type=media, headers=ASSET_CACHE_CONTROL)
    return FileResponse(file, media_type=media, headers=ASSET_CACHE_CONTROL)
