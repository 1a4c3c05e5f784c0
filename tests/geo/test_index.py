"""JurisdictionIndex: the exact four-level lookup, checked against brute force."""

from __future__ import annotations

import dataclasses
import json
import math
import random
from unittest import mock

import numpy as np
import pytest
import shapely
from hypothesis import event, given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from shapely.geometry import GeometryCollection, LineString, MultiPoint, Point, Polygon, box

import geo.index
from geo.errors import BoundaryDataError, InvalidInputError
from geo.index import STATUSES, JurisdictionIndex, LookupResult
from geo.levels import LEVEL_KEYS
from tests.common import (
    BY_CODE,
    C111,
    C112,
    C121,
    C212,
    CASES,
    CITY,
    D1,
    D2,
    GAP_CASES,
    GAP_UNITS,
    GEOD,
    LEAF_CODES,
    NAME_OF,
    S11,
    S12,
    S21,
    UNITS,
    X0,
    Y0,
    Case,
    Unit,
    all_vertices,
    build_index,
    case_arrays,
    case_ids,
    chain,
    lonlat,
    oracle,
    probe_points,
    punch_hole,
    random_hierarchy,
    to_degrees,
    voronoi_cells,
    with_snap,
)

SETS = {"tiled": (UNITS, CASES), "gap": (GAP_UNITS, GAP_CASES)}
SET_CASES = [(name, case) for name, (_, cases) in SETS.items() for case in cases]
SET_CASE_IDS = [f"{name}-{case.id}" for name, case in SET_CASES]


@pytest.fixture(scope="module")
def indexes() -> dict[str, JurisdictionIndex]:
    return {name: build_index(units) for name, (units, _) in SETS.items()}


@pytest.fixture(scope="module")
def index(indexes) -> JurisdictionIndex:
    return indexes["tiled"]


def expected_record(case: Case, units: tuple[Unit, ...]) -> dict:
    """The JSON answer for ``case`` (distance checked separately)."""
    level_of = {u.code: u.level for u in units}
    record: dict = {
        key: None if code is None else {"code": code, "name": NAME_OF[code]}
        for key, code in case.expected.items()
    }
    record["status"] = case.status
    if case.status == "boundary":
        record["candidates"] = [
            {"code": c, "name": NAME_OF[c], "level": level_of[c]} for c in case.candidates
        ]
    return record


def assert_same_result(a: LookupResult, b: LookupResult) -> None:
    np.testing.assert_array_equal(a.unit_rows, b.unit_rows)
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_array_equal(a.distance_m, b.distance_m)  # NaNs compare equal here
    np.testing.assert_array_equal(a.candidate_offsets, b.candidate_offsets)
    np.testing.assert_array_equal(a.candidate_rows, b.candidate_rows)


# --- the canonical points -----------------------------------------------------------------
@pytest.mark.parametrize(("set_name", "case"), SET_CASES, ids=SET_CASE_IDS)
def test_record(indexes, set_name, case):
    units = SETS[set_name][0]
    result = indexes[set_name].lookup([case.lon], [case.lat])
    record = result.record(0)
    distance = record.pop("distance_m", None)
    assert record == expected_record(case, units)
    if case.status == "snapped":
        assert distance == pytest.approx(case.distance_m, abs=1.0)
    else:
        assert distance is None
    json.dumps(record)  # JSON-ready: plain str/float, no numpy scalars


@pytest.mark.parametrize(("set_name", "case"), SET_CASES, ids=SET_CASE_IDS)
def test_record_types(indexes, set_name, case):
    record = indexes[set_name].lookup([case.lon], [case.lat]).record(0)
    for key in LEVEL_KEYS:
        if record[key] is not None:
            assert type(record[key]["code"]) is str
            assert type(record[key]["name"]) is str
    assert type(record["status"]) is str
    if "distance_m" in record:
        assert type(record["distance_m"]) is float
        assert record["distance_m"] == round(record["distance_m"], 2)


@pytest.mark.parametrize("set_name", SETS)
def test_batch_matches_single_points(indexes, set_name):
    cases = SETS[set_name][1]
    index = indexes[set_name]
    lon, lat = case_arrays(cases)
    batch = index.lookup(lon, lat)
    assert len(batch) == len(cases)
    for i, case in enumerate(cases):
        single = index.lookup([case.lon], [case.lat])
        assert batch.record(i) == single.record(0), case.id


