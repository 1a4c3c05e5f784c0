"""The Arrow columns equal ``LookupResult.columns()``; point parsing and WKB helpers."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import shapely
from shapely import box

from batch import ADDED_COLUMNS
from batch.points import coordinates_from_columns, coordinates_from_wkb, point_wkb
from batch.run import result_columns
from geo.index import JurisdictionIndex
from geo.locate import locate

# ok, ok, boundary (edge), boundary (corner of 3), snapped, outside, gap, NaN, swapped.
LON = [117.05, 117.15, 117.1, 117.1, 117.2003, 118.5, 117.15, np.nan, 36.1]
LAT = [36.1, 36.1, 36.1, 36.2, 36.1, 36.5, 36.15, 36.1, 117.05]


@pytest.fixture(scope="module")
def gappy_index() -> JurisdictionIndex:
    """The east district's subdistrict leaves its north half uncovered (a gap)."""
    return JurisdictionIndex.from_arrays(
        ["C", "W", "E", "N", "W1", "E1", "N1"],
        ["city", "west", "east", "north", "w1", "e1", "n1"],
        ["city", "district", "district", "district", "subdistrict", "subdistrict", "subdistrict"],
        [None, "C", "C", "C", "W", "E", "N"],
        [
            box(117.0, 36.0, 117.2, 36.3),
            box(117.0, 36.0, 117.1, 36.2),
            box(117.1, 36.0, 117.2, 36.2),
            box(117.0, 36.2, 117.2, 36.3),
            box(117.0, 36.0, 117.1, 36.2),
            box(117.1, 36.0, 117.2, 36.12),
            box(117.0, 36.2, 117.2, 36.3),
        ],
    )


@pytest.mark.parametrize("index_name", ["index", "gappy_index"])
def test_result_columns_equal_lookup_result_columns(request: pytest.FixtureRequest, index_name: str) -> None:
    index = request.getfixturevalue(index_name)
    result = locate(index, LON, LAT)

    ours = result_columns(result)
    theirs = result.columns()

    assert list(ours) == list(theirs) == list(ADDED_COLUMNS)
    for name, column in ours.items():
        expected = [None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in theirs[name]]
        assert column.to_pylist() == expected, name
    assert set(result.status_names()) >= {"ok", "boundary", "snapped", "outside", "invalid"}


def test_gappy_index_has_a_gap(gappy_index: JurisdictionIndex) -> None:
    assert locate(gappy_index, [117.15], [36.15]).status_names().tolist() == ["gap"]


def test_text_coordinates() -> None:
    table = pa.table(
        {"x": [" 117.5 ", "1e2", "abc", "", None, "nan"], "y": ["36.5", "3", "36", "36", "36", "1"]}
    )

    coords = coordinates_from_columns(table, "x", "y")

    assert coords.x[:2].tolist() == [117.5, 100.0]
    assert coords.bad.tolist() == [False, False, True, True, True, True]
    assert coords.problems.tolist()[2:] == [
        "x='abc' is not a number",
        "x='' is empty",
        "x is missing (null)",
        "x='nan' is not a number",
    ]
    assert np.isnan(coords.x[2:]).all()


EDGE_VALUES = [
    "117.5", " 1e2 ", "+.5", "5.", "-0", "1E+05", "nan", "NaN", "inf", "-Infinity", "1e400",
    "1_000", "１１７", "0x10", "1e", "", "  ", "1,5", "117.5abc",
]  # fmt: skip


@pytest.mark.parametrize("value", EDGE_VALUES)
def test_parsing_does_not_depend_on_the_other_rows(value: str) -> None:
    # Alone, a clean value takes the one-cast fast path; next to "abc", the regex path.
    alone = coordinates_from_columns(pa.table({"x": [value], "y": ["1"]}), "x", "y")
    mixed = coordinates_from_columns(pa.table({"x": [value, "abc"], "y": ["1", "1"]}), "x", "y")

    assert alone.problems[0] == mixed.problems[0]
    assert alone.bad[0] == mixed.bad[0]
    assert np.array_equal(alone.x[:1], mixed.x[:1], equal_nan=True)
    assert alone.bad[0] or np.isfinite(alone.x[0])


def test_both_coordinates_bad_names_both() -> None:
    coords = coordinates_from_columns(pa.table({"x": ["a", "1"], "y": [None, "2"]}), "x", "y")
    assert coords.problems.tolist() == ["x='a' is not a number; y is missing (null)", None]


def test_long_values_are_cut_in_messages() -> None:
    coords = coordinates_from_columns(pa.table({"x": ["9" * 50 + "z" * 100], "y": ["1"]}), "x", "y")
    assert len(coords.problems[0]) < 100


def test_wkb_fast_path_and_fallback_agree() -> None:
    geoms = np.array(
        [
            shapely.Point(117.1, 36.2),
            shapely.Point(1, 2, 3),  # 3-D: shapely path
            shapely.Point(),  # NaN, NaN in WKB
            None,
            shapely.MultiPoint([(1, 2)]),
            shapely.LineString([(0, 0), (1, 1)]),
        ],
        dtype=object,
    )
    little = pa.array(shapely.to_wkb(geoms, byte_order=1), type=pa.binary())
    big = pa.array(shapely.to_wkb(geoms, byte_order=0), type=pa.binary())  # never the fast path

    for wkb in (little, big, little.slice(1), pa.chunked_array([little.slice(0, 2), little.slice(2)])):
        coords = coordinates_from_wkb(wkb)
        offset = 1 if len(coords.x) == 5 else 0
        expect_bad = [False, False, True, True, True, True][offset:]
        assert coords.bad.tolist() == expect_bad
        if offset == 0:
            assert (coords.x[0], coords.y[0]) == (117.1, 36.2)
        assert coords.x[1 - offset] == 1.0
        assert coords.problems[-1].startswith("geometry is a LineString, not a Point: LINESTRING (0 0, 1 1)")
        assert coords.problems[-2].startswith("geometry is a MultiPoint")


def test_undecodable_wkb() -> None:
    coords = coordinates_from_wkb(pa.array([b"\x01\x02garbage"], type=pa.binary()))
    assert coords.problems.tolist() == ["geometry is not valid WKB and could not be decoded"]


def test_point_wkb_round_trips_through_shapely() -> None:
    x = np.array([117.123456789012345, np.nan, -1e-300, 5e5])
    y = np.array([36.987654321098765, 1.0, 0.0, 4e6])

    wkb = point_wkb(x, y)

    decoded = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))
    assert decoded[1] is None
    assert shapely.get_x(decoded[[0, 2, 3]]).tolist() == x[[0, 2, 3]].tolist()
    assert shapely.get_y(decoded[[0, 2, 3]]).tolist() == y[[0, 2, 3]].tolist()
    assert coordinates_from_wkb(wkb).x[[0, 2, 3]].tolist() == x[[0, 2, 3]].tolist()
