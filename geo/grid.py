"""A raster over one level's polygons that answers most points in O(1), exactly.

The plane is cut into square cells whose size is a power of two in degrees.  Every
polygon edge is sampled every half cell; each sample marks the cells that a small
square around it (half a step plus ``_EPS``) touches, so every cell that an edge
passes through, or comes within ``_EPS`` of, is marked.  Then:

* unmarked cells form connected regions no edge crosses: all their points are
  covered by the same polygons, found with one exact test per region.  A region
  covered by one polygon is **pure**, by none **empty**;
* marked cells (and regions under overlapping polygons) are **mixed**: they keep the
  polygons whose edge samples marked them plus those covering their centre, and
  points falling in them are tested exactly with ``shapely.intersects_xy``.

For a point, *intersects* is the same predicate as *covers*: a point on a polygon's
edge or vertex counts as covered.  No edge comes within ``_EPS`` (1e-9 degrees) of a
pure or empty cell, far more than the rounding error of computing a point's cell, so
a point near a cell border still gets an exact answer.

Regions are labelled with ``scipy.ndimage.label``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import shapely

if TYPE_CHECKING:
    from numpy.typing import NDArray

EMPTY = -1
_EPS = 1e-9  # degrees (~0.1 mm): clearance between any edge and a pure/empty cell


class LevelGrid:
    """Exact point-in-polygon index over one set of polygons.

    Parameters
    ----------
    geometries : ndarray of shapely Polygon/MultiPolygon
        The polygons, in tie-break order: when a point is covered by several, the one
        with the lowest position wins.
    finest_cell : float
        Cell size in degrees; rounded down to a power of two so that cell arithmetic
        is exact wherever it can be.

    Examples
    --------
    >>> from shapely import box
    >>> grid = LevelGrid(np.array([box(0, 0, 1, 1), box(1, 0, 2, 1)]), finest_cell=0.1)
    >>> winner, count, _, _ = grid.query(np.array([0.5, 1.0, 5.0]), np.array([0.5, 0.5, 0.5]))
    >>> winner.tolist(), count.tolist()
    ([0, 0, -1], [1, 2, 0])
    """

    def __init__(self, geometries: NDArray[np.object_], finest_cell: float = 1 / 1024) -> None:
        self.geometries = np.asarray(geometries, dtype=object)
        shapely.prepare(self.geometries)
        self.cell = 2.0 ** math.floor(math.log2(finest_cell))
        minx, miny, maxx, maxy = shapely.total_bounds(self.geometries)
        self.x0 = math.floor(minx / self.cell) * self.cell
        self.y0 = math.floor(miny / self.cell) * self.cell
        self.nx = max(1, math.floor((maxx - self.x0) / self.cell) + 1)
        self.ny = max(1, math.floor((maxy - self.y0) / self.cell) + 1)
        self._tree = shapely.STRtree(self.geometries)
        self.cells, self.candidate_offsets, self.candidates = self._build()

    # --- building -----------------------------------------------------------------------
    def _build(self) -> tuple[NDArray[np.int32], NDArray[np.int64], NDArray[np.int32]]:
        from scipy import ndimage

        cell_key, cell_poly = self._edge_cells()
        marked = np.zeros(self.ny * self.nx, dtype=bool)
        marked[cell_key] = True
        marked = marked.reshape(self.ny, self.nx)
        labels, n_regions = ndimage.label(~marked)
        # One exact test per region, at the centre of its first cell.
        flat_labels = labels.ravel()
        first = np.full(n_regions + 1, -1, dtype=np.int64)
        # Reversed assignment leaves each region's lowest flat index in place.
        first[flat_labels[::-1]] = np.arange(len(flat_labels) - 1, -1, -1)
        first = first[1:]
        region, poly = self._covering(first)
        counts = np.bincount(region, minlength=n_regions)
        value_of_region = np.full(n_regions + 1, EMPTY, dtype=np.int64)
        single = counts[region] == 1
        value_of_region[region[single] + 1] = poly[single]
        # Regions under several overlapping polygons become mixed leaves.
        overlap = np.flatnonzero(counts > 1)
        value_of_region[overlap + 1] = -2 - np.arange(len(overlap))
        overlap_leaf = np.full(n_regions, -1, dtype=np.int64)
        overlap_leaf[overlap] = np.arange(len(overlap))
        in_overlap = counts[region] > 1
        pairs_leaf = [overlap_leaf[region[in_overlap]]]
        pairs_poly = [poly[in_overlap]]
        cells = value_of_region[labels]
        # Marked cells: mixed leaves, numbered after the overlap regions.
        mixed = np.flatnonzero(marked.ravel())
        leaf_ids = len(overlap) + np.arange(len(mixed))
        cells.ravel()[mixed] = -2 - leaf_ids
        leaf_of_cell = np.full(self.ny * self.nx, -1, dtype=np.int64)
        leaf_of_cell[mixed] = leaf_ids
        pairs_leaf.append(leaf_of_cell[cell_key])
        pairs_poly.append(cell_poly)
        # A polygon R can cover a marked cell with no edge of R near it only where
        # polygons overlap.  Then R covers the whole cell, and every unmarked
        # neighbour too (no edge comes near those at all), so R is among the covering
        # polygons of a neighbouring region; cells without an unmarked neighbour get
        # their centre tested.
        region_leaf, region_poly = _neighbour_regions(labels, mixed, region, poly)
        pairs_leaf.append(leaf_ids[region_leaf])
        pairs_poly.append(region_poly)
        has_calm_neighbour = np.zeros(len(mixed), dtype=bool)
        has_calm_neighbour[region_leaf] = True
        lonely = np.flatnonzero(~has_calm_neighbour)
        centre_leaf, centre_poly = self._covering(mixed[lonely])
        pairs_leaf.append(leaf_ids[lonely[centre_leaf]])
        pairs_poly.append(centre_poly)
        offsets, candidates = _pack(pairs_leaf, pairs_poly, len(overlap) + len(mixed), len(self.geometries))
        return cells.astype(np.int32), offsets, candidates

    def _edge_cells(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Unique (flat cell index, polygon) pairs for cells that an edge touches."""
        # get_rings only reads Polygons: split MultiPolygons into their parts first.
        parts, part_poly = shapely.get_parts(self.geometries, return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        ring_poly = part_poly[ring_part]
        coords, ring_of = shapely.get_coordinates(rings, return_index=True)
        same_ring = ring_of[1:] == ring_of[:-1]
        start, end = coords[:-1][same_ring], coords[1:][same_ring]
        owner = ring_poly[ring_of[:-1][same_ring]]
        step = self.cell / 2
        steps = np.ceil(np.abs(end - start).max(axis=1) / step).astype(np.int64) + 1
        seg = np.repeat(np.arange(len(start)), steps)
        t = (np.arange(len(seg)) - np.repeat(np.cumsum(steps) - steps, steps)) / np.repeat(steps - 1, steps)
        points = start[seg] + (end[seg] - start[seg]) * t[:, None]
        # Every point of an edge is within step/2 of a sample (in each axis), so the
        # square of half-width step/2 + _EPS around the samples covers the edge and an
        # _EPS band around it.  A sample marks the one, two or four cells its square
        # touches.
        reach = step / 2 + _EPS
        x_lo, x_hi = (self._cell_index(points[:, 0] + d, self.x0, self.nx) for d in (-reach, reach))
        y_lo, y_hi = (self._cell_index(points[:, 1] + d, self.y0, self.ny) for d in (-reach, reach))
        n_polys = len(self.geometries)
        owner = owner[seg]
        keys = [(y_lo * self.nx + x_lo) * n_polys + owner]
        for cx, cy, extra in (
            (x_hi, y_lo, x_hi != x_lo),
            (x_lo, y_hi, y_hi != y_lo),
            (x_hi, y_hi, (x_hi != x_lo) & (y_hi != y_lo)),
        ):
            keys.append((cy[extra] * self.nx + cx[extra]) * n_polys + owner[extra])
        # Consecutive samples mostly repeat a key: drop those before sorting.
        key = np.concatenate(keys)
        key = _sorted_unique(key[np.r_[True, key[1:] != key[:-1]]])
        return key // len(self.geometries), key % len(self.geometries)

    def _cell_index(self, values: NDArray[np.float64], origin: float, size: int) -> NDArray[np.int64]:
        return np.clip(np.floor((values - origin) / self.cell), 0, size - 1).astype(np.int64)

    def _covering(self, flat_cells: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """(i, polygon) pairs for the polygons covering the centre of ``flat_cells[i]``."""
        iy, ix = np.divmod(flat_cells, self.nx)
        x = self.x0 + (ix + 0.5) * self.cell
        y = self.y0 + (iy + 0.5) * self.cell
        # Bounding boxes first, then the exact test against the prepared polygons.
        boxes = shapely.points(x, y)
        index, poly = self._tree.query(boxes)
        hit = shapely.intersects_xy(self.geometries[poly], x[index], y[index])
        return index[hit].astype(np.int64), poly[hit].astype(np.int64)

    # --- querying -----------------------------------------------------------------------
    @property
    def nbytes(self) -> int:
        """Memory held by the raster and candidate lists, in bytes."""
        return int(self.cells.nbytes + self.candidate_offsets.nbytes + self.candidates.nbytes)

    def cell_values(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.int32]:
        """Raw cell value per point: >= 0 pure polygon, -1 empty, <= -2 mixed leaf."""
        with np.errstate(invalid="ignore"):
            fx = np.floor((x - self.x0) / self.cell)
            fy = np.floor((y - self.y0) / self.cell)
            inside = (fx >= 0) & (fx < self.nx) & (fy >= 0) & (fy < self.ny)
        values = np.full(x.shape, EMPTY, dtype=np.int32)
        values[inside] = self.cells[fy[inside].astype(np.intp), fx[inside].astype(np.intp)]
        return values

    def query(
        self, x: NDArray[np.float64], y: NDArray[np.float64]
    ) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.intp], NDArray[np.int32]]:
        """Find the polygons covering each point.

        Returns
        -------
        winner : ndarray of int32
            Lowest-positioned covering polygon per point, -1 if none covers it.
        count : ndarray of int32
            How many polygons cover the point (2+ on shared edges and vertices).
        hit_point, hit_polygon : ndarray
            Every (point, polygon) covering pair found by an exact test, sorted by
            point then polygon; points answered by a pure cell are not listed.
        """
        values = self.cell_values(x, y)
        winner = np.where(values >= 0, values, EMPTY).astype(np.int32)
        count = (values >= 0).astype(np.int32)
        mixed_points = np.flatnonzero(values <= -2)
        if len(mixed_points) == 0:
            empty = np.empty(0, dtype=np.intp)
            return winner, count, empty, np.empty(0, dtype=np.int32)
        leaf = -2 - values[mixed_points].astype(np.int64)
        starts = self.candidate_offsets[leaf]
        sizes = self.candidate_offsets[leaf + 1] - starts
        pair_point = np.repeat(mixed_points, sizes)
        firsts = np.cumsum(sizes) - sizes
        pair_slot = np.arange(len(pair_point)) - np.repeat(firsts - starts, sizes)
        pair_poly = self.candidates[pair_slot]
        hit = shapely.intersects_xy(self.geometries[pair_poly], x[pair_point], y[pair_point])
        hit_point, hit_poly = pair_point[hit], pair_poly[hit]
        count += np.bincount(hit_point, minlength=len(x)).astype(np.int32)
        first = np.ones(len(hit_point), dtype=bool)
        first[1:] = hit_point[1:] != hit_point[:-1]
        winner[hit_point[first]] = hit_poly[first]
        return winner, count, hit_point, hit_poly