@pytest.mark.parametrize("set_name", SETS)
def test_cases_agree_with_oracle(set_name):
    # The hand-written expectations and the brute-force oracle say the same.
    units, cases = SETS[set_name]
    lon, lat = case_arrays(cases)
    for case, expected in zip(cases, oracle(units, lon, lat), strict=True):
        case = with_snap(case, 0)
        assert (expected.status, expected.codes, expected.candidates) == (
            case.status,
            case.expected,
            case.candidates,
        ), case.id


def test_boundary_candidates_in_code_order_and_lowest_wins(index):
    lon, lat = case_arrays(CASES)
    result = index.lookup(lon, lat)
    n_boundary = 0
    for i, case in enumerate(CASES):
        rows = result.candidates(i)
        if case.status != "boundary":
            assert len(rows) == 0
            continue
        n_boundary += 1
        codes = index.units.codes[rows].tolist()
        assert codes == sorted(codes)
        assert len(codes) >= 2
        assert result.record(i)["community"]["code"] == codes[0]
    assert n_boundary >= 15


def test_vertex_where_four_units_of_two_districts_meet(index):
    # (4, 2): C112 (D1/S11), C122 (D1/S12), C211 (D2/S21), C221 (D2/S22)
    record = index.lookup(*map(list, zip(lonlat(4, 2), strict=True))).record(0)
    assert record["status"] == "boundary"
    assert [c["code"] for c in record["candidates"]] == [
        "370902001002",
        "370902002002",
        "370911001001",
        "370911002001",
    ]
    assert {c["level"] for c in record["candidates"]} == {"community"}
    assert record["subdistrict"]["code"] == S11
    assert record["district"]["code"] == D1


def test_columns(indexes):
    cases = GAP_CASES
    lon, lat = case_arrays(cases)
    columns = indexes["gap"].lookup(lon, lat).columns()
    assert list(columns) == [
        *(f"{key}_{field}" for key in LEVEL_KEYS for field in ("code", "name")),
        "status",
        "distance_m",
        "candidates",
        "error",
    ]
    for column in columns.values():
        assert len(column) == len(cases)
    for i, case in enumerate(cases):
        for key, code in case.expected.items():
            assert columns[f"{key}_code"][i] == code
            assert columns[f"{key}_name"][i] == (None if code is None else NAME_OF[code])
        assert columns["status"][i] == case.status
        if case.status == "snapped":
            assert columns["distance_m"][i] == pytest.approx(case.distance_m, abs=1.0)
            assert columns["distance_m"][i] == round(columns["distance_m"][i], 2)
        else:
            assert math.isnan(columns["distance_m"][i])
        assert columns["candidates"][i] == (";".join(case.candidates) if case.candidates else None)
        assert columns["error"][i] is None


def test_status_names_and_codes(index):
    lon, lat = case_arrays(CASES)
    result = index.lookup(lon, lat)
    assert result.status_names().tolist() == [c.status for c in CASES]
    assert [STATUSES[s] for s in result.status] == [c.status for c in CASES]
    assert result.errors is None


# --- threads, batches, input forms --------------------------------------------------------
@pytest.fixture(scope="module")
def big_batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20240611)
    lon, lat = case_arrays(GAP_CASES)
    vx, vy = all_vertices().T
    ux = rng.uniform(X0 - 0.002, X0 + 8 / 64 + 0.002, 6000)
    uy = rng.uniform(Y0 - 0.002, Y0 + 4 / 64 + 0.002, 6000)
    x = np.concatenate([lon, vx, ux, lon])
    y = np.concatenate([lat, vy, uy, lat])
    order = rng.permutation(len(x))
    return x[order], y[order]


@pytest.mark.parametrize("threads", [2, 3, 7])
def test_threads_give_identical_results(indexes, big_batch, threads):
    index = indexes["gap"]
    x, y = big_batch
    one = index.lookup(x, y, threads=1)
    assert set(one.status_names()) == {"ok", "boundary", "gap", "snapped", "outside"}
    assert_same_result(index.lookup(x, y, threads=threads), one)


