"""Boundary sets as a running service sees them: stored generations, each with its
lookup index built on first use and kept in a small cache.

The command line and the HTTP app both go through :class:`BoundaryService`, so they
answer from the same generation with the same index.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from boundaries.bundled import TAIAN_NAME, TAIAN_VALID_FROM, index_from_frame, load_taian
from geo.locate import locate, locate_point
from store.generations import GenerationInfo, generation_at, import_generation, list_generations, load_frame

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from sqlalchemy import Engine

    from geo.index import JurisdictionIndex, LookupResult


ACTIVE_TTL_S = 5.0


class BoundaryService:
    """Generations in a database and their lookup indexes.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        A migrated database (see ``store.engine.upgrade``).
    snap_distance_m : float
        Snap tolerance of every index built here.
    cache_size : int
        How many generations keep their index in memory.
    """

    def __init__(self, engine: Engine, snap_distance_m: float = 50.0, cache_size: int = 4) -> None:
        self.engine = engine
        self.snap_distance_m = snap_distance_m
        self.cache_size = cache_size
        self._indexes: OrderedDict[int, JurisdictionIndex] = OrderedDict()
        self._active: tuple[float, GenerationInfo] | None = None  # (expiry, generation)
        self._lock = threading.Lock()

    def ensure_bundled(self) -> GenerationInfo | None:
        """Import the bundled Tai'an set when the database has no generation yet."""
        if list_generations(self.engine):
            return None
        return import_generation(
            self.engine,
            load_taian(),
            name=TAIAN_NAME,
            valid_from=dt.date.fromisoformat(TAIAN_VALID_FROM),
            source="bundled: Tianditu outlines, NBS 2023 codes, synthetic polygons below district level",
        )

    def generation(self, at: dt.date | None = None) -> GenerationInfo:
        """The generation valid on ``at`` (default today).

        The active generation is remembered for a few seconds: reading it from the
        database cost more than the lookup itself on every request.  A new import
        becomes active within ``ACTIVE_TTL_S``.
        """
        if at is not None:
            return generation_at(self.engine, at)
        cached = self._fresh_active()
        if cached is not None:
            return cached
        info = generation_at(self.engine, None)
        # Remembered only once valid (it is, being today's): the check is paid here
        # once, not on every lookup.
        if info.valid_from <= dt.date.today():
            self._active = (time.monotonic() + ACTIVE_TTL_S, info)
        return info

    def _fresh_active(self) -> GenerationInfo | None:
        """The remembered active generation, if it was read less than ``ACTIVE_TTL_S`` ago."""
        cached = self._active
        if cached is None or time.monotonic() >= cached[0]:
            return None
        return cached[1]

    def cached_index(self) -> tuple[GenerationInfo, JurisdictionIndex] | None:
        """The active generation and its index if both are in memory and fresh, else
        None: a lookup that can answer without touching the database or a thread."""
        cached = self._active  # _fresh_active() inline: this runs on every lookup
        if cached is None or time.monotonic() >= cached[0]:
            return None
        generation = cached[1]
        index = self._indexes.get(generation.id)  # a dict read: atomic under the GIL
        return None if index is None else (generation, index)

    def index(self, at: dt.date | None = None) -> tuple[GenerationInfo, JurisdictionIndex]:
        """The generation valid on ``at`` and its index (built once, then cached)."""
        generation = self.generation(at)
        with self._lock:
            cached = self._indexes.get(generation.id)
            if cached is not None:
                self._indexes.move_to_end(generation.id)
                return generation, cached
        index = index_from_frame(load_frame(self.engine, generation.id), snap_distance_m=self.snap_distance_m)
        index.prepare_snapping()  # here, not in the first request for a point outside
        with self._lock:
            self._indexes[generation.id] = index
            while len(self._indexes) > self.cache_size:
                self._indexes.popitem(last=False)
        return generation, index

    def lookup_point(
        self, x: float, y: float, crs: str | None = None, at: dt.date | None = None
    ) -> dict[str, Any]:
        """One point's answer, with the generation it came from."""
        generation, index = self.index(at)
        answer = locate_point(index, x, y, crs)
        answer["generation"] = generation_ref(generation)
        return answer

    def lookup(
        self, x: ArrayLike, y: ArrayLike, crs: str | None = None, at: dt.date | None = None
    ) -> tuple[GenerationInfo, LookupResult]:
        """A batch of points."""
        generation, index = self.index(at)
        return generation, locate(index, x, y, crs)


def generation_ref(generation: GenerationInfo) -> dict[str, Any]:
    """The short form of a generation inside a lookup answer."""
    return {"id": generation.id, "name": generation.name, "valid_from": generation.valid_from.isoformat()}
