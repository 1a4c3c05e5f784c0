"""CRS parsing and the WGS84 / GCJ-02 / BD-09 / EPSG transformations."""

from __future__ import annotations

import warnings

import numpy as np
import prcoords
import pyproj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.crs import (
    BD09,
    CRS,
    GCJ02,
    NAMED_CRS,
    WGS84,
    bd09_to_gcj02,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    parse_crs,
    point_to_wgs84,
    to_wgs84,
    wgs84_to_gcj02,
)
from geo.errors import InvalidInputError, UnknownCRSError
from tests.common import CASES, case_arrays

# Well inside the rectangle where GCJ-02 applies (the offset is < 0.01 degree).
china_lon = st.floats(73.5, 135.0, allow_nan=False)
china_lat = st.floats(18.0, 53.0, allow_nan=False)
china_points = st.lists(st.tuples(china_lon, china_lat), min_size=1, max_size=40)


def _xy(points: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    arr = np.array(points, dtype=float)
    return arr[:, 0], arr[:, 1]


# --- parse_crs -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "name", "epsg"),
    [
        (None, "wgs84", 4326),
        ("wgs84", "wgs84", 4326),
        ("WGS84", "wgs84", 4326),
        ("WGS-84", "wgs84", 4326),
        (" wgs_84 ", "wgs84", 4326),
        ("EPSG:4326", "wgs84", 4326),
        ("epsg:4326", "wgs84", 4326),
        ("4326", "wgs84", 4326),
        (4326, "wgs84", 4326),
        ("cgcs2000", "cgcs2000", 4490),
        ("CGCS2000", "cgcs2000", 4490),
        ("EPSG:4490", "cgcs2000", 4490),
        (4490, "cgcs2000", 4490),
        ("gcj02", "gcj02", None),
        ("GCJ-02", "gcj02", None),
        ("gcj", "gcj02", None),
        ("mars", "gcj02", None),
        ("amap", "gcj02", None),
        ("bd09", "bd09", None),
        ("BD-09", "bd09", None),
        ("bd09ll", "bd09", None),
        ("baidu", "bd09", None),
        ("EPSG:32650", "EPSG:32650", 32650),
        ("epsg:4548", "EPSG:4548", 4548),
        ("4527", "EPSG:4527", 4527),
        (4547, "EPSG:4547", 4547),
        (3857, "EPSG:3857", 3857),
    ],
)
def test_parse_crs_accepted_forms(value, name, epsg):
    crs = parse_crs(value)
    assert crs.name == name
    assert crs.epsg == epsg
    assert str(crs) == name


@pytest.mark.parametrize("crs", [WGS84, GCJ02, BD09, CRS("EPSG:32650", 32650)])
def test_parse_crs_passes_crs_through(crs):
    assert parse_crs(crs) is crs


@pytest.mark.parametrize(
    ("value", "is_wgs84", "is_geographic"),
    [
        ("wgs84", True, True),
        ("cgcs2000", True, True),
        ("gcj02", False, True),
        ("bd09", False, True),
        ("EPSG:4214", False, True),  # Beijing 1954, geographic
        ("EPSG:32650", False, False),
        ("EPSG:4548", False, False),
    ],
)
def test_crs_properties(value, is_wgs84, is_geographic):
    crs = parse_crs(value)
    assert crs.is_wgs84 is is_wgs84
    assert crs.is_geographic is is_geographic


@pytest.mark.parametrize(
    "value",
    [
        "foo",
        "",
        "  ",
        "wgs 84",
        "EPSG:",
        "epsg:abc",
        "utm50",
        "EPSG:999999",
        0,
        999999,
        "-4326",
        "4_326",
        "EPSG:-4548",
    ],
)
def test_parse_crs_unknown_names_the_value(value):
    with pytest.raises(UnknownCRSError) as info:
        parse_crs(value)
    err = info.value
    assert repr(value) in str(err)
    assert err.code == "unknown_crs"
    assert err.detail["value"] == str(value)
    assert err.detail["allowed"] == [*NAMED_CRS, "EPSG:<code>"]
    assert isinstance(err, InvalidInputError)