def test_default_threads_for_large_batches(indexes, big_batch):
    index = indexes["gap"]
    x, y = big_batch
    one = index.lookup(x, y, threads=1)
    with (
        mock.patch.object(geo.index, "_PARALLEL_MIN_POINTS", 100),
        mock.patch("os.cpu_count", return_value=4),
    ):
        assert_same_result(index.lookup(x, y), one)


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 9])
def test_small_batches_with_threads(index, n, threads):
    lon, lat = case_arrays(CASES[::5][:n])  # inside, edges, vertices, snapped, outside
    result = index.lookup(lon, lat, threads=threads)
    assert len(result) == n
    assert result.unit_rows.shape == (n, 4)
    assert len(result.candidate_offsets) == n + 1
    assert [result.record(i) for i in range(n)] == [
        index.lookup([a], [b]).record(0) for a, b in zip(lon, lat, strict=True)
    ]


def test_input_forms(index):
    lon, lat = case_arrays(CASES)
    reference = index.lookup(lon, lat)
    assert_same_result(index.lookup(lon.tolist(), lat.tolist()), reference)
    assert_same_result(index.lookup(lon.reshape(-1, 1), lat.reshape(-1, 1)), reference)
    reversed_result = index.lookup(lon[::-1], lat[::-1])  # non-contiguous views
    assert [reversed_result.record(i) for i in range(len(lon))] == [
        reference.record(i) for i in reversed(range(len(lon)))
    ]


def test_empty_lookup(index):
    result = index.lookup([], [])
    assert len(result) == 0
    assert all(len(column) == 0 for column in result.columns().values())


def test_bounds_and_memory(index):
    assert index.bounds == (X0, Y0, X0 + 8 / 64, Y0 + 4 / 64)
    assert index.nbytes > 0
    assert index.ranks_present == (0, 1, 2, 3)


def test_docstring_example():
    index = JurisdictionIndex.from_arrays(
        codes=["A", "A1", "A2"],
        names=["city", "west", "east"],
        levels=["city", "district", "district"],
        parent_codes=[None, "A", "A"],
        geometries=[box(0, 0, 0.2, 0.1), box(0, 0, 0.1, 0.1), box(0.1, 0, 0.2, 0.1)],
    )
    result = index.lookup([0.05, 0.1], [0.05, 0.05])
    assert result.status_names().tolist() == ["ok", "boundary"]
    assert result.record(1)["district"] == {"code": "A1", "name": "west"}
    assert result.record(1)["city"] == {"code": "A", "name": "city"}


# --- snapping -----------------------------------------------------------------------------
SNAP_CASES = [c for c in CASES if c.status in ("snapped", "outside")]


@pytest.mark.parametrize(
    ("snap", "case_id", "status", "owner", "distance"),
    [
        (0, "snap-west-30m", "outside", None, None),
        (0, "snap-tie-south-30m", "outside", None, None),
        (29, "snap-west-30m", "outside", None, None),
        (31, "snap-west-30m", "snapped", C111, 30),
        (100, "outside-west-80m", "snapped", C111, 80),
        (100, "outside-south-60m", "snapped", C212, 60),
        (100, "outside-far", "outside", None, None),
        (2e5, "outside-far", "snapped", C111, None),
    ],
)
def test_snap_distance_setting(snap, case_id, status, owner, distance):
    case = next(c for c in CASES if c.id == case_id)
    record = build_index(UNITS, snap_distance_m=snap).lookup([case.lon], [case.lat]).record(0)
    assert record["status"] == status
    assert {k: record[k] and record[k]["code"] for k in LEVEL_KEYS} == chain(owner)
    if distance is not None:
        assert record["distance_m"] == pytest.approx(distance, abs=1.0)
    if status == "outside":
        assert "distance_m" not in record


def test_snapping_off_changes_only_snapped_points():
    lon, lat = case_arrays(CASES)
    result = build_index(UNITS, snap_distance_m=0).lookup(lon, lat)
    for i, case in enumerate(CASES):
        expected = with_snap(case, 0)
        assert result.record(i)["status"] == expected.status
    assert "snapped" not in set(result.status_names())


