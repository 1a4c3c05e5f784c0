"""LevelGrid: the exact raster over one level's polygons."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from geo.grid import EMPTY, LevelGrid
from tests.common import (
    CASES,
    LEAF_CODES,
    UNITS,
    X0,
    Y0,
    all_vertices,
    case_arrays,
    case_ids,
    probe_points,
    punch_hole,
    to_degrees,
    voronoi_cells,
)

COMMUNITIES = sorted((u for u in UNITS if u.level == "community"), key=lambda u: u.code)
GEOMS = np.array([u.geometry for u in COMMUNITIES], dtype=object)
POSITION = {u.code: k for k, u in enumerate(COMMUNITIES)}
assert tuple(POSITION) == LEAF_CODES

# finest_cell: the index's setting, cells as large as the plan unit (every straight
# edge on a cell border), finer than the vertex grid, and coarse cells.
GRID_PARAMS = [1 / 1024, 1 / 64, 1 / 4096, 1 / 256, 1 / 16]


@pytest.fixture(scope="module", params=GRID_PARAMS, ids=[f"cell=1/{round(1 / c)}" for c in GRID_PARAMS])
def grid(request) -> LevelGrid:
    return LevelGrid(GEOMS, finest_cell=request.param)


def covers_matrix(geoms: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Brute force: shape (n_points, n_geoms)."""
    return shapely.covers(geoms[None, :], shapely.points(x, y)[:, None])