@pytest.mark.parametrize("value", ["foo", "wgs 84", "epsg:abc"])
def test_parse_crs_unknown_name_lists_allowed_forms(value):
    with pytest.raises(UnknownCRSError, match="allowed: wgs84, cgcs2000, gcj02, bd09 or EPSG:<code>"):
        parse_crs(value)


def test_parse_crs_unknown_epsg_says_proj_does_not_know_it():
    with pytest.raises(UnknownCRSError, match=r"EPSG:999999 is not known to PROJ"):
        parse_crs("EPSG:999999")


# --- GCJ-02 / BD-09 round trips ---------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(china_points)
def test_gcj02_round_trip(points):
    lon, lat = _xy(points)
    glon, glat = wgs84_to_gcj02(lon, lat)
    # the obfuscation really moves points (tens to hundreds of metres)
    assert np.all(np.hypot(glon - lon, glat - lat) > 1e-4)
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    np.testing.assert_allclose(wlon, lon, rtol=0, atol=1e-8)
    np.testing.assert_allclose(wlat, lat, rtol=0, atol=1e-8)


@settings(max_examples=60, deadline=None)
@given(china_points)
def test_bd09_round_trip(points):
    glon, glat = _xy(points)
    blon, blat = gcj02_to_bd09(glon, glat)
    assert np.all(np.hypot(blon - glon, blat - glat) > 1e-3)
    rlon, rlat = bd09_to_gcj02(blon, blat)
    np.testing.assert_allclose(rlon, glon, rtol=0, atol=1e-8)
    np.testing.assert_allclose(rlat, glat, rtol=0, atol=1e-8)


@pytest.mark.parametrize(
    "crs", ["gcj02", "bd09", "wgs84", "cgcs2000", "EPSG:32650", "EPSG:4548", "EPSG:4527"]
)
@settings(max_examples=25, deadline=None)
@given(points=st.lists(st.tuples(st.floats(116.0, 118.4), st.floats(35.0, 37.0)), min_size=1, max_size=20))
def test_from_wgs84_then_to_wgs84_round_trip(crs, points):
    lon, lat = _xy(points)
    x, y = from_wgs84(lon, lat, crs)
    back_lon, back_lat = to_wgs84(x, y, crs)
    np.testing.assert_allclose(back_lon, lon, rtol=0, atol=1e-8)
    np.testing.assert_allclose(back_lat, lat, rtol=0, atol=1e-8)


@pytest.mark.parametrize(
    "crs", ["gcj02", "bd09", "wgs84", "cgcs2000", "EPSG:32650", "EPSG:4548", "EPSG:4527"]
)
@settings(max_examples=25, deadline=None)
@given(lon=st.floats(70.0, 140.0), lat=st.floats(15.0, 56.0))
def test_point_to_wgs84_matches_the_array_form(crs, lon, lat):
    # Points on both sides of the GCJ-02 rectangle, given in each CRS.
    x, y = from_wgs84([lon], [lat], crs)
    expected = to_wgs84(x, y, crs)
    got = point_to_wgs84(float(x[0]), float(y[0]), crs)
    assert got == pytest.approx((float(expected[0][0]), float(expected[1][0])), abs=1e-9)
    assert all(type(v) is float for v in got)