@pytest.fixture(scope="module")
def utm():
    return Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_snapping_against_utm_distances(index, utm, seed):
    """Points up to 100 m off the set: snapped iff a community is within 50 m
    (measured independently, in UTM 50N), to the nearest one, at the right distance."""
    rng = np.random.default_rng(seed)
    city = next(u.geometry for u in UNITS if u.code == CITY)
    foot = shapely.line_interpolate_point(city.exterior, rng.uniform(0, 1, 300), normalized=True)
    lon, lat, _ = GEOD.fwd(
        shapely.get_x(foot), shapely.get_y(foot), rng.uniform(0, 360, 300), rng.uniform(0, 100, 300)
    )
    outside = ~shapely.covers(city, shapely.points(lon, lat))
    lon, lat = lon[outside], lat[outside]
    leaves = [u for u in UNITS if u.code in LEAF_CODES]
    projected = np.array(
        [
            shapely.transform(u.geometry, lambda xy: np.column_stack(utm.transform(xy[:, 0], xy[:, 1])))
            for u in leaves
        ]
    )
    px, py = utm.transform(lon, lat)
    # UTM's scale factor near its central meridian (117E) is 0.9996: divide it out
    dist = shapely.distance(projected[None, :], shapely.points(px, py)[:, None]) / 0.9996
    result = index.lookup(lon, lat)
    n_snapped = 0
    for i in range(len(lon)):
        record = result.record(i)
        best = dist[i].min()
        if abs(best - 50) < 1:
            continue
        if best < 50:
            n_snapped += 1
            assert record["status"] == "snapped"
            assert record["distance_m"] == pytest.approx(best, abs=1.0)
            near = {leaves[k].code for k in np.flatnonzero(dist[i] < best + 1.0)}
            assert record["community"]["code"] in near
            assert {k: record[k] and record[k]["code"] for k in LEVEL_KEYS} == chain(
                record["community"]["code"]
            )
        else:
            assert record["status"] == "outside"
            assert all(record[k] is None for k in LEVEL_KEYS)
    assert n_snapped > 30


def test_snapping_goes_to_leaves_only():
    # Only the city and one district with no subdivisions: the district is the leaf.
    units = [
        Unit("A", "a", "city", None, box(117.0, 36.0, 117.1, 36.1)),
        Unit("A1", "a1", "district", "A", box(117.0, 36.0, 117.05, 36.1)),
        Unit("A2", "a2", "district", "A", box(117.05, 36.0, 117.1, 36.1)),
    ]
    index = build_index(units)
    lon, lat = np.array([116.9998, 117.0502, 117.2]), np.array([36.05, 35.9998, 36.05])
    result = index.lookup(lon, lat)
    assert result.status_names().tolist() == ["snapped", "snapped", "outside"]
    assert result.record(0)["district"]["code"] == "A1"
    assert result.record(0)["city"]["code"] == "A"
    assert result.record(1)["district"]["code"] == "A2"
    assert result.record(0)["subdistrict"] is None


# --- hierarchy ------------------------------------------------------------------------------
def _relinked(code: str, parent: str) -> list[Unit]:
    return _replace(code, parent=parent)


def test_parents_come_from_the_hierarchy_not_geometry():
    # C111 declared a child of S21 (in D2), although S11 in D1 is where it lies.
    index = build_index(_relinked(C111, S21))
    lon, lat = zip(lonlat(1, 1), lonlat(2, 2), lonlat(3, 1), strict=True)
    result = index.lookup(list(lon), list(lat))
    inside, vertex, neighbour = (result.record(i) for i in range(3))
    assert inside["community"]["code"] == C111
    assert inside["subdistrict"]["code"] == S21
    assert inside["district"]["code"] == D2
    assert vertex["status"] == "boundary"
    assert (vertex["community"]["code"], vertex["subdistrict"]["code"]) == (C111, S21)
    assert (neighbour["community"]["code"], neighbour["subdistrict"]["code"]) == (C112, S11)


def test_gap_answered_by_finest_covering_level(indexes):
    lon, lat = lonlat(1, 3)
    record = indexes["gap"].lookup([lon], [lat]).record(0)
    assert record["status"] == "gap"
    assert record["community"] is None
    assert record["subdistrict"] == {"code": S12, "name": NAME_OF[S12]}
    assert record["district"]["code"] == D1
    assert record["city"]["code"] == CITY


