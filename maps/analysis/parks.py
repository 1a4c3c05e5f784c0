"""Pocket parks (口袋公园) for "300米见绿、500米见园": candidate sites and a coverage plan.

The standard asks for green space within 300 m and a park within 500 m of every home.
:func:`generate_candidates` lays a grid of possible sites over the urban subdistricts,
away from existing parks; :class:`PocketParkPlan` picks ``p`` of them that cover the most
unmet demand (reports of missing green space or fitness facilities, optionally weighted)
within the service radius, with the maximal covering location problem (MCLP) of spopt
solved by CBC.

Distances are straight-line metres in :data:`~maps.analysis.density.METRIC_CRS`
(EPSG:4548); a point at exactly ``radius_m`` is covered.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import InvalidInputError, SijiError
from maps.analysis.density import (
    METRIC_CRS,
    _require_columns,
    _require_geoframe,
    _require_points,
    _require_same_crs,
)
from maps.analysis.inputs import nonnegative_column

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["SERVICE_RADII_M", "PlanNotReadyError", "PocketParkPlan", "generate_candidates"]

SERVICE_RADII_M: tuple[float, float] = (300.0, 500.0)
"""300米见绿 (green space within 300 m) and 500米见园 (a park within 500 m)."""
MAX_GRID_POINTS = 5_000_000
"""Refuse candidate grids larger than this (a spacing far too fine for the area)."""


class PlanNotReadyError(SijiError, RuntimeError):
    """A result of a :class:`PocketParkPlan` asked for before :meth:`~PocketParkPlan.solve`,
    or a map result of a plan built from arrays."""

    code = "plan_not_ready"


# --------------------------------------------------------------------------- candidates
def generate_candidates(
    units: gpd.GeoDataFrame,
    parks: gpd.GeoDataFrame | None,
    *,
    subdistrict_codes: list[str] | tuple[str, ...] | None = None,
    spacing_m: float = 250,
    min_distance_m: float = 300,
) -> gpd.GeoDataFrame:
    """Candidate pocket-park sites: grid points in subdistricts, away from existing parks.

    The grid is square, ``spacing_m`` apart, aligned to multiples of the spacing in
    :data:`~maps.analysis.density.METRIC_CRS` (so a subdistrict gets the same points
    whichever others are asked for).  Points on a subdistrict's boundary are left out.

    Parameters
    ----------
    units : GeoDataFrame
        A boundary frame with subdistrict rows (``code, name, level``).
    parks : GeoDataFrame or None
        Existing parks (points or polygons), in the CRS of ``units``; None for none.
    subdistrict_codes : sequence of str, optional
        The subdistricts to cover; default the urban ones (街道: names ending in 街道).
    spacing_m : float
        Grid spacing in metres (> 0).
    min_distance_m : float
        Keep only points at least this far (metres) from every existing park (>= 0).

    Returns
    -------
    GeoDataFrame
        ``candidate_id`` (1..n), ``subdistrict_code``, point geometry (EPSG:4326), ordered
        by subdistrict (as in ``units``), then south to north, west to east.

    Raises
    ------
    InvalidInputError
        Unknown subdistrict code, bad spacing or distance, a grid of more than
        :data:`MAX_GRID_POINTS` points, missing columns.
    CRSMismatchError
        ``parks`` in another CRS than ``units``.

    Examples
    --------
    >>> from boundaries.bundled import load_taian
    >>> units = load_taian()
    >>> sites = generate_candidates(units, None, subdistrict_codes=["370902001000"], spacing_m=500)
    >>> sites.columns.tolist(), sites["subdistrict_code"].unique().tolist()
    (['candidate_id', 'subdistrict_code', 'geometry'], ['370902001000'])
    """
    chosen, park_geometry = _candidate_inputs(units, parks, subdistrict_codes, spacing_m, min_distance_m)
    points, owner = _grid_points(chosen.geometry.to_crs(METRIC_CRS).to_numpy(), float(spacing_m))
    keep = _far_from(points, park_geometry, float(min_distance_m))
    points, owner = points[keep], owner[keep]
    frame = gpd.GeoDataFrame(
        {
            "candidate_id": np.arange(1, len(points) + 1, dtype=np.int64),
            "subdistrict_code": chosen["code"].to_numpy()[owner],
        },
        geometry=points,
        crs=METRIC_CRS,
    )
    return frame.to_crs(4326)


def _candidate_inputs(
    units: Any,
    parks: Any,
    subdistrict_codes: list[str] | tuple[str, ...] | None,
    spacing_m: float,
    min_distance_m: float,
) -> tuple[gpd.GeoDataFrame, NDArray[np.object_] | None]:
    _require_geoframe(units, "units")
    _require_columns(units, "units", ["code", "name", "level"])
    _require_positive(spacing_m, "spacing_m")
    if not _is_number(min_distance_m) or not math.isfinite(min_distance_m) or min_distance_m < 0:
        raise InvalidInputError(
            f"min_distance_m {min_distance_m!r} is not allowed; allowed: a finite number of metres >= 0",
            field="min_distance_m",
            value=repr(min_distance_m),
        )
    subdistricts = units.loc[units["level"].to_numpy() == "subdistrict"]
    if subdistrict_codes is None:
        chosen = subdistricts.loc[subdistricts["name"].str.endswith("街道").to_numpy(dtype=bool)]
        if chosen.empty:
            raise InvalidInputError(
                "units has no urban subdistrict (a name ending in 街道); allowed: pass subdistrict_codes",
                field="subdistrict_codes",
            )
    else:
        codes = [subdistrict_codes] if isinstance(subdistrict_codes, str) else list(subdistrict_codes)
        known = subdistricts["code"].to_numpy(dtype=object)
        known_codes = frozenset(known)
        unknown = [code for code in codes if code not in known_codes]
        if unknown:
            examples = ", ".join(
                f"{c} {n}" for c, n in zip(known[:5], subdistricts["name"][:5], strict=False)
            )
            raise InvalidInputError(
                f"subdistrict code {unknown[0]!r} is not a subdistrict of units; allowed: the "
                f"{len(known)} subdistrict codes of units (e.g. {examples})",
                field="subdistrict_codes",
                value=unknown[0],
            )
        chosen = subdistricts.loc[subdistricts["code"].isin(codes).to_numpy(dtype=bool)]
    if parks is None:
        return chosen, None
    _require_geoframe(parks, "parks")
    _require_same_crs(units, "units", parks, "parks")
    geometry = parks.geometry.to_crs(METRIC_CRS).to_numpy()
    return chosen, geometry[~shapely.is_missing(geometry) & ~shapely.is_empty(geometry)]


def _grid_points(
    polygons: NDArray[np.object_], spacing: float
) -> tuple[NDArray[np.object_], NDArray[np.int64]]:
    """Grid points strictly inside the polygons, and the polygon each is in."""
    x, y, owner = _grid(polygons, spacing)
    keep = shapely.contains_xy(polygons[owner], x, y)
    keep[keep] = ~pd.DataFrame({"x": x[keep], "y": y[keep]}).duplicated().to_numpy()  # overlapping polygons
    return shapely.points(x[keep], y[keep]), owner[keep]


def _far_from(
    points: NDArray[np.object_], parks: NDArray[np.object_] | None, min_distance: float
) -> NDArray[np.bool_]:
    """True for the points at least ``min_distance`` from every park."""
    keep = np.ones(len(points), dtype=bool)
    if parks is None or not len(parks) or not len(points) or min_distance <= 0:
        return keep
    (near, _), distance = shapely.STRtree(parks).query_nearest(
        points, max_distance=min_distance, return_distance=True, all_matches=False
    )
    keep[near[distance < min_distance]] = False
    return keep


def _grid(
    polygons: NDArray[np.object_], spacing: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Grid points over each polygon's bounding box, and the polygon each belongs to."""
    bounds = shapely.bounds(polygons)
    x0 = np.ceil(bounds[:, 0] / spacing) * spacing
    y0 = np.ceil(bounds[:, 1] / spacing) * spacing
    nx = np.maximum(np.floor((bounds[:, 2] - x0) / spacing).astype(np.int64) + 1, 0)
    ny = np.maximum(np.floor((bounds[:, 3] - y0) / spacing).astype(np.int64) + 1, 0)
    sizes = nx * ny
    total = int(sizes.sum())
    if total > MAX_GRID_POINTS:
        raise InvalidInputError(
            f"spacing_m {spacing:g} gives {total:,} grid points; allowed: at most {MAX_GRID_POINTS:,} "
            "(use a larger spacing or fewer subdistricts)",
            field="spacing_m",
            value=spacing,
        )
    owner = np.repeat(np.arange(len(polygons), dtype=np.int64), sizes)
    local = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    columns = nx[owner]
    return x0[owner] + (local % columns) * spacing, y0[owner] + (local // columns) * spacing, owner


# --------------------------------------------------------------------------- the plan
@dataclass(frozen=True, slots=True)
class _Frames:
    """The frames a plan was built from (EPSG:4326), for the map results."""

    demand: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame


class PocketParkPlan:
    """Where to put ``p`` pocket parks so they serve the most unmet demand (MCLP).

    The core works on arrays, as spopt's models do: a demand-by-candidate distance
    matrix, demand weights and which demand existing parks already serve.
    :meth:`from_geodataframe` builds it from points.  :meth:`solve` runs
    ``spopt.locate.MCLP`` (CBC through PuLP, quietly) and returns the plan.

    Coverage semantics: a demand point is *covered* when a park or chosen site is within
    ``radius_m`` (inclusive).  Demand that an existing park already covers counts as
    ``covered_before`` and is left out of the optimisation — new sites are placed for
    the demand that is still unserved.  MCLP maximizes the weight of newly covered
    demand; it always places exactly ``p`` sites, so when fewer than ``p`` sites can add
    anything the rest are the first remaining candidates, with ``new_demand_covered`` 0.

    Parameters
    ----------
    cost_matrix : array-like or scipy sparse matrix, shape (n_demand, n_candidates)
        Distances in metres.  Dense: every pair (``inf`` = unreachable).  Sparse (as
        scikit-learn's ``radius_neighbors_graph(mode="distance")``): the stored entries
        are the distances, explicit zeros included, and a missing entry is farther than
        ``radius_m``.
    weights : array-like, shape (n_demand,), optional
        Demand weights >= 0 (default 1 each: every report counts once).
    radius_m : float
        Service radius in metres: 300 (见绿) or 500 (见园), see :data:`SERVICE_RADII_M`.
    p : int
        Sites to choose, 1..n_candidates.
    covered_before : array-like of bool, shape (n_demand,), optional
        Demand already served by an existing park (default none).

    Attributes
    ----------
    After :meth:`solve` — array results for any plan: ``selected`` (candidate positions
    in rank order), ``new_demand_covered`` (per selected site), ``covered_after_mask``
    and ``coverage`` (dict: ``total_demand, covered_before, covered_after, share_before,
    share_after, radius_m, p``).  Map results for a plan from :meth:`from_geodataframe`:
    ``chosen``, ``per_subdistrict``, ``uncovered`` and ``service_areas``.  Rank 1 is the
    site that covers the most new demand on its own; each next rank is the site adding
    the most beyond the ranks before it, and ``new_demand_covered`` is that addition, so
    the column sums to ``covered_after - covered_before``.

    Examples
    --------
    >>> import numpy as np
    >>> far = np.inf
    >>> cost = np.array([[0, far, far], [100, far, far], [200, far, far],
    ...                  [far, 250, far], [far, 120, 80], [far, far, far]])
    >>> plan = PocketParkPlan(cost, radius_m=300, p=2).solve()
    >>> plan.selected.tolist(), plan.new_demand_covered.tolist()
    ([0, 1], [3, 2])
    >>> plan.coverage["covered_after"], plan.coverage["total_demand"]
    (5, 6)
    """

    def __init__(
        self,
        cost_matrix: Any,
        weights: ArrayLike | None = None,
        *,
        radius_m: float = 300.0,
        p: int = 5,
        covered_before: ArrayLike | None = None,
    ) -> None:
        self.covers, self.weights, self.covered_before_mask, self._integral = _plan_arrays(
            cost_matrix, weights, radius_m, p, covered_before
        )
        self.radius_m = float(radius_m)
        self.p = int(p)
        self._frames: _Frames | None = None
        self._selected: NDArray[np.int64] | None = None
        self._gains: NDArray[np.float64] | None = None
        self._covered_after: NDArray[np.bool_] | None = None

    @classmethod
    def from_geodataframe(
        cls,
        demand: gpd.GeoDataFrame,
        candidates: gpd.GeoDataFrame,
        parks: gpd.GeoDataFrame | None = None,
        *,
        weight: str | None = None,
        radius_m: float = 300.0,
        p: int = 5,
    ) -> PocketParkPlan:
        """A plan from demand points, candidate sites and existing parks.

        Parameters
        ----------
        demand : GeoDataFrame
            Demand points, e.g. ``reports[reports["demand"]]`` (reports of missing green
            space or fitness facilities); a ``subdistrict_code`` column feeds
            ``per_subdistrict``.
        candidates : GeoDataFrame
            Candidate points, e.g. :func:`generate_candidates` (``candidate_id`` and
            ``subdistrict_code`` are carried into ``chosen``; ids default to 1..n).
        parks : GeoDataFrame, optional
            Existing parks, points or polygons (distance to the polygon).
        weight : str, optional
            A numeric column of ``demand`` (population, households ...); default 1 each.
        radius_m, p
            As for the class.

        Raises
        ------
        InvalidInputError
            No demand or no candidates, non-point geometry, a bad weight column,
            radius or p (p above the number of candidates), duplicate candidate ids.
        CRSMismatchError
            The frames are not in one CRS (both CRSs are named).

        Examples
        --------
        >>> import geopandas as gpd
        >>> demand = gpd.GeoDataFrame(geometry=gpd.points_from_xy([0, 10, 1000], [0, 0, 0]), crs=4548)
        >>> sites = gpd.GeoDataFrame(geometry=gpd.points_from_xy([0, 1000], [0, 0]), crs=4548)
        >>> plan = PocketParkPlan.from_geodataframe(demand, sites, p=1).solve()
        >>> plan.chosen["candidate_id"].tolist(), plan.coverage["share_after"]
        ([1], 0.6666666666666666)
        """
        frames, demand_m, candidates_m, parks_m, weights = _plan_frames(
            demand, candidates, parks, weight, radius_m
        )
        from scipy import sparse

        rows, columns = shapely.STRtree(candidates_m).query(demand_m, predicate="dwithin", distance=radius_m)
        distance = shapely.distance(demand_m[rows], candidates_m[columns])
        cost = sparse.csr_array((distance, (rows, columns)), shape=(len(demand_m), len(candidates_m)))
        before = np.zeros(len(demand_m), dtype=bool)
        if parks_m is not None and len(parks_m):
            served, _ = shapely.STRtree(parks_m).query(demand_m, predicate="dwithin", distance=radius_m)
            before[served] = True
        plan = cls(cost, weights, radius_m=radius_m, p=p, covered_before=before)
        plan._frames = frames
        return plan

    # ----------------------------------------------------------------- solving
    def solve(self) -> PocketParkPlan:
        """Choose the ``p`` sites (MCLP, CBC) and compute the results; returns ``self``."""
        selected = _solve_mclp(self.covers, self.weights, self.covered_before_mask, self.p)
        self._selected, self._gains, self._covered_after = _rank(
            self.covers, self.weights, self.covered_before_mask, selected
        )
        return self

    @property
    def solved(self) -> bool:
        """True once :meth:`solve` has run."""
        return self._selected is not None

    def _results(self, what: str) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.bool_]]:
        if self._selected is None or self._gains is None or self._covered_after is None:
            raise PlanNotReadyError(
                f"{what} is not available: the plan is not solved yet; call plan.solve() first "
                "(it returns the plan, e.g. PocketParkPlan.from_geodataframe(...).solve().chosen)",
                result=what,
            )
        return self._selected, self._gains, self._covered_after

    def _map_frames(self, what: str) -> _Frames:
        self._results(what)
        if self._frames is None:
            raise PlanNotReadyError(
                f"{what} needs the plan's points: build it with PocketParkPlan.from_geodataframe; a plan "
                "from arrays has selected, new_demand_covered, covered_after_mask and coverage",
                result=what,
            )
        return self._frames

    # ----------------------------------------------------------------- array results
    @property
    def selected(self) -> NDArray[np.int64]:
        """Positions (rows of the candidates) of the chosen sites, rank 1 first."""
        return self._results("selected")[0]

    @property
    def new_demand_covered(self) -> NDArray[np.float64]:
        """Demand each chosen site adds beyond the sites ranked before it (rank order)."""
        gains = self._results("new_demand_covered")[1]
        return np.rint(gains).astype(np.int64) if self._integral else gains

    @property
    def covered_after_mask(self) -> NDArray[np.bool_]:
        """Which demand points are covered by an existing park or a chosen site."""
        return self._results("covered_after_mask")[2]

    @property
    def coverage(self) -> dict[str, Any]:
        """Totals: ``total_demand, covered_before, covered_after, share_before, share_after,
        radius_m, p`` (integers when the demand is unweighted or integer-weighted)."""
        covered_after = self._results("coverage")[2]
        total = float(self.weights.sum())
        before = float(self.weights[self.covered_before_mask].sum())
        after = float(self.weights[covered_after].sum())

        def cast(value: float) -> int | float:
            return round(value) if self._integral else value

        return {
            "total_demand": cast(total),
            "covered_before": cast(before),
            "covered_after": cast(after),
            "share_before": before / total if total else 0.0,
            "share_after": after / total if total else 0.0,
            "radius_m": self.radius_m,
            "p": self.p,
        }

    # ----------------------------------------------------------------- map results
    @property
    def chosen(self) -> gpd.GeoDataFrame:
        """The chosen sites: ``candidate_id, rank, new_demand_covered, subdistrict_code``,
        points (EPSG:4326), by rank."""
        frames = self._map_frames("chosen")
        selected = self.selected
        picked = frames.candidates.iloc[selected]
        return gpd.GeoDataFrame(
            {
                "candidate_id": _column(picked, "candidate_id", selected + 1),
                "rank": np.arange(1, len(selected) + 1, dtype=np.int64),
                "new_demand_covered": self.new_demand_covered,
                "subdistrict_code": _column(picked, "subdistrict_code", np.full(len(selected), None)),
            },
            geometry=picked.geometry.to_numpy(),
            crs=4326,
        )

    @property
    def per_subdistrict(self) -> pd.DataFrame:
        """Demand and its coverage per subdistrict (of the demand points):
        ``subdistrict_code, demand, covered_before, covered_after``, largest demand first."""
        frames = self._map_frames("per_subdistrict")
        covered_after = self.covered_after_mask
        table = pd.DataFrame(
            {
                "subdistrict_code": _column(
                    frames.demand, "subdistrict_code", np.full(len(self.weights), None)
                ),
                "demand": self.weights,
                "covered_before": np.where(self.covered_before_mask, self.weights, 0.0),
                "covered_after": np.where(covered_after, self.weights, 0.0),
            }
        )
        table = table.groupby("subdistrict_code", dropna=False, sort=True, as_index=False).sum()
        if self._integral:
            table = table.astype({"demand": "int64", "covered_before": "int64", "covered_after": "int64"})
        return table.sort_values(["demand", "subdistrict_code"], ascending=[False, True], ignore_index=True)

    @property
    def uncovered(self) -> gpd.GeoDataFrame:
        """The demand points still uncovered after the plan (their columns, EPSG:4326)."""
        frames = self._map_frames("uncovered")
        return frames.demand.iloc[np.flatnonzero(~self.covered_after_mask)]

    @property
    def service_areas(self) -> gpd.GeoDataFrame:
        """Circles of ``radius_m`` around the chosen sites: ``candidate_id, rank, radius_m``,
        polygons (EPSG:4326; drawn in metres, 64-gons)."""
        self._map_frames("service_areas")
        chosen = self.chosen
        circles = chosen.geometry.to_crs(METRIC_CRS).buffer(self.radius_m, quad_segs=16)
        frame = gpd.GeoDataFrame(
            {
                "candidate_id": chosen["candidate_id"].to_numpy(),
                "rank": chosen["rank"].to_numpy(),
                "radius_m": np.full(len(chosen), self.radius_m),
            },
            geometry=circles.to_numpy(),
            crs=METRIC_CRS,
        )
        return frame.to_crs(4326)


