"""Where the command line gets its boundary sets from: the same database as the service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.settings import Settings

if TYPE_CHECKING:
    from boundaries.service import BoundaryService


def boundary_service(
    snap_distance_m: float | None = None, settings: Settings | None = None
) -> BoundaryService:
    """A boundary service over ``SIJI_DATABASE_URL`` (default: ./siji.db), migrated, with
    the bundled Tai'an set imported on first use."""
    from boundaries.index_cache import IndexCache
    from boundaries.service import BoundaryService
    from store.engine import make_engine, upgrade

    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    snap = settings.snap_distance_m if snap_distance_m is None else snap_distance_m
    service = BoundaryService(engine, snap, index_cache=IndexCache.at(settings.index_cache_dir))
    if settings.load_bundled:
        service.ensure_bundled()
    return service
