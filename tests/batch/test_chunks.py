"""Chunked reading gives the same output as one chunk; progress and row numbers follow chunks."""

from __future__ import annotations

from pathlib import Path

import pytest

from batch import PointReader, lookup_file
from tests.batch.conftest import FORMAT_EXT, ROWS, read_output, write_input


@pytest.mark.parametrize("fmt_out", list(FORMAT_EXT))
@pytest.mark.parametrize("fmt_in", list(FORMAT_EXT))
def test_tiny_chunks_give_identical_output(index, tmp_path: Path, fmt_in: str, fmt_out: str) -> None:
    source = write_input(tmp_path, fmt_in)
    whole = tmp_path / f"whole{FORMAT_EXT[fmt_out]}"
    pieces = tmp_path / f"pieces{FORMAT_EXT[fmt_out]}"

    lookup_file(index, source, whole)
    summary = lookup_file(index, source, pieces, chunk_rows=2)

    assert summary.rows == len(ROWS)
    if fmt_out in ("csv", "geojson"):
        # Same bytes, apart from the GeoJSON "name" member (the file stem).
        assert pieces.read_bytes().replace(b"pieces", b"whole") == whole.read_bytes()
    else:
        assert read_output(pieces).equals(read_output(whole))


def test_reader_chunk_sizes_and_starts(tmp_path: Path) -> None:
    source = write_input(tmp_path, "parquet")
    with PointReader(source, chunk_rows=4) as reader:
        chunks = list(reader)
    assert [len(c) for c in chunks] == [4, 4, 1]
    assert [c.start for c in chunks] == [0, 4, 8]
    assert reader.info.geometry_column == "geometry"
    assert reader.info.crs is not None


def test_progress_and_invalid_row_numbers(index, tmp_path: Path) -> None:
    source = tmp_path / "many.csv"
    rows = [f"{i},117.05,36.1" if i % 100 else f"{i},bad,36.1" for i in range(1, 1001)]
    source.write_text("id,lon,lat\n" + "\n".join(rows) + "\n")
    calls: list[tuple[int, int, int]] = []

    summary = lookup_file(
        index, source, tmp_path / "out.csv", chunk_rows=64, progress=lambda *a: calls.append(a)
    )

    assert summary.invalid_rows[:2] == [
        (100, "lon='bad' is not a number"),
        (200, "lon='bad' is not a number"),
    ]
    assert len(summary.invalid_rows) == 10
    assert summary.counts_by_status["invalid"] == 10
    rows_done = [c[0] for c in calls]
    assert rows_done == sorted(rows_done)
    assert rows_done[-1] == 1000
    assert calls[-1][1] == calls[-1][2] == source.stat().st_size
    assert all(0 <= done <= total for _, done, total in calls)


def test_invalid_rows_keeps_the_first_thousand(index, tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("lon,lat\n" + "x,36\n" * 2500)

    summary = lookup_file(index, source, tmp_path / "out.parquet", chunk_rows=700)

    assert summary.counts_by_status["invalid"] == 2500
    assert len(summary.invalid_rows) == 1000
    assert summary.invalid_rows[-1][0] == 1000