def test_gap_on_a_shared_subdistrict_edge_is_boundary_at_that_level():
    # Without communities in S11 and S12, their shared edge resolves at level 2.
    units = [u for u in UNITS if not (u.level == "community" and u.parent in (S11, S12))]
    index = build_index(units)
    lon, lat = lonlat(1, 2)
    record = index.lookup([lon], [lat]).record(0)
    assert record["status"] == "boundary"
    assert record["community"] is None
    assert record["subdistrict"]["code"] == S11
    assert record["candidates"] == [
        {"code": S11, "name": NAME_OF[S11], "level": "subdistrict"},
        {"code": S12, "name": NAME_OF[S12], "level": "subdistrict"},
    ]
    inside = index.lookup([lonlat(1, 1)[0]], [lonlat(1, 1)[1]]).record(0)
    assert (inside["status"], inside["subdistrict"]["code"]) == ("gap", S11)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_unit_order_does_not_matter(index, seed):
    shuffled = list(UNITS)
    random.Random(seed).shuffle(shuffled)
    lon, lat = case_arrays(CASES)
    a, b = index.lookup(lon, lat), build_index(shuffled).lookup(lon, lat)
    assert [a.record(i) for i in range(len(lon))] == [b.record(i) for i in range(len(lon))]


LEVEL_SPELLINGS = {
    "keys": {"city": "city", "district": "district", "subdistrict": "subdistrict", "community": "community"},
    "aliases": {
        "city": "prefecture",
        "district": "county",
        "subdistrict": "township",
        "community": "village",
    },
    "chinese": {"city": "市", "district": "区", "subdistrict": "街道", "community": "社区"},
    "nbs-numbers": {"city": 2, "district": 3, "subdistrict": 4, "community": 5},
    "nbs-text": {"city": "2", "district": "3", "subdistrict": "4", "community": "5"},
}


@pytest.mark.parametrize("spelling", LEVEL_SPELLINGS)
def test_level_spellings(index, spelling):
    names = LEVEL_SPELLINGS[spelling]
    other = JurisdictionIndex.from_arrays(
        [u.code for u in UNITS],
        [u.name for u in UNITS],
        [names[u.level] for u in UNITS],
        [u.parent for u in UNITS],
        [u.geometry for u in UNITS],
    )
    lon, lat = case_arrays(CASES)
    assert_same_result(other.lookup(lon, lat), index.lookup(lon, lat))


@pytest.mark.parametrize("missing", [None, float("nan"), "", "None", "nan", "<NA>"])
def test_missing_parent_spellings_for_the_top_level(missing):
    units = [
        Unit(u.code, u.name, u.level, missing if u.level == "city" else u.parent, u.geometry) for u in UNITS
    ]
    assert build_index(units).units.parents[0] == -1


@pytest.mark.parametrize(
    ("levels", "finest"),
    [
        (("city", "district"), "district"),
        (("district", "subdistrict", "community"), "community"),
        (("city",), "city"),
    ],
)
def test_partial_level_sets(levels, finest):
    units = [u for u in UNITS if u.level in levels]
    index = build_index(units)
    for case in CASES:
        if case.status not in ("ok", "boundary") or case.owner is None:
            continue
        record = index.lookup([case.lon], [case.lat]).record(0)
        expected = {k: (v if k in levels else None) for k, v in chain(case.owner).items()}
        got = {k: record[k] and record[k]["code"] for k in LEVEL_KEYS}
        if record["status"] == "ok":
            assert got == expected, case.id
        else:
            # on a shared edge of the finest level present, the lowest code wins
            assert record["status"] == "boundary"
            assert got[finest] == record["candidates"][0]["code"]
            assert got[finest] <= expected[finest]


def test_unit_table(index):
    units = index.units
    assert len(units) == len(UNITS)
    rank = {key: r for r, key in enumerate(LEVEL_KEYS)}
    assert units.codes.tolist() == [u.code for u in sorted(UNITS, key=lambda u: (rank[u.level], u.code))]
    assert units.ranks.tolist() == [rank[BY_CODE[c].level] for c in units.codes]
    for code, row in units.row_of_code.items():
        assert units.codes[row] == code
        parent_row = units.parents[row]
        parent = None if parent_row < 0 else units.codes[parent_row]
        assert parent == BY_CODE[code].parent
        assert units.names[row] == NAME_OF[code]
    assert units.has_children.tolist() == [code not in LEAF_CODES for code in units.codes]


