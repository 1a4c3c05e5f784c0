"""A 6M-point CSV upload to ``POST /v1/lookup`` answered as JSON (the default) and as
CSV, as they are and compressed as a browser asks (zstd): end-to-end time and the
server's peak RSS growth while it answers.

One ``siji serve --workers 1`` (its worker is the server process itself); the upload
is streamed from a file and the answer read in pieces and dropped, so the client holds
neither.  The server's resident memory is sampled every 20 ms from ``/proc``; the
growth is the peak during the request less the resident memory before it.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.bigcsv import write_csv
from benchmarks.http import server
from benchmarks.report import Row, Section, Target

if TYPE_CHECKING:
    import subprocess

    from benchmarks.points import Workload

PEAK_GROWTH_TARGET = 300 * 2**20
TIME_RATIO_TARGET = 2.0


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _post(base: str, upload: Path, fmt: str, pid: int, encoding: str = "identity") -> tuple[float, int, int]:
    """Seconds, bytes answered (as sent) and the server's peak RSS growth of one upload."""
    import httpx

    baseline = _rss(pid)
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], _rss(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    size = 0
    started = time.perf_counter()
    try:
        with upload.open("rb") as body, httpx.Client(timeout=1800) as client:
            headers = {"content-type": "text/csv", "accept-encoding": encoding}
            with client.stream(
                "POST", f"{base}/v1/lookup", params={"format": fmt}, content=body, headers=headers
            ) as response:
                response.raise_for_status()
                for piece in response.iter_raw(1 << 20):
                    size += len(piece)
    finally:
        done.set()
        sampler.join()
    return time.perf_counter() - started, size, peak[0] - baseline


def run(work: Workload, rows: int = 6_000_000) -> Section:
    """Upload ``rows`` points (both mixes, alternating) as CSV; answer as CSV, then JSON."""
    workdir = Path(tempfile.mkdtemp(prefix="siji-bench-bulkjson-"))
    section = Section()
    try:
        upload = workdir / "points.csv"
        write_csv(work, upload, rows, spread=True)
        megabytes = upload.stat().st_size / 2**20
        processes: list[subprocess.Popen[bytes]] = []
        with server(workdir, 1, started=processes) as base:
            pid = processes[0].pid
            _post(base, upload, "csv", pid)  # warm-up: caches, lazy imports
            figures = {fmt: _post(base, upload, fmt, pid) for fmt in ("csv", "json")}
            packed = _post(base, upload, "json", pid, "zstd, br, gzip")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for fmt, (seconds, size, growth) in figures.items():
        section.rows.append(
            Row(
                "bulk",
                f"POST {megabytes:,.0f} MB CSV ({rows:,} points) -> {fmt.upper()}, workers=1",
                rows / seconds,
                "points/s",
                seconds,
                note=f"server peak RSS growth {growth / 2**20:,.0f} MiB; {size / 2**20:,.0f} MiB answered",
            )
        )
    seconds, size, growth = packed
    section.rows.append(
        Row(
            "bulk",
            f"POST {megabytes:,.0f} MB CSV ({rows:,} points) -> JSON compressed (zstd), workers=1",
            rows / seconds,
            "points/s",
            seconds,
            note=f"server peak RSS growth {growth / 2**20:,.0f} MiB; {size / 2**20:,.0f} MiB sent",
        )
    )
    json_s, _, json_growth = figures["json"]
    csv_s = figures["csv"][0]
    section.targets.append(
        Target(
            "HTTP bulk JSON answer in bounded memory",
            f"peak RSS growth < {PEAK_GROWTH_TARGET >> 20} MiB, "
            f"<= {TIME_RATIO_TARGET:.0f}x the CSV answer's time",
            f"{json_growth / 2**20:,.0f} MiB, {json_s:.1f} s vs {csv_s:.1f} s ({json_s / csv_s:.2f}x)",
            json_growth < PEAK_GROWTH_TARGET and json_s <= TIME_RATIO_TARGET * csv_s,
        )
    )
    section.targets.append(
        Target(
            "HTTP bulk JSON answer compressed as it streams, in bounded memory",
            f"peak RSS growth < {PEAK_GROWTH_TARGET >> 20} MiB",
            f"{growth / 2**20:,.0f} MiB",
            growth < PEAK_GROWTH_TARGET,
        )
    )
    return section