# --- agreement with the prcoords reference implementation ------------------------------
# prcoords works on (lat, lon) pairs, one at a time.
@settings(max_examples=60, deadline=None)
@given(china_points)
def test_wgs84_to_gcj02_matches_prcoords(points):
    lon, lat = _xy(points)
    glon, glat = wgs84_to_gcj02(lon, lat)
    ref = np.array([prcoords.wgs_gcj((b, a)) for a, b in points])
    np.testing.assert_allclose(glat, ref[:, 0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(glon, ref[:, 1], rtol=0, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(china_points)
def test_gcj02_to_wgs84_matches_prcoords(points):
    lon, lat = _xy(points)
    wlon, wlat = gcj02_to_wgs84(lon, lat)
    ref = np.array([prcoords.gcj_wgs_bored((b, a)) for a, b in points])
    np.testing.assert_allclose(wlat, ref[:, 0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(wlon, ref[:, 1], rtol=0, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(china_points)
def test_gcj02_to_bd09_matches_prcoords(points):
    lon, lat = _xy(points)
    blon, blat = gcj02_to_bd09(lon, lat)
    ref = np.array([prcoords.gcj_bd((b, a)) for a, b in points])
    np.testing.assert_allclose(blat, ref[:, 0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(blon, ref[:, 1], rtol=0, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(china_points)
def test_bd09_to_gcj02_matches_prcoords(points):
    lon, lat = _xy(points)
    glon, glat = bd09_to_gcj02(lon, lat)
    ref = np.array([prcoords.bd_gcj_bored((b, a)) for a, b in points])
    np.testing.assert_allclose(glat, ref[:, 0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(glon, ref[:, 1], rtol=0, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(china_points)
def test_to_wgs84_from_bd09_matches_prcoords(points):
    lon, lat = _xy(points)
    wlon, wlat = to_wgs84(lon, lat, "bd09")
    ref = np.array([prcoords.bd_wgs_bored((b, a)) for a, b in points])
    np.testing.assert_allclose(wlat, ref[:, 0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(wlon, ref[:, 1], rtol=0, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(china_points)
def test_from_wgs84_to_bd09_matches_prcoords(points):
    lon, lat = _xy(points)
    blon, blat = from_wgs84(lon, lat, "bd09")
    ref = np.array([prcoords.wgs_bd((b, a)) for a, b in points])
    np.testing.assert_allclose(blat, ref[:, 0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(blon, ref[:, 1], rtol=0, atol=1e-9)


def test_gcj02_known_offset_near_taian():
    # The doctest value: GCJ-02 is a few hundred metres north-east of WGS84 here.
    lon, lat = to_wgs84([117.135], [36.195], "gcj02")
    assert abs(lon[0] - 117.1295) < 0.001
    assert 0.003 < 117.135 - lon[0] < 0.008
    assert -0.003 < 36.195 - lat[0] < 0.003


# --- outside China GCJ-02 is the identity -------------------------------------------------
outside_china = st.one_of(
    st.tuples(st.floats(-180, 71.9), st.floats(-90, 90)),
    st.tuples(st.floats(137.9, 180), st.floats(-90, 90)),
    st.tuples(st.floats(-180, 180), st.floats(-90, 0.8)),
    st.tuples(st.floats(-180, 180), st.floats(55.9, 90)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(outside_china, min_size=1, max_size=20))
def test_gcj02_is_identity_outside_china(points):
    lon, lat = _xy(points)
    for transform in (wgs84_to_gcj02, gcj02_to_wgs84):
        tlon, tlat = transform(lon, lat)
        np.testing.assert_array_equal(tlon, lon)
        np.testing.assert_array_equal(tlat, lat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # prcoords warns about non-Chinese coordinates
        ref = np.array([prcoords.wgs_gcj((b, a)) for a, b in points])
    np.testing.assert_array_equal(ref[:, 1], lon)


@pytest.mark.parametrize(
    ("place", "lon", "lat"),
    [("Paris", 2.35, 48.85), ("New York", -74.0, 40.7), ("Tokyo", 139.7, 35.7), ("Singapore", 103.8, 0.5)],
)
def test_gcj02_identity_at_named_places_outside_china(place, lon, lat):
    assert to_wgs84([lon], [lat], "gcj02") == (pytest.approx([lon]), pytest.approx([lat]))
    x, y = from_wgs84(lon, lat, "gcj02")
    assert (float(x), float(y)) == (lon, lat)


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        (72.003, 30.0),
        (72.004, 30.0),
        (137.8347, 40.0),
        (137.8348, 40.0),
        (100.0, 0.8292),
        (100.0, 0.8293),
        (100.0, 55.8271),
        (100.0, 55.8272),
        (120.0, 58.0),
    ],
)
def test_china_rectangle_edges_match_prcoords(lon, lat):
    inside = prcoords.sanity_in_china_p(prcoords.Coords(lat, lon))
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert (float(glon), float(glat)) != (lon, lat) if inside else (float(glon), float(glat)) == (lon, lat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = prcoords.wgs_gcj((lat, lon))
    assert float(glat) == pytest.approx(ref.lat, abs=1e-9)
    assert float(glon) == pytest.approx(ref.lon, abs=1e-9)


def test_mixed_batch_in_and_outside_china():
    lon = np.array([117.1, 2.35, 117.1])
    lat = np.array([36.2, 48.85, 36.2])
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert glon[1] == 2.35
    assert glat[1] == 48.85
    assert glon[0] == glon[2] != 117.1


# --- EPSG via pyproj ----------------------------------------------------------------------
def test_epsg_4547_is_not_the_zone_of_taian():
    # EPSG:4547 is the CGCS2000 3-degree Gauss-Kruger zone with CM 114E; Tai'an
    # (117.1E) is in the CM 117E zone, EPSG:4548 (4527 is the same with zone prefix).
    assert "114E" in pyproj.CRS.from_epsg(4547).name
    assert "117E" in pyproj.CRS.from_epsg(4548).name
    west, _, east, _ = pyproj.CRS.from_epsg(4548).area_of_use.bounds
    assert west < 117.1 < east


@pytest.mark.parametrize("epsg", [32650, 4548, 4527, 3857, 4214])
def test_epsg_transforms_agree_with_pyproj(epsg):
    lon, lat = case_arrays(CASES)
    forward = pyproj.Transformer.from_crs(4326, epsg, always_xy=True)
    x, y = from_wgs84(lon, lat, f"EPSG:{epsg}")
    ex, ey = forward.transform(lon, lat)
    np.testing.assert_array_equal(x, ex)
    np.testing.assert_array_equal(y, ey)
    back_lon, back_lat = to_wgs84(x, y, epsg)
    np.testing.assert_allclose(back_lon, lon, rtol=0, atol=1e-9)
    np.testing.assert_allclose(back_lat, lat, rtol=0, atol=1e-9)


def test_projected_zones_of_taian_are_consistent():
    lon, lat = case_arrays(tuple(c for c in CASES if c.id != "outside-far"))
    gk_x, gk_y = from_wgs84(lon, lat, "EPSG:4548")
    zoned_x, zoned_y = from_wgs84(lon, lat, "EPSG:4527")
    utm_x, utm_y = from_wgs84(lon, lat, "EPSG:32650")
    # Tai'an is a few km east of the 117E central meridian, 4000 km from the equator.
    assert np.all((gk_x > 500_000) & (gk_x < 520_000))
    assert np.all((gk_y > 4_000_000) & (gk_y < 4_020_000))
    # zone 39 is the same projection with "39" prefixed to the easting
    np.testing.assert_allclose(zoned_x - 39_000_000, gk_x, rtol=0, atol=1e-6)
    np.testing.assert_allclose(zoned_y, gk_y, rtol=0, atol=1e-6)
    # UTM 50N shares the central meridian; only the scale factor 0.9996 differs
    # (GRS80 vs WGS84 ellipsoids differ by far less than a millimetre here).
    np.testing.assert_allclose(utm_x - 500_000, 0.9996 * (gk_x - 500_000), rtol=0, atol=1e-3)
    np.testing.assert_allclose(utm_y, 0.9996 * gk_y, rtol=0, atol=1e-3)


@pytest.mark.parametrize("crs", ["wgs84", "cgcs2000", "EPSG:4490", 4326])
def test_wgs84_and_cgcs2000_are_not_transformed(crs):
    lon, lat = case_arrays(CASES)
    tlon, tlat = to_wgs84(lon, lat, crs)
    np.testing.assert_array_equal(tlon, lon)
    np.testing.assert_array_equal(tlat, lat)
    flon, flat = from_wgs84(lon, lat, crs)
    np.testing.assert_array_equal(flon, lon)
    np.testing.assert_array_equal(flat, lat)


def test_to_wgs84_rejects_unknown_crs():
    with pytest.raises(UnknownCRSError, match="'nope'"):
        to_wgs84([117.1], [36.2], "nope")
