"""Single-point lookups in-process: ``locate_point`` (WGS84 and GCJ-02) and
``JurisdictionIndex.lookup`` on one point; and the rate limiter's count per request
with one client and with 100,000 (its cost must not grow with the clients)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.report import Row, Section, percentiles_us

if TYPE_CHECKING:
    from benchmarks.points import Workload
    from geo.index import JurisdictionIndex


def _per_call(func: Callable[[float, float], Any], x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Call ``func(x[i], y[i])`` for every i; total seconds and per-call nanoseconds."""
    samples = np.empty(len(x), dtype=np.int64)
    clock = time.perf_counter_ns
    xs, ys = x.tolist(), y.tolist()
    started = time.perf_counter()
    for i in range(len(xs)):
        t0 = clock()
        func(xs[i], ys[i])
        samples[i] = clock() - t0
    return time.perf_counter() - started, samples


def run(work: Workload, index: JurisdictionIndex, calls: int = 20_000) -> Section:
    """Time ``calls`` single-point lookups each way (after a warm-up of 1,000)."""
    from geo.crs import from_wgs84
    from geo.locate import locate_point

    calls = min(calls, work.n)
    x, y = work.x[:calls], work.y[:calls]
    gx, gy = from_wgs84(x, y, "gcj02")  # the same places as a phone app sends them
    variants: list[tuple[str, Callable[[float, float], Any], np.ndarray, np.ndarray]] = [
        ("geo.locate.locate_point (checks, CRS, JSON-ready dict)", partial(locate_point, index), x, y),
        ("geo.locate.locate_point, GCJ-02 input", lambda a, b: locate_point(index, a, b, "gcj02"), gx, gy),
        ("JurisdictionIndex.lookup, one point", lambda a, b: index.lookup([a], [b], threads=1), x, y),
    ]
    rows = []
    for name, func, xs, ys in variants:
        _per_call(func, xs[:1000], ys[:1000])  # warm-up: caches, lazy imports
        seconds, samples = _per_call(func, xs, ys)
        p50, p99 = percentiles_us(samples)
        rows.append(
            Row("single", name, calls / seconds, "lookups/s", seconds, p50, p99, note=f"{calls:,} calls")
        )
    rows.extend(_rate_limit_rows(calls))
    return Section(rows)


def _hit(counter: Any, keys: list[str], i: float, _: float) -> bool:
    return bool(counter.hit(keys[int(i)], 10**9))


def _rate_limit_rows(calls: int) -> list[Row]:
    """The limiter's count per request, one client against 100,000 clients in turn."""
    from api.window_counter import SlidingWindowCounter

    rows = []
    for clients in (1, 100_000):
        counter = SlidingWindowCounter(60)
        keys = [f"10.{i // 65536}.{i // 256 % 256}.{i % 256}" for i in range(clients)]
        for key in keys:  # every client already counted once in this window
            counter.hit(key, 10**9)
        order = np.arange(calls) % clients
        hit = partial(_hit, counter, keys)
        seconds, samples = _per_call(hit, order, order)
        p50, p99 = percentiles_us(samples)
        rows.append(
            Row(
                "single",
                f"rate limiter count, {clients:,} client(s) in the window",
                calls / seconds,
                "requests/s",
                seconds,
                p50,
                p99,
                note=f"{calls:,} calls; {len(counter):,} keys held",
            )
        )
    return rows
