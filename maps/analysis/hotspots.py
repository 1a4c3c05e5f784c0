"""Hot and cold spots of report counts: Getis-Ord Gi* and local Moran's I.

The statistics are esda's (``esda.G_Local(star=True)`` z-scores, ``esda.Moran_Local``
values and quadrants) on contiguity weights from libpysal.  Their significance comes
from conditional permutations (:mod:`maps.analysis.permutation`: 99,999 by default,
ties counted against significance), two-sided, and corrected for testing every area at
once with the Benjamini–Hochberg false discovery rate unless ``correction="none"``
(:mod:`maps.analysis.significance` says what that means in planner words).  Areas
without neighbours (islands: a unit that touches no other, a lone hexagon) have no
neighbourhood to compare, so they are not tested: ``not significant`` with NaN
statistics and ``neighbours == 0``.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely

from geo.errors import InvalidInputError
from maps.analysis.inputs import nonnegative_column
from maps.analysis.permutation import MAX_PERMUTATIONS, neighbourhood_tails
from maps.analysis.significance import LEVELS, Significance, adjust, check_correction

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "DEFAULT_PERMUTATIONS",
    "HOTSPOT_CLASSES",
    "HOTSPOT_ZH",
    "MORAN_ALPHA",
    "MORAN_QUADRANTS",
    "getis_ord",
]

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
DEFAULT_PERMUTATIONS = 99_999
"""Enough for the false discovery rate over thousands of areas: the smallest two-sided p-value
is 2e-5, so a cluster of 8 of the 3,782 communities can reach 99 % after the correction
(with 999 permutations no cluster smaller than 76 communities could reach even 90 %)."""
MORAN_ALPHA = 0.05
"""Two-sided (adjusted) p-value at or below which a local Moran quadrant is reported."""
MORAN_QUADRANTS: tuple[str, ...] = ("HH", "LH", "LL", "HL", "not significant")
"""The values of ``moran_quadrant``: high-high (cluster), low-high (outlier), low-low, high-low."""
_WEIGHTS = ("queen", "rook")


def getis_ord(
    areas: gpd.GeoDataFrame,
    *,
    value: str = "count",
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int | None = 12345,
    weights: Any = "queen",
    correction: str = "fdr",
    local_moran: bool = False,
) -> gpd.GeoDataFrame:
    """Getis-Ord Gi* hot and cold spots (and optionally local Moran's I clusters).

    Gi* (``esda.G_Local(star=True)``) compares the sum of ``value`` over each area and its
    neighbours with what a random arrangement of the values would give.  The weights are
    binary and include the area itself — the classic Gi* of Ord and Getis (1995), whose
    z-score (``gi_z``, analytical) is the one of ArcGIS's Hot Spot Analysis.  The
    significance comes from ``permutations`` conditional permutations (the area's own
    value kept, its neighbours drawn from the others; seeded, so reproducible), counted
    in the direction of the z-score with ties against significance and doubled: a
    two-sided pseudo p-value ``gi_p``.  ``gi_q`` is that p-value adjusted for testing
    every area at once (Benjamini–Hochberg).  An area is ``hot 99%`` when its z-score is
    positive and the p-value that ``correction`` picks (``gi_q`` for ``fdr``, ``gi_p``
    for ``none``) is at most 0.01 (95%: 0.05, 90%: 0.10); ``cold`` likewise below.

    Parameters
    ----------
    areas : GeoDataFrame
        Polygons with a numeric, non-negative ``value`` column — the output of
        :func:`~maps.analysis.density.density_by_unit` or
        :func:`~maps.analysis.density.hex_bins`.  At least 3 rows.
    value : str
        The column to test (``count``, ``per_km2`` ...).  Gi* needs values >= 0.
    permutations : int
        Conditional permutations, 99..999,999.  The smallest two-sided p-value is
        ``2 / (permutations + 1)``; the default (99,999) resolves what a correction
        over thousands of areas needs.
    seed : int or None
        Seed of the permutations (None: a different draw each call).
    weights : "queen", "rook", libpysal W or Graph
        Contiguity (queen: sharing a vertex; rook: sharing an edge) built from the
        polygons, or weights aligned with the rows of ``areas`` (positionally; used as
        neighbour relations: binary for Gi*, row-standardized for local Moran).
    correction : {"fdr", "none"}
        ``fdr`` (default): significance after the Benjamini–Hochberg false discovery
        rate over the tested areas; ``none``: each area on its own.
    local_moran : bool
        Also compute local Moran's I (``esda.Moran_Local``) with the same permutations
        and correction.

    Returns
    -------
    GeoDataFrame
        A copy of ``areas`` with ``neighbours`` (int: how many; 0 = island, never
        tested), ``gi_z`` (z-score), ``gi_p`` (two-sided pseudo p-value), ``gi_q``
        (BH-adjusted), ``hotspot`` (one of :data:`HOTSPOT_CLASSES`) and ``hotspot_zh``;
        with ``local_moran`` also ``moran_i``, ``moran_p``, ``moran_q`` and
        ``moran_quadrant`` (``HH, LH, LL, HL`` when the p-value that ``correction`` picks
        is at most 0.05, else ``not significant``).  Islands have NaN statistics.
        ``attrs["significance"]`` is the :class:`~maps.analysis.significance.Significance`
        description (correction, sides, levels, tests, in words).

        When every value is equal there is nothing to find (and esda divides by a zero
        variance): every area is ``not significant``, with ``gi_z = 0`` and
        ``gi_p = gi_q = 1`` (and ``moran_i = 0``, ``moran_p = moran_q = 1``).

    Raises
    ------
    InvalidInputError
        Fewer than 3 areas, a missing/non-numeric/negative/NaN value, bad permutations,
        seed, weights or correction, or non-polygon geometry with contiguity weights.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> cells = [shapely.box(i, j, i + 1, j + 1) for i in range(7) for j in range(7)]
    >>> counts = [30 if i < 2 and j < 2 else 1 for i in range(7) for j in range(7)]
    >>> grid = gpd.GeoDataFrame({"count": counts}, geometry=cells, crs=4548)
    >>> result = getis_ord(grid)
    >>> result.loc[0, "hotspot"], result.loc[0, "hotspot_zh"]
    ('hot 99%', '热点 99%')
    >>> result.attrs["significance"]["correction"], result.attrs["significance"]["sides"]
    ('fdr', 'two-sided')
    """
    y, w = _hotspot_inputs(areas, value, permutations, seed, weights, correction)
    adjacency = _adjacency(w)
    neighbours = np.diff(adjacency.indptr).astype(np.int64)
    connected = neighbours > 0
    varies = bool(np.ptp(y) > 0 and connected.any())
    if varies:
        p_high, p_low = neighbourhood_tails(y, adjacency, permutations=int(permutations), seed=seed)
    else:
        p_high = p_low = np.where(connected, 1.0, np.nan)
    out = areas.copy()
    out["neighbours"] = neighbours
    gi_z = _gi_star_z(y, w, connected) if varies else np.where(connected, 0.0, np.nan)
    gi_p = _two_sided(np.where(np.nan_to_num(gi_z) >= 0, p_high, p_low))
    gi_q = adjust(gi_p, "fdr")
    out["gi_z"] = gi_z
    out["gi_p"] = gi_p
    out["gi_q"] = gi_q
    out["hotspot"] = _classify(gi_z, gi_q if correction == "fdr" else gi_p)
    out["hotspot_zh"] = out["hotspot"].map(HOTSPOT_ZH)
    if local_moran:
        moran_i, moran_p, quadrant = _local_moran(y, w, connected, varies, p_high, p_low)
        moran_q = adjust(moran_p, "fdr")
        decisive = moran_q if correction == "fdr" else moran_p
        significant = connected & (decisive <= MORAN_ALPHA)
        out["moran_i"] = moran_i
        out["moran_p"] = moran_p
        out["moran_q"] = moran_q
        out["moran_quadrant"] = np.where(significant, quadrant, "not significant").astype(object)
    out.attrs["significance"] = Significance(correction, int(connected.sum()), int(permutations)).to_dict()
    return out


def _hotspot_inputs(
    areas: Any, value: str, permutations: int, seed: int | None, weights: Any, correction: str
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
    y = nonnegative_column(
        areas, value, frame_name="areas", field="value",
        because="Getis-Ord G is defined for non-negative variables",
    )  # fmt: skip
    if (
        isinstance(permutations, bool)
        or not isinstance(permutations, int | np.integer)
        or not (99 <= permutations <= MAX_PERMUTATIONS)
    ):
        raise InvalidInputError(
            f"permutations {permutations!r} is not allowed; allowed: integers 99..{MAX_PERMUTATIONS:,} "
            f"({DEFAULT_PERMUTATIONS:,} by default: a correction over thousands of areas needs p-values "
            "far below 1/1,000)",
            field="permutations",
            value=repr(permutations),
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0):
        raise InvalidInputError(
            f"seed {seed!r} is not allowed; allowed: a non-negative integer or None",
            field="seed",
            value=repr(seed),
        )
    check_correction(correction)
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
    return y, _weights(weights.sparse)


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


def _adjacency(w: Any) -> Any:
    """Who neighbours whom (CSR, 0/1, no self-pairs), in row order."""
    from scipy import sparse

    adjacency = sparse.csr_array(w.sparse, dtype=float, copy=True)
    adjacency.setdiag(0)
    adjacency.eliminate_zeros()
    adjacency.data[:] = 1.0
    return adjacency


def _gi_star_z(y: NDArray[np.float64], w: Any, connected: NDArray[np.bool_]) -> NDArray[np.float64]:
    """esda's analytical Gi* z-scores (binary weights, the area itself included); NaN for islands."""
    import esda

    star = _weights(_adjacency(w) + _identity(len(y)))
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        _quiet()
        gi = esda.G_Local(y, star, transform="B", permutations=0, star=True)
    return np.where(connected, np.asarray(gi.Zs, dtype=float), np.nan)


def _weights(matrix: Any) -> Any:
    """A libpysal W of a square sparse matrix: positional ids, islands kept, no connectivity warnings."""
    from libpysal.weights import WSP
    from scipy import sparse

    return WSP(sparse.csr_matrix(matrix)).to_W(silence_warnings=True)


def _identity(n: int) -> Any:
    from scipy import sparse

    return sparse.identity(n, format="csr")


def _two_sided(directed: NDArray[np.float64]) -> NDArray[np.float64]:
    """A two-sided pseudo p-value: the tail in the statistic's direction, doubled (at most 1).

    Taking the tail that the z-score points to (not the smaller of the two) keeps a
    busy area among quiet neighbours from being called cold: its own value is fixed in
    every permutation, so only its neighbourhood is tested.
    """
    return np.minimum(1.0, 2.0 * directed)


def _quiet() -> None:
    """Silence what the result already says: islands and disconnected parts (``neighbours``)."""
    warnings.filterwarnings("ignore", message=r"The weights matrix is not fully connected")
    warnings.filterwarnings("ignore", message=r".*islands?", category=UserWarning)


def _classify(z: NDArray[np.float64], p: NDArray[np.float64]) -> NDArray[np.object_]:
    conditions, labels = [], []
    for sign, word in ((1.0, "hot"), (-1.0, "cold")):
        for percent, alpha in LEVELS:
            conditions.append((np.sign(z) == sign) & (p <= alpha))
            labels.append(f"{word} {percent}")
    return np.select(conditions, labels, default="not significant").astype(object)


def _local_moran(
    y: NDArray[np.float64],
    w: Any,
    connected: NDArray[np.bool_],
    varies: bool,
    p_high: NDArray[np.float64],
    p_low: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.object_]]:
    """Local Moran's I, its two-sided pseudo p-value and quadrant (before significance).

    With row-standardized weights an area's I rises with its neighbourhood sum when its
    own value is above the mean and falls when below, so the tails of the sum are the
    tails of I: the tail in I's direction, doubled.
    """
    import esda

    moran_i = np.where(connected, 0.0, np.nan)
    moran_p = np.where(connected, 1.0, np.nan)
    quadrant = np.full(len(y), "not significant", dtype=object)
    if not varies:
        return moran_i, moran_p, quadrant
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        _quiet()
        local = esda.Moran_Local(y, _weights(_adjacency(w)), transformation="r", permutations=0)
    values = np.asarray(local.Is, dtype=float)
    above = np.asarray(local.z, dtype=float) > 0
    upper = np.where(above, p_high, p_low)  # P(I_sim >= I)
    lower = np.where(above, p_low, p_high)  # P(I_sim <= I)
    directed = np.where(values > 0, upper, np.where(values < 0, lower, 1.0))
    moran_i[connected] = values[connected]
    moran_p[connected] = _two_sided(directed)[connected]
    names = np.asarray(MORAN_QUADRANTS[:4], dtype=object)[np.asarray(local.q, dtype=int) - 1]
    quadrant[connected] = names[connected]
    return moran_i, moran_p, quadrant
