"""geo.snap: the outside raster never calls a point outside that a unit covers or that
snaps, and the segment snapper answers as a nearest-polygon search in the same plane
(the nearest leaf, its distance to 1e-9 m)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from shapely.geometry import box

from geo.snap import Edges, snap_pipeline, snap_projection
from tests.common import GAP_UNITS, LEAF_CODES, UNITS, build_index


def _brute_force(units, snap_m, lon, lat):  # type: ignore[no-untyped-def]
    """(covered by any unit, nearest leaf code or None, distance) per point, by shapely
    over every polygon, distances in the index's snap plane."""
    index = build_index(units, snap_distance_m=snap_m)
    geometries = np.array([u.geometry for u in units])
    covered = shapely.intersects_xy(geometries[None, :], lon[:, None], lat[:, None]).any(axis=1)
    leaves = sorted((u for u in units if u.code in LEAF_CODES), key=lambda u: u.code)
    to_plane = Transformer.from_crs("EPSG:4326", index.snap_projection, always_xy=True)
    projected = np.array(
        [
            shapely.transform(u.geometry, lambda xy: np.column_stack(to_plane.transform(xy[:, 0], xy[:, 1])))
            for u in leaves
        ]
    )
    px, py = to_plane.transform(lon, lat)
    dist = shapely.distance(projected[None, :], shapely.points(px, py)[:, None])
    best = dist.min(axis=1)
    nearest = [leaves[int(np.flatnonzero(row == b)[0])].code for row, b in zip(dist, best, strict=True)]
    return index, covered, nearest, best


@pytest.mark.parametrize("units", [UNITS, GAP_UNITS], ids=["partition", "gaps"])
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_outside_points_against_brute_force(units, seed):
    index = build_index(units)
    minx, miny, maxx, maxy = index.bounds
    rng = np.random.default_rng(seed)
    # Points over the set and 0.01 degrees (~1 km) around it, a third of them within
    # 100 m of its outline.
    n = 600
    lon = rng.uniform(minx - 0.01, maxx + 0.01, n)
    lat = rng.uniform(miny - 0.01, maxy + 0.01, n)
    outline = shapely.boundary(box(minx, miny, maxx, maxy))
    foot = shapely.line_interpolate_point(outline, rng.uniform(0, 1, n // 3), normalized=True)
    lon[: n // 3] = shapely.get_x(foot) + rng.uniform(-0.001, 0.001, n // 3)
    lat[: n // 3] = shapely.get_y(foot) + rng.uniform(-0.001, 0.001, n // 3)
    index, covered, nearest, best = _brute_force(units, 50.0, lon, lat)
    result = index.lookup(lon, lat)
    status = result.status_names()
    codes = result.columns()["community_code"]
    raster = index._outside.raster
    for i in range(n):
        if covered[i]:
            assert status[i] in ("ok", "boundary", "gap")
            assert not raster.holds(lon[i : i + 1], lat[i : i + 1])[0]
        elif best[i] <= 50.0:
            assert status[i] == "snapped"
            assert codes[i] == nearest[i]
            # The same plane: equal but for the last bits (an edge's direction).  A point
            # a few cm off a long edge can fall inside its polygon's projection (an edge
            # straight in degrees bends in the plane): distance 0 there, the distance
            # to the edge's chord for the snapper.
            assert result.distance_m[i] == pytest.approx(best[i], abs=1e-9 if best[i] > 0 else 0.5)
            assert not raster.holds(lon[i : i + 1], lat[i : i + 1])[0]
        else:
            assert status[i] == "outside"


def test_snap_projection_is_the_index_rule():
    index = build_index(UNITS)
    assert index.snap_projection == snap_projection(index.bounds)
    assert index._outside.snapper.projection == index.snap_projection


@pytest.mark.parametrize("bounds", [(116.3, 35.6, 117.98, 36.5), (-74.3, 40.4, -73.6, 41.0), (0, -1, 2, 1)])
def test_snap_pipeline_projects_as_the_crs_transformation(bounds):
    """The snapper's pipeline gives the numbers of from_crs("EPSG:4326", projection),
    to the last bit, over and well beyond the set's bounding box."""
    projection = snap_projection(bounds)
    rng = np.random.default_rng(5)
    lon = rng.uniform(bounds[0] - 2, bounds[2] + 2, 10_000)
    lat = rng.uniform(bounds[1] - 2, bounds[3] + 2, 10_000)
    expected = Transformer.from_crs("EPSG:4326", projection, always_xy=True).transform(lon, lat)
    got = Transformer.from_pipeline(snap_pipeline(projection)).transform(lon, lat)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    ("polygons", "exposed", "facing_first"),
    [
        ([box(0, 0, 1, 1), box(1, 0, 2, 1)], 6, 4),  # neighbours: the shared edge is inside
        ([box(0, 0, 1, 1), box(0, 0, 1, 1)], 8, 4),  # duplicates: every edge faces out
        ([box(0, 0, 2, 2), box(0, 0, 1, 1)], 8, 4),  # overlap: nothing is reversed
        ([box(0, 0, 1, 1), box(1, 1, 2, 2)], 8, 4),  # touching at a vertex
    ],
)
def test_exposed_and_facing_edges(polygons, exposed, facing_first):
    edges = Edges(np.array(polygons))
    assert int(edges.exposed().sum()) == exposed
    assert int(edges.facing(np.array([True, False])).sum()) == facing_first
