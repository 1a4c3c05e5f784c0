"""The four-level jurisdiction index: which city, district, subdistrict and community
own a point.

Semantics
---------
Covering is ``covers`` (a point on an edge or vertex is covered), never ``contains``.

``ok``
    Exactly one unit of the finest level present covers the point.
``boundary``
    The point lies on a shared edge or vertex: several units of the resolving level
    cover it.  The unit with the **lowest code** wins (codes are hierarchical, so the
    parents of that unit also have the lowest codes among the covering parents); all
    covering units are listed as candidates, in code order.
``gap``
    Inside the set but no unit of the finest level covers the point: the finest level
    that does cover it answers, finer levels are null.
``snapped``
    Covered by nothing, but within ``snap_distance_m`` metres of a leaf unit: the
    nearest one (lowest code on ties) answers, with its distance.
``outside``
    Farther away; every level is null.

Parents always come from the hierarchy, never from re-testing polygons.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from geo.errors import BoundaryDataError, InvalidInputError
from geo.grid import MIXED_SUBCELL, LevelGrid
from geo.levels import LEVEL_KEYS, LEVELS, get_level
from geo.snap import Edges, OutsideRaster, Snapper, snap_projection

# shapely is imported by the functions that use it: a lookup from a cached index
# (boundaries/index_cache.py) of a point away from every edge never needs it, and a
# fresh `siji lookup` does not pay for its import (about 30 ms).
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from numpy.typing import ArrayLike, NDArray

STATUSES: tuple[str, ...] = ("ok", "boundary", "gap", "snapped", "outside", "invalid")
OK, BOUNDARY, GAP, SNAPPED, OUTSIDE, INVALID = range(len(STATUSES))
DEFAULT_SNAP_DISTANCE_M = 50.0
MAX_SNAP_DISTANCE_M = 10_000.0
"""The largest snap distance a setting may ask for (``SIJI_SNAP_DISTANCE_M``)."""
# Finest raster cell per level rank, in degrees (powers of two).  Communities are
# small and numerous, so their raster is finest; coarser levels are asked only about
# points that finer levels leave uncovered.
_FINEST_CELL = {0: 1 / 256, 1: 1 / 256, 2: 1 / 512, 3: 1 / 1024}
# Subcells per side inside the community cells an edge crosses (1/8192 degrees, about
# 12 m): of uniformly spread points, 4 % still need an exact test instead of 13 % at
# 1/2048 without subcells, and the index builds faster (measured on the bundled set).
_REFINE = {0: 1, 1: 1, 2: 1, 3: 8}
_PARALLEL_MIN_POINTS = 200_000
# Status by how many units of the finest level cover a point (2 or more: a boundary).
_FINEST_STATUS = np.array([OUTSIDE, OK, BOUNDARY], dtype=np.uint8)


@dataclass(frozen=True)
class UnitTable:
    """The units of a boundary set, sorted by (level rank, code).

    Attributes
    ----------
    codes, names : ndarray of object (str)
    ranks : ndarray of int8
        Level rank, 0 (city) .. 3 (community).
    parents : ndarray of int32
        Row of the parent unit, -1 for top-level units.
    """

    codes: NDArray[np.object_]
    names: NDArray[np.object_]
    ranks: NDArray[np.int8]
    parents: NDArray[np.int32]

    def __len__(self) -> int:
        return len(self.codes)

    @cached_property
    def row_of_code(self) -> dict[str, int]:
        """Map from unit code to its row."""
        return {str(code): row for row, code in enumerate(self.codes)}

    @cached_property
    def ancestors(self) -> NDArray[np.int32]:
        """Row of each unit's unit at every level (n + 1, 4); the extra last row is all
        -1 so that indexing with row -1 gives "no unit" at every level."""
        chain = np.full((len(self) + 1, len(LEVELS)), -1, dtype=np.int32)
        rows = np.arange(len(self), dtype=np.int32)
        current = rows.copy()
        while (current >= 0).any():
            known = current >= 0
            chain[rows[known], self.ranks[current[known]]] = current[known]
            current[known] = self.parents[current[known]]
        return chain

    def unit_rows(self, resolved: NDArray[np.int32]) -> NDArray[np.int32]:
        """Rows at every level (n x 4) for points resolved to ``resolved`` units (-1: none)."""
        return np.take(self.ancestors, resolved, axis=0)  # row -1 picks the all -1 row

    @cached_property
    def _level_pairs(self) -> dict[int, tuple[tuple[str, str] | None, ...]]:
        # (code, name) at each level of a row (-1: none at any), made on a row's first
        # answer: plain Python objects, so that an answer costs no numpy scalar
        # conversions, and only for the rows answered (all of them took 8 ms of a
        # fresh siji lookup's 0.15 s).
        return {}

    def _pairs(self, row: int) -> tuple[tuple[str, str] | None, ...]:
        pairs = self._level_pairs.get(row)
        if pairs is None:
            pairs = tuple(
                None if r < 0 else (str(self.codes[r]), str(self.names[r]))
                for r in self.ancestors[row].tolist()
            )
            self._level_pairs[row] = pairs  # a dict write: atomic under the GIL
        return pairs

    def answer(
        self,
        row: int,
        status: int,
        candidates: Sequence[int] = (),
        distance_m: float | None = None,
        error: str | None = None,
    ) -> dict[str, Any]:
        """The JSON-ready answer for a point resolved to unit ``row`` (-1: none).

        Examples
        --------
        >>> from shapely import box
        >>> index = JurisdictionIndex.from_arrays(["C"], ["c"], ["city"], [None], [box(0, 0, 1, 1)])
        >>> answer = index.units.answer(0, OK)
        >>> answer["city"], answer["community"], answer["status"]
        ({'code': 'C', 'name': 'c'}, None, 'ok')
        """
        answer: dict[str, Any] = {
            key: None if pair is None else {"code": pair[0], "name": pair[1]}
            for key, pair in zip(LEVEL_KEYS, self._pairs(row), strict=True)
        }
        answer["status"] = STATUSES[status]
        if len(candidates):
            answer["candidates"] = [
                {"code": self.codes[r], "name": self.names[r], "level": LEVEL_KEYS[self.ranks[r]]}
                for r in candidates
            ]
        if distance_m is not None:
            answer["distance_m"] = round(distance_m, 2)
        if error is not None:
            answer["error"] = error
        return answer

    @cached_property
    def has_children(self) -> NDArray[np.bool_]:
        """True for units that are the parent of some other unit."""
        flags = np.zeros(len(self), dtype=bool)
        flags[self.parents[self.parents >= 0]] = True
        return flags


@dataclass(slots=True)
class LookupResult:
    """Answers for a batch of points.

    Attributes
    ----------
    units : UnitTable
    unit_rows : ndarray of int32, shape (n, 4)
        Row in ``units`` of the owning unit at each level rank, -1 where none.
    status : ndarray of uint8
        Index into :data:`STATUSES`.
    distance_m : ndarray of float64
        Distance to the snapped unit in metres; NaN unless the status is ``snapped``.
    candidate_offsets, candidate_rows : ndarray
        For ``boundary`` points, the covering units of the resolving level (CSR:
        point ``i`` has ``candidate_rows[candidate_offsets[i]:candidate_offsets[i+1]]``).
    errors : ndarray of object or None
        Per-point reason for status ``invalid``.
    """

    units: UnitTable
    unit_rows: NDArray[np.int32]
    status: NDArray[np.uint8]
    distance_m: NDArray[np.float64]
    candidate_offsets: NDArray[np.int64]
    candidate_rows: NDArray[np.int32]
    errors: NDArray[np.object_] | None = None

    def __len__(self) -> int:
        return len(self.status)

    def status_names(self) -> NDArray[np.object_]:
        """Status of each point as a string."""
        return np.asarray(STATUSES, dtype=object)[self.status]

    def candidates(self, i: int) -> NDArray[np.int32]:
        """Unit rows of the candidates of point ``i`` (empty unless ``boundary``)."""
        return self.candidate_rows[self.candidate_offsets[i] : self.candidate_offsets[i + 1]]

    def columns(self) -> dict[str, NDArray[Any]]:
        """The output columns of a batch lookup, as arrays.

        ``<level>_code`` and ``<level>_name`` for the four levels, ``status``,
        ``distance_m``, ``candidates`` (codes joined by ``;``) and ``error``.
        """
        none = np.array([None], dtype=object)
        codes = np.concatenate([self.units.codes, none])
        names = np.concatenate([self.units.names, none])
        out: dict[str, NDArray[Any]] = {}
        for rank, key in enumerate(LEVEL_KEYS):
            rows = self.unit_rows[:, rank]
            out[f"{key}_code"] = codes[rows]  # row -1 picks the trailing None
            out[f"{key}_name"] = names[rows]
        out["status"] = self.status_names()
        out["distance_m"] = np.round(self.distance_m, 2)
        candidates = np.full(len(self), None, dtype=object)
        for i in np.flatnonzero(np.diff(self.candidate_offsets) > 0):
            candidates[i] = ";".join(self.units.codes[self.candidates(int(i))])
        out["candidates"] = candidates
        out["error"] = self.errors if self.errors is not None else np.full(len(self), None, dtype=object)
        return out

    def record(self, i: int) -> dict[str, Any]:
        """The JSON-ready answer for point ``i`` (the shape ``siji lookup`` prints)."""
        levels = self.unit_rows[i]
        resolved = levels[levels >= 0]
        distance = float(self.distance_m[i])
        return self.units.answer(
            int(resolved[-1]) if len(resolved) else -1,
            int(self.status[i]),
            self.candidates(i).tolist(),
            distance if np.isfinite(distance) else None,
            self.errors[i] if self.errors is not None else None,
        )


def _build_grids(
    geometries: NDArray[np.object_], rows_by_rank: dict[int, NDArray[np.int32]]
) -> dict[int, LevelGrid]:
    """One :class:`LevelGrid` per level, the finest (the largest) started first and the
    others built beside it: shapely and numpy release the GIL for most of a build."""
    order = sorted(rows_by_rank, reverse=True)
    with ThreadPoolExecutor(2) as pool:
        futures = {
            rank: pool.submit(
                LevelGrid,
                geometries[rows_by_rank[rank]],
                finest_cell=_FINEST_CELL[rank],
                refine=_REFINE[rank],
            )
            for rank in order
        }
        return {rank: futures[rank].result() for rank in sorted(rows_by_rank)}


class Locator(Protocol):
    """Anything that looks up WGS84 points like :class:`JurisdictionIndex` does."""

    units: UnitTable

    def lookup(self, lon: ArrayLike, lat: ArrayLike, *, threads: int | None = None) -> LookupResult: ...


class JurisdictionIndex:
    """Exact, vectorized four-level point lookup over one boundary set.

    Build it with :meth:`from_arrays`; query with :meth:`lookup` (WGS84 arrays).

    Examples
    --------
    >>> from shapely import box
    >>> index = JurisdictionIndex.from_arrays(
    ...     codes=["A", "A1", "A2"], names=["city", "west", "east"],
    ...     levels=["city", "district", "district"], parent_codes=[None, "A", "A"],
    ...     geometries=[box(0, 0, 0.2, 0.1), box(0, 0, 0.1, 0.1), box(0.1, 0, 0.2, 0.1)],
    ... )
    >>> result = index.lookup([0.05, 0.1], [0.05, 0.05])
    >>> result.status_names().tolist()
    ['ok', 'boundary']
    >>> result.record(1)["district"]
    {'code': 'A1', 'name': 'west'}
    """

    def __init__(
        self,
        units: UnitTable,
        geometries: NDArray[np.object_],
        snap_distance_m: float = DEFAULT_SNAP_DISTANCE_M,
    ) -> None:
        self._setup(units, snap_distance_m)
        self._geometries: NDArray[np.object_] | None = geometries
        self._load_geometries: Callable[[], NDArray[np.object_]] | None = None
        self._grids = _build_grids(geometries, self._rows_by_rank)
        self._set_finest()

    def _setup(self, units: UnitTable, snap_distance_m: float) -> None:
        self.units = units
        self.snap_distance_m = float(snap_distance_m)
        self._snapper_lock = threading.Lock()
        self._outside_built: OutsideParts | None = None
        present = sorted(set(units.ranks.tolist()))
        self.ranks_present: tuple[int, ...] = tuple(present)
        self._rows_by_rank = {rank: np.flatnonzero(units.ranks == rank).astype(np.int32) for rank in present}

    def _set_finest(self) -> None:
        # resolve_one's finest level: its grid, and its rows as Python ints.
        finest = self.ranks_present[-1] if self.ranks_present else None
        self._finest: tuple[LevelGrid, list[int]] | None = (
            None if finest is None else (self._grids[finest], self._rows_by_rank[finest].tolist())
        )

    @classmethod
    def from_parts(
        cls,
        units: UnitTable,
        geometries: Callable[[], NDArray[np.object_]],
        grids: dict[int, LevelGrid],
        snap_distance_m: float,
        bounds: tuple[float, float, float, float],
        outside: OutsideParts | None = None,
    ) -> JurisdictionIndex:
        """An index built earlier, from its parts (see :mod:`boundaries.index_cache`).

        ``geometries`` is called for the polygons (in unit row order) the first time a
        lookup needs an exact test or a snap: a point away from every edge never waits
        for them.
        """
        index = cls.__new__(cls)
        index._setup(units, snap_distance_m)
        index._geometries = None
        index._load_geometries = geometries
        index._grids = grids
        index._set_finest()
        index.__dict__["bounds"] = tuple(float(v) for v in bounds)  # the cached_property's value
        index._outside_built = outside
        return index

    @property
    def geometries(self) -> NDArray[np.object_]:
        """Every unit's polygon, in unit row order (loaded on first use for an index made
        by :meth:`from_parts`)."""
        geometries = self._geometries
        if geometries is None:
            with self._snapper_lock:
                geometries = self._geometries
                if geometries is None:
                    assert self._load_geometries is not None
                    geometries = self._geometries = np.asarray(self._load_geometries(), dtype=object)
        return geometries

    @property
    def grids(self) -> dict[int, LevelGrid]:
        """Each level's grid, by level rank."""
        return self._grids

    @classmethod
    def from_arrays(
        cls,
        codes: Sequence[str] | ArrayLike,
        names: Sequence[str] | ArrayLike,
        levels: Sequence[str | int] | ArrayLike,
        parent_codes: Sequence[str | None] | ArrayLike,
        geometries: Sequence[Any] | ArrayLike,
        snap_distance_m: float = DEFAULT_SNAP_DISTANCE_M,
    ) -> JurisdictionIndex:
        """Build an index from parallel arrays (WGS84 polygons).

        Raises
        ------
        BoundaryDataError
            Duplicate codes, unknown levels, parents that do not resolve or that are
            not exactly one level up, or non-polygonal geometries.
        """
        units, geoms = _unit_table(codes, names, levels, parent_codes, geometries)
        return cls(units, geoms, snap_distance_m=snap_distance_m)

    @property
    def finest(self) -> tuple[LevelGrid, list[int]]:
        """The finest level's grid and the unit row of each of its positions (as Python
        ints).

        For callers answering one point at a time that hold them across calls: a
        position ``grid.value_at(x, y) >= 0`` is the point's only covering unit at
        that level, ``rows[position]`` its row, as :meth:`resolve_one` answers.
        """
        if self._finest is None:  # from_arrays refuses an empty set
            raise BoundaryDataError("the index has no units")
        return self._finest

    @property
    def nbytes(self) -> int:
        """Approximate memory of the rasters and candidate lists, in bytes."""
        return sum(grid.nbytes for grid in self._grids.values())

    @cached_property
    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) of all units, WGS84 degrees."""
        import shapely

        minx, miny, maxx, maxy = shapely.total_bounds(self.geometries)
        return float(minx), float(miny), float(maxx), float(maxy)

    def lookup(self, lon: ArrayLike, lat: ArrayLike, *, threads: int | None = None) -> LookupResult:
        """Look up WGS84 points.

        Parameters
        ----------
        lon, lat : array_like of float
            Must be finite (check them first with :func:`geo.coords.coordinate_problems`).
        threads : int, optional
            Worker threads for large batches (shapely releases the GIL); default: one
            per CPU for batches over 200,000 points, otherwise 1.
        """
        x = np.ascontiguousarray(lon, dtype=np.float64).ravel()
        y = np.ascontiguousarray(lat, dtype=np.float64).ravel()
        if len(x) == 1:
            one = self._lookup_one(float(x[0]), float(y[0]))
            if one is not None:
                return one
        workers = threads or ((os.cpu_count() or 1) if len(x) >= _PARALLEL_MIN_POINTS else 1)
        if workers <= 1 or len(x) < 2 * workers:
            return self._lookup(x, y)
        bounds = np.linspace(0, len(x), workers + 1).astype(int)
        with ThreadPoolExecutor(workers) as pool:
            parts = list(
                pool.map(
                    lambda i: self._lookup(x[bounds[i] : bounds[i + 1]], y[bounds[i] : bounds[i + 1]]),
                    range(workers),
                )
            )
        return _concat(parts)

    def resolve_one(self, x: float, y: float) -> tuple[int, list[int]] | None:
        """(unit row, the covering rows in code order when more than one cover it) for
        one WGS84 point covered at the finest level; None for any other point.

        The single-request hot path: no arrays are made.  None means the point needs the
        batch path (:meth:`lookup`): a gap, snapping or outside.
        :meth:`UnitTable.answer` turns the rows into the answer.

        Examples
        --------
        >>> from shapely import box
        >>> index = JurisdictionIndex.from_arrays(
        ...     ["A", "A1", "A2"], ["a", "west", "east"], ["city", "district", "district"],
        ...     [None, "A", "A"], [box(0, 0, 2, 1), box(0, 0, 1, 1), box(1, 0, 2, 1)])
        >>> index.resolve_one(0.5, 0.5), index.resolve_one(1.0, 0.5), index.resolve_one(5.0, 5.0)
        ((1, []), (1, [1, 2]), None)
        """
        if self._finest is None:
            return None
        grid, rows = self._finest
        position = grid.value_at(x, y)
        if position >= 0:
            return rows[position], []
        if position != MIXED_SUBCELL:
            return None
        # Near an edge: the exact test on the cell's few polygons, as query() does.
        covering = grid.exact_covering(x, y)
        if not covering:
            return None  # a gap or outside: the coarser levels and snapping decide
        # Candidates are sorted by position, and positions by code: the first wins.
        shared = sorted(rows[c] for c in covering) if len(covering) > 1 else []
        return rows[covering[0]], shared

    def _lookup_one(self, x: float, y: float) -> LookupResult | None:
        """:meth:`resolve_one` as a batch of one."""
        found = self.resolve_one(x, y)
        if found is None:
            return None
        row, shared = found
        return LookupResult(
            self.units,
            self.units.unit_rows(np.array([row], dtype=np.int32)),
            np.array([BOUNDARY if shared else OK], dtype=np.uint8),
            np.array([np.nan]),
            np.array([0, len(shared)], dtype=np.int64),
            np.array(shared, dtype=np.int32),
        )

    def _lookup(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> LookupResult:
        n = len(x)
        finest = self.ranks_present[-1]
        # The finest level over every point, without gathers (most points end here).
        winner, count, hit_point, hit_poly = self._grids[finest].query(x, y)
        rows = self._rows_by_rank[finest]
        resolved = np.append(rows, -1).take(winner)  # winner -1 picks the trailing -1
        status = _FINEST_STATUS.take(np.minimum(count, 2))  # 0 outside, 1 ok, 2+ boundary
        shared = count[hit_point] > 1
        cand_point = [hit_point[shared]]
        cand_row = [rows[hit_poly[shared]]]
        pending = np.flatnonzero(winner < 0)
        if len(pending):
            # Most points no unit of the finest level covers are far from every unit:
            # one raster lookup answers them (they stay "outside").
            pending = pending[~self._outside.raster.holds(x[pending], y[pending])]
        for rank in reversed(self.ranks_present[:-1]):
            if len(pending) == 0:
                break
            rows = self._rows_by_rank[rank]
            winner, count, hit_point, hit_poly = self._grids[rank].query(x[pending], y[pending])
            found = winner >= 0
            points = pending[found]
            resolved[points] = rows[winner[found]]
            status[points] = GAP
            on_edge = count > 1
            status[pending[on_edge]] = BOUNDARY
            shared = on_edge[hit_point]
            cand_point.append(pending[hit_point[shared]])
            cand_row.append(rows[hit_poly[shared]])
            pending = pending[~found]
        distance = np.full(n, np.nan)
        # Non-finite coordinates are never near anything (callers mark them invalid).
        pending = pending[np.isfinite(x[pending]) & np.isfinite(y[pending])]
        if len(pending):
            self._snap(x, y, pending, resolved, status, distance)
        unit_rows = self.units.unit_rows(resolved)
        offsets, cand_rows = candidates_csr(n, cand_point, cand_row)
        return LookupResult(self.units, unit_rows, status, distance, offsets, cand_rows)

    def _snap(
        self,
        x: NDArray[np.float64],
        y: NDArray[np.float64],
        pending: NDArray[np.intp],
        resolved: NDArray[np.int32],
        status: NDArray[np.uint8],
        distance: NDArray[np.float64],
    ) -> None:
        if self.snap_distance_m <= 0:
            return
        point, rows, dist = self._outside.snapper.nearest(x[pending], y[pending], self.snap_distance_m)
        points = pending[point]
        resolved[points] = rows
        status[points] = SNAPPED
        distance[points] = dist

    def prepare_snapping(self) -> None:
        """Build the structures for points outside every unit now rather than on the
        first such point (see :mod:`geo.snap`)."""
        self._outside  # noqa: B018 - built on first access

    @property
    def snap_projection(self) -> str:
        """The plane snap distances are measured in (:func:`geo.snap.snap_projection`)."""
        return snap_projection(self.bounds)

    @property
    def _outside(self) -> OutsideParts:
        # Built on first need: many batches have no point outside the finest level.
        built = self._outside_built
        if built is not None:
            return built
        with self._snapper_lock:
            if self._outside_built is None:
                self._outside_built = OutsideParts.build(self)
            return self._outside_built

    @property
    def outside_raster(self) -> OutsideRaster | None:
        """The raster of cells where a point is ``outside`` for certain (see
        :mod:`geo.snap`), None until built (:meth:`prepare_snapping` builds it)."""
        built = self._outside_built
        return None if built is None else built.raster

    def surely_outside(self, x: float, y: float) -> bool:
        """True if one WGS84 point is ``outside`` for certain by :attr:`outside_raster`
        (no unit covers it, none is within the snap distance); False when it may not be,
        and while that raster is not built.  Floats only, for the single-lookup path."""
        raster = self.outside_raster
        return raster is not None and raster.holds_one(x, y)

    def set_outside_parts(self, parts: OutsideParts) -> None:
        """Use outside structures made earlier (:mod:`geo.index_cache` loads them)."""
        self._outside_built = parts


class OutsideParts:
    """What answers points that no unit of the finest level covers, fast (see
    :mod:`geo.snap`): the raster of cells that are outside for certain, and the leaf
    edges facing the outside, whose snapper is built on first need.

    Parameters
    ----------
    raster : OutsideRaster
    leaf_rows : ndarray of int32
        Unit rows of the leaf units, ascending.
    segments : (start, end, owner)
        The facing leaf edges (WGS84 degrees) and the position in ``leaf_rows`` of each
        edge's leaf.
    projection : str
        The plane snap distances are measured in (:func:`geo.snap.snap_projection`).
    """

    def __init__(
        self,
        raster: OutsideRaster,
        leaf_rows: NDArray[np.int32],
        segments: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]],
        projection: str,
    ) -> None:
        self.raster = raster
        self.leaf_rows = leaf_rows
        self.segments = segments
        self.projection = projection
        self._snapper: Snapper | None = None
        self._lock = threading.Lock()

    @property
    def snapper(self) -> Snapper:
        """The snapper over the facing leaf edges (built on first use: a few ms, and
        pyproj's import)."""
        with self._lock:
            if self._snapper is None:
                self._snapper = Snapper(self.leaf_rows, *self.segments, self.projection)
            return self._snapper

    @classmethod
    def build(cls, index: JurisdictionIndex) -> OutsideParts:
        """Find the facing edges and build the raster for ``index``."""
        leaf = ~index.units.has_children
        leaf_rows = np.flatnonzero(leaf).astype(np.int32)
        edges = Edges(index.geometries)
        outline = edges.exposed()
        facing = edges.facing(leaf)
        start, end = edges.start[facing], edges.end[facing]
        # Edge owners are unit rows; the snapper wants positions among the leaves.
        owner = np.searchsorted(leaf_rows, edges.owner[facing]).astype(np.int64)
        raster = OutsideRaster(
            list(index.grids.values()),
            (edges.start[outline], edges.end[outline]),
            (start, end),
            index.snap_distance_m,
        )
        return cls(raster, leaf_rows, (start, end, owner), index.snap_projection)


def candidates_csr(
    n: int, points: list[NDArray[np.intp]], rows: list[NDArray[np.int32]]
) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
    """Pack (point, unit row) pairs into CSR offsets and rows sorted by point, then row."""
    point = np.concatenate(points) if points else np.empty(0, dtype=np.intp)
    row = np.concatenate(rows) if rows else np.empty(0, dtype=np.int32)
    order = np.lexsort((row, point))
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(point, minlength=n), out=offsets[1:])
    return offsets, row[order].astype(np.int32)


