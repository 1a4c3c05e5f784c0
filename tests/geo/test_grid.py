"""LevelGrid: the exact raster over one level's polygons."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from geo.grid import EMPTY, MIXED_SUBCELL, LevelGrid
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

# (finest_cell, refine): the index's settings, cells as large as the plan unit (every
# straight edge on a cell border), finer than the vertex grid, coarse cells; and
# subcells at each of those sizes.
GRID_PARAMS = [
    (1 / 1024, 1),
    (1 / 64, 1),
    (1 / 4096, 1),
    (1 / 256, 1),
    (1 / 16, 1),
    (1 / 256, 4),
    (1 / 64, 16),
    (1 / 16, 2),
    (1 / 1024, 8),
]


@pytest.fixture(
    scope="module", params=GRID_PARAMS, ids=[f"cell=1/{round(1 / c)},refine={r}" for c, r in GRID_PARAMS]
)
def grid(request) -> LevelGrid:
    cell, refine = request.param
    return LevelGrid(GEOMS, finest_cell=cell, refine=refine)


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
    # Points on every (sub)cell corner and border of the raster (capped at 1/1024).
    step = max(grid.cell / grid.refine, 1 / 1024)
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
    arrays = (grid.cells, grid.candidate_offsets, grid.candidates, grid.tile_of_leaf, grid.tiles)
    references = 8 * len(grid.candidates)  # the candidates' geometries, for exact_covering
    assert grid.nbytes == sum(a.nbytes for a in arrays) + references
    marked = int((grid.tile_of_leaf >= 0).sum())
    assert grid.tiles.shape == ((marked, grid.refine, grid.refine) if grid.refine > 1 else (0, 1, 1))


def test_subcell_invariants(grid):
    """Every marked cell has a tile; its pure subcells are covered by their polygon
    alone, its empty subcells touch nothing, and a subcell of a cell left to the exact
    test holds a point covered by the leaf's candidates only."""
    if grid.refine == 1:
        assert not len(grid.tiles)
        return
    f = grid.refine
    values = grid.cells.ravel()
    mixed = np.flatnonzero(values <= -2)
    leaf = -2 - values[mixed].astype(np.int64)
    tile = grid.tile_of_leaf[leaf]
    tiled = tile >= 0
    assert tiled.sum() == len(grid.tiles)
    assert sorted(tile[tiled].tolist()) == list(range(len(grid.tiles)))
    iy, ix = np.divmod(mixed[tiled], grid.nx)
    t = tile[tiled]
    sy, sx = np.meshgrid(np.arange(f), np.arange(f), indexing="ij")
    fine = grid.cell / f
    x0 = (grid.x0 + (ix[:, None] * f + sx.ravel()[None, :]) * fine).ravel()
    y0 = (grid.y0 + (iy[:, None] * f + sy.ravel()[None, :]) * fine).ravel()
    sub = grid.tiles[t].reshape(len(t), f * f).ravel()
    boxes = shapely.box(x0, y0, x0 + fine, y0 + fine)
    tree = shapely.STRtree(GEOMS)
    box_idx, poly_idx = tree.query(boxes, predicate="intersects")
    touching = np.zeros((len(boxes), len(GEOMS)), dtype=bool)
    touching[box_idx, poly_idx] = True
    pure = np.flatnonzero(sub >= 0)
    assert shapely.covers(GEOMS[sub[pure]], boxes[pure]).all()
    assert (touching[pure].sum(axis=1) == 1).all()
    assert not touching[np.flatnonzero(sub == EMPTY)].any()
    assert set(np.unique(sub).tolist()) <= {EMPTY, MIXED_SUBCELL, *range(len(GEOMS))}


@pytest.mark.parametrize("refine", [0, 3, -4, 6])
def test_refine_must_be_a_power_of_two(refine):
    with pytest.raises(ValueError, match=f"refine must be a power of two >= 1, got {refine}"):
        LevelGrid(GEOMS[:2], finest_cell=1 / 64, refine=refine)


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


@pytest.mark.parametrize("refine", [1, 4])
@pytest.mark.parametrize("off", [2.0**-50, 2.0**-49, 2.0**-48])
def test_margin_absorbs_rounding_of_the_cell_index(off, refine):
    """Across the prime meridian ``x - x0`` rounds: the point 0.25 - off computes
    into the cell starting at 0.25 that polygon A, whose edge is at 0.25 - 2**-52,
    contains properly.  The cell must not be answered as pure A."""
    edge = 0.25 - 2.0**-52
    geoms = np.array([box(-64.0, 0.0, -63.0, 1.0), box(edge, 0.0, 1.0, 1.0)])
    grid = LevelGrid(geoms, finest_cell=0.25, refine=refine)
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


@pytest.mark.parametrize("refine", [1, 2, 8])
def test_overlapping_polygons_are_counted(refine):
    # Not a partition: the index must still report every covering polygon.
    geoms = np.array([box(0, 0, 2, 2), box(1, 1, 3, 3), box(1.5, 1.5, 1.75, 1.75)])
    grid = LevelGrid(geoms, finest_cell=1 / 4, refine=refine)
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
    refine=st.sampled_from([1, 2, 4, 8]),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_partitions_match_covers(data, unit_exp, cell_shift, refine, seed):
    size, cells = data
    unit = 2.0**-unit_exp
    geoms = np.array([to_degrees(c, unit) for c in cells], dtype=object)
    grid = LevelGrid(geoms, finest_cell=unit * 2.0**cell_shift, refine=refine)
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


