"""Peak memory follows the chunk size, not the file size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = 2_000_000
CHUNK_ROWS = 100_000
# Measured 135 MB for 2M and for 4M rows at 100k-row chunks (mostly pyarrow's CSV
# read-ahead and allocator caches).  Holding the whole file would cost well over 500 MB.
MAX_GROWTH_MB = 300

_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    from shapely import box
    from batch import lookup_file
    from geo.index import JurisdictionIndex

    source, target, warm_in, warm_out, chunk = sys.argv[1:6]
    index = JurisdictionIndex.from_arrays(
        ["C", "D"], ["c", "d"], ["city", "district"], [None, "C"], [box(117, 36, 117.2, 36.2)] * 2
    )
    lookup_file(index, warm_in, warm_out)  # load every library before the baseline
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    summary = lookup_file(index, source, target, chunk_rows=int(chunk))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    growth_mb = (after - before) / 1024
    print(json.dumps({"rows": summary.rows, "growth_mb": growth_mb, "seconds": summary.seconds}))
    """
)


def _write_big_csv(path: Path, rows: int) -> None:
    """Write ``rows`` points a block at a time, so the test process stays small too."""
    rng = np.random.default_rng(7)
    with path.open("w") as out:
        out.write("id,lon,lat,note\n")
        for start in range(0, rows, 250_000):
            n = min(250_000, rows - start)
            columns = [
                np.char.zfill(np.arange(start, start + n).astype(str), 8),
                rng.uniform(116.9, 117.3, n).round(6).astype(str),
                rng.uniform(35.9, 36.3, n).round(6).astype(str),
                np.full(n, "巡查上报"),
            ]
            lines = columns[0]
            for column in columns[1:]:
                lines = np.char.add(np.char.add(lines, ","), column)
            out.write("\n".join(lines.tolist()) + "\n")


@pytest.mark.slow
def test_peak_memory_is_bounded_by_chunk_size(tmp_path: Path) -> None:
    source = tmp_path / "big.csv"
    _write_big_csv(source, ROWS)
    warm = tmp_path / "warm.csv"
    warm.write_text("lon,lat\n117.1,36.1\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(source), str(tmp_path / "out.csv"), str(warm),
         str(tmp_path / "warm_out.csv"), str(CHUNK_ROWS)],
        env=env, capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip

    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["rows"] == ROWS
    assert report["growth_mb"] < MAX_GROWTH_MB, report
    assert (tmp_path / "out.csv").stat().st_size > source.stat().st_size
