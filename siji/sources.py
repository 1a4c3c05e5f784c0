"""Where the command line gets its boundary sets from: the same database as the service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.settings import Settings

if TYPE_CHECKING:
    from boundaries.service import BoundaryService
    from geo.index import JurisdictionIndex
    from store.timeline import Published


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


def cached_boundaries(
    snap_distance_m: float | None = None, settings: Settings | None = None
) -> tuple[Published, JurisdictionIndex] | None:
    """The generation :func:`boundary_service` would serve today and its index, read
    from the index cache without SQLAlchemy (:mod:`boundaries.cached_start`: 0.3-0.6 s
    less for a fresh ``siji lookup-batch``); None when only the service can give them."""
    from boundaries.cached_start import cached_index

    settings = settings or Settings()
    snap = settings.snap_distance_m if snap_distance_m is None else snap_distance_m
    return cached_index(settings.database_url, settings.index_cache_dir, snap)