# --- invalid unit tables --------------------------------------------------------------------
def _replace(target: str, /, **changes) -> list[Unit]:
    return [dataclasses.replace(u, **changes) if u.code == target else u for u in UNITS]


@pytest.mark.parametrize(
    ("units", "match"),
    [
        pytest.param(
            _replace(C112, code=C111), r"unique; duplicated: \['370902001001'\]", id="duplicate-code"
        ),
        pytest.param(
            _replace(C111, parent="370902009000"),
            r"unit '370902001001': parent code '370902009000' is not in the set",
            id="unresolved-parent",
        ),
        pytest.param(
            _replace(C111, parent=D1),
            r"parent '370902000000' at level district; .*one level up",
            id="grandparent",
        ),
        pytest.param(_replace(C111, parent=C112), r"at level community; .*one level up", id="sibling-parent"),
        pytest.param(_replace(S11, parent=C111), r"at level community; .*one level up", id="child-as-parent"),
        pytest.param(_replace(C111, parent=None), r"'370902001001' has no parent code", id="orphan"),
        pytest.param(
            _replace(C111, geometry=Point(117.07, 36.16)), r"'370902001001' has geometry Point", id="point"
        ),
        pytest.param(
            _replace(C111, geometry=LineString([(117.07, 36.16), (117.08, 36.17)])),
            r"geometry LineString",
            id="line",
        ),
        pytest.param(
            _replace(C111, geometry=MultiPoint([(117.07, 36.16), (117.08, 36.17)])),
            r"geometry MultiPoint",
            id="mpoint",
        ),
        pytest.param(
            _replace(C111, geometry=GeometryCollection([box(117.07, 36.16, 117.08, 36.17)])),
            r"geometry GeometryCollection",
            id="collection",
        ),
        pytest.param(_replace(C111, geometry=Polygon()), r"geometry empty Polygon", id="empty-polygon"),
        pytest.param(_replace(C111, geometry=None), r"geometry missing", id="missing-geometry"),
        pytest.param(_replace(C111, level="province"), r"unknown level 'province'", id="unknown-level"),
        pytest.param(_replace(C111, level=7), r"unknown level 7; allowed: city, ", id="bad-number"),
        pytest.param([], r"the boundary set is empty", id="empty-set"),
    ],
)
def test_invalid_unit_tables(units, match):
    with pytest.raises(BoundaryDataError, match=match) as info:
        build_index(units)
    assert info.value.code == "invalid_boundaries"
    assert isinstance(info.value, InvalidInputError)


def test_duplicate_codes_listed_in_detail():
    units = [*UNITS, UNITS[-1], UNITS[-2]]
    with pytest.raises(BoundaryDataError) as info:
        build_index(units)
    assert info.value.detail["duplicates"] == sorted([UNITS[-1].code, UNITS[-2].code])


def test_bad_parent_detail_names_unit_and_parent():
    with pytest.raises(BoundaryDataError) as info:
        build_index(_replace(C121, parent="nope"))
    assert info.value.detail == {"code": C121, "parent_code": "nope"}


@pytest.mark.parametrize("short", ["names", "levels", "parent_codes", "geometries"])
def test_arrays_of_different_length(short):
    arrays = {
        "codes": [u.code for u in UNITS],
        "names": [u.name for u in UNITS],
        "levels": [u.level for u in UNITS],
        "parent_codes": [u.parent for u in UNITS],
        "geometries": [u.geometry for u in UNITS],
    }
    arrays[short] = arrays[short][:-1]
    with pytest.raises(BoundaryDataError, match="differ in length"):
        JurisdictionIndex.from_arrays(**arrays)


