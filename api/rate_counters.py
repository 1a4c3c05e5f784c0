"""Where the rate limiter counts: in each worker's memory, or in Redis shared by all.

:class:`RateCounter` is what :mod:`api.ratelimit` asks (may this key make one more
request in the window? count it; how long until it may?).  Two stores answer it, both
with the sliding window counter algorithm (two fixed windows per key, the previous one
weighted by its share still inside the sliding window):

* ``memory://`` (the default): :class:`MemoryCounter`, this process's
  :class:`~api.window_counter.SlidingWindowCounter`.  Each worker counts on its own,
  so with ``siji serve --workers N`` (or N machines) a client meets up to N times the
  limit.
* ``redis://host:port/db`` (``rediss://`` for TLS, ``redis+unix://`` for a socket):
  :class:`SharedCounter`, the ``limits`` library's sliding window counter in Redis,
  which checks and counts in one atomic script, so the limit holds for every worker
  and machine that uses the same Redis.

Redis that cannot be reached when the service starts stops the start
(:func:`check_storage`, one line naming the URL and the fix).  Redis lost while the
service runs lets requests through (the limiter fails open: it protects the service,
it does not decide answers) and logs a warning at most once a minute.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

from api.window_counter import SlidingWindowCounter
from geo.errors import SijiError

if TYPE_CHECKING:
    from limits import RateLimitItem

logger = logging.getLogger("siji")

MEMORY = "memory://"
SHARED_SCHEMES = ("redis://", "rediss://", "redis+unix://")
ALLOWED = (
    "memory:// (the default: counted by each worker process) or redis://host:port/db (rediss:// with TLS, "
    "redis+unix:///path.sock): counted once for every worker and machine using that Redis"
)
WARN_EVERY_S = 60.0


class RateStorageError(SijiError):
    """The shared store of rate-limit counters cannot be used."""

    code = "rate_limit_storage_unavailable"


class RateCounter(Protocol):
    """Requests per key over a sliding window of ``window_s`` seconds."""

    window_s: float

    async def hit(self, key: str, limit: int) -> bool:
        """Count a request of ``key`` if it is within ``limit``; False (nothing counted) if not."""
        ...

    async def allows(self, key: str, limit: int) -> bool:
        """Whether :meth:`hit` would count a request of ``key`` now (counting nothing)."""
        ...

    async def retry_after(self, key: str, limit: int) -> float:
        """Seconds until :meth:`hit` would count a request of ``key``."""
        ...


def check_uri(uri: str) -> str:
    """``uri`` if it names a store the limiter can use, else a ``ValueError`` naming the
    allowed ones (the settings call it, so a bad value is one line at start).

    Examples
    --------
    >>> check_uri("redis://127.0.0.1:6379/0"), check_uri("memory://")
    ('redis://127.0.0.1:6379/0', 'memory://')
    >>> check_uri("memcached://localhost")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: 'memcached://localhost' is not a store of rate-limit counters; allowed: memory:// ...
    """
    if uri == MEMORY or uri.startswith(SHARED_SCHEMES):
        return uri
    raise ValueError(f"{uri!r} is not a store of rate-limit counters; allowed: {ALLOWED}")


def counters(uri: str, window_s: float, kinds: tuple[str, ...]) -> dict[str, RateCounter]:
    """One counter per kind of key (address, token), all in the store ``uri`` names."""
    if uri == MEMORY:
        return {kind: MemoryCounter(window_s) for kind in kinds}
    storage = _storage(uri)
    return {kind: SharedCounter(storage, window_s, namespace=f"siji-{kind}", uri=uri) for kind in kinds}


def check_storage(uri: str) -> None:
    """:func:`ensure_storage` in an event loop of its own (``siji serve`` calls it before
    it starts its workers)."""
    if uri != MEMORY:
        asyncio.run(ensure_storage(uri))


async def ensure_storage(uri: str) -> None:
    """Raise :class:`RateStorageError` (naming the URL and the fix) when the store ``uri``
    names cannot be reached; nothing for ``memory://`` (the app's lifespan awaits it)."""
    if uri == MEMORY:
        return
    storage = _storage(uri)
    try:
        reachable, why = bool(await storage.check()), ""
    except Exception as exc:  # any failure to reach it is the same answer
        reachable, why = False, " ".join(str(exc).split())
    finally:
        await _close(storage)
    if not reachable:
        raise RateStorageError(
            f"cannot reach Redis at {_shown(uri)} (SIJI_RATE_LIMIT_STORAGE){': ' + why if why else ''}; "
            "start it or correct the URL, or leave SIJI_RATE_LIMIT_STORAGE unset to count in each worker's "
            "memory",
            storage=_shown(uri),
        )


