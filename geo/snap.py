"""Points outside every unit: where no unit is near, and the nearest leaf unit where one is.

The snap rule (both engines)
----------------------------
A point covered by no unit is *snapped* to the nearest leaf unit (a unit with no
children) when its distance is at most the snap distance; the lowest-coded leaf wins
ties.  The distance is measured **in metres on the transverse Mercator projection of
the WGS84 ellipsoid whose origin is the centre of the boundary set's bounding box**
(:func:`snap_projection`, scale 1 on its central meridian).  Over a city (< 200 km
across) that plane distance exceeds the geodesic one by less than 0.05 %; what
matters more is that it is one rule: the PostGIS engine measures with the same
projection string, so the two engines agree at the limit (tested to 1 cm either side
of 50 m).

Speed
-----
Two structures make points outside the set cost an array lookup:

* :class:`OutsideRaster`, a boolean raster marking every cell where no unit of any
  level covers any point and no leaf unit lies within the snap distance: a point
  there is ``outside`` with no further test.  Cells are powers of two in degrees
  (1/2048 by default), aligned with the level grids, so a cell that no level grid
  calls empty is never marked;
* :class:`Snapper`, for the few points left: the leaf edges that face the outside
  (and the edges sharing a vertex with them, for exact ties) in an STRtree of
  segments in the projected plane.  A nearest-segment query costs ~1.5 µs a point
  against ~20 µs for a nearest-polygon query over all leaves (measured on the
  bundled set, 9,565 points within 300 m of the city's edge).

Why only those edges: the nearest point of the nearest leaf to an uncovered point
lies on the boundary of the union of the leaves (any covered point on the way would
belong to a nearer leaf), so only edges on that boundary can be nearest.  An edge is
inside the union when its reverse is an edge too (polygons oriented with
``shapely.orient_polygons``, so neighbours run a shared edge in opposite
directions); every other edge is kept, which is exact for overlapping or
mismatched neighbours too.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from geo.grid import bordered_cell

# shapely is imported by the functions that use it (see geo/index.py).
if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from geo.grid import LevelGrid

OUTSIDE_CELL = 1 / 2048
"""Cell size of :class:`OutsideRaster` in degrees (about 54 m of latitude)."""
_MAX_OUTSIDE_CELLS = 1 << 25  # a coarser raster beyond this (a province-sized set)
_EPS = 1e-9  # degrees: clearance kept between a marked edge and an unmarked cell
# Metres per degree of latitude at the equator (the least anywhere) and of longitude
# on the equator (times cos(latitude) elsewhere): bounds that keep the raster
# conservative, since the transverse Mercator distance is never below the geodesic one.
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON = 111_319.0


def snap_projection(bounds: Sequence[float]) -> str:
    """The PROJ string of the plane in which snap distances are measured.

    Parameters
    ----------
    bounds : (minx, miny, maxx, maxy)
        The boundary set's bounding box (WGS84 degrees).

    Examples
    --------
    >>> snap_projection((116.0, 35.5, 118.0, 36.5))
    '+proj=tmerc +lat_0=36.0 +lon_0=117.0 +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs'
    """
    # Rounded to 1e-9 degrees (0.1 mm): PROJ keeps 15 significant digits of a
    # parameter, so an origin such as -73.94999999999999 would be read as -73.95 by
    # one path and not another (1e-9 m apart); a short origin reads the same everywhere.
    lon0 = round((float(bounds[0]) + float(bounds[2])) / 2, 9)
    lat0 = round((float(bounds[1]) + float(bounds[3])) / 2, 9)
    return f"+proj=tmerc +lat_0={lat0!r} +lon_0={lon0!r} +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"


def snap_pipeline(projection: str) -> str:
    """The PROJ pipeline from WGS84 degrees (longitude first) to ``projection``'s plane.

    Examples
    --------
    >>> snap_pipeline(snap_projection((116.0, 35.5, 118.0, 36.5)))  # doctest: +NORMALIZE_WHITESPACE
    '+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad +step +proj=tmerc +lat_0=36.0 +lon_0=117.0
     +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m'
    """
    plane = " ".join(term for term in projection.split() if term != "+no_defs")
    return f"+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad +step {plane}"


def polygon_segments(
    geometries: NDArray[np.object_],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Start and end points of every ring edge, and the position of its polygon.

    Examples
    --------
    >>> from shapely import box
    >>> start, end, owner = polygon_segments(np.array([box(0, 0, 1, 1)]))
    >>> len(start), owner.tolist()
    (4, [0, 0, 0, 0])
    """
    import shapely

    # get_rings only reads Polygons: split MultiPolygons into their parts first.
    parts, part_of = shapely.get_parts(geometries, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    same_ring = ring_of[1:] == ring_of[:-1]
    owner = part_of[ring_part[ring_of[:-1][same_ring]]].astype(np.int64)
    return coords[:-1][same_ring], coords[1:][same_ring], owner


class Edges:
    """Every ring edge of a set of polygons, oriented (exterior rings counter-clockwise,
    holes clockwise: the polygon lies left of each edge), with exact vertex ids.

    Examples
    --------
    >>> from shapely import box
    >>> edges = Edges(np.array([box(0, 0, 1, 1), box(1, 0, 2, 1)]))
    >>> int(edges.exposed().sum()), int(edges.facing(np.array([True, False])).sum())
    (6, 4)
    """

    def __init__(self, geometries: NDArray[np.object_]) -> None:
        import pandas as pd
        import shapely

        oriented = shapely.orient_polygons(np.asarray(geometries, dtype=object))
        self.start, self.end, self.owner = polygon_segments(oriented)
        # Exact vertex ids: each axis's values numbered, then the pairs (no hashing of
        # floats into fewer bits, so no collisions).
        coords = np.concatenate([self.start, self.end])
        x_id, _ = pd.factorize(coords[:, 0])
        y_id, y_values = pd.factorize(coords[:, 1])
        vertex, vertices = pd.factorize(x_id.astype(np.int64) * len(y_values) + y_id)
        n = len(self.start)
        self.n_vertices = len(vertices)
        self.first = vertex[:n].astype(np.int64)
        self.last = vertex[n:].astype(np.int64)

    def exposed(self, polygons: NDArray[np.bool_] | None = None) -> NDArray[np.bool_]:
        """Edges (of the ``polygons`` selected by position, default all) on the boundary
        of their union: those whose reverse is not an edge of the selection."""
        import pandas as pd

        chosen = np.ones(len(self.start), dtype=bool) if polygons is None else polygons[self.owner]
        forward = self.first[chosen] * self.n_vertices + self.last[chosen]
        reverse = self.last[chosen] * self.n_vertices + self.first[chosen]
        exposed = np.zeros(len(self.start), dtype=bool)
        exposed[chosen] = ~pd.Series(reverse).isin(forward).to_numpy()
        return exposed

    def facing(self, polygons: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """Edges of the selected ``polygons`` that can be nearest to a point none of
        them covers: the exposed ones and those sharing a vertex with one (a polygon
        touching the outside at a single vertex ties there)."""
        exposed = self.exposed(polygons)
        on_outline = np.zeros(self.n_vertices, dtype=bool)
        on_outline[self.first[exposed]] = True
        on_outline[self.last[exposed]] = True
        chosen = polygons[self.owner]
        return exposed | (chosen & (on_outline[self.first] | on_outline[self.last]))


def mark_segments(
    start: NDArray[np.float64],
    end: NDArray[np.float64],
    origin: tuple[float, float],
    cell: float,
    shape: tuple[int, int],
) -> NDArray[np.bool_]:
    """Cells of a ``shape`` (ny, nx) raster from ``origin`` that an edge passes through or
    comes within 1e-9 degrees of.

    Samples every half cell along each edge; each marks the cells a square of half-width
    a quarter cell (plus 1e-9 degrees) around it touches, which covers the edge.

    Examples
    --------
    >>> mask = mark_segments(np.array([[0.5, 0.5]]), np.array([[2.5, 0.5]]), (0.0, 0.0), 1.0, (2, 4))
    >>> mask.astype(int).tolist()
    [[1, 1, 1, 0], [0, 0, 0, 0]]
    """
    ny, nx = shape
    marked = np.zeros(ny * nx, dtype=bool)
    if len(start) == 0:
        return marked.reshape(shape)
    first = (start - np.array(origin)) / cell
    delta = (end - start) / cell
    steps = np.ceil(np.abs(delta).max(axis=1) * 2).astype(np.int64) + 1
    segment = np.repeat(np.arange(len(start)), steps)
    t = (np.arange(len(segment)) - np.repeat(np.cumsum(steps) - steps, steps)) / np.repeat(
        np.maximum(steps - 1, 1), steps
    )
    points = first[segment] + delta[segment] * t[:, None]
    reach = 0.25 + _EPS / cell
    for dx in (-reach, reach):
        for dy in (-reach, reach):
            ix = np.floor(points[:, 0] + dx)
            iy = np.floor(points[:, 1] + dy)
            inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
            marked[(iy[inside] * nx + ix[inside]).astype(np.int64)] = True
    return marked.reshape(shape)


class OutsideRaster:
    """Cells where a point is ``outside`` for certain: no unit of any level covers any
    point of the cell, and no leaf unit is within the snap distance of it.

    Points beyond the raster's extent (the set's extent plus the snap distance) are
    outside too.

    Parameters
    ----------
    grids : sequence of LevelGrid
        Every level's grid: its extent, and the exact test of one point per region.
    outline : (start, end)
        The edges on the boundary of the union of every unit (WGS84 degrees).
    leaf_edges : (start, end)
        The leaf edges facing the outside (see :meth:`Edges.facing`).
    snap_distance_m : float
    cell : float
        Cell size in degrees (a power of two, no finer than any grid's cells).

    Notes
    -----
    Cells that an outline edge passes through or comes within 1e-9 degrees of are
    kept; the others form regions no outline edge crosses, so a region is either
    covered by the union or not, found by one exact test of one cell centre per region
    (as :class:`geo.grid.LevelGrid` labels its regions).  Then the cells within the snap
    distance of a leaf edge are kept too.
    """

    def __init__(
        self,
        grids: Sequence[LevelGrid],
        outline: tuple[NDArray[np.float64], NDArray[np.float64]],
        leaf_edges: tuple[NDArray[np.float64], NDArray[np.float64]],
        snap_distance_m: float,
        cell: float = OUTSIDE_CELL,
    ) -> None:
        from scipy import ndimage

        minx = min(g.x0 for g in grids)
        miny = min(g.y0 for g in grids)
        maxx = max(g.x0 + g.nx * g.cell for g in grids)
        maxy = max(g.y0 + g.ny * g.cell for g in grids)
        margin_y = 1.01 * snap_distance_m / _M_PER_DEG_LAT if snap_distance_m > 0 else 0.0
        top = min(max(abs(miny), abs(maxy)) + margin_y, 89.0)
        margin_x = 1.01 * snap_distance_m / (_M_PER_DEG_LON * math.cos(math.radians(top)))
        while ((maxx - minx + 2 * margin_x) / cell + 3) * ((maxy - miny + 2 * margin_y) / cell + 3) > (
            _MAX_OUTSIDE_CELLS
        ):
            cell *= 2
        self.cell = cell
        # Aligned to the cell size, one cell beyond the margin on each side.
        self.x0 = math.floor((minx - margin_x) / cell) * cell - cell
        self.y0 = math.floor((miny - margin_y) / cell) * cell - cell
        self.nx = math.floor((maxx + margin_x - self.x0) / cell) + 2
        self.ny = math.floor((maxy + margin_y - self.y0) / cell) + 2
        shape = (self.ny, self.nx)
        keep = mark_segments(*outline, (self.x0, self.y0), cell, shape)
        labels, n_regions = ndimage.label(~keep)
        if n_regions:
            # One exact test per region, at the centre of its first cell.
            flat = labels.ravel()
            first = np.full(n_regions + 1, -1, dtype=np.int64)
            first[flat[::-1]] = np.arange(len(flat) - 1, -1, -1)
            iy, ix = np.divmod(first[1:], self.nx)
            x = self.x0 + (ix + 0.5) * cell
            y = self.y0 + (iy + 0.5) * cell
            covered = np.zeros(n_regions, dtype=bool)
            for grid in grids:
                covered |= grid.query(x, y)[0] >= 0
            keep |= np.r_[False, covered][labels]
        if snap_distance_m > 0:
            near = mark_segments(*leaf_edges, (self.x0, self.y0), cell, shape)
            # A point within the snap distance of an edge point is within these many
            # cells of that point's (marked) cell in each axis.
            reach_x = math.floor(margin_x / cell) + 1
            reach_y = math.floor(margin_y / cell) + 1
            near = ndimage.maximum_filter1d(near, 2 * reach_x + 1, axis=1, mode="constant")
            near = ndimage.maximum_filter1d(near, 2 * reach_y + 1, axis=0, mode="constant")
            keep |= near
        self.outside = ~keep
        self._bordered = np.pad(self.outside, 1, constant_values=True).ravel()

    @classmethod
    def from_arrays(cls, outside: NDArray[np.bool_], x0: float, y0: float, cell: float) -> OutsideRaster:
        """A raster made earlier (see :mod:`geo.index_cache`), without building it again."""
        raster = cls.__new__(cls)
        raster.outside = outside
        raster._bordered = np.pad(outside, 1, constant_values=True).ravel()
        raster.x0, raster.y0, raster.cell = float(x0), float(y0), float(cell)
        raster.ny, raster.nx = outside.shape
        return raster

    def holds(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.bool_]:
        """True for points that are outside for certain (NaN included)."""
        flat = bordered_cell(x, y, self.x0, self.y0, self.cell, self.nx, self.ny)
        return np.take(self._bordered, flat, mode="clip")

    def holds_one(self, x: float, y: float) -> bool:
        """:meth:`holds` for one point, on floats (the single-lookup path)."""
        dx = (x - self.x0) / self.cell
        dy = (y - self.y0) / self.cell
        if not (0.0 <= dx < self.nx and 0.0 <= dy < self.ny):
            return True  # beyond the set's extent and the snap distance (NaN too)
        return bool(self._bordered[(int(dy) + 1) * (self.nx + 2) + int(dx) + 1])

    @property
    def nbytes(self) -> int:
        """Memory of the raster, in bytes."""
        return int(self.outside.nbytes + self._bordered.nbytes)


class Snapper:
    """The nearest leaf unit within the snap distance (see the module's rule).

    Parameters
    ----------
    rows : ndarray of int32
        Unit row of each leaf, ascending (ties go to the lowest).
    start, end, owner : ndarray
        The facing leaf edges in WGS84 degrees (:func:`facing_segments`) and the
        position in ``rows`` of each edge's leaf.
    projection : str
        :func:`snap_projection` of the set.
    """

    def __init__(
        self,
        rows: NDArray[np.int32],
        start: NDArray[np.float64],
        end: NDArray[np.float64],
        owner: NDArray[np.int64],
        projection: str,
    ) -> None:
        import shapely
        from pyproj import Transformer

        self.projection = projection
        # The pipeline that from_crs("EPSG:4326", projection) resolves to, given directly:
        # the same numbers (tests/geo/test_snap.py), in 0.2 ms instead of the 16-18 ms that
        # from_crs spends in PROJ's database (a fresh siji lookup that snaps pays it).
        self._transformer = Transformer.from_pipeline(snap_pipeline(projection))
        self.rows = rows
        self.owner = owner
        sx, sy = self.project(start[:, 0], start[:, 1])
        ex, ey = self.project(end[:, 0], end[:, 1])
        self.tree = shapely.STRtree(shapely.linestrings(np.stack([np.c_[sx, sy], np.c_[ex, ey]], axis=1)))

    def project(
        self, lon: NDArray[np.float64], lat: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """WGS84 degrees to the snap plane's metres."""
        px, py = self._transformer.transform(lon, lat)
        return np.asarray(px), np.asarray(py)

    def nearest(
        self, lon: NDArray[np.float64], lat: NDArray[np.float64], max_distance_m: float
    ) -> tuple[NDArray[np.intp], NDArray[np.int32], NDArray[np.float64]]:
        """(point, leaf row, distance in metres) for the points with a leaf within
        ``max_distance_m``: one vectorized STRtree query."""
        import shapely

        px, py = self.project(lon, lat)
        points = shapely.points(px, py)
        # Every edge within reach of each point (a bounding-box search and a distance
        # test), then the distances of those pairs: the nearest within reach is among
        # them: half the time of a query_nearest over the points with any (9.9 ->
        # 4.5 ms for the 4,109 points of the 1M spread mix that reach the snapper).
        point, segment = self.tree.query(points, predicate="dwithin", distance=max_distance_m)
        distance = shapely.distance(points[point], self.tree.geometries[segment])
        near = distance <= max_distance_m  # as query_nearest's max_distance (dwithin may round)
        point, segment, distance = point[near], segment[near], distance[near]
        # The least distance per point; on a tie (a shared vertex), the lowest row.
        leaf = self.owner[segment]
        order = np.lexsort((leaf, distance, point))
        point, leaf, distance = point[order], leaf[order], distance[order]
        first = np.ones(len(point), dtype=bool)
        first[1:] = point[1:] != point[:-1]
        return point[first], self.rows[leaf[first]], distance[first]
