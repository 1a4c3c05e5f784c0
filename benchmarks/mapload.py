"""Single lookups while a citywide hot-spot map is computed: their p99 must stay low.

One ``siji serve --workers 1`` (map analyses in its process pool, see
:mod:`api.analysis_pool`); a thread asks for ``/maps/hotspots`` over every community
of the city (the demo reports of a new installation, 999 permutations), and while it
runs wrk sends single lookups (the spread mix, 1 connection) in 1 s runs.  The worst
run's p99 counts.  A first, smaller map (99 permutations) loads the units and the
day's demo reports into the server's cache before.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.http import drive, server
from benchmarks.report import Row, Section, Target

if TYPE_CHECKING:
    from benchmarks.points import Workload

P99_TARGET_US = 20_000.0


def run(work: Workload) -> Section:
    """Measure lookups before and during a hot-spot map."""
    import httpx

    spread = zip(work.sx[:1000], work.sy[:1000], strict=True)
    paths = [f"/v1/lookup?lon={x:.6f}&lat={y:.6f}" for x, y in spread]
    workdir = Path(tempfile.mkdtemp(prefix="siji-bench-maps-"))
    try:
        with server(workdir, 1) as base:
            drive(base, paths, 1, 3)  # warm-up (the analysis workers import meanwhile)
            # The units and the day's demo reports are loaded (and cached) by a first map.
            httpx.get(f"{base}/maps/hotspots", params={"format": "geojson", "permutations": 99}, timeout=600)
            quiet = drive(base, paths, 1, 2)
            answered: list[float] = []

            def hotspot_map() -> None:
                started = time.perf_counter()
                # A distinct parameter each run: demo pages are cached per day.
                response = httpx.get(
                    f"{base}/maps/hotspots", params={"permutations": 998, "format": "geojson"}, timeout=600
                )
                response.raise_for_status()
                answered.append(time.perf_counter() - started)

            thread = threading.Thread(target=hotspot_map)
            thread.start()
            during = []
            while thread.is_alive():
                during.append(drive(base, paths, 1, 1))
            thread.join()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    worst = max(during, key=lambda load: load.p99_us) if during else quiet
    map_s = answered[0] if answered else float("nan")
    rows = [
        Row("maps", "GET /v1/lookup (spread mix, 1 conn), no map running", quiet.rps, "req/s",
            p50_us=quiet.p50_us, p99_us=quiet.p99_us),
        Row("maps", "GET /v1/lookup (spread mix, 1 conn) while a citywide hot-spot map is computed",
            worst.rps, "req/s", p50_us=worst.p50_us, p99_us=worst.p99_us,
            note=f"worst of {len(during)} 1 s runs; the map took {map_s:.1f} s (in the analysis pool)"),
    ]  # fmt: skip
    target = Target(
        "single lookups p99 < 20 ms during a hot-spot map",
        "< 20 ms",
        f"p99 {worst.p99_us / 1000:.1f} ms (worst of {len(during)} runs; "
        f"{quiet.p99_us / 1000:.1f} ms without)",
        bool(during) and worst.p99_us < P99_TARGET_US and worst.errors == 0,
    )
    return Section(rows, {}, [target])
