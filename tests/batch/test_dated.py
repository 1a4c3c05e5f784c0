"""Rows answered by the generation of their own date (``--date-col``)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from batch.dated import DatedLookup, parse_dates
from batch.points import coordinates_from_columns
from batch.readers import PointChunk
from store.timeline import GenerationInfo, Period
from tests.common import C111, build_index, lonlat

D = dt.date


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (pa.array([D(2024, 6, 1), None], type=pa.date32()), [D(2024, 6, 1), None]),
        # 23:30 UTC on 31 May is 1 June in China
        (pa.array([dt.datetime(2024, 5, 31, 23, 30)], type=pa.timestamp("s", "UTC")), [D(2024, 6, 1)]),
        (pa.array([dt.datetime(2024, 5, 31, 23, 30)], type=pa.timestamp("s")), [D(2024, 5, 31)]),
        (
            pa.array(["2024-06-01T23:30:00+08:00", " 2024-6-1 ", "2024.06.01"]),
            [D(2024, 6, 1), D(2024, 6, 1), None],
        ),
        (
            pa.array(["2024-02-29", "2023-02-29", "2024-04-31", "0000-01-01"]),
            [D(2024, 2, 29), None, None, None],
        ),
    ],
    ids=["date32", "timestamp-utc", "timestamp-naive", "text", "calendar"],
)
def test_dates_of_every_column_type(values: pa.Array, expected: list) -> None:
    assert parse_dates(values).tolist() == expected


def _generation(id_: int, name: str, start: D) -> GenerationInfo:
    return GenerationInfo(id_, name, start, None, "", 0, False, None)


def test_rows_keep_their_order_and_name_their_generation() -> None:
    old, new = build_index(), build_index()
    generations = {1: _generation(1, "old", D(2024, 1, 1)), 2: _generation(2, "new", D(2025, 1, 1))}
    periods = [Period(1, D(2024, 1, 1), D(2025, 1, 1)), Period(2, D(2025, 1, 1), None)]
    built: list[int] = []

    def index_of(generation: GenerationInfo):  # type: ignore[no-untyped-def]
        built.append(generation.id)
        return new if generation.id == 2 else old

    lookup = DatedLookup("day", periods, generations, index_of)
    lon, lat = lonlat(1, 1)
    days = ["2025-03-01", "2024-03-01", "2023-12-31", "2025-01-01", "nope", "2024-12-31"]
    table = pa.table(
        {"id": [str(i) for i in range(6)], "lon": [str(lon)] * 6, "lat": [str(lat)] * 6, "day": days}
    )
    chunk = PointChunk(table, coordinates_from_columns(table, "lon", "lat"), geometry=None, start=0)
    out, status, errors = lookup.lookup_chunk(chunk, None)
    assert out.column("id").to_pylist() == [str(i) for i in range(6)]
    assert out.column("generation").to_pylist() == ["new", "old", None, "new", None, "old"]
    assert out.column("community_code").to_pylist() == [C111, C111, None, C111, None, C111]
    assert out.column("status").to_pylist() == ["ok", "ok", "invalid", "ok", "invalid", "ok"]
    assert errors[2] == "day=2023-12-31 is before the earliest boundary generation (valid from 2024-01-01)"
    assert errors[4].startswith("day='nope' is not a date")
    assert np.array_equal(status == 5, np.array([False, False, True, False, True, False]))
    assert sorted(set(built)) == [1, 2]
