"""Input coordinate checks: one reason per bad row, naming the value and the range."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.coords import check_point, coordinate_problems
from geo.errors import InvalidCoordinateError, InvalidInputError, UnknownCRSError

LON_RANGE = "-180..180 degrees"
LAT_RANGE = "-90..90 degrees"

BAD_GEOGRAPHIC = [
    # (x, y, value named in the message, allowed range named in the message)
    (math.nan, 36.2, "lon=nan", LON_RANGE),
    (117.1, math.nan, "lat=nan", LAT_RANGE),
    (math.inf, 36.2, "lon=inf", LON_RANGE),
    (-math.inf, 36.2, "lon=-inf", LON_RANGE),
    (117.1, math.inf, "lat=inf", LAT_RANGE),
    (117.1, -math.inf, "lat=-inf", LAT_RANGE),
    (180.5, 36.2, "lon=180.5", LON_RANGE),
    (-180.000001, 36.2, "lon=-180.000001", LON_RANGE),
    (1e300, 36.2, "lon=1e+300", LON_RANGE),
    (117.1, 90.25, "lat=90.25", LAT_RANGE),
    (117.1, -95.0, "lat=-95.0", LAT_RANGE),
    (36.2, 117.1, "lat=117.1", LAT_RANGE),  # swapped axes are out of range too
]


@pytest.mark.parametrize("crs", [None, "wgs84", "cgcs2000", "gcj02", "bd09", "EPSG:4214"])
@pytest.mark.parametrize(("x", "y", "named", "allowed"), BAD_GEOGRAPHIC)
def test_geographic_problem_names_value_and_range(x, y, named, allowed, crs):
    problem = coordinate_problems([x], [y], crs)[0]
    assert named in problem
    assert f"allowed {allowed}" in problem


@pytest.mark.parametrize(("x", "y", "named", "allowed"), BAD_GEOGRAPHIC)
def test_check_point_raises_with_the_same_message(x, y, named, allowed):
    with pytest.raises(InvalidCoordinateError) as info:
        check_point(x, y)
    err = info.value
    assert str(err) == coordinate_problems([x], [y])[0]
    assert named in err.message
    assert allowed in err.message
    assert err.code == "invalid_coordinate"
    assert err.detail == {"x": x, "y": y, "crs": "wgs84"}
    assert isinstance(err, InvalidInputError)


@pytest.mark.parametrize(
    ("x", "y", "named"),
    [(math.nan, 4.0e6, "x=nan"), (5.0e5, math.inf, "y=inf"), (-math.inf, 4.0e6, "x=-inf")],
)
@pytest.mark.parametrize("crs", ["EPSG:32650", "EPSG:4548"])
def test_projected_problem_names_value(x, y, named, crs):
    problem = coordinate_problems([x], [y], crs)[0]
    assert named in problem
    assert "allowed any finite number" in problem


@pytest.mark.parametrize("crs", ["EPSG:32650", "EPSG:4548", "EPSG:3857"])
def test_projected_coordinates_have_no_degree_range(crs):
    # eastings and northings are far outside -180..180 and are fine
    assert coordinate_problems([508993.5, -2.0e7], [4007739.5, 1.0e7], crs).tolist() == [None, None]


@pytest.mark.parametrize(
    ("x", "y"),
    [(180.0, 90.0), (-180.0, -90.0), (0.0, 0.0), (117.1, 36.2), (-0.0, -0.0), (5e-324, -5e-324)],
)
def test_good_points_have_no_problem(x, y):
    assert coordinate_problems([x], [y])[0] is None
    assert check_point(x, y) is None


def test_lon_is_reported_before_lat():
    assert coordinate_problems([math.nan], [math.nan])[0].startswith("lon=nan")
    assert coordinate_problems([200.0], [100.0])[0].startswith("lon=200.0")


def test_one_reason_per_row_in_order():
    x = np.array([117.1, math.nan, 200.0, 117.2, 117.3])
    y = np.array([36.2, 36.2, 36.2, -91.0, 36.3])
    problems = coordinate_problems(x, y)
    assert problems.shape == (5,)
    assert problems.dtype == object
    assert problems[0] is None
    assert problems[4] is None
    assert problems[1].startswith("lon=nan")
    assert problems[2].startswith("lon=200.0")
    assert problems[3].startswith("lat=-91.0")


def test_empty_input():
    assert coordinate_problems([], []).shape == (0,)


def test_unknown_crs_is_rejected():
    with pytest.raises(UnknownCRSError):
        coordinate_problems([117.1], [36.2], "nonsense")


finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(st.one_of(finite, st.just(math.nan), st.just(math.inf)), st.one_of(finite, st.just(-math.inf)))
def test_problem_iff_not_finite_or_out_of_range(x, y):
    problem = coordinate_problems([x], [y])[0]
    good = math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90
    assert (problem is None) == good
    if not good:
        # non-finite values are reported first, then ranges; lon before lat
        if not math.isfinite(x):
            bad_name, bad_value = "lon", x
        elif not math.isfinite(y):
            bad_name, bad_value = "lat", y
        else:
            bad_name, bad_value = ("lon", x) if not -180 <= x <= 180 else ("lat", y)
        assert problem.startswith(f"{bad_name}={bad_value!r} ")