# --------------------------------------------------------------------------- plan helpers
def _plan_arrays(
    cost_matrix: Any, weights: ArrayLike | None, radius_m: float, p: int, covered_before: ArrayLike | None
) -> tuple[Any, NDArray[np.float64], NDArray[np.bool_], bool]:
    """Check the array inputs; return the coverage matrix (sparse bool), weights, mask, integral."""
    from scipy import sparse

    _require_positive(radius_m, "radius_m")
    if sparse.issparse(cost_matrix):
        matrix = sparse.csr_array(cost_matrix)
        if matrix.ndim != 2:
            raise InvalidInputError("cost_matrix must be 2-D", field="cost_matrix")
        values = matrix.data.astype(float)
        if not (np.isfinite(values) & (values >= 0)).all():
            raise InvalidInputError(
                "cost_matrix has a stored distance that is negative or not finite; allowed: metres >= 0",
                field="cost_matrix",
            )
        covers = sparse.csr_array((values <= radius_m, matrix.indices, matrix.indptr), shape=matrix.shape)
    else:
        dense = np.asarray(cost_matrix, dtype=float)
        if dense.ndim != 2:
            raise InvalidInputError(
                f"cost_matrix has shape {dense.shape}; allowed: 2-D (n_demand, n_candidates)",
                field="cost_matrix",
                value=str(dense.shape),
            )
        if np.isnan(dense).any() or (dense < 0).any():
            raise InvalidInputError(
                "cost_matrix has a NaN or negative distance; allowed: metres >= 0 (inf = unreachable)",
                field="cost_matrix",
            )
        covers = sparse.csr_array(dense <= radius_m)
    covers.eliminate_zeros()
    n_demand, n_candidates = covers.shape
    if n_demand == 0 or n_candidates == 0:
        raise InvalidInputError(
            f"cost_matrix has shape {covers.shape}; allowed: at least one demand point and one candidate",
            field="cost_matrix",
            value=str(covers.shape),
        )
    if isinstance(p, bool) or not isinstance(p, int | np.integer) or not 1 <= p <= n_candidates:
        raise InvalidInputError(
            f"p={p!r} sites cannot be chosen from {n_candidates} candidates; allowed: integers "
            f"1..{n_candidates}",
            field="p",
            value=repr(p),
            allowed=[1, int(n_candidates)],
        )
    if weights is None:
        weight_values = np.ones(n_demand)
    else:
        weight_values = np.asarray(weights, dtype=float)
        if weight_values.shape != (n_demand,):
            raise InvalidInputError(
                f"weights has shape {weight_values.shape}; allowed: ({n_demand},), one per demand point",
                field="weights",
                value=str(weight_values.shape),
            )
        if not (np.isfinite(weight_values) & (weight_values >= 0)).all():
            raise InvalidInputError(
                "weights has a negative, NaN or infinite value; allowed: finite numbers >= 0",
                field="weights",
            )
    if covered_before is None:
        before = np.zeros(n_demand, dtype=bool)
    else:
        before = np.asarray(covered_before)
        if before.shape != (n_demand,) or before.dtype != bool:
            raise InvalidInputError(
                f"covered_before has shape {before.shape} and dtype {before.dtype}; allowed: "
                f"({n_demand},) booleans",
                field="covered_before",
                value=str(before.shape),
            )
    integral = bool((weight_values == np.round(weight_values)).all())
    return covers, weight_values, before.copy(), integral


