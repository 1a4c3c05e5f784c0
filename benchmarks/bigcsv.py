"""``siji lookup-batch`` over a 10M-row CSV (~300 MB) in a subprocess: rows/s and peak memory.

The CSV (``id,lon,lat``: a zero-padded text id and coordinates with 6-7 decimals,
the benchmark points repeated) is generated into a temporary directory, and the CLI
runs under ``/usr/bin/time -v`` (peak RSS is its "Maximum resident set size"; without
GNU time, ``getrusage(RUSAGE_CHILDREN)``) with a fresh SQLite database.  The time
includes the CLI's start (imports, migrations, importing the bundled set, building
the index): what a user waits for.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.report import Row, Section, Target

if TYPE_CHECKING:
    from benchmarks.points import Workload

_ROOT = Path(__file__).resolve().parent.parent
PEAK_TARGET_BYTES = 2**30
_BLOCK_ROWS = 1_000_000


def write_csv(work: Workload, path: Path, rows: int, *, spread: bool = False) -> None:
    """Write ``rows`` rows of ``id,lon,lat`` text, cycling through the workload's points
    (the inside mix, or with ``spread`` the two mixes alternately)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    with pacsv.CSVWriter(
        path,
        pa.schema([("id", pa.string()), ("lon", pa.string()), ("lat", pa.string())]),
        write_options=pacsv.WriteOptions(quoting_style="none"),
    ) as writer:
        for start in range(0, rows, _BLOCK_ROWS):
            count = min(_BLOCK_ROWS, rows - start)
            pick = np.arange(start, start + count) % work.n
            ids = pc.utf8_lpad(pa.array(np.arange(start, start + count).astype(str)), 8, "0")
            xs, ys = work.x[pick], work.y[pick]
            if spread:
                odd = np.arange(start, start + count) % 2 == 1
                xs[odd], ys[odd] = work.sx[pick[odd]], work.sy[pick[odd]]
            lon = pa.array(np.char.mod("%.7f", xs))
            lat = pa.array(np.char.mod("%.6f", ys))
            writer.write_table(pa.table({"id": ids, "lon": lon, "lat": lat}))


def run(work: Workload, rows: int = 10_000_000, keep: Path | None = None) -> Section:
    """Generate the CSV, run ``siji lookup-batch`` on it, report rows/s and peak RSS."""
    workdir = Path(tempfile.mkdtemp(prefix="siji-bench-csv-"))
    try:
        source = workdir / "points.csv"
        started = time.perf_counter()
        write_csv(work, source, rows)
        write_s = time.perf_counter() - started
        target = workdir / "out.csv"
        env = {
            **os.environ,
            "PYTHONPATH": str(_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "SIJI_DATABASE_URL": f"sqlite:///{workdir / 'siji.db'}",
        }
        command = [sys.executable, "-m", "siji.cli", "lookup-batch", str(source), str(target)]
        gnu_time = Path("/usr/bin/time")
        if gnu_time.exists():
            command = [str(gnu_time), "-v", *command]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=1800)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"siji lookup-batch failed ({done.returncode}): {done.stderr[-2000:]}")
        match = re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", done.stderr)
        if match:
            peak = int(match.group(1)) * 1024
        else:  # ru_maxrss of all children so far: only meaningful when it grew
            peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) * 1024
        in_mib = source.stat().st_size / 2**20
        out_mib = target.stat().st_size / 2**20
        reported = re.search(r"in ([\d.]+) s, ([\d,]+) rows/s", done.stdout)
        inner = f"; CLI's own figure {reported.group(2)} rows/s in {reported.group(1)} s" if reported else ""
        if keep is not None:
            shutil.copy(target, keep)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rate = rows / seconds
    return Section(
        rows=[
            Row(
                "bigcsv",
                f"siji lookup-batch, {rows:,}-row CSV -> CSV (whole CLI run)",
                rate,
                "rows/s",
                seconds,
                note=f"{in_mib:,.0f} MiB in, {out_mib:,.0f} MiB out{inner}; CSV written in {write_s:.0f} s",
            ),
            Row("bigcsv", "siji lookup-batch peak RSS", peak / 2**20, "MiB"),
        ],
        targets=[
            Target(
                "lookup-batch 10M-row CSV peak memory < 1 GB",
                "< 1 GiB",
                f"{peak / 2**20:,.0f} MiB",
                peak < PEAK_TARGET_BYTES if rows >= 10_000_000 else None,
            )
        ],
    )
