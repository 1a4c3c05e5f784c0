"""Index build: time (best of N) and memory (RSS growth and tracemalloc peak in a fresh process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.report import Row, Section, Target, best_of

if TYPE_CHECKING:
    from geo.index import JurisdictionIndex

BUILD_TARGET_S = 2.0
_ROOT = Path(__file__).resolve().parent.parent


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child() -> None:
    """In a fresh interpreter: load the set, build one index, print the memory figures as JSON."""
    import gc
    import tracemalloc

    from boundaries.bundled import index_from_frame, load_taian

    frame = load_taian()
    gc.collect()
    before = _rss_bytes()
    tracemalloc.start()
    index = index_from_frame(frame)
    _, peak = tracemalloc.get_traced_memory()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    gc.collect()
    after = _rss_bytes()
    print(
        json.dumps(
            {
                "rss_growth": after - before,
                "traced_current": current,
                "traced_peak": peak,
                "nbytes": index.nbytes,
                "units": len(index.units),
            }
        )
    )


def memory() -> dict[str, Any]:
    """Run :func:`child` in a subprocess (so earlier benchmarks do not blur its RSS)."""
    env = {**os.environ, "PYTHONPATH": str(_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(
        [sys.executable, "-c", "from benchmarks.build import child; child()"],
        capture_output=True,
        text=True,
        check=True,
        cwd=_ROOT,
        env=env,
        timeout=300,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(frame: Any, repeats: int = 3) -> tuple[Section, JurisdictionIndex]:
    """Time the index build (best of ``repeats``) and measure its memory.

    Returns
    -------
    section : Section
    index : JurisdictionIndex
        The last index built, for the other benchmarks.
    """
    from boundaries.bundled import index_from_frame

    build_s, index = best_of(max(repeats, 3), lambda: index_from_frame(frame))
    mem = memory()
    mib = 2**20
    rows = [
        Row(
            "build",
            f"index build, {len(index.units):,} units, 4 levels (best of {max(repeats, 3)})",
            build_s,
            "s",
            build_s,
        ),
        Row("build", "index rasters + candidate lists (nbytes)", index.nbytes / mib, "MiB"),
        Row(
            "build",
            "index memory: RSS growth of one build",
            mem["rss_growth"] / mib,
            "MiB",
            note=(
                f"tracemalloc: {mem['traced_current'] / mib:.1f} MiB held, "
                f"{mem['traced_peak'] / mib:.1f} MiB peak during the build"
            ),
        ),
    ]
    targets = [
        Target(
            "index build < 2 s",
            f"< {BUILD_TARGET_S:.0f} s",
            f"{build_s:.2f} s",
            build_s < BUILD_TARGET_S,
        )
    ]
    return Section(rows, {}, targets), index
