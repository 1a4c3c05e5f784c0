"""The lookup inside PostGIS answers exactly like the in-memory engine."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import shapely

from boundaries.bundled import index_from_frame, load_taian
from geo.index import LookupResult
from store.engine import make_engine, upgrade
from store.generations import import_generation
from store.postgis_lookup import lookup_postgis, to_result
from tests.common import CASES, GAP_CASES, GAP_UNITS, UNITS, all_vertices, case_arrays, lonlat
from tests.conftest import fresh_postgis_database, units_frame

pytestmark = pytest.mark.postgis


def _both(url: str, frame, lon: np.ndarray, lat: np.ndarray) -> tuple[LookupResult, LookupResult]:  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    upgrade(engine)
    info = import_generation(engine, frame, name="t", valid_from=dt.date(2024, 1, 1))
    index = index_from_frame(frame)
    in_db = to_result(lookup_postgis(engine, info.id, lon, lat, index.snap_distance_m), index.units)
    engine.dispose()
    return index.lookup(lon, lat), in_db


def _assert_same(memory: LookupResult, db: LookupResult) -> None:
    mem_cols, db_cols = memory.columns(), db.columns()
    for column in mem_cols:
        if column == "distance_m":
            assert np.allclose(mem_cols[column], db_cols[column], atol=0.5, equal_nan=True)
        else:
            mismatch = np.flatnonzero(mem_cols[column] != db_cols[column])
            assert len(mismatch) == 0, (
                column,
                mismatch[:5],
                mem_cols[column][mismatch[:5]],
                db_cols[column][mismatch[:5]],
            )


def _probe_points(units) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    geoms = np.array([u.geometry for u in units], dtype=object)
    vertices = shapely.get_coordinates(geoms)
    midpoints = (vertices[:-1] + vertices[1:]) / 2
    rng = np.random.default_rng(3)
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    random = np.column_stack(
        [rng.uniform(minx - 0.002, maxx + 0.002, 3000), rng.uniform(miny - 0.002, maxy + 0.002, 3000)]
    )
    points = np.concatenate([vertices, midpoints, random])
    return points[:, 0], points[:, 1]


@pytest.mark.parametrize(("units", "cases"), [(UNITS, CASES), (GAP_UNITS, GAP_CASES)], ids=["tiled", "gaps"])
def test_identical_answers_on_canonical_and_probe_points(postgis_server: str, units, cases) -> None:  # type: ignore[no-untyped-def]
    lon_c, lat_c = case_arrays(cases)
    lon_p, lat_p = _probe_points(units)
    lon, lat = np.concatenate([lon_c, lon_p]), np.concatenate([lat_c, lat_p])
    memory, db = _both(fresh_postgis_database(postgis_server), units_frame(units), lon, lat)
    assert set(memory.status_names()) >= {"ok", "boundary", "outside"}
    _assert_same(memory, db)


def test_identical_answers_on_the_bundled_set(postgis_server: str) -> None:
    frame = load_taian()
    communities = np.asarray(frame.geometry.values[frame["level"] == "community"])
    vertices = shapely.get_coordinates(communities)
    rng = np.random.default_rng(11)
    pick = vertices[rng.integers(0, len(vertices), 4000)]
    minx, miny, maxx, maxy = frame.total_bounds
    random = np.column_stack([rng.uniform(minx, maxx, 6000), rng.uniform(miny, maxy, 6000)])
    points = np.concatenate([pick, random])
    memory, db = _both(fresh_postgis_database(postgis_server), frame, points[:, 0], points[:, 1])
    assert (memory.status_names() == "boundary").sum() > 1000
    _assert_same(memory, db)


def test_all_vertices_of_the_toy_set(postgis_server: str) -> None:
    vertices = all_vertices()
    memory, db = _both(
        fresh_postgis_database(postgis_server), units_frame(UNITS), vertices[:, 0], vertices[:, 1]
    )
    _assert_same(memory, db)


def _at_distance_from_outline(index, metres: float) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """Points ``metres`` outside the middle of long outline edges of the toy set, in the
    snap plane (geo.snap's rule): the edge's chord there is the nearest boundary."""
    from pyproj import Transformer

    to_plane = Transformer.from_crs("EPSG:4326", index.snap_projection, always_xy=True)
    # (start, end) in plan units, the set lying left of start -> end (so outward is right).
    edges = [
        ((0, 0), (2, 0)),
        ((6, 0), (8, 0)),
        ((8, 0), (8, 1)),
        ((8, 1), (8, 2)),
        ((2, 4), (0, 4)),
        ((0, 4), (0, 2)),
    ]
    xs, ys = [], []
    for (i0, j0), (i1, j1) in edges:
        (ax, bx), (ay, by) = to_plane.transform(*zip(lonlat(i0, j0), lonlat(i1, j1), strict=True))
        dx, dy = bx - ax, by - ay
        length = float(np.hypot(dx, dy))
        # The right-hand normal of start -> end points away from the set.
        nx, ny = dy / length, -dx / length
        for t in (0.3, 0.5, 0.7):
            xs.append(ax + t * dx + nx * metres)
            ys.append(ay + t * dy + ny * metres)
    lon, lat = to_plane.transform(np.array(xs), np.array(ys), direction="INVERSE")
    return np.asarray(lon), np.asarray(lat)


@pytest.mark.parametrize(("metres", "status"), [(49.99, "snapped"), (50.01, "outside")])
def test_both_engines_measure_the_snap_distance_alike_at_the_limit(
    postgis_server: str, metres: float, status: str
) -> None:
    # One rule (geo.snap): metres on the set's transverse Mercator plane.  Points a
    # centimetre inside or outside the 50 m limit get the same answer from both engines.
    frame = units_frame(UNITS)
    index = index_from_frame(frame)
    lon, lat = _at_distance_from_outline(index, metres)
    memory, db = _both(fresh_postgis_database(postgis_server), frame, lon, lat)
    assert set(memory.status_names()) == {status}
    _assert_same(memory, db)
    if status == "snapped":
        assert np.allclose(memory.distance_m, metres, atol=1e-6)
        assert np.allclose(db.distance_m, metres, atol=1e-6)