class MemoryCounter:
    """:class:`RateCounter` in this process's memory (see :mod:`api.window_counter`).

    Examples
    --------
    >>> counter = MemoryCounter(60)
    >>> [asyncio.run(counter.hit("198.51.100.7", 1)) for _ in range(2)]
    [True, False]
    """

    def __init__(self, window_s: float) -> None:
        self.window_s = float(window_s)
        self.counter = SlidingWindowCounter(window_s)

    async def hit(self, key: str, limit: int) -> bool:
        return self.counter.hit(key, limit)

    async def allows(self, key: str, limit: int) -> bool:
        return self.counter.allows(key, limit)

    async def retry_after(self, key: str, limit: int) -> float:
        return self.counter.retry_after(key, limit)


class SharedCounter:
    """:class:`RateCounter` in Redis: ``limits``' sliding window counter, checked and
    counted atomically, so every worker and machine shares one count per key."""

    def __init__(self, storage: Any, window_s: float, *, namespace: str, uri: str) -> None:
        from limits.aio.strategies import SlidingWindowCounterRateLimiter

        self.window_s = float(window_s)
        self.namespace = namespace
        self.uri = uri
        self.limiter = SlidingWindowCounterRateLimiter(storage)
        self._items: dict[int, RateLimitItem] = {}
        self._warned = -WARN_EVERY_S

    def _item(self, limit: int) -> RateLimitItem:
        item = self._items.get(limit)
        if item is None:
            from limits import RateLimitItemPerSecond

            item = self._items[limit] = RateLimitItemPerSecond(
                limit, int(self.window_s), namespace=self.namespace
            )
        return item

    async def hit(self, key: str, limit: int) -> bool:
        try:
            return bool(await self.limiter.hit(self._item(limit), key))
        except Exception as exc:  # Redis lost: let the request through (see the module)
            self._lost(exc)
            return True

    async def allows(self, key: str, limit: int) -> bool:
        try:
            return bool(await self.limiter.test(self._item(limit), key))
        except Exception as exc:
            self._lost(exc)
            return True

    async def retry_after(self, key: str, limit: int) -> float:
        try:
            stats = await self.limiter.get_window_stats(self._item(limit), key)
        except Exception as exc:
            self._lost(exc)
            return 0.0
        return max(0.0, stats.reset_time - time.time())

    def _lost(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned >= WARN_EVERY_S:
            self._warned = now
            logger.warning(
                "rate limits are not counted: Redis at %s (SIJI_RATE_LIMIT_STORAGE) failed: %s",
                _shown(self.uri),
                " ".join(str(exc).split()),
            )


def _storage(uri: str) -> Any:
    """``limits``' asyncio Redis storage (redis-py's client) for a ``redis://`` URI."""
    from limits.aio.storage import RedisStorage

    return RedisStorage(
        f"async+{uri}",
        implementation="redispy",
        wrap_exceptions=True,
        key_prefix="siji",
        socket_connect_timeout=2,
        socket_timeout=2,
    )


async def _close(storage: Any) -> None:
    """Close the connections of a storage made for one check."""
    client = getattr(getattr(storage, "bridge", None), "storage", None)  # redis-py's client
    close = getattr(client, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception:  # already gone: nothing to close
            return


def _shown(uri: str) -> str:
    """The URI with its password hidden.

    Examples
    --------
    >>> _shown("redis://:s3cret@cache:6379/0"), _shown("redis://cache:6379/0")
    ('redis://:***@cache:6379/0', 'redis://cache:6379/0')
    """
    scheme, _, rest = uri.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return uri
    user, colon, _password = credentials.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"
