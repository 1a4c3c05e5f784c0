"""Planner maps over HTTP: report density, Gi* hot spots, pocket-park sites, and their assets.

Each map is an HTML page (Leaflet, every script and stylesheet served from
``/maps/assets``, nothing from the internet) or, with ``format=geojson|csv``, the
analysis behind it.

Whose reports: the service's reports in the caller's scope, so report maps need a
staff token (any role); a token of a unit sees its unit and the units below it, and
the map shows only those units.  While the database has no report at all, the maps use
generated demo reports (and demo parks) instead, need no token, and say so on the page
(演示数据 demo data), so a new installation shows real maps on its first run.  Every
page says what it was built from (demo reports or N real reports; demo parks or the
green-space register: :mod:`maps.sources`).  Pocket-park plans are measured against
the green-space register (``siji parks import``); only while it is empty do they use
demo parks, and say so.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.analysis_pool import AnalysisPool
from api.auth import PrincipalDep
from api.ratelimit import RATE_LIMIT_RESPONSE
from api.schemas.common import ErrorResponse, json_error
from api.security_headers import CSP, page_policy
from geo.errors import NotFoundError
from maps.offline import ASSET_CACHE_CONTROL, asset_file, media_type
from maps.options import DensityOptions, HotspotOptions, PocketParkOptions
from routing.access import Principal

if TYPE_CHECKING:
    import geopandas as gpd

    from maps.build import Analysis
    from maps.sources import ParkSource, ReportSource

router = APIRouter(prefix="/maps", tags=["maps"])

ASSETS_URL = "/maps/assets"
PAGE_CACHE_SIZE = 16  # demo pages of up to ~4 MB each

MAP_CONTENT: dict[str, Any] = {
    "text/html": {"schema": {"type": "string"}},
    "application/geo+json": {"schema": {"type": "object", "description": "A GeoJSON FeatureCollection."}},
    "text/csv": {"schema": {"type": "string"}},
}
MAP_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": MAP_CONTENT,
        "description": "The map page (format=html), or the analysis as GeoJSON or CSV (UTF-8 with a BOM).",
    },
    # JSON errors on an HTML route: documented with their own media type.
    401: json_error("Unknown, expired or revoked token."),
    403: json_error("Report maps need a staff token (unless there are no reports)."),
    422: json_error("Invalid parameter, naming it and what is allowed."),
    **RATE_LIMIT_RESPONSE,
}
ASSET_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/javascript": {"schema": {"type": "string"}},
            "text/css": {"schema": {"type": "string"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "font/woff2": {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "A vendored script, stylesheet, font or image of the map pages.",
    },
    404: {"model": ErrorResponse, "description": "No such asset."},
}

Format = Literal["html", "geojson", "csv"]
FormatQuery = Annotated[
    Format, Query(description="html: the map; geojson or csv: the analysis result behind it.")
]


# --- data: units, reports, parks ---------------------------------------------------------


@dataclass
class MapData:
    """What one map request draws from."""

    generation_id: int
    units: gpd.GeoDataFrame  # every unit in the caller's scope (all levels)
    all_units: gpd.GeoDataFrame
    reports: gpd.GeoDataFrame
    demo: bool
    scope: str | None  # None: the whole city
    source: ReportSource  # what the reports are, for the page's note


class MapCache:
    """Units and demo data per generation, and demo pages, shared by the requests.

    Each kind of value (the first item of its key) has its own least-recently-used
    bound, so pages never push the units out.

    Examples
    --------
    >>> cache = MapCache()
    >>> cache.get(("units", 1), lambda: "frame"), cache.get(("units", 1), lambda: "other")
    ('frame', 'frame')
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key_locks: dict[Any, threading.Lock] = {}
        self._values: dict[Any, OrderedDict[Any, Any]] = {}

    def get(self, key: tuple[Any, ...], make: Callable[[], Any], limit: int = PAGE_CACHE_SIZE) -> Any:
        """The cached value of ``key``, made once (concurrent requests wait for the first)."""
        with self._lock:
            values = self._values.setdefault(key[0], OrderedDict())
            if key in values:
                values.move_to_end(key)
                return values[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in values:
                    return values[key]
            value = make()
            with self._lock:
                values[key] = value
                self._key_locks.pop(key, None)
                while len(values) > limit:
                    values.popitem(last=False)
            return value

    def cached(self) -> list[Any]:
        """Every cached key."""
        with self._lock:
            return [key for values in self._values.values() for key in values]


def _cache(request: Request) -> MapCache:
    cache: MapCache | None = getattr(request.app.state, "maps_cache", None)
    if cache is None:
        cache = request.app.state.maps_cache = MapCache()
    return cache


def has_reports(engine: Any) -> bool:
    """Whether the database holds any report (else the maps show demo data)."""
    from store.models import Report

    with Session(engine) as session:
        return session.execute(select(Report.id).limit(1)).first() is not None


def scoped_units(units: gpd.GeoDataFrame, unit_key: str | None) -> tuple[gpd.GeoDataFrame, str | None]:
    """The units a staff token's unit sees: its own and every unit below it.

    A city-wide key (the city's code or a city department ``city:...``) sees them all;
    a district department (``<district code>:<name>``) sees its district's area.

    Examples
    --------
    >>> import geopandas as gpd
    >>> units = gpd.GeoDataFrame(
    ...     {"code": ["c", "d1", "d2", "s1"], "parent_code": [None, "c", "c", "d1"],
    ...      "level": ["city", "district", "district", "subdistrict"]}, geometry=[None] * 4)
    >>> scoped_units(units, "d1")[0]["code"].tolist(), scoped_units(units, "d1:城管局")[0]["code"].tolist()
    (['d1', 's1'], ['d1', 's1'])
    """
    if unit_key is None or unit_key.startswith("city:"):
        return units, None
    unit_key = unit_key.partition(":")[0]  # a department maps its unit's area
    codes = set(units["code"])
    if unit_key not in codes:
        return units.iloc[:0], unit_key
    if (units.loc[units["code"] == unit_key, "level"] == "city").all():
        return units, None
    keep = {unit_key}
    parents = dict(zip(units["code"], units["parent_code"], strict=True))
    changed = True
    while changed:
        added = {code for code, parent in parents.items() if parent in keep and code not in keep}
        keep |= added
        changed = bool(added)
    return units[units["code"].isin(keep)], unit_key


def load_map_data(request: Request, principal: Principal) -> MapData:
    """Units of the active generation and the reports the caller may see (or demo reports).

    Raises
    ------
    routing.workflow.ForbiddenError
        The database has reports and the caller has no staff token.
    """
    from maps.demo import demo_reports
    from maps.sources import ReportSource
    from routing.service import reports_geoframe
    from store.generations import load_frame

    boundaries = request.app.state.boundaries
    service = request.app.state.reports
    cache = _cache(request)
    generation = boundaries.generation()
    units = cache.get(("units", generation.id), lambda: load_frame(boundaries.engine, generation.id), limit=8)
    if not has_reports(service.engine):
        today = dt.date.today()
        reports = cache.get(("demo_reports", generation.id, today), lambda: demo_reports(units), limit=8)
        source = ReportSource(used=len(reports), in_database=0, demo=True)
        return MapData(generation.id, units, units, reports, demo=True, scope=None, source=source)
    reports = reports_geoframe(service, principal)  # staff only: 403 for anyone else
    scoped, scope = scoped_units(units, principal.unit_key)
    names = scoped.loc[scoped["code"] == scope, "name"].tolist() if scope is not None else []
    source = ReportSource(used=len(reports), in_database=len(reports), scope=names[0] if names else scope)
    return MapData(generation.id, scoped, units, reports, demo=False, scope=scope, source=source)


def _parks(request: Request, data: MapData) -> tuple[gpd.GeoDataFrame, ParkSource]:
    """The green-space register's open parks near the units in view, or demo parks while it is empty."""
    from shapely import union_all

    from maps.demo import demo_parks
    from maps.sources import existing_parks
    from store.greenspace import load_green_spaces

    _, registered = load_green_spaces(request.app.state.boundaries.engine, open_on=dt.date.today())

    def demo() -> gpd.GeoDataFrame:
        return _cache(request).get(
            ("demo_parks", data.generation_id), lambda: demo_parks(data.all_units), limit=8
        )

    area = None if data.scope is None else union_all(data.units.geometry.values)
    return existing_parks(registered, demo, area=area)


def _register_version(request: Request) -> tuple[Any, ...]:
    """Changes whenever the green-space register does (cached demo pages must follow it)."""
    from store.greenspace import register_version

    return register_version(request.app.state.boundaries.engine)


def _note(data: MapData) -> str:
    return data.source.note


# --- answers ---------------------------------------------------------------------------


def _answer(analysis: Analysis, fmt: Format, filename: str) -> Response:
    from maps.render import result_csv, result_geojson, to_html

    if fmt == "geojson":
        body = json.dumps(
            result_geojson(analysis.table, analysis=analysis.kind, summary=analysis.summary),
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return Response(body, media_type="application/geo+json")
    if fmt == "csv":
        return Response(
            result_csv(analysis.table),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
        )
    return HTMLResponse(to_html(analysis.draw(None), ASSETS_URL))


async def _respond(
    request: Request,
    principal: Principal,
    key: tuple[Any, ...],
    fmt: Format,
    build: Callable[..., Analysis],
    inputs: Callable[[MapData], dict[str, Any]] | None = None,
    version: Callable[[], tuple[Any, ...]] | None = None,
) -> Response:
    """Load the data in a worker thread and run the analysis in a worker process (see
    :mod:`api.analysis_pool`; ``inputs(data)``, made here, are passed to ``build`` as
    keywords); demo answers are cached per generation and day (and per ``version()``,
    e.g. of the green-space register, when given)."""
    pool = getattr(request.app.state, "analyses", None) or AnalysisPool(0)

    def compute() -> Response:
        data = load_map_data(request, principal)
        extra = inputs(data) if inputs is not None else {}

        def make() -> tuple[bytes, str, dict[str, str]]:
            parts: tuple[bytes, str, dict[str, str]] = pool.call(_rendered, build, data, extra, fmt, key[0])
            return parts

        if data.demo:
            cache_key = ("page", data.generation_id, dt.date.today(), *key, fmt)
            if version is not None:
                cache_key = (*cache_key, *version())
            body, media, headers = _cache(request).get(cache_key, make)
        else:
            body, media, headers = make()
        return _sent_in_chunks(body, media, headers)

    return await run_in_threadpool(compute)


BODY_CHUNK_BYTES = 1 << 18
"""A map answer bigger than this goes out in pieces of this size.  The compressor works
on the event loop: the whole-city density page (3.8 MB) in one piece held it for 27-84 ms
(zstd-gzip), and single lookups waited that long; a 256 KiB piece takes 2-6 ms."""


def _sent_in_chunks(body: bytes, media: str, headers: dict[str, str]) -> Response:
    """The answer as one body, or (when big) in pieces with the event loop free between them."""
    if len(body) <= BODY_CHUNK_BYTES:
        return Response(body, media_type=media, headers=headers)

    async def pieces() -> AsyncIterator[bytes]:
        view = memoryview(body)
        for start in range(0, len(body), BODY_CHUNK_BYTES):
            yield bytes(view[start : start + BODY_CHUNK_BYTES])
            await asyncio.sleep(0)  # lookups that arrived meanwhile go first

    # The length is known; the compressor drops it when it encodes.
    sized = {**headers, "Content-Length": str(len(body))}
    return StreamingResponse(pieces(), media_type=media, headers=sized)


def _rendered(
    build: Callable[..., Analysis], data: MapData, extra: dict[str, Any], fmt: Format, filename: str
) -> tuple[bytes, str, dict[str, str]]:
    return _parts(build(data, **extra), fmt, filename)


def _parts(analysis: Analysis, fmt: Format, filename: str) -> tuple[bytes, str, dict[str, str]]:
    """Body, media type and headers of an answer; a page gets the policy that lets its
    own inline scripts run (:func:`api.security_headers.page_policy`)."""
    response = _answer(analysis, fmt, filename)
    headers = {k: v for k, v in response.headers.items() if k.lower() == "content-disposition"}
    body = bytes(response.body)
    if fmt == "html":
        headers[CSP] = page_policy(body.decode())
    return body, response.media_type or "text/html", headers


# --- routes ----------------------------------------------------------------------------


@router.get(
    "/assets/{path:path}",
    response_class=FileResponse,
    responses=ASSET_RESPONSES,
    summary="A vendored script, stylesheet, font or image of the map pages",
)
async def asset(path: Annotated[str, Path(max_length=200)]) -> FileResponse:
    file = asset_file(path)
    if file is None:
        raise NotFoundError(f"no map asset {path!r}", path=path)
    return FileResponse(file, media_type=media_type(file), headers=ASSET_CACHE_CONTROL)


@router.get(
    "/density",
    response_class=HTMLResponse,
    responses=MAP_RESPONSES,
    summary="Report density per unit: choropleth, heat map and H3 hexagons",
)
async def density(
    request: Request,
    principal: PrincipalDep,
    options: Annotated[DensityOptions, Query()],
    format: FormatQuery = "html",
) -> Response:
    from maps.build import density_analysis

    def build(data: MapData) -> Analysis:
        return density_analysis(data.reports, data.units, **options.analysis_kwargs(), note=_note(data))

    return await _respond(request, principal, options.key(), format, build)


@router.get(
    "/hotspots",
    response_class=HTMLResponse,
    responses=MAP_RESPONSES,
    summary="Getis-Ord Gi* hot and cold spots of reports (and local Moran clusters)",
)
async def hotspots(
    request: Request,
    principal: PrincipalDep,
    options: Annotated[HotspotOptions, Query()],
    format: FormatQuery = "html",
) -> Response:
    from maps.build import hotspot_analysis

    def build(data: MapData) -> Analysis:
        return hotspot_analysis(data.reports, data.units, **options.analysis_kwargs(), note=_note(data))

    return await _respond(request, principal, options.key(), format, build)


@router.get(
    "/pocket-parks",
    response_class=HTMLResponse,
    responses=MAP_RESPONSES,
    summary="Pocket-park sites (MCLP) for the unmet green-space demand",
)
async def pocket_parks(
    request: Request,
    principal: PrincipalDep,
    options: Annotated[PocketParkOptions, Query()],
    format: FormatQuery = "html",
) -> Response:
    from maps.build import pocket_park_analysis
    from maps.sources import data_note

    def build(data: MapData, parks: gpd.GeoDataFrame, note: str) -> Analysis:
        return pocket_park_analysis(data.reports, data.units, parks, **options.analysis_kwargs(), note=note)

    def inputs(data: MapData) -> dict[str, Any]:
        parks, source = _parks(request, data)
        return {"parks": parks, "note": data_note(data.source, source)}

    return await _respond(
        request, principal, options.key(), format, build, inputs, lambda: _register_version(request)
    )
