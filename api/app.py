"""The application factory."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette_compress import CompressMiddleware, add_compress_type

from api import docs, errors, ratelimit
from api.analysis_pool import AnalysisPool
from api.head import HeadAsGet
from api.limits import BodySizeLimit
from api.plain_routes import PlainRoutes
from api.rate_counters import ensure_storage
from api.routes import (
    audit,
    events,
    health,
    home,
    lookup,
    maps,
    metrics,
    open311,
    parks,
    photos,
    reports,
    units,
    webhooks,
)
from api.security_headers import SecurityHeaders
from api.settings import Settings, delivery_policy, report_service
from boundaries.index_cache import IndexCache
from boundaries.service import BoundaryService
from geo.errors import SijiError
from routing.deadlines import calendar_warning
from routing.delivery import Deliverer
from routing.intake import MAX_PHOTOS
from routing.service import ReportService
from store.engine import make_engine, upgrade

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from geo.index import JurisdictionIndex
    from routing.desks import Departments
    from store.generations import GenerationInfo

logger = logging.getLogger("siji")

UPLOAD_PATHS = ("/v1/lookup",)
HANDOVER_AGAIN_S = 30.0
"""Seconds after a switch when open cases are handed over once more (every worker has
switched by then, see boundaries.service)."""
POOL_WARM_AFTER_S = 3.0
"""Seconds after the start before the map analysis workers are started and warmed."""
PHOTO_FIELDS_BYTES = 1 << 20
"""Room for the fields of a multipart report or step beside its photos."""
COMPRESS_MIN_BYTES = 1024
"""Smaller answers are sent as they are (a lookup's JSON is ~300 bytes, a unit's ~450: a
compressor's header and time would cost more than they save); streamed answers are
compressed from their first piece."""
COMPRESS_LEVELS = {"zstd": 3, "brotli": 3, "gzip": 4}
"""Per encoding (the client's choice among those it accepts: zstd, then brotli, then gzip).
Measured on the whole-city density page (3.8 MB, median of 5 on this 2-core machine):
zstd 3 sends 20.8 % of it in 27 ms (level 4: 20.9 %, 31 ms), brotli 3 20.5 % in 40 ms
(quality 4: 19.0 %, 96 ms), gzip 4 20.0 % in 84 ms (level 1: 24.0 %, 51 ms; 6: 19.0 %,
143 ms).  A whole answer is compressed on the event loop, so the levels stay where the
time for the largest page is tens of milliseconds."""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the siji service.

    Parameters
    ----------
    settings : Settings, optional
        Read from the ``SIJI_*`` environment when omitted (at call time, never at
        import time).

    The database engine, migrations, the first-start import of the bundled set and
    the active generation's index are made in the lifespan, so a failing database
    stops the start instead of the first request.  The lifespan also finishes photo
    files a killed request left staged (:meth:`store.media.MediaStore.recover`) and
    runs the event delivery loop (:mod:`routing.delivery`) in a thread of its own.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        await ensure_storage(settings.rate_limit_storage)  # Redis down: stop the start, not each request
        engine = make_engine(settings.database_url)
        try:
            await run_in_threadpool(upgrade, engine)
            service = BoundaryService(
                engine,
                settings.snap_distance_m,
                settings.index_cache_size,
                IndexCache.at(settings.index_cache_dir),
            )
            if settings.load_bundled:
                await run_in_threadpool(service.ensure_bundled)
            app.state.boundaries = service
            app.state.reports = report_service(settings, engine, service)
            timers: list[threading.Timer] = []
            service.listeners.append(
                functools.partial(_hand_over_cases, engine, app.state.reports.departments, timers)
            )
            _say_how_it_runs(settings, app.state.reports)
            await run_in_threadpool(_warm, service)
            app.state.analyses = AnalysisPool(settings.map_processes)
            # Warmed once the service answers: the workers' start and imports (geopandas,
            # folium) would take a core from the start on 2 cores; a map asked before
            # then starts them itself.
            warming = asyncio.create_task(_warm_later(app.state.analyses))
            await run_in_threadpool(app.state.reports.media.recover, engine)
            escalation = (
                asyncio.create_task(_escalate_every(app.state.reports, settings.escalation_interval_s))
                if settings.escalation_interval_s > 0
                else None
            )
            watcher = asyncio.create_task(_watch_generations(service))
            deliverer = _deliverer(settings, app.state.reports)
            # Also as lifespan state, which every request's scope carries: the hot path
            # (GET /v1/lookup) reads it there, a dict read instead of app.state's
            # attribute fallback.
            yield {"boundaries": service}
            warming.cancel()
            watcher.cancel()
            for timer in timers:
                timer.cancel()
            if escalation is not None:
                escalation.cancel()
            if deliverer is not None:
                await run_in_threadpool(deliverer.stop)
        finally:
            analyses = getattr(app.state, "analyses", None)
            if analyses is not None:
                await run_in_threadpool(analyses.shutdown)
            engine.dispose()

    app = FastAPI(
        title="siji (四级) jurisdiction service",
        version=_version(),
        summary="Which city, district, subdistrict and community own a point, for Tai'an city management.",
        lifespan=lifespan,
        docs_url=None,  # api.docs serves them, with their scripts, offline
        redoc_url=None,
    )
    app.state.settings = settings
    errors.install(app)
    app.add_middleware(
        BodySizeLimit,
        limit_for=lambda path: _body_limit(settings, path),
        # JSON is parsed whole in memory: it gets the small cap on the upload path too.
        json_limit=settings.max_json_bytes,
    )
    # Added last, so it runs first: a refused request costs no body read and no token lookup.
    app.add_middleware(
        ratelimit.RateLimit,
        per_address=settings.rate_limit_per_address,
        per_token=settings.rate_limit_per_token,
        window_s=settings.rate_limit_window_s,
        trusted_proxies=settings.trusted_proxies,
        storage=settings.rate_limit_storage,
    )
    _serve_like_a_web_service(app)
    # GET /v1/lookup, the hot path, is answered by a plain ASGI app ahead of FastAPI's
    # router: no dependency injection or response re-validation (the same endpoint is
    # also the documented FastAPI route below, for the OpenAPI schema).  /healthz is
    # served the same way: the probe stays cheap, and the benchmark's peer for lookups
    # is not slowed by machinery the lookup skips.
    app.router.routes.insert(
        0, PlainRoutes({"/healthz": health.HealthzApp(), "/v1/lookup": lookup.PointLookupApp()})
    )
    app.include_router(home.router)
    app.include_router(docs.router)
    app.include_router(health.router)
    app.include_router(lookup.router)
    app.include_router(units.router)
    app.include_router(reports.router)
    app.include_router(metrics.router)
    app.include_router(open311.router)
    app.include_router(maps.router)
    app.include_router(parks.router)
    app.include_router(audit.router)
    app.include_router(events.router)
    app.include_router(webhooks.router)
    app.include_router(photos.router)
    ratelimit.document(app)
    return app


def _serve_like_a_web_service(app: FastAPI) -> None:
    """Compression, security headers and HEAD, outside everything else (added last).

    Compression (zstd, brotli or gzip, the best the client accepts) of HTML, JSON,
    GeoJSON, XML, CSV, JavaScript and CSS answers from :data:`COMPRESS_MIN_BYTES`;
    streamed answers (lookups, exports) are compressed as they stream, with the
    encoder's window as the only state; server-sent events are flushed event by event;
    images, photos and Parquet are sent as they are.  Security headers go on every
    answer (:mod:`api.security_headers`), the compressor's and the rate limiter's
    included; ``HEAD`` runs as ``GET`` outside both (:mod:`api.head`), so its headers
    are the ``GET``'s.
    """
    add_compress_type("text/csv")
    app.add_middleware(
        CompressMiddleware,
        minimum_size=COMPRESS_MIN_BYTES,
        zstd_level=COMPRESS_LEVELS["zstd"],
        brotli_quality=COMPRESS_LEVELS["brotli"],
        gzip_level=COMPRESS_LEVELS["gzip"],
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HeadAsGet)


def _body_limit(settings: Settings, path: str) -> int:
    """The cap on a request body: bulk uploads, reports and steps with photos, anything else."""
    if path in UPLOAD_PATHS:
        return settings.max_upload_bytes
    if path == "/v1/reports" or (path.startswith("/v1/reports/") and path.endswith("/actions")):
        return max(settings.max_json_bytes, MAX_PHOTOS * settings.max_photo_bytes + PHOTO_FIELDS_BYTES)
    return settings.max_json_bytes


async def _warm_later(pool: AnalysisPool) -> None:
    await asyncio.sleep(POOL_WARM_AFTER_S)
    await run_in_threadpool(pool.warm)


def _deliverer(settings: Settings, reports: ReportService) -> Deliverer | None:
    """The event delivery loop of this process (every worker runs one; a lease lets one deliver)."""
    if settings.delivery_interval_s <= 0:
        return None
    deliverer = Deliverer(reports, delivery_policy(settings))
    deliverer.start()
    return deliverer


def _say_how_it_runs(settings: Settings, reports: ReportService) -> None:
    """One line each for what an operator must know at start: the Open311 key mode, the calendar."""
    keys = settings.open311_api_keys
    if keys:
        mode = f"accepts the {len(keys)} api_key(s) of SIJI_OPEN311_API_KEYS"
    elif settings.environment == "development":
        mode = "accepts any api_key (SIJI_ENVIRONMENT=development and no SIJI_OPEN311_API_KEYS)"
    else:
        mode = f"refuses every request (SIJI_ENVIRONMENT={settings.environment}: set SIJI_OPEN311_API_KEYS)"
    logger.warning("Open311 POST requests.{json,xml} %s", mode)
    warning = calendar_warning(reports.calendar)
    if warning is not None:
        logger.warning("%s", warning)


async def _escalate_every(service: ReportService, seconds: float) -> None:
    """The in-service schedule of escalation (the CLI's ``siji routing escalate`` does one run)."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(service.escalate_overdue)
        except Exception:  # a failed run is logged and retried next time; the service stays up
            logger.exception("escalation run failed")


async def _watch_generations(service: BoundaryService) -> None:
    """Read which generation is valid every ACTIVE_TTL_S seconds, so that every worker
    switches to a new one within that time plus its index build, requests or not."""
    from boundaries import service as boundary_service

    while True:
        await asyncio.sleep(boundary_service.ACTIVE_TTL_S)
        try:
            await run_in_threadpool(service.refresh)
        except Exception:  # logged and tried again; the service keeps its generation
            logger.exception("re-reading the boundary generation failed")


def _hand_over_cases(
    engine: Engine,
    departments: Departments,
    timers: list[threading.Timer],
    _previous: GenerationInfo | None,
    new: GenerationInfo,
    index: JurisdictionIndex,
) -> None:
    """On a switch of generation, open cases of units that are gone move to the units
    that own their place now (each worker tries; a case moves once).  Once more a
    little later: a report another worker routed before it switched is caught then."""
    from routing.handover import hand_over_open_cases

    def run() -> None:
        try:
            moved = hand_over_open_cases(engine, new, index, departments=departments)
        except Exception:  # logged; `siji routing handover` does the same by hand
            logger.exception("handing open cases over to generation %s failed", new.id)
            return
        if moved:
            logger.info("generation %s %r: %d open cases handed over", new.id, new.name, len(moved))

    run()
    again = threading.Timer(HANDOVER_AGAIN_S, run)
    again.daemon = True
    again.start()
    timers.append(again)  # cancelled when the app stops


def _warm(service: BoundaryService) -> None:
    # Build the active index now; a set with no active generation still starts, and
    # /readyz says why it is not ready.
    with suppress(SijiError):
        service.index()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("siji")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"