def _plan_frames(
    demand: Any, candidates: Any, parks: Any, weight: str | None, radius_m: float
) -> tuple[_Frames, NDArray[np.object_], NDArray[np.object_], NDArray[np.object_] | None, Any]:
    """Check the frames; return them (EPSG:4326), the projected geometries and the weights."""
    _require_geoframe(demand, "demand")
    _require_geoframe(candidates, "candidates")
    _require_same_crs(demand, "demand", candidates, "candidates")
    _require_positive(radius_m, "radius_m")
    for frame, what in ((demand, "demand"), (candidates, "candidates")):
        if frame.empty:
            raise InvalidInputError(
                f"{what} is empty; allowed: at least one {what} point", field=what, value=0
            )
        _require_points(frame, what)
    weights = None
    if weight is not None:
        weights = nonnegative_column(demand, weight, frame_name="demand", field="weight")
    if "candidate_id" in candidates.columns and candidates["candidate_id"].duplicated().any():
        duplicated = candidates["candidate_id"][candidates["candidate_id"].duplicated()].iloc[0]
        raise InvalidInputError(
            f"candidate_id {duplicated} appears twice; allowed: unique candidate ids",
            field="candidates",
            value=str(duplicated),
        )
    parks_m = None
    if parks is not None:
        _require_geoframe(parks, "parks")
        _require_same_crs(demand, "demand", parks, "parks")
        geometry = parks.geometry.to_crs(METRIC_CRS).to_numpy()
        parks_m = geometry[~shapely.is_missing(geometry) & ~shapely.is_empty(geometry)]
    demand_m = demand.geometry.to_crs(METRIC_CRS).to_numpy()
    candidates_m = candidates.geometry.to_crs(METRIC_CRS).to_numpy()
    frames = _Frames(demand.to_crs(4326), candidates.to_crs(4326))
    return frames, demand_m, candidates_m, parks_m, weights


