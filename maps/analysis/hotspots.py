"""Hot and cold spots of report counts: Getis-Ord Gi* and local Moran's I.

Both statistics come from esda with conditional-permutation inference (pseudo p-values,
``p_sim``), on contiguity weights from libpysal.  Areas without neighbours (islands: a
unit that touches no other, a lone hexagon) have no neighbourhood to compare, so they
are reported as ``not significant`` with NaN statistics and ``neighbours == 0``.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import InvalidInputError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["HOTSPOT_CLASSES", "HOTSPOT_ZH", "MORAN_ALPHA", "MORAN_QUADRANTS", "getis_ord"]

HOTSPOT_CLASSES: tuple[str, ...] = (
    "hot 99%",
    "hot 95%",
    "hot 90%",
    "not significant",
    "cold 90%",
    "cold 95%",
    "cold 99%",
)
"""The values of the ``hotspot`` column, hottest first (a natural legend order)."""
HOTSPOT_ZH: dict[str, str] = {
    "hot 99%": "热点 99%",
    "hot 95%": "热点 95%",
    "hot 90%": "热点 90%",
    "not significant": "不显著",
    "cold 90%": "冷点 90%",
    "cold 95%": "冷点 95%",
    "cold 99%": "冷点 99%",
}
"""``hotspot`` -> ``hotspot_zh``."""
MORAN_ALPHA = 0.05
"""Pseudo p-value at or below which a local Moran quadrant is reported."""
MORAN_QUADRANTS: tuple[str, ...] = ("HH", "LH", "LL", "HL", "not significant")
"""The values of ``moran_quadrant``: high-high (cluster), low-high (outlier), low-low, high-low."""
_LEVELS = ((0.01, "99%"), (0.05, "95%"), (0.10, "90%"))
_WEIGHTS = ("queen", "rook")


def getis_ord(
    areas: gpd.GeoDataFrame,
    *,
    value: str = "count",
    permutations: int = 999,
    seed: int | None = 12345,
    weights: Any = "queen",
    local_moran: bool = False,
) -> gpd.GeoDataFrame:
    """Getis-Ord Gi* hot and cold spots (and optionally local Moran's I clusters).

    Gi* (``esda.G_Local(star=True)``) compares the sum of ``value`` over each area and its
    neighbours with what a random arrangement of the values would give.  The weights are
    binary and include the area itself — the classic Gi* of Ord and Getis (1995), whose
    z-score (``gi_z``, analytical) is the one of ArcGIS's Hot Spot Analysis.  The
    significance comes from ``permutations`` conditional permutations (esda's pseudo
    p-value ``p_sim``, one-sided in the direction of the deviation), seeded, so the
    result is reproducible.  An area is ``hot 99%`` when its z-score is positive and its
    pseudo p-value is at most 0.01 (95%: 0.05, 90%: 0.10), ``cold`` likewise below.

    Parameters
    ----------
    areas : GeoDataFrame
        Polygons with a numeric, non-negative ``value`` column — the output of
        :func:`~maps.analysis.density.density_by_unit` or
        :func:`~maps.analysis.density.hex_bins`.  At least 3 rows.
    value : str
        The column to test (``count``, ``per_km2`` ...).  Gi* needs values >= 0.
    permutations : int
        Conditional permutations, 99..99999 (fewer cannot reach 99 %).
    seed : int or None
        Seed of the permutations (None: a different draw each call).
    weights : "queen", "rook", libpysal W or Graph
        Contiguity (queen: sharing a vertex; rook: sharing an edge) built from the
        polygons, or weights aligned with the rows of ``areas`` (positionally; used as
        binary neighbour relations for Gi*, row-standardized for local Moran).
    local_moran : bool
        Also compute local Moran's I (``esda.Moran_Local``).

    Returns
    -------
    GeoDataFrame
        A copy of ``areas`` with ``neighbours`` (int: how many; 0 = island, never
        significant), ``gi_z`` (z-score), ``gi_p`` (pseudo p-value), ``hotspot`` (one of
        :data:`HOTSPOT_CLASSES`) and ``hotspot_zh``; with ``local_moran`` also
        ``moran_i``, ``moran_p`` and ``moran_quadrant`` (``HH, LH, LL, HL`` when
        ``moran_p <= 0.05``, else ``not significant``).  Islands have NaN statistics.

        When every value is equal there is nothing to find (and esda divides by a zero
        variance): every area is ``not significant``, with ``gi_z = 0``, ``gi_p = 1``
        (and ``moran_i = 0``, ``moran_p = 1``) — the exact limits of the statistics.

    Raises
    ------
    InvalidInputError
        Fewer than 3 areas, a missing/non-numeric/negative/NaN value, bad permutations,
        seed or weights, or non-polygon geometry with contiguity weights.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> cells = [shapely.box(i, j, i + 1, j + 1) for i in range(7) for j in range(7)]
    >>> counts = [30 if i < 2 and j < 2 else 1 for i in range(7) for j in range(7)]
    >>> grid = gpd.GeoDataFrame({"count": counts}, geometry=cells, crs=4548)
    >>> result = getis_ord(grid)
    >>> result.loc[0, "hotspot"], result.loc[0, "hotspot_zh"]
    ('hot 99%', '热点 99%')
    """
    y, w = _hotspot_inputs(areas, value, permutations, seed, weights)
    neighbours = _neighbour_counts(w)
    connected = neighbours > 0
    out = areas.copy()
    out["neighbours"] = neighbours
    gi_z, gi_p = _gi_star(y, w, permutations, seed, connected)
    out["gi_z"] = gi_z
    out["gi_p"] = gi_p
    out["hotspot"] = _classify(gi_z, gi_p)
    out["hotspot_zh"] = out["hotspot"].map(HOTSPOT_ZH)
    if local_moran:
        moran_i, moran_p, quadrant = _local_moran(y, w, permutations, seed, connected)
        out["moran_i"] = moran_i
        out["moran_p"] = moran_p
        out["moran_quadrant"] = quadrant
    return out


def _hotspot_inputs(
    areas: Any, value: str, permutations: int, seed: int | None, weights: Any
) -> tuple[NDArray[np.float64], Any]:
    """Check everything; return the values and binary (or given) weights in row order."""
    from libpysal.weights import W

    if not isinstance(areas, gpd.GeoDataFrame):
        raise InvalidInputError(f"areas is a {type(areas).__name__}; allowed: a GeoDataFrame", field="areas")
    if len(areas) < 3:
        raise InvalidInputError(
            f"areas has {len(areas)} rows; allowed: at least 3 areas (a hot spot needs neighbours to "
            "stand out from)",
            field="areas",
            value=len(areas),
        )
    if value not in areas.columns or not pd.api.types.is_numeric_dtype(areas[value]):
        numeric = [str(c) for c in areas.columns if pd.api.types.is_numeric_dtype(areas[c])]
        raise InvalidInputError(
            f"value {value!r} is not a numeric column of areas; allowed: {', '.join(numeric) or 'none'}",
            field="value",
            value=value,
            allowed=numeric,
        )
    y = areas[value].to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(y) | (y < 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"areas row {areas.index[first]!r} has {value} = {y[first]}; allowed: finite values >= 0 "
            "(Getis-Ord G is defined for non-negative variables)",
            field="value",
            value=str(y[first]),
        )
    if (
        isinstance(permutations, bool)
        or not isinstance(permutations, int | np.integer)
        or not (99 <= permutations <= 99_999)
    ):
        raise InvalidInputError(
            f"permutations {permutations!r} is not allowed; allowed: integers 99..99999 "
            "(999 is usual; fewer than 99 cannot reach the 99 % level)",
            field="permutations",
            value=repr(permutations),
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0):
        raise InvalidInputError(
            f"seed {seed!r} is not allowed; allowed: a non-negative integer or None",
            field="seed",
            value=repr(seed),
        )
    if isinstance(weights, str):
        if weights not in _WEIGHTS:
            raise InvalidInputError(
                f"weights {weights!r} is not allowed; allowed: queen, rook, a libpysal W or Graph",
                field="weights",
                value=weights,
                allowed=list(_WEIGHTS),
            )
        return y, _contiguity(areas, rook=weights == "rook")
    if hasattr(weights, "to_W") and not isinstance(weights, W):
        weights = weights.to_W()
    if not isinstance(weights, W):
        raise InvalidInputError(
            f"weights is a {type(weights).__name__}; allowed: queen, rook, a libpysal W or Graph",
            field="weights",
            value=type(weights).__name__,
        )
    if weights.n != len(areas):
        raise InvalidInputError(
            f"weights cover {weights.n} areas but areas has {len(areas)} rows; allowed: weights aligned "
            "with the rows of areas",
            field="weights",
            value=weights.n,
        )
    # a private copy with positional ids: esda sets the transform on the object it gets
    return y, W.from_sparse(weights.sparse)


def _contiguity(areas: gpd.GeoDataFrame, *, rook: bool) -> Any:
    from libpysal.weights import Queen, Rook

    geometry = areas.geometry.to_numpy()
    polygonal = np.isin(shapely.get_type_id(geometry), (3, 6)) & ~shapely.is_empty(geometry)
    if not polygonal.all():
        first = int(np.flatnonzero(~polygonal)[0])
        raise InvalidInputError(
            f"areas row {areas.index[first]!r} is not a polygon; allowed: Polygon or MultiPolygon areas "
            "for contiguity weights (or pass weights=<libpysal W>)",
            field="areas",
            value=str(areas.index[first]),
        )
    builder = Rook if rook else Queen
    return builder.from_dataframe(areas, use_index=False, silence_warnings=True)


def _neighbour_counts(w: Any) -> NDArray[np.int64]:
    """Neighbours of each area (self-weights not counted), in row order."""
    adjacency = w.sparse.tocsr(copy=True)
    adjacency.setdiag(0)
    adjacency.eliminate_zeros()
    return np.diff(adjacency.indptr).astype(np.int64)


def _gi_star(
    y: NDArray[np.float64], w: Any, permutations: int, seed: int | None, connected: NDArray[np.bool_]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    import esda
    from libpysal.weights import fill_diagonal

    z = np.where(connected, 0.0, np.nan)
    p = np.where(connected, 1.0, np.nan)
    if np.ptp(y) == 0 or not connected.any():
        return z, p
    with warnings.catch_warnings():
        _quiet()
        gi = esda.G_Local(
            y,
            fill_diagonal(w, 1.0),
            transform="B",
            permutations=int(permutations),
            star=True,
            keep_simulations=True,
            n_jobs=1,
            seed=seed,
        )
    z[connected] = np.asarray(gi.Zs, dtype=float)[connected]
    p[connected] = _tie_aware_p(np.asarray(gi.Gs, dtype=float), np.asarray(gi.rGs, dtype=float), z)[connected]
    return z, p


def _tie_aware_p(
    observed: NDArray[np.float64], simulated: NDArray[np.float64], z: NDArray[np.float64]
) -> Any:
    """Pseudo p-values in the direction of ``z``, counting ties against significance.

    esda folds its count to the smaller tail; with many areas tied at the minimum (zero
    reports around a zero-report community) every permuted sum equals the observed
    one, and the folded count made those areas "cold 99%".  Counting permutations at
    least as extreme *including ties*, in the direction of the deviation, gives them
    p = 1, as it should: nothing is unusual about a quiet area among quiet areas.
    """
    n = simulated.shape[1]
    at_least = (simulated >= observed[:, None]).sum(axis=1)
    at_most = (simulated <= observed[:, None]).sum(axis=1)
    extreme = np.where(np.nan_to_num(z) >= 0, at_least, at_most)
    return (extreme + 1) / (n + 1)


def _quiet() -> None:
    """Silence what the result already says: islands and disconnected parts (``neighbours``),
    and esda's notice that its default ``alternative`` will change (the p-values here are
    its current directed pseudo p-values)."""
    warnings.filterwarnings("ignore", message=r"The weights matrix is not fully connected")
    warnings.filterwarnings("ignore", message=r".*islands?", category=UserWarning)
    warnings.filterwarnings("ignore", message=r"The alternative hypothesis", category=DeprecationWarning)


def _classify(z: NDArray[np.float64], p: NDArray[np.float64]) -> NDArray[np.object_]:
    conditions, labels = [], []
    for sign, word in ((1.0, "hot"), (-1.0, "cold")):
        for level, percent in _LEVELS:
            conditions.append((np.sign(z) == sign) & (p <= level))
            labels.append(f"{word} {percent}")
    return np.select(conditions, labels, default="not significant").astype(object)


def _local_moran(
    y: NDArray[np.float64], w: Any, permutations: int, seed: int | None, connected: NDArray[np.bool_]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.object_]]:
    import esda

    moran_i = np.where(connected, 0.0, np.nan)
    moran_p = np.where(connected, 1.0, np.nan)
    quadrant = np.full(len(y), "not significant", dtype=object)
    if np.ptp(y) == 0 or not connected.any():
        return moran_i, moran_p, quadrant
    with warnings.catch_warnings():
        _quiet()
        local = esda.Moran_Local(
            y,
            w,
            transformation="r",
            permutations=int(permutations),
            keep_simulations=False,
            n_jobs=1,
            seed=seed,
        )
    moran_i[connected] = np.asarray(local.Is, dtype=float)[connected]
    moran_p[connected] = np.asarray(local.p_sim, dtype=float)[connected]
    names = np.asarray(MORAN_QUADRANTS[:4], dtype=object)[np.asarray(local.q, dtype=int) - 1]
    significant = connected & (moran_p <= MORAN_ALPHA)
    quadrant[significant] = names[significant]
    return moran_i, moran_p, quadrant
