"""The conditional randomization of neighbourhood sums against exact answers and against esda."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from scipy import sparse

from geo.errors import InvalidInputError
from maps.analysis.permutation import neighbourhood_tails


def _line(n: int) -> sparse.csr_array:
    """n areas in a row: each neighbours the one before and after."""
    return sparse.csr_array(sparse.diags([1.0, 1.0], [-1, 1], shape=(n, n)))


def _exact(values: np.ndarray, adjacency: sparse.csr_array) -> tuple[np.ndarray, np.ndarray]:
    """P(sum >= observed) and P(sum <= observed) over every k-subset of the other areas."""
    n = len(values)
    high, low = np.full(n, np.nan), np.full(n, np.nan)
    for i in range(n):
        k = adjacency[[i], :].nnz
        if not k:
            continue
        observed = values[adjacency[[i], :].indices].sum()
        others = np.delete(values, i)
        sums = np.array([sum(c) for c in itertools.combinations(others, k)])
        high[i], low[i] = (sums >= observed).mean(), (sums <= observed).mean()
    return high, low


@pytest.mark.parametrize(
    "values",
    [
        np.array([9.0, 7, 0, 0, 1, 0, 3, 0]),  # counts with ties
        np.array([0.5, 2.25, 1.0, 0.0, 3.75, 1.5, 0.25, 4.0]),  # distinct values
        np.zeros(8) + np.eye(8)[2] * 5,  # one busy area among quiet ones
    ],
    ids=["ties", "distinct", "one-busy"],
)
def test_tails_converge_to_the_exact_permutation_distribution(values: np.ndarray) -> None:
    adjacency = _line(len(values)).tolil()
    adjacency[0, 5] = adjacency[5, 0] = 1.0  # one area with three neighbours
    adjacency = sparse.csr_array(adjacency)
    permutations = 200_000
    high, low = neighbourhood_tails(values, adjacency, permutations=permutations, seed=1)
    exact_high, exact_low = _exact(values, adjacency)
    # the pseudo p-value is (count + 1) / (P + 1): within a few standard errors of the exact tail
    for estimate, exact in ((high, exact_high), (low, exact_low)):
        tolerance = 5 * np.sqrt(exact * (1 - exact) / permutations) + 2 / permutations
        assert np.all(np.abs(estimate - exact) <= tolerance), (estimate, exact)


def test_ties_count_against_significance() -> None:
    """A quiet area among quiet areas: every draw matches it, so it is extreme in neither tail."""
    values = np.zeros(40)
    values[:3] = 10
    high, low = neighbourhood_tails(values, _line(40), permutations=9_999, seed=2)
    assert high[30] == 1.0  # every neighbourhood sum is >= 0
    assert low[30] > 0.8  # most draws are all zeros too


def test_islands_are_nan_and_deterministic_for_a_seed() -> None:
    adjacency = _line(6).tolil()
    adjacency[5, 4] = adjacency[4, 5] = 0
    values = np.arange(6.0)
    first = neighbourhood_tails(values, sparse.csr_array(adjacency), permutations=999, seed=7)
    again = neighbourhood_tails(values, sparse.csr_array(adjacency), permutations=999, seed=7)
    assert np.isnan(first[0][5])
    assert np.isnan(first[1][5])
    assert np.array_equal(first[0], again[0], equal_nan=True)


def test_chunks_change_nothing_but_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """More permutations than one chunk holds are drawn in pieces; counts add up the same way."""
    import maps.analysis.permutation as permutation

    values = np.random.default_rng(0).poisson(2, 300).astype(float)
    adjacency = _line(300)
    whole = neighbourhood_tails(values, adjacency, permutations=20_000, seed=3)
    monkeypatch.setattr(permutation, "_CHUNK_DRAWS", 1_000)
    pieces = neighbourhood_tails(values, adjacency, permutations=20_000, seed=3)
    for a, b in zip(whole, pieces, strict=True):
        assert np.abs(a - b).max() < 0.03  # other draws, the same distribution


def test_agrees_with_esda_conditional_randomization() -> None:
    """esda.crand's greater/lesser pseudo p-values of Gi* (star, binary) on the demo city's
    communities: the same test, drawn differently, so equal within Monte Carlo error."""
    from esda.crand import crand
    from esda.getisord import _g_local_star_crand
    from libpysal.weights import Queen, fill_diagonal

    from boundaries.bundled import load_taian
    from maps.analysis.density import density_by_unit
    from maps.demo import demo_reports

    units = load_taian()
    district = units[units["code"].str.startswith("370902")]
    areas = density_by_unit(demo_reports(units, n=3000, seed=1), district)
    w = Queen.from_dataframe(areas, use_index=False, silence_warnings=True)
    y = areas["count"].to_numpy(dtype=float)
    permutations = 9_999
    high, low = neighbourhood_tails(y, w.sparse, permutations=permutations, seed=3)
    theirs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for alternative in ("greater", "lesser"):
            star = fill_diagonal(w, 1.0)  # esda zeroes the diagonal of what it gets: a fresh one each time
            star.transform = "B"
            observed = (star.sparse @ y) / y.sum()
            theirs[alternative], _ = crand(
                y, star, observed, permutations, False, 1, _g_local_star_crand,
                scaling=y.sum(), seed=11, alternative=alternative,
            )  # fmt: skip
    for mine, other in ((high, theirs["greater"]), (low, theirs["lesser"])):
        both = np.sqrt(2 * other * (1 - other) / permutations) + 2 / permutations
        assert np.all(np.abs(mine - other) <= 5 * both)
        assert np.abs(mine - other).mean() < 0.01


@pytest.mark.parametrize(
    ("values", "adjacency", "permutations", "message"),
    [
        ([1.0, np.nan, 2.0], _line(3), 99, r"values has NaN or infinite entries"),
        ([1.0, 2.0, 3.0], _line(4), 99, r"adjacency has shape \(4, 4\); allowed: .* \(3, 3\)"),
        ([1.0, 2.0, 3.0], np.eye(3), 99, r"allowed: a scipy sparse matrix"),
        ([1.0, 2.0, 3.0], _line(3), 0, r"permutations 0 is not allowed; allowed: integers 1..999,999"),
        ([1.0, 2.0, 3.0], _line(3), True, r"permutations True is not allowed"),
    ],
)
def test_bad_input(values: list[float], adjacency: object, permutations: int, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        neighbourhood_tails(values, adjacency, permutations=permutations)