def _concat(parts: list[LookupResult]) -> LookupResult:
    offsets = [parts[0].candidate_offsets]
    for part in parts[1:]:
        offsets.append(part.candidate_offsets[1:] + offsets[-1][-1])
    return LookupResult(
        parts[0].units,
        np.concatenate([p.unit_rows for p in parts]),
        np.concatenate([p.status for p in parts]),
        np.concatenate([p.distance_m for p in parts]),
        np.concatenate(offsets),
        np.concatenate([p.candidate_rows for p in parts]),
    )


def _unit_table(
    codes: Any, names: Any, levels: Any, parent_codes: Any, geometries: Any
) -> tuple[UnitTable, NDArray[np.object_]]:
    """Check the arrays and sort them into a :class:`UnitTable` (the one place for checks)."""
    import shapely

    code_arr = np.asarray([str(c) for c in codes], dtype=object)
    n = len(code_arr)
    name_arr = np.asarray([str(v) for v in names], dtype=object)
    geom_arr = np.asarray(geometries, dtype=object)
    parent_arr = np.asarray([None if _is_missing(p) else str(p) for p in parent_codes], dtype=object)
    if not (len(name_arr) == len(parent_arr) == len(geom_arr) == n) or len(levels) != n:
        raise BoundaryDataError("codes, names, levels, parent codes and geometries differ in length")
    if n == 0:
        raise BoundaryDataError("the boundary set is empty: at least one unit is needed")
    try:
        ranks = np.asarray([get_level(v).rank for v in levels], dtype=np.int8)
    except InvalidInputError as exc:
        raise BoundaryDataError(exc.message, **exc.detail) from exc
    unique, counts = np.unique(code_arr.astype(str), return_counts=True)
    if (counts > 1).any():
        dupes = unique[counts > 1][:10].tolist()
        raise BoundaryDataError(f"unit codes must be unique; duplicated: {dupes}", duplicates=dupes)
    types = shapely.get_type_id(geom_arr)
    bad = np.flatnonzero(~np.isin(types, [3, 6]) | shapely.is_empty(geom_arr))
    if len(bad):
        first = int(bad[0])
        raise BoundaryDataError(
            f"unit {code_arr[first]!r} has geometry {_geom_kind(geom_arr[first])}; "
            "only non-empty Polygon and MultiPolygon are allowed",
            code=code_arr[first],
        )
    order = np.lexsort((code_arr.astype(str), ranks))
    code_arr, name_arr, parent_arr, geom_arr = (
        code_arr[order],
        name_arr[order],
        parent_arr[order],
        geom_arr[order],
    )
    ranks = ranks[order]
    row_of = {c: i for i, c in enumerate(code_arr)}
    parents = np.full(n, -1, dtype=np.int32)
    top = int(ranks.min())
    for i, parent in enumerate(parent_arr):
        if parent is None or ranks[i] == top:
            continue
        row = row_of.get(parent)
        if row is None:
            raise BoundaryDataError(
                f"unit {code_arr[i]!r}: parent code {parent!r} is not in the set",
                code=code_arr[i],
                parent_code=parent,
            )
        if ranks[row] != ranks[i] - 1:
            raise BoundaryDataError(
                f"unit {code_arr[i]!r} ({LEVEL_KEYS[ranks[i]]}) has parent {parent!r} at level "
                f"{LEVEL_KEYS[ranks[row]]}; the parent must be exactly one level up",
                code=code_arr[i],
                parent_code=parent,
            )
        parents[i] = row
    orphans = np.flatnonzero((parents < 0) & (ranks > top))
    if len(orphans):
        raise BoundaryDataError(
            f"unit {code_arr[orphans[0]]!r} has no parent code; only the top level may lack one",
            code=code_arr[orphans[0]],
        )
    return UnitTable(code_arr, name_arr, ranks, parents), geom_arr


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return str(value).strip() in ("", "None", "nan", "<NA>")


def _geom_kind(geometry: Any) -> str:
    import shapely

    if geometry is None:
        return "missing"
    return f"{'empty ' if shapely.is_empty(geometry) else ''}{geometry.geom_type}"