def assert_query_matches_covers(grid: LevelGrid, geoms: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
    winner, count, hit_point, hit_poly = grid.query(x, y)
    truth = covers_matrix(geoms, x, y)
    expected_count = truth.sum(axis=1)
    expected_winner = np.where(expected_count > 0, truth.argmax(axis=1), EMPTY)
    bad = np.flatnonzero((winner != expected_winner) | (count != expected_count))
    assert len(bad) == 0, (
        f"{len(bad)} of {len(x)} points wrong, first ({x[bad[0]]!r}, {y[bad[0]]!r}): "
        f"winner {winner[bad[0]]} count {count[bad[0]]}, expected {expected_winner[bad[0]]} "
        f"count {expected_count[bad[0]]}"
    )
    # pairs are sorted by point then polygon, and each listed point lists exactly
    # the polygons that cover it
    order = np.lexsort((hit_poly, hit_point))
    np.testing.assert_array_equal(order, np.arange(len(hit_point)))
    listed = np.zeros_like(truth)
    listed[hit_point, hit_poly] = True
    rows = np.unique(hit_point)
    np.testing.assert_array_equal(listed[rows], truth[rows])
    # every shared point is tested exactly (it can never fall in a pure cell)
    assert set(np.flatnonzero(expected_count > 1)) <= set(rows.tolist())


# --- the canonical communities ------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=case_ids(CASES))
def test_canonical_points(grid, case):
    winner, count, hit_point, hit_poly = grid.query(np.array([case.lon]), np.array([case.lat]))
    if case.status in ("ok", "boundary"):
        assert winner[0] == POSITION[case.owner]
        assert count[0] == max(1, len(case.candidates))
    else:
        assert winner[0] == EMPTY
        assert count[0] == 0
    if case.status == "boundary":
        assert hit_point.tolist() == [0] * len(case.candidates)
        assert [COMMUNITIES[k].code for k in hit_poly] == list(case.candidates)


def test_canonical_batch_matches_covers(grid):
    lon, lat = case_arrays(CASES)
    vx, vy = all_vertices().T
    assert_query_matches_covers(grid, GEOMS, np.concatenate([lon, vx]), np.concatenate([lat, vy]))


def test_every_lattice_point_of_the_cell_size(grid):
    # Points on every cell corner and cell border of the raster (capped at 1/1024).
    step = max(grid.cell, 1 / 1024)
    minx, miny, maxx, maxy = shapely.total_bounds(GEOMS)
    xs = np.arange(minx - 2 * step, maxx + 2.5 * step, step / 2)
    ys = np.arange(miny - 2 * step, maxy + 2.5 * step, step / 2)
    x, y = (a.ravel() for a in np.meshgrid(xs, ys))
    assert_query_matches_covers(grid, GEOMS, x, y)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_random_points_near_canonical_edges(grid, seed):
    rng = np.random.default_rng(seed)
    vertices = all_vertices()
    base = vertices[rng.integers(0, len(vertices), 400)]
    jitter = rng.choice([0.0, 1e-12, -1e-12, 5e-10, -5e-10, 2e-9, -2e-9, 1e-6, -1e-6], size=base.shape)
    uniform = np.column_stack(
        [rng.uniform(X0 - 0.01, X0 + 0.14, 400), rng.uniform(Y0 - 0.01, Y0 + 0.08, 400)]
    )
    points = np.concatenate([base + jitter, uniform])
    assert_query_matches_covers(grid, GEOMS, points[:, 0], points[:, 1])


def test_raster_invariants(grid):
    """Pure cells are covered by their polygon alone, empty cells touch nothing, and
    the candidate list of a mixed cell holds every polygon touching the closed cell."""
    iy, ix = np.indices(grid.cells.shape)
    x0 = grid.x0 + ix.ravel() * grid.cell
    y0 = grid.y0 + iy.ravel() * grid.cell
    cells = shapely.box(x0, y0, x0 + grid.cell, y0 + grid.cell)
    values = grid.cells.ravel()
    tree = shapely.STRtree(GEOMS)
    cell_idx, poly_idx = tree.query(cells, predicate="intersects")
    touching = np.zeros((len(cells), len(GEOMS)), dtype=bool)
    touching[cell_idx, poly_idx] = True

    pure = np.flatnonzero(values >= 0)
    if grid.cell <= 1 / 256:  # coarser cells all touch an edge (or the margin)
        assert len(pure) > 0
    assert shapely.covers(GEOMS[values[pure]], cells[pure]).all()
    assert (touching[pure].sum(axis=1) == 1).all()

    empty = np.flatnonzero(values == EMPTY)
    assert not touching[empty].any()

    mixed = np.flatnonzero(values <= -2)
    assert len(mixed) > 0
    n_leaves = len(grid.candidate_offsets) - 1
    assert sorted((-2 - values[mixed]).tolist()) == list(range(n_leaves))  # one leaf per mixed cell
    leaf_of_slot = np.repeat(np.arange(n_leaves), np.diff(grid.candidate_offsets))
    same_leaf = leaf_of_slot[1:] == leaf_of_slot[:-1]
    assert np.all(np.diff(grid.candidates)[same_leaf] > 0)  # sorted, no duplicates
    listed = np.zeros((n_leaves, len(GEOMS)), dtype=bool)
    listed[leaf_of_slot, grid.candidates] = True
    leaf = -2 - values[mixed].astype(np.int64)
    assert not (touching[mixed] & ~listed[leaf]).any()


def test_shape_and_memory(grid):
    assert grid.cells.shape == (grid.ny, grid.nx)
    assert grid.cell == pytest.approx(2.0 ** np.floor(np.log2(grid.cell)))
    minx, miny, maxx, maxy = shapely.total_bounds(GEOMS)
    assert grid.x0 <= minx
    assert grid.y0 <= miny
    assert grid.x0 + grid.nx * grid.cell > maxx
    assert grid.y0 + grid.ny * grid.cell > maxy
    assert grid.nbytes == grid.cells.nbytes + grid.candidate_offsets.nbytes + grid.candidates.nbytes


@pytest.mark.parametrize(
    ("requested", "cell"), [(0.1, 1 / 16), (1 / 1024, 1 / 1024), (0.001, 1 / 1024), (1.0, 1.0)]
)
def test_finest_cell_rounds_down_to_power_of_two(requested, cell):
    assert LevelGrid(GEOMS[:2], finest_cell=requested).cell == cell


def test_points_beyond_the_raster_are_empty(grid):
    x = np.array([grid.x0 - 1e-9, grid.x0 + grid.nx * grid.cell, 0.0, 180.0, X0 + 0.05, X0 + 0.05])
    y = np.array([Y0 + 0.03, Y0 + 0.03, 0.0, 90.0, grid.y0 - 1.0, grid.y0 + grid.ny * grid.cell])
    winner, count, hit_point, _ = grid.query(x, y)
    assert winner.tolist() == [EMPTY] * 6
    assert count.tolist() == [0] * 6
    assert len(hit_point) == 0


@pytest.mark.parametrize("off", [2.0**-50, 2.0**-49, 2.0**-48])
def test_margin_absorbs_rounding_of_the_cell_index(off):
    """Across the prime meridian ``x - x0`` rounds: the point 0.25 - off computes
    into the cell starting at 0.25 that polygon A, whose edge is at 0.25 - 2**-52,
    contains properly.  The cell must not be answered as pure A."""
    edge = 0.25 - 2.0**-52
    geoms = np.array([box(-64.0, 0.0, -63.0, 1.0), box(edge, 0.0, 1.0, 1.0)])
    grid = LevelGrid(geoms, finest_cell=0.25)
    x = np.array([0.25 - off, edge, 0.25])
    y = np.array([0.3, 0.3, 0.3])
    assert grid.x0 == -64.0
    assert math.floor((x[0] - grid.x0) / grid.cell) == 257  # the cell [0.25, 0.5]
    winner, count, _, _ = grid.query(x, y)
    assert winner.tolist() == [EMPTY, 1, 1]
    assert count.tolist() == [0, 1, 1]


def test_docstring_example():
    grid = LevelGrid(np.array([box(0, 0, 1, 1), box(1, 0, 2, 1)]), finest_cell=0.1)
    winner, count, _, _ = grid.query(np.array([0.5, 1.0, 5.0]), np.array([0.5, 0.5, 0.5]))
    assert winner.tolist() == [0, 0, -1]
    assert count.tolist() == [1, 2, 0]


def test_lowest_position_wins_whatever_the_geometry_order():
    left, right = box(0, 0, 1, 1), box(1, 0, 2, 1)
    for geoms, first in (([left, right], 0), ([right, left], 0)):
        winner, count, _, hit_poly = LevelGrid(np.array(geoms), finest_cell=1 / 8).query(
            np.array([1.0]), np.array([0.5])
        )
        assert winner.tolist() == [first]
        assert count.tolist() == [2]
        assert hit_poly.tolist() == [0, 1]


def test_overlapping_polygons_are_counted():
    # Not a partition: the index must still report every covering polygon.
    geoms = np.array([box(0, 0, 2, 2), box(1, 1, 3, 3), box(1.5, 1.5, 1.75, 1.75)])
    grid = LevelGrid(geoms, finest_cell=1 / 4)
    x = np.array([0.5, 1.5, 1.6, 2.5, 1.0, 3.5])
    y = np.array([0.5, 1.5, 1.6, 2.5, 1.0, 3.5])
    winner, count, _, _ = grid.query(x, y)
    assert winner.tolist() == [0, 0, 0, 1, 0, -1]
    assert count.tolist() == [1, 3, 3, 1, 2, 0]  # (1.5, 1.5) is a corner of the small box


# --- random partitions --------------------------------------------------------------------
@st.composite
def lattice_polygons(draw):  # type: ignore[no-untyped-def]
    size = draw(st.integers(2, 40))
    seeds = draw(
        st.lists(st.tuples(st.integers(0, size), st.integers(0, size)), min_size=1, max_size=14, unique=True)
    )
    cells = voronoi_cells(seeds, size)
    holes = draw(st.lists(st.booleans(), min_size=len(cells), max_size=len(cells)))
    cells = [punch_hole(c) if h else c for c, h in zip(cells, holes, strict=True)]
    # drop some cells so that there are holes in the coverage and outer edges inside
    keep = draw(st.lists(st.booleans(), min_size=len(cells), max_size=len(cells)))
    kept = [c for c, k in zip(cells, keep, strict=True) if k] or cells[:1]
    return size, kept


@settings(max_examples=60, deadline=None)
@given(
    data=lattice_polygons(),
    unit_exp=st.sampled_from([8, 10, 12]),
    cell_shift=st.integers(-2, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_partitions_match_covers(data, unit_exp, cell_shift, seed):
    size, cells = data
    unit = 2.0**-unit_exp
    geoms = np.array([to_degrees(c, unit) for c in cells], dtype=object)
    grid = LevelGrid(geoms, finest_cell=unit * 2.0**cell_shift)
    rng = np.random.default_rng(seed)
    lattice = probe_points(cells, size, rng)
    points = to_degrees(lattice, unit)
    # and points within the raster's margin of the vertices
    vertices = to_degrees(shapely.get_coordinates(np.array(cells, dtype=object)), unit)
    nudged = vertices + rng.choice([1e-12, -1e-12, 5e-10, -2e-9], size=vertices.shape)
    points = np.concatenate([points, nudged])
    _, count, _, _ = grid.query(points[:, 0], points[:, 1])
    event(f"max polygons on one point: {min(int(count.max()), 4)}")
    event(f"pure cells: {bool((grid.cells >= 0).any())}")
    assert_query_matches_covers(grid, geoms, points[:, 0], points[:, 1])