def _solve_mclp(
    covers: Any, weights: NDArray[np.float64], before: NDArray[np.bool_], p: int
) -> NDArray[np.int64]:
    """Candidate positions of ``p`` sites maximizing the weight of newly covered demand.

    The model given to spopt is reduced without changing its optimum: demand covered
    before, weightless or out of every candidate's reach is dropped, candidates that
    reach no remaining demand are dropped, identical candidates (same demand covered)
    are kept once, identical demand rows are merged with their weights summed.
    """
    n_candidates = covers.shape[1]
    rows = np.flatnonzero(~before & (weights > 0))
    remaining = covers[rows]
    useful = np.flatnonzero(np.asarray(remaining.sum(axis=0)).ravel() > 0)
    dense = remaining[:, useful].toarray().astype(bool)
    reachable = dense.any(axis=1)
    dense, row_weights = dense[reachable], weights[rows][reachable]
    if len(useful):
        _, first = np.unique(dense.T, axis=0, return_index=True)
        distinct = np.sort(first)
    else:
        distinct = np.empty(0, dtype=np.int64)
    if len(distinct) <= p:
        picked = useful[distinct]  # every site that adds anything: optimal without a solver
    else:
        patterns, inverse = np.unique(dense[:, distinct], axis=0, return_inverse=True)
        merged = np.bincount(inverse.ravel(), weights=row_weights, minlength=len(patterns)).astype(float)
        picked = useful[distinct[_mclp(patterns, merged, p)]]
    if len(picked) < p:
        rest = np.setdiff1d(np.arange(n_candidates), picked)[: p - len(picked)]
        picked = np.concatenate([picked, rest])
    return np.sort(picked).astype(np.int64)