def _pack(
    leaves: list[NDArray[np.int64]], polys: list[NDArray[np.int64]], n_leaves: int, n_polys: int
) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
    """Unique (leaf, polygon) pairs as CSR offsets and polygon lists sorted by polygon."""
    key = _sorted_unique(np.concatenate(leaves) * n_polys + np.concatenate(polys))
    leaf, poly = key // n_polys, key % n_polys
    offsets = np.zeros(n_leaves + 1, dtype=np.int64)
    np.cumsum(np.bincount(leaf, minlength=n_leaves), out=offsets[1:])
    return offsets, poly.astype(np.int32)


def _sorted_unique(values: NDArray[np.int64]) -> NDArray[np.int64]:
    # np.unique hashes int64 keys here, which measured 3x slower than sorting.
    ordered = np.sort(values)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


def _neighbour_regions(
    labels: NDArray[np.int32],
    cells: NDArray[np.int64],
    region: NDArray[np.int64],
    poly: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(i, polygon) pairs: polygons covering an unmarked region next to ``cells[i]``.

    ``region``/``poly`` list each region's covering polygons (region numbers from 0).
    """
    ny, nx = labels.shape
    iy, ix = np.divmod(cells, nx)
    order = np.argsort(region, kind="stable")
    region, poly = region[order], poly[order]
    starts = np.searchsorted(region, np.arange(int(labels.max()) + 1))
    ends = np.searchsorted(region, np.arange(int(labels.max()) + 1), side="right")
    found_cell: list[NDArray[np.int64]] = []
    found_region: list[NDArray[np.int64]] = []
    for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (1, -1), (-1, 1), (1, 1)):
        tx, ty = ix + dx, iy + dy
        ok = np.flatnonzero((tx >= 0) & (tx < nx) & (ty >= 0) & (ty < ny))
        neighbour = labels[ty[ok], tx[ok]].astype(np.int64) - 1
        calm = neighbour >= 0
        found_cell.append(ok[calm])
        found_region.append(neighbour[calm])
    cell_of = np.concatenate(found_cell)
    region_of = np.concatenate(found_region)
    sizes = ends[region_of] - starts[region_of]
    out_cell = np.repeat(cell_of, sizes)
    slot = (
        np.arange(len(out_cell))
        - np.repeat(np.cumsum(sizes) - sizes, sizes)
        + np.repeat(starts[region_of], sizes)
    )
    return out_cell, poly[slot]
