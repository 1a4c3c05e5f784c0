"""Lookups in a fresh process from the index cache, without SQLAlchemy.

A ``siji lookup`` that goes through :class:`boundaries.service.BoundaryService` imports
SQLAlchemy, GeoAlchemy2 and the models (0.3-0.6 s on the benchmark machine) only to
read which generation answers today and its content digest.  :func:`cached_index`
reads the same two things from an SQLite database through the driver
(:func:`store.engine.sqlite_reader`), with the same rule and query
(:mod:`store.timeline`) and the same digest (:func:`store.content.sqlite_content_digest`),
loads that generation's checked index from :class:`boundaries.index_cache.IndexCache`
(``siji lookup-batch`` answers from it); :func:`cached_answer` answers one point with
:func:`geo.locate.locate_point`, the service's own answer.

It answers only when all of that is plain, and otherwise returns None so that the
caller takes the service's path, which then migrates, imports the bundled set, builds
and caches the index, or raises the error that names the problem: the database is
not an SQLite file, its schema is not at the migration head, no generation answers
today, the index is not in the cache (or is unreadable), the point's coordinates are
rejected (or look swapped), or anything else goes wrong.  So both paths give the same
answer from the same generation, and only the service's path ever writes.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boundaries.index_cache import IndexCache, cache_key
from geo.errors import SijiError
from geo.locate import locate_point
from store.content import sqlite_content_digest
from store.engine import sqlite_reader
from store.timeline import PUBLISHED_SQL, Published, answering, generation_ref, read_published

if TYPE_CHECKING:
    from geo.index import JurisdictionIndex

logger = logging.getLogger("siji.boundaries")


def cached_index(
    database_url: str, cache_dir: str | Path | None, snap_distance_m: float
) -> tuple[Published, JurisdictionIndex] | None:
    """The generation answering today and its checked index from the cache under
    ``cache_dir``, as :meth:`BoundaryService.index` would give them; None when only the
    service can (see the module).

    Examples
    --------
    >>> cached_index("postgresql://u@localhost/siji", "/tmp", 50.0) is None
    True
    """
    if cache_dir is None:
        return None
    try:
        found = _cached_generation(database_url, snap_distance_m)
        if found is None:
            return None
        generation, key = found
        index = IndexCache(cache_dir).load(key)
    except (SijiError, sqlite3.Error, OSError, ValueError):
        # The service's path says what is wrong (or does what is missing).
        logger.debug("the cached start cannot answer; taking the service's path", exc_info=True)
        return None
    return None if index is None else (generation, index)


def cached_answer(
    database_url: str,
    cache_dir: str | Path | None,
    snap_distance_m: float,
    x: float,
    y: float,
    crs: str | None = None,
) -> dict[str, Any] | None:
    """:meth:`BoundaryService.lookup_point` of ``(x, y)`` today, answered from the index
    cache under ``cache_dir``; None when only the service can answer (see the module).

    Examples
    --------
    >>> cached_answer("sqlite:///./no-such-siji.db", "/tmp", 50.0, 117.13, 36.19) is None
    True
    """
    ready = cached_index(database_url, cache_dir, snap_distance_m)
    if ready is None:
        return None
    generation, index = ready
    try:
        answer = locate_point(index, x, y, crs)
    except SijiError:  # the service's path raises it, after its own checks
        return None
    answer["generation"] = generation_ref(generation)
    return answer


def _cached_generation(database_url: str, snap_distance_m: float) -> tuple[Published, str] | None:
    """The generation answering today and its cache key, read in one transaction."""
    connection = sqlite_reader(database_url)
    if connection is None:
        return None
    with closing(connection):
        connection.execute("BEGIN")  # one snapshot for both reads
        published = read_published(connection.execute(PUBLISHED_SQL))
        if not published:
            return None
        generation_id = answering([p.row for p in published], dt.date.today())
        generation = next(p for p in published if p.id == generation_id)
        digest = sqlite_content_digest(connection, generation_id)
        connection.rollback()
    return generation, cache_key(digest, snap_distance_m)