def _mclp(patterns: NDArray[np.bool_], weights: NDArray[np.float64], p: int) -> NDArray[np.bool_]:
    """Solve MCLP on a 0/1 coverage matrix (clients x facilities) with spopt and CBC."""
    import pulp
    from spopt.locate import MCLP

    # spopt covers a client when cost <= service_radius: cost 0 = covered, 1 = not
    cost = np.where(patterns, 0.0, 1.0)
    with warnings.catch_warnings():
        # PuLP 3.3 announces its 4.0 API (spopt builds variables the 3.x way) and the move
        # of the bundled CBC to an extra; both still work, and the result is the same
        warnings.filterwarnings("ignore", message=r".*(LpVariable|PULP_CBC_CMD)", category=DeprecationWarning)
        model = MCLP.from_cost_matrix(cost, weights, service_radius=0.5, p_facilities=int(p))
        solver = pulp.COIN_CMD(msg=False)
        if not solver.available():
            solver = pulp.PULP_CBC_CMD(msg=False)  # the CBC binary bundled with PuLP
        model.solve(solver, results=False)
    return np.asarray([variable.value() for variable in model.fac_vars], dtype=float) > 0.5


def _rank(
    covers: Any, weights: NDArray[np.float64], before: NDArray[np.bool_], selected: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.bool_]]:
    """Order the chosen sites by the demand each adds (greedy), and the final coverage."""
    reach = covers[:, selected].toarray().astype(bool)
    covered = before.copy()
    remaining = np.ones(len(selected), dtype=bool)
    order = np.empty(len(selected), dtype=np.int64)
    gains = np.empty(len(selected))
    for rank in range(len(selected)):
        gain = np.where(remaining, (weights * ~covered) @ reach, -1.0)
        best = int(np.argmax(gain))  # ties: the lower candidate position (selected is sorted)
        order[rank], gains[rank] = best, gain[best]
        remaining[best] = False
        covered |= reach[:, best]
    return selected[order], gains, covered


# --------------------------------------------------------------------------- small checks
def _column(frame: Any, name: str, default: NDArray[Any]) -> NDArray[Any]:
    return frame[name].to_numpy() if name in frame.columns else default


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _require_positive(value: Any, field: str) -> None:
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise InvalidInputError(
            f"{field} {value!r} is not allowed; allowed: a finite number of metres > 0",
            field=field,
            value=repr(value),
        )