# --- property: random hierarchies against the brute-force oracle ----------------------------
@st.composite
def hierarchies(draw):  # type: ignore[no-untyped-def]
    size = draw(st.integers(2, 32))
    seeds = draw(
        st.lists(st.tuples(st.integers(0, size), st.integers(0, size)), min_size=1, max_size=16, unique=True)
    )
    cells = voronoi_cells(seeds, size)
    n = len(cells)
    holes = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    cells = [punch_hole(c) if h else c for c, h in zip(cells, holes, strict=True)]
    subdistrict_of = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    district_of = draw(st.lists(st.integers(0, 2), min_size=5, max_size=5))
    keep = draw(st.lists(st.sampled_from([True, True, True, False]), min_size=n, max_size=n))
    return size, cells, subdistrict_of, district_of, keep


@settings(max_examples=80, deadline=None)
@given(
    data=hierarchies(),
    unit_exp=st.sampled_from([9, 10, 12]),
    finest_exp=st.dictionaries(st.integers(0, 3), st.integers(8, 13)),
    refine=st.dictionaries(st.integers(0, 3), st.sampled_from([1, 2, 4, 8])),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_hierarchies_match_oracle(data, unit_exp, finest_exp, refine, seed):
    size, cells, subdistrict_of, district_of, keep = data
    unit = 2.0**-unit_exp
    units = random_hierarchy(cells, subdistrict_of, district_of, keep, unit)
    rng = np.random.default_rng(seed)
    lattice = probe_points(cells, size, rng, n_random=200)
    points = to_degrees(lattice, unit)
    vertices = to_degrees(shapely.get_coordinates(np.array(cells, dtype=object)), unit)
    points = np.concatenate(
        [points, vertices + rng.choice([1e-12, -1e-12, 5e-10, -2e-9], size=vertices.shape)]
    )
    lon, lat = points[:, 0], points[:, 1]

    cell_sizes = {rank: 2.0**-exp for rank, exp in finest_exp.items()}
    with mock.patch.dict(geo.index._FINEST_CELL, cell_sizes), mock.patch.dict(geo.index._REFINE, refine):
        index = build_index(units, snap_distance_m=0)
    result = index.lookup(lon, lat)
    expected = oracle(units, lon, lat)
    status = result.status_names()
    for name in sorted(set(status)):
        event(f"status {name}")
    if any(len(want.candidates) > 2 for want in expected):
        event("3+ units meet")
    codes = np.append(index.units.codes, None)
    for i, want in enumerate(expected):
        got_codes = dict(zip(LEVEL_KEYS, codes[result.unit_rows[i]].tolist(), strict=True))
        got_candidates = tuple(index.units.codes[result.candidates(i)].tolist())
        assert (status[i], got_codes, got_candidates) == (want.status, want.codes, want.candidates), (
            f"point {i} ({lon[i]!r}, {lat[i]!r})"
        )
        # The scalar path answers exactly the points covered at the finest level, the same.
        one = _scalar_answer(index, float(lon[i]), float(lat[i]))
        if want.status in ("ok", "boundary") and want.codes[LEVEL_KEYS[index.ranks_present[-1]]]:
            assert one == result.record(i), f"point {i} ({lon[i]!r}, {lat[i]!r})"
        else:
            assert one is None or one == result.record(i), f"point {i} ({lon[i]!r}, {lat[i]!r})"


def _scalar_answer(index: JurisdictionIndex, lon: float, lat: float) -> dict | None:
    """What the single-point path answers: resolve_one's rows as UnitTable.answer renders them."""
    found = index.resolve_one(lon, lat)
    if found is None:
        return None
    row, shared = found
    return index.units.answer(row, STATUSES.index("boundary" if shared else "ok"), shared)


@pytest.mark.parametrize("case", CASES, ids=case_ids(CASES))
def test_single_point_lookup_matches_the_batch(index, case):
    """One point takes a shortcut when its cell is pure; the answer is the batch's."""
    lon, lat = case_arrays(CASES)
    batch = index.lookup(lon, lat)
    i = CASES.index(case)
    single = index.lookup([case.lon], [case.lat])
    assert single.record(0) == batch.record(i)
    assert single.candidate_offsets.tolist() == [0, len(batch.candidates(i))]
    # Without any arrays: the same answer, or None for the points it leaves to the batch.
    one = _scalar_answer(index, case.lon, case.lat)
    if case.status in ("ok", "boundary"):
        assert one == batch.record(i)
    else:
        assert one is None
