"""Single-point lookups in-process: ``locate_point`` and ``JurisdictionIndex.lookup`` on one point."""

from __future__ import annotations

import time
from collections.abc import Callable
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
    from geo.locate import locate_point

    calls = min(calls, work.n)
    x, y = work.x[:calls], work.y[:calls]
    variants: list[tuple[str, Callable[[float, float], Any]]] = [
        ("geo.locate.locate_point (checks, CRS, JSON-ready dict)", lambda a, b: locate_point(index, a, b)),
        ("JurisdictionIndex.lookup, one point", lambda a, b: index.lookup([a], [b], threads=1)),
    ]
    rows = []
    for name, func in variants:
        _per_call(func, x[:1000], y[:1000])  # warm-up: caches, lazy imports
        seconds, samples = _per_call(func, x, y)
        p50, p99 = percentiles_us(samples)
        rows.append(
            Row("single", name, calls / seconds, "lookups/s", seconds, p50, p99, note=f"{calls:,} calls")
        )
    return Section(rows)
