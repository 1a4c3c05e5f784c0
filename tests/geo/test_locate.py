"""locate / locate_point: CRS conversion, per-row input errors, swapped axes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from geo.crs import from_wgs84
from geo.errors import InvalidCoordinateError, SwappedAxesError
from geo.index import JurisdictionIndex, LookupResult
from geo.levels import LEVEL_KEYS
from geo.locate import locate, locate_point
from tests.common import (
    C111,
    C112,
    CASES,
    GAP_CASES,
    GAP_UNITS,
    UNITS,
    build_index,
    case_arrays,
    chain,
    lonlat,
)

# Points well inside a unit (at least ~100 m from any edge): after a CRS round trip
# they must land in the same unit.
INTERIOR = tuple(c for c in CASES if c.status == "ok" and c.kind in ("inside", "hole", "multipolygon"))
GAP_INTERIOR = tuple(
    c for c in GAP_CASES if c.status == "gap" and c.kind == "gap" and c.id != "outer-east-C213"
)
CRSS = ["wgs84", "cgcs2000", "gcj02", "bd09", "EPSG:32650", "EPSG:4548", "EPSG:4527", "EPSG:3857", 4326]


@pytest.fixture(scope="module")
def index() -> JurisdictionIndex:
    return build_index(UNITS)


@pytest.fixture(scope="module")
def gap_index() -> JurisdictionIndex:
    return build_index(GAP_UNITS)


def codes(record: dict) -> dict:
    return {key: record[key] and record[key]["code"] for key in LEVEL_KEYS}


# --- CRS inputs -----------------------------------------------------------------------------
@pytest.mark.parametrize("crs", CRSS)
@pytest.mark.parametrize("case", INTERIOR, ids=[c.id for c in INTERIOR])
def test_locate_point_in_any_crs_finds_the_wgs84_unit(index, case, crs):
    x, y = from_wgs84(case.lon, case.lat, crs)
    record = locate_point(index, float(x), float(y), crs)
    assert record == index.lookup([case.lon], [case.lat]).record(0)
    assert codes(record) == case.expected
    assert record["status"] == "ok"


@pytest.mark.parametrize("crs", CRSS)
def test_locate_batch_in_any_crs(index, gap_index, crs):
    for idx, cases in ((index, INTERIOR), (gap_index, GAP_INTERIOR)):
        lon, lat = case_arrays(cases)
        x, y = from_wgs84(lon, lat, crs)
        result = locate(idx, x, y, crs)
        assert result.errors is None
        assert result.status_names().tolist() == [c.status for c in cases]
        assert [codes(result.record(i)) for i in range(len(cases))] == [c.expected for c in cases]


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_obfuscated_coordinates_are_not_wgs84(index, crs):
    # Taken as WGS84, the GCJ-02/BD-09 position of a point near an edge lands
    # hundreds of metres away, in another unit; given its CRS it is found.
    lon, lat = lonlat(1.8, 1.0)  # in C111, ~280 m west of C112
    x, y = from_wgs84(lon, lat, crs)
    assert codes(locate_point(index, float(x), float(y), crs))["community"] == C111
    assert codes(locate_point(index, float(x), float(y)))["community"] == C112


def test_locate_matches_lookup_for_wgs84_including_boundaries(index):
    lon, lat = case_arrays(CASES)
    a, b = locate(index, lon, lat), index.lookup(lon, lat)
    assert [a.record(i) for i in range(len(CASES))] == [b.record(i) for i in range(len(CASES))]
    assert a.errors is None


# --- invalid rows ---------------------------------------------------------------------------
BAD_ROWS = [
    (math.nan, 36.18, "lon=nan"),
    (117.1, math.inf, "lat=inf"),
    (-math.inf, 36.18, "lon=-inf"),
    (181.0, 36.18, "lon=181.0"),
    (117.1, -90.5, "lat=-90.5"),
]


@pytest.mark.parametrize(("bad_x", "bad_y", "named"), BAD_ROWS)
@pytest.mark.parametrize("position", [0, 3, 6])
def test_invalid_rows_are_kept_and_named(index, bad_x, bad_y, named, position):
    good = [c for c in CASES if c.status == "boundary"][:6]
    lon, lat = case_arrays(tuple(good))
    x = np.insert(lon, position, bad_x)
    y = np.insert(lat, position, bad_y)
    result = locate(index, x, y)
    assert len(result) == len(good) + 1
    status = result.status_names().tolist()
    assert status[position] == "invalid"
    assert named in result.errors[position]
    record = result.record(position)
    assert record == {**dict.fromkeys(LEVEL_KEYS), "status": "invalid", "error": result.errors[position]}
    assert result.columns()["error"][position] == result.errors[position]
    assert len(result.candidates(position)) == 0
    # the other rows are untouched, candidates included
    others = [i for i in range(len(x)) if i != position]
    reference = index.lookup(lon, lat)
    assert [result.record(i) for i in others] == [reference.record(i) for i in range(len(good))]
    assert all(result.errors[i] is None for i in others)


def test_all_rows_invalid(index):
    result = locate(index, [math.nan, 200.0], [36.2, math.nan])
    assert result.status_names().tolist() == ["invalid", "invalid"]
    assert result.errors.tolist() == [
        "lon=nan is not a finite number; allowed -180..180 degrees",
        "lat=nan is not a finite number; allowed -90..90 degrees",  # non-finite reported first
    ]
    assert result.candidate_offsets.tolist() == [0, 0, 0]


@pytest.mark.parametrize(("x", "y", "named"), [(r[0], r[1], r[2]) for r in BAD_ROWS])
def test_locate_point_raises_naming_the_value(index, x, y, named):
    with pytest.raises(InvalidCoordinateError) as info:
        locate_point(index, x, y)
    assert not isinstance(info.value, SwappedAxesError)
    assert named in str(info.value)
    assert "allowed" in str(info.value)
    assert info.value.detail["crs"] == "wgs84"


@pytest.mark.parametrize("crs", ["EPSG:32650", "EPSG:4548"])
def test_projected_coordinates_outside_the_crs_are_invalid(index, crs):
    result = locate(index, [5.0e5, 1.0e30, 1.0e8], [4.0e6, 1.0e30, 1.0e8], crs)
    assert result.status_names().tolist() == ["outside", "invalid", "invalid"]
    assert result.errors[0] is None
    assert "1e+30" in result.errors[1]
    assert crs in result.errors[1]
    with pytest.raises(InvalidCoordinateError, match=r"1e\+30"):
        locate_point(index, 1.0e30, 1.0e30, crs)


@pytest.mark.parametrize("x", [math.nan, math.inf])
def test_projected_nan_is_invalid(index, x):
    result = locate(index, [x, 5.0e5], [4.0e6, 4.0e6], "EPSG:32650")
    assert result.status_names().tolist() == ["invalid", "outside"]
    assert f"x={x!r}" in result.errors[0]


# --- swapped axes ----------------------------------------------------------------------------
@pytest.mark.parametrize("crs", ["wgs84", "gcj02", "bd09", "cgcs2000"])
@pytest.mark.parametrize("case", INTERIOR[:6], ids=[c.id for c in INTERIOR[:6]])
def test_swapped_axes_single_point_raises(index, case, crs):
    x, y = (float(v) for v in from_wgs84(case.lon, case.lat, crs))
    with pytest.raises(SwappedAxesError) as info:
        locate_point(index, y, x, crs)
    err = info.value
    assert err.code == "swapped_axes"
    assert isinstance(err, InvalidCoordinateError)
    assert f"({y!r}, {x!r}) look swapped" in str(err)
    assert f"({x!r}, {y!r}) is inside" in str(err)
    assert err.detail == {"x": y, "y": x, "crs": crs}


def test_swapped_axes_batch_rows(index):
    lon, lat = case_arrays(INTERIOR)
    x, y = lon.copy(), lat.copy()
    swap = np.arange(len(x)) % 3 == 1
    x[swap], y[swap] = lat[swap], lon[swap]
    result = locate(index, x, y)
    status = result.status_names()
    assert (status[swap] == "invalid").all()
    assert (status[~swap] == "ok").all()
    for i in np.flatnonzero(swap):
        assert "look swapped" in result.errors[i]
        assert f"coordinates ({float(x[i])!r}, {float(y[i])!r}) look swapped" in result.errors[i]
        assert "np.float64" not in result.errors[i]
        assert result.record(i)["community"] is None
    for i in np.flatnonzero(~swap):
        assert result.errors[i] is None
        assert codes(result.record(i)) == INTERIOR[i].expected


def test_swapped_axes_with_both_values_in_range():
    # West of 90E a swapped point is a valid (lon, lat) pair: it is outside, and
    # only the swap check tells it from an ordinary outside point.
    index = JurisdictionIndex.from_arrays(["U"], ["urumqi"], ["city"], [None], [box(87.0, 43.5, 88.0, 44.2)])
    result = locate(index, [43.8, 87.6, 43.8], [87.6, 43.8, 80.0])
    assert result.status_names().tolist() == ["invalid", "ok", "outside"]
    assert "look swapped" in result.errors[0]
    assert result.errors[1:].tolist() == [None, None]
    with pytest.raises(SwappedAxesError):
        locate_point(index, 43.8, 87.6)


@pytest.mark.parametrize("crs", ["wgs84", "EPSG:3857"])
def test_invalid_rows_with_a_set_covering_null_island(crs):
    # Bad rows must not inherit the answer for a placeholder position.
    index = JurisdictionIndex.from_arrays(
        ["N", "N1", "N2", "N3"],
        ["null", "west", "south-east", "north-east"],
        ["city", "district", "district", "district"],
        [None, "N", "N", "N"],
        [box(-1, -1, 1, 1), box(-1, -1, 0, 1), box(0, -1, 1, 0), box(0, 0, 1, 1)],
    )
    x, y = from_wgs84([0.5, 0.5], [0.0, 0.5], crs)
    result = locate(index, [math.nan, *x], [0.0, *y], crs)
    assert result.status_names().tolist() == ["invalid", "boundary", "ok"]
    assert result.unit_rows[0].tolist() == [-1, -1, -1, -1]
    assert len(result.candidates(0)) == 0
    assert index.units.codes[result.candidates(1)].tolist() == ["N2", "N3"]
    assert result.record(0) == {**dict.fromkeys(LEVEL_KEYS), "status": "invalid", "error": result.errors[0]}
    assert result.columns()["candidates"].tolist() == [None, "N2;N3", None]
    # the placeholder position (0, 0) really is covered by all three districts
    assert len(index.lookup([0.0], [0.0]).candidates(0)) == 3


def test_outside_point_whose_swap_is_outside_too_is_just_outside(index):
    # (117.1, 36.3) is north of the set, so (36.3, 117.1) is only out of range
    result = locate(index, [36.3, 116.0], [117.1, 35.0])
    assert result.status_names().tolist() == ["invalid", "outside"]
    assert result.errors[0] == "lat=117.1 is out of range; allowed -90..90 degrees"
    assert result.errors[1] is None
    with pytest.raises(InvalidCoordinateError) as info:
        locate_point(index, 36.3, 117.1)
    assert type(info.value) is InvalidCoordinateError
    assert locate_point(index, 116.0, 35.0)["status"] == "outside"


def test_swap_not_checked_for_projected_crs(index):
    x, y = from_wgs84(*lonlat(1, 1), "EPSG:4548")
    result = locate(index, [float(y)], [float(x)], "EPSG:4548")
    assert result.status_names().tolist() == ["outside"]
    assert result.errors is None


def test_snapped_points_are_not_taken_for_swapped(index):
    case = next(c for c in CASES if c.status == "snapped")
    record = locate_point(index, case.lon, case.lat)
    assert record["status"] == "snapped"
    assert "error" not in record


# --- row order, threads ---------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(
    order=st.permutations(range(len(GAP_CASES) + 4)),
    threads=st.sampled_from([1, 2, 3]),
    crs=st.sampled_from(["wgs84", "gcj02", "EPSG:32650"]),
)
def test_row_order_is_preserved(gap_index, order, threads, crs):
    lon, lat = case_arrays(GAP_CASES)
    good_x, good_y = from_wgs84(lon, lat, crs)
    bad_x = [math.nan, 1.0, math.inf, 2.0]
    bad_y = [1.0, math.nan, 1.0, -math.inf]
    x = np.concatenate([good_x, bad_x])[list(order)]
    y = np.concatenate([good_y, bad_y])[list(order)]
    result = locate(gap_index, x, y, crs, threads=threads)
    assert len(result) == len(order)
    exact = crs == "wgs84"  # other CRSs move points on edges by ~1e-9 degree
    for row, source in enumerate(order):
        record = result.record(row)
        if source >= len(GAP_CASES):
            assert record["status"] == "invalid"
            assert "is not a finite number" in record["error"]
            continue
        case = GAP_CASES[source]
        assert "error" not in record
        if exact or case.id.startswith(("in-", "gap-hole")):  # interior points only
            assert record["status"] == case.status, case.id
            assert codes(record) == chain(case.owner), case.id


def test_threads_do_not_change_locate(gap_index):
    rng = np.random.default_rng(7)
    lon, lat = case_arrays(GAP_CASES)
    x = np.concatenate([lon, rng.uniform(117.05, 117.2, 3000), [math.nan, 36.2]])
    y = np.concatenate([lat, rng.uniform(36.15, 36.23, 3000), [36.2, 117.1]])
    one = locate(gap_index, x, y, threads=1)
    two = locate(gap_index, x, y, threads=2)
    assert_same(one, two)
    assert one.status_names()[-2:].tolist() == ["invalid", "invalid"]


def assert_same(a: LookupResult, b: LookupResult) -> None:
    np.testing.assert_array_equal(a.unit_rows, b.unit_rows)
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_array_equal(a.distance_m, b.distance_m)
    np.testing.assert_array_equal(a.candidate_offsets, b.candidate_offsets)
    np.testing.assert_array_equal(a.candidate_rows, b.candidate_rows)
    assert (a.errors is None) == (b.errors is None)
    if a.errors is not None:
        assert a.errors.tolist() == b.errors.tolist()


def test_locate_empty(index):
    result = locate(index, [], [], "gcj02")
    assert len(result) == 0
    assert result.errors is None


def test_locate_docstring_example():
    index = JurisdictionIndex.from_arrays(["C"], ["c"], ["city"], [None], [box(117, 36, 118, 37)])
    result = locate(index, [117.5, 36.5, float("nan")], [36.5, 117.5, 1.0])
    assert result.status_names().tolist() == ["ok", "invalid", "invalid"]
    assert "look swapped" in result.errors[1]
    assert result.errors[2].startswith("lon=nan")


def test_locate_point_returns_the_record(index):
    lon, lat = lonlat(1, 1)
    record = locate_point(index, lon, lat, "wgs84")
    assert record == {
        "city": {"code": "370900000000", "name": "泰安市"},
        "district": {"code": "370902000000", "name": "泰山区"},
        "subdistrict": {"code": "370902001000", "name": "岱庙街道"},
        "community": {"code": C111, "name": "西南社区"},
        "status": "ok",
    }
