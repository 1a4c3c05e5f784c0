"""The application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api import errors
from api.limits import BodySizeLimit
from api.routes import health, lookup, units
from api.settings import Settings
from boundaries.service import BoundaryService
from geo.errors import SijiError
from siji import __version__
from store.engine import make_engine, upgrade

UPLOAD_PATHS = ("/v1/lookup",)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the siji service.

    Parameters
    ----------
    settings : Settings, optional
        Read from the ``SIJI_*`` environment when omitted (at call time, never at
        import time).

    The database engine, migrations, the first-start import of the bundled set and
    the active generation's index are made in the lifespan, so a failing database
    stops the start instead of the first request.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        try:
            await run_in_threadpool(upgrade, engine)
            service = BoundaryService(engine, settings.snap_distance_m, settings.index_cache_size)
            if settings.load_bundled:
                await run_in_threadpool(service.ensure_bundled)
            app.state.boundaries = service
            await run_in_threadpool(_warm, service)
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="siji (四级) jurisdiction service",
        version=__version__,
        summary="Which city, district, subdistrict and community own a point, for Tai'an city management.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)
    app.add_middleware(
        BodySizeLimit,
        limit_for=lambda path: settings.max_upload_bytes if path in UPLOAD_PATHS else settings.max_json_bytes,
    )
    app.include_router(health.router)
    app.include_router(lookup.router)
    app.include_router(units.router)
    return app


def _warm(service: BoundaryService) -> None:
    # Build the active index now; a set with no active generation still starts, and
    # /readyz says why it is not ready.
    with suppress(SijiError):
        service.index()
