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
from tests.common import CASES, GAP_CASES, GAP_UNITS, UNITS, all_vertices, case_arrays
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
