"""Boundary sets as a running service sees them: stored generations, each with its
lookup index built and checked before it answers, and kept in a small cache.

The command line and the HTTP app both go through :class:`BoundaryService`, so they
answer from the same generation with the same index.

Switching to a new generation
-----------------------------
The service serves one generation at a time (:attr:`BoundaryService.active`).  Every
``ACTIVE_TTL_S`` seconds (a watcher in the HTTP app, or the first lookup after that
time) one background thread reads which generation is valid today; when it is another
one, the thread builds that generation's index and checks it
(:func:`boundaries.bundled.checked_index`) while lookups go on with the one they have,
then switches.  So every worker process answers with a new generation within
``ACTIVE_TTL_S`` plus one index build (1.5 s for the bundled set on the benchmark
machine) of its commit.

If the build or the check fails, the service keeps answering from the generation it
has, says so in :meth:`BoundaryService.readiness` (``/readyz``), and tries again after
``REBUILD_AFTER_S``.  Listeners (:attr:`BoundaryService.listeners`) hear of every
switch: the HTTP app hands open cases over to the new units.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boundaries.codes import full_code, padded
from geo.errors import NotFoundError, SijiError
from geo.locate import locate, locate_point
from store.generations import generation_at, list_generations
from store.timeline import GenerationInfo, Period, generation_ref, timeline

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from sqlalchemy import Engine

    from boundaries.index_cache import IndexCache
    from geo.index import JurisdictionIndex, LookupResult


ACTIVE_TTL_S = 5.0
"""Seconds the active generation is remembered before it is read again."""
REBUILD_AFTER_S = 60.0
"""Seconds before a generation whose index failed is tried again."""

logger = logging.getLogger("siji.boundaries")

Listener = Callable[[GenerationInfo | None, GenerationInfo, "JurisdictionIndex"], None]
"""Called as ``listener(previous, new, new_index)`` after the service switched."""


class IndexUnavailableError(SijiError):
    """A generation whose index cannot be built or does not pass its check (HTTP 503)."""

    code = "index_unavailable"


@dataclass(frozen=True, slots=True)
class BuildFailure:
    """A generation that should answer but whose index failed."""

    generation: GenerationInfo
    reason: str
    failed_at: dt.datetime
    retry_at: float  # time.monotonic()


@dataclass(frozen=True, slots=True)
class ActiveGeneration:
    """The generation a service serves, as it last read it from the database.

    Attributes
    ----------
    generation : GenerationInfo
    version : int
        Counts the service's readings (1 for the first): answers derived from one
        reading are current while the service's reading has the same version.
    due : float
        ``time.monotonic()`` at which the reading is ``ACTIVE_TTL_S`` old and due to be
        read again.
    """

    generation: GenerationInfo
    version: int
    due: float


class BoundaryService:
    """Generations in a database and their lookup indexes.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        A migrated database (see ``store.engine.upgrade``).
    snap_distance_m : float
        Snap tolerance of every index built here.
    cache_size : int
        How many generations keep their index in memory (the one being served is
        never let go).
    index_cache : IndexCache, optional
        Built indexes on disk, keyed by content (:mod:`boundaries.index_cache`): a
        fresh process loads a generation's checked index instead of building it.
    """

    def __init__(
        self,
        engine: Engine,
        snap_distance_m: float = 50.0,
        cache_size: int = 4,
        index_cache: IndexCache | None = None,
    ) -> None:
        self.engine = engine
        self.snap_distance_m = snap_distance_m
        self.cache_size = cache_size
        self.index_cache = index_cache
        self._indexes: OrderedDict[int, JurisdictionIndex] = OrderedDict()
        self.active: ActiveGeneration | None = None
        """The generation being served, None before the first one's index is built or
        while none is valid; a new value, with the next version, each time it is read
        again (every ``ACTIVE_TTL_S``)."""
        self._readings = itertools.count(1)
        self.failure: BuildFailure | None = None
        """The generation valid today whose index failed, while the service answers
        from another one."""
        self.pending: GenerationInfo | None = None
        """A generation whose index is being built to take over."""
        self.listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._builds: dict[int, threading.Lock] = {}  # one build at a time per generation
        self._rereading = threading.Lock()  # held while a thread re-reads the active generation

    def ensure_bundled(self) -> GenerationInfo | None:
        """Import the bundled Tai'an set when the database has no generation yet."""
        if list_generations(self.engine, staging=True):
            return None
        from boundaries.bundled import TAIAN_NAME, TAIAN_VALID_FROM, load_taian
        from store.generations import import_generation

        return import_generation(
            self.engine,
            load_taian(),
            name=TAIAN_NAME,
            valid_from=dt.date.fromisoformat(TAIAN_VALID_FROM),
            source="bundled: Tianditu outlines, NBS 2023 codes, synthetic polygons below district level",
        )

    # --- which generation ----------------------------------------------------------------
    def generation(self, at: dt.date | None = None) -> GenerationInfo:
        """The generation valid on ``at``; without a date, the one being served (read
        from the database while none is)."""
        if at is not None:
            return generation_at(self.engine, at)
        cached = self.active
        if cached is not None:
            if time.monotonic() >= cached.due:
                self._reread_active_soon()
            return cached.generation
        return generation_at(self.engine, None)

    def cached_index(self) -> tuple[GenerationInfo, JurisdictionIndex] | None:
        """The served generation and its index if both are in memory, else None: a
        lookup that can answer without touching the database or waiting for a thread.

        Once the served generation is ``ACTIVE_TTL_S`` old, one background thread reads
        it again (and builds a new generation's index) while lookups go on with the one
        they have.  Making every lookup that arrives meanwhile read the database in a
        worker thread stalled the service for tens of milliseconds every few seconds
        under load (measured: p99 latency 25-42 ms instead of 3-5 ms).
        """
        cached = self.active
        if cached is None:
            return None
        if time.monotonic() >= cached.due:
            self._reread_active_soon()
        generation = cached.generation
        index = self._indexes.get(generation.id)  # a dict read: atomic under the GIL
        return None if index is None else (generation, index)

    def index(self, at: dt.date | None = None) -> tuple[GenerationInfo, JurisdictionIndex]:
        """The generation valid on ``at`` (default: the one served) and its index.

        Raises
        ------
        NotFoundError
            No generation is valid then.
        IndexUnavailableError
            Its index cannot be built (and, without ``at``, no other can be served).
        """
        if at is not None:
            generation = generation_at(self.engine, at)
            return generation, self._index_of(generation)
        ready = self.cached_index()
        if ready is not None:
            return ready
        with self._rereading:  # one first build, however many requests wait for it
            if self.active is None:
                self._switch_to(generation_at(self.engine, None), first=True)
            cached = self.active
        index = None if cached is None else self._indexes.get(cached.generation.id)
        if cached is None or index is None:
            raise IndexUnavailableError(self._failure_message(), **self.readiness_detail())
        return cached.generation, index

    def full_code(self, code: str, generation: GenerationInfo | None = None) -> str:
        """:func:`boundaries.codes.full_code` against ``generation`` (default: the one served).

        A 12-digit code is returned as it is, with no look-up; a 6- or 9-digit one is
        checked against the served index when it is that generation's, else against
        the stored codes.
        """
        if padded(code) is None:
            return code
        ready = self.cached_index()
        if ready is not None and (generation is None or ready[0].id == generation.id):
            return full_code(code, ready[1].units.row_of_code)
        from store.units import codes_of

        return full_code(code, codes_of(self.engine, (generation or self.generation()).id))

    # --- switching -------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read which generation is valid today and switch to it once its index is built
        and checked (the watcher calls this every ``ACTIVE_TTL_S``); skipped while
        another thread does it."""
        if self._rereading.acquire(blocking=False):
            self._reread_and_release()

    def _reread_active_soon(self) -> None:
        """Re-read the active generation in a thread unless one is doing it."""
        if not self._rereading.acquire(blocking=False):
            return
        try:
            threading.Thread(
                target=self._reread_and_release, name="siji-active-generation", daemon=True
            ).start()
        except RuntimeError:  # no thread to be had: the next lookup tries again
            self._rereading.release()

    def _reread_and_release(self) -> None:
        try:
            self._reread_active()
        finally:
            self._rereading.release()

    def _reread_active(self) -> None:
        try:
            info = generation_at(self.engine, None)
        except NotFoundError:
            # No generation is valid any more (all withdrawn): lookups take the path that says so.
            self.active = None
            return
        except Exception:
            # The database is unreachable, say: keep answering from the index in memory
            # and try again in ACTIVE_TTL_S.
            logger.warning("re-reading the active boundary generation failed", exc_info=True)
            self._keep_serving()
            return
        self._switch_to(info)

    def _switch_to(self, info: GenerationInfo, first: bool = False) -> None:
        cached = self.active
        previous = cached.generation if cached is not None else None
        if previous is not None and previous.id == info.id and info.id in self._indexes:
            self._remember_active(info)  # the same generation, read again
            return
        failure = self.failure
        if failure is not None and failure.generation.id == info.id and time.monotonic() < failure.retry_at:
            self._keep_serving()
            if previous is None and first:
                self._serve_an_earlier_one(info)
            return
        self.pending = info
        try:
            index = self._index_of(info)
        except Exception as exc:
            reason = exc.message if isinstance(exc, SijiError) else f"{type(exc).__name__}: {exc}"
            self.failure = BuildFailure(
                info, reason, dt.datetime.now(dt.UTC), time.monotonic() + REBUILD_AFTER_S
            )
            logger.error(
                "the index of boundary generation %s %r failed (%s); %s",
                info.id,
                info.name,
                reason,
                "still answering from the generation before" if previous else "no generation answers yet",
            )
            self._keep_serving()
            if previous is None:
                self._serve_an_earlier_one(info)
            return
        finally:
            self.pending = None
        self.failure = None
        self._remember_active(info)
        for listener in list(self.listeners):
            try:
                listener(previous, info, index)
            except Exception:  # a listener's failure must not stop the switch
                logger.exception("a listener of the switch to generation %s failed", info.id)

    def _serve_an_earlier_one(self, failed: GenerationInfo) -> None:
        """At start, with the valid generation's index failing: serve the latest earlier
        generation whose index builds (``readiness`` says which and why)."""
        for candidate in sorted(list_generations(self.engine), key=lambda g: g.valid_from, reverse=True):
            if candidate.valid_from >= failed.valid_from or candidate.id == failed.id:
                continue
            try:
                self._index_of(candidate)
            except Exception:
                logger.exception("the index of generation %s failed too", candidate.id)
                continue
            self._serve(candidate)
            return

    def _keep_serving(self) -> None:
        cached = self.active
        if cached is not None:
            self._serve(cached.generation)

    def _remember_active(self, info: GenerationInfo) -> None:
        # Remembered only once valid (it is, being today's): the check is paid here
        # once, not on every lookup.
        if info.valid_from <= dt.date.today():
            self._serve(info)

    def _serve(self, info: GenerationInfo) -> None:
        self.active = ActiveGeneration(info, next(self._readings), time.monotonic() + ACTIVE_TTL_S)

    # --- indexes ---------------------------------------------------------------------------
    def timeline(self) -> tuple[list[Period], dict[int, GenerationInfo]]:
        """Which generation answers when, and the generations by id (for answering rows
        by their own dates)."""
        generations = list_generations(self.engine)
        rows = [(g.id, g.valid_from, g.withdrawn_from) for g in generations]
        return timeline(rows), {g.id: g for g in generations}

    def index_of(self, generation: GenerationInfo) -> JurisdictionIndex:
        """The index of a generation, built and checked once, then cached.

        Raises
        ------
        IndexUnavailableError
        """
        return self._index_of(generation)

    def _index_of(self, generation: GenerationInfo) -> JurisdictionIndex:
        with self._lock:
            cached = self._indexes.get(generation.id)
            if cached is not None:
                self._indexes.move_to_end(generation.id)
                return cached
            building = self._builds.setdefault(generation.id, threading.Lock())
        with building:  # a second caller waits for the first one's build
            with self._lock:
                cached = self._indexes.get(generation.id)
            if cached is None:
                cached = self._build(generation)
                with self._lock:
                    self._indexes[generation.id] = cached
                    self._evict()
        with self._lock:
            self._builds.pop(generation.id, None)
        return cached

    def _build(self, generation: GenerationInfo) -> JurisdictionIndex:
        """A generation's checked index: from the disk cache (only checked indexes are
        stored there), else built and checked here (the one place an index is made)."""
        key = None
        if self.index_cache is not None:
            from boundaries.index_cache import cache_key
            from store.content import content_digest

            key = cache_key(content_digest(self.engine, generation.id), self.snap_distance_m)
            found = self.index_cache.load(key)
            if found is not None:
                return found
        from boundaries.bundled import checked_index
        from store.generations import load_frame

        try:
            index = checked_index(
                load_frame(self.engine, generation.id), snap_distance_m=self.snap_distance_m
            )
        except SijiError as exc:
            raise IndexUnavailableError(
                f"the index of boundary generation {generation.id} {generation.name!r} cannot be used: "
                f"{exc.message}",
                generation_id=generation.id,
            ) from exc
        index.prepare_snapping()  # here, not in the first request for a point outside
        if key is not None and self.index_cache is not None:
            self.index_cache.save(key, index)
        return index

    def _evict(self) -> None:
        served = self.active.generation.id if self.active is not None else None
        for generation_id in list(self._indexes):
            if len(self._indexes) <= self.cache_size:
                break
            if generation_id != served:
                del self._indexes[generation_id]

    # --- health ------------------------------------------------------------------------------
    def readiness_detail(self) -> dict[str, Any]:
        """What ``/readyz`` reports: the generation served, one being switched to, and a
        failed one with the reason."""
        cached = self.active
        failure = self.failure
        return {
            "serving": None if cached is None else generation_ref(cached.generation),
            "pending": None if self.pending is None else generation_ref(self.pending),
            "failed": None
            if failure is None
            else {
                **generation_ref(failure.generation),
                "reason": failure.reason,
                "failed_at": failure.failed_at.isoformat(timespec="seconds"),
            },
        }

    def _failure_message(self) -> str:
        failure = self.failure
        if failure is None:
            return "no boundary generation is being served yet"
        return (
            f"the index of boundary generation {failure.generation.id} {failure.generation.name!r} failed: "
            f"{failure.reason}"
        )

    # --- lookups -----------------------------------------------------------------------------
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