def test_value_at_agrees_with_query(grid):
    """The single-point accessor answers exactly where the raster does, and defers
    (MIXED_SUBCELL) wherever an exact test is needed."""
    rng = np.random.default_rng(5)
    minx, miny, maxx, maxy = shapely.total_bounds(GEOMS)
    vertices = all_vertices()
    x = np.concatenate([rng.uniform(minx - 0.01, maxx + 0.01, 3000), vertices[:, 0], [np.nan, grid.x0]])
    y = np.concatenate([rng.uniform(miny - 0.01, maxy + 0.01, 3000), vertices[:, 1], [Y0, np.inf]])
    winner, count, _, _ = grid.query(x, y)
    values = np.array([grid.value_at(float(a), float(b)) for a, b in zip(x, y, strict=True)])
    settled = values != MIXED_SUBCELL
    if grid.cell / grid.refine <= 1 / 256:  # coarser cells nearly all meet an edge
        assert settled.mean() > 0.5
    np.testing.assert_array_equal(values[settled], winner[settled])
    np.testing.assert_array_equal((values[settled] >= 0).astype(np.int32), count[settled])
    assert (count[np.flatnonzero(values >= 0)] == 1).all()
    # A deferred point's exact test finds every polygon covering it, and no other.
    for i in np.flatnonzero(~settled):
        covering = np.flatnonzero(shapely.intersects_xy(GEOMS, x[i], y[i]))
        assert grid.exact_covering(float(x[i]), float(y[i])) == covering.tolist()


@pytest.mark.parametrize("spares", [0, 1], ids=["no spare", "a spare copy"])
def test_no_two_threads_test_the_same_prepared_polygons_at_once(
    monkeypatch: pytest.MonkeyPatch, spares: int
) -> None:
    """Prepared polygons are not thread-safe (GEOS builds their point locators on first
    use): a batch over several threads, or a batch beside single lookups, must test a
    polygon object in one thread at a time (a 1M-point batch over two threads, loaded
    from the index cache, aborted the process in 2 runs of 5 when they did).  Big
    batches may test side by side, each on its own copy."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    import geo.grid

    grid = LevelGrid(GEOMS, finest_cell=1 / 64, refine=1)  # coarse: most points need a test
    in_use: list[set[int]] = []
    overlaps, most = [0], [0]
    counting = threading.Lock()
    original = shapely.intersects_xy

    def watched(geometries, *args, **kwargs):  # type: ignore[no-untyped-def]
        mine = {id(g) for g in np.atleast_1d(geometries)}
        with counting:
            overlaps[0] += sum(bool(mine & other) for other in in_use)
            in_use.append(mine)
            most[0] = max(most[0], len(in_use))
        time.sleep(0.002)  # widen the window two threads would share
        try:
            return original(geometries, *args, **kwargs)
        finally:
            with counting:
                in_use.remove(mine)

    monkeypatch.setattr(shapely, "intersects_xy", watched)
    monkeypatch.setattr(geo.grid, "_TESTS_PER_HOLD", 64)  # many holds per batch
    monkeypatch.setattr(geo.grid, "SPARE_AFTER_TESTS", 100)  # every batch here may take a spare
    monkeypatch.setattr(geo.grid, "MAX_SPARES", spares)
    rng = np.random.default_rng(3)
    minx, miny, maxx, maxy = shapely.total_bounds(GEOMS)
    vertices = all_vertices()
    x = np.concatenate([rng.uniform(minx, maxx, 2000), vertices[:, 0]])
    y = np.concatenate([rng.uniform(miny, maxy, 2000), vertices[:, 1]])

    def batch(_: int) -> None:
        grid.query(x, y)

    def singles(_: int) -> None:
        for vx, vy in vertices[:40].tolist():
            grid.exact_covering(vx, vy)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: (batch if i % 2 else singles)(i), range(8)))
    assert overlaps[0] == 0
    assert most[0] <= 1 + spares
    assert_query_matches_covers(grid, GEOMS, x, y)  # and the answers are still exact


@pytest.mark.parametrize("spares", [0, 1], ids=["no spare: it waits", "a spare: it goes on"])
def test_a_big_batch_tests_on_a_spare_while_the_polygons_are_in_use(
    monkeypatch: pytest.MonkeyPatch, spares: int
) -> None:
    import threading

    import geo.grid

    monkeypatch.setattr(geo.grid, "SPARE_AFTER_TESTS", 100)
    monkeypatch.setattr(geo.grid, "MAX_SPARES", spares)
    grid = LevelGrid(GEOMS, finest_cell=1 / 64, refine=1)
    rng = np.random.default_rng(4)
    minx, miny, maxx, maxy = shapely.total_bounds(GEOMS)
    x, y = rng.uniform(minx, maxx, 3000), rng.uniform(miny, maxy, 3000)
    expected = grid.query(x, y)
    answers: list[object] = []
    with grid._testing:  # another thread testing the polygons themselves
        batch = threading.Thread(target=lambda: answers.append(grid.query(x, y)))
        batch.start()
        batch.join(timeout=0.5 if spares == 0 else 30)
        assert batch.is_alive() is (spares == 0)
    batch.join(timeout=30)
    assert grid._spares_made == spares
    for got, want in zip(answers[0], expected, strict=True):  # type: ignore[call-overload]
        np.testing.assert_array_equal(got, want)
