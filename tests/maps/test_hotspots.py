"""getis_ord: planted hot and cold spots found, local Moran quadrants, islands, bad input."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from boundaries.bundled import load_taian
from geo.errors import InvalidInputError
from maps.analysis.density import density_by_unit, hex_bins
from maps.analysis.hotspots import HOTSPOT_CLASSES, HOTSPOT_ZH, MORAN_QUADRANTS, getis_ord
from maps.demo import demo_reports

N = 10
HOT = (2, 2)  # centres of the planted 3 x 3 blocks
COLD = (7, 7)


def grid(values: np.ndarray) -> gpd.GeoDataFrame:
    """An N x N grid of 100 m squares (row-major: cell (i, j) is row j * N + i)."""
    x0, y0 = 500_000.0, 4_000_000.0
    cells = [
        shapely.box(x0 + 100 * i, y0 + 100 * j, x0 + 100 * (i + 1), y0 + 100 * (j + 1))
        for j in range(N)
        for i in range(N)
    ]
    return gpd.GeoDataFrame({"count": values}, geometry=cells, crs="EPSG:4548")


def at(i: int, j: int) -> int:
    return j * N + i


def block(centre: tuple[int, int]) -> list[int]:
    return [at(centre[0] + di, centre[1] + dj) for dj in (-1, 0, 1) for di in (-1, 0, 1)]


def planted() -> gpd.GeoDataFrame:
    values = np.random.default_rng(1).poisson(10, N * N).astype(float)
    values[block(HOT)] = 30
    values[block(COLD)] = 0
    return grid(values)


@pytest.fixture(scope="module")
def result() -> gpd.GeoDataFrame:
    return getis_ord(planted(), local_moran=True)


def test_the_planted_cluster_is_a_99_percent_hot_spot(result) -> None:
    assert result.loc[at(*HOT), "hotspot"] == "hot 99%"
    assert result.loc[at(*HOT), "hotspot_zh"] == "热点 99%"
    assert result.loc[at(*HOT), "gi_z"] > 2.58
    assert result.loc[at(*HOT), "gi_p"] <= 0.01
    assert all(label.startswith("hot") for label in result.loc[block(HOT), "hotspot"])


def test_the_empty_block_is_a_cold_spot(result) -> None:
    assert result.loc[at(*COLD), "hotspot"] == "cold 99%"
    assert result.loc[at(*COLD), "hotspot_zh"] == "冷点 99%"
    assert result.loc[at(*COLD), "gi_z"] < -2.58
    assert not any(label.startswith("hot") for label in result.loc[block(COLD), "hotspot"])


def test_columns_values_and_the_input_are_kept(result) -> None:
    assert result.columns.tolist() == [
        "count", "geometry", "neighbours", "gi_z", "gi_p", "hotspot", "hotspot_zh",
        "moran_i", "moran_p", "moran_quadrant",
    ]  # fmt: skip
    assert set(result["hotspot"]) <= set(HOTSPOT_CLASSES)
    assert (result["hotspot_zh"] == result["hotspot"].map(HOTSPOT_ZH)).all()
    assert set(result["moran_quadrant"]) <= set(MORAN_QUADRANTS)
    assert result.crs == planted().crs
    assert result["count"].tolist() == planted()["count"].tolist()
    # significance levels and signs agree with the label
    hot99 = result["hotspot"] == "hot 99%"
    assert ((result.loc[hot99, "gi_p"] <= 0.01) & (result.loc[hot99, "gi_z"] > 0)).all()
    quiet = result["hotspot"] == "not significant"
    assert (result.loc[quiet, "gi_p"] > 0.10).all()


def test_queen_neighbours_of_a_grid(result) -> None:
    assert result.loc[at(0, 0), "neighbours"] == 3
    assert result.loc[at(0, 5), "neighbours"] == 5
    assert result.loc[at(5, 5), "neighbours"] == 8


def test_rook_weights_count_edge_neighbours_only() -> None:
    rook = getis_ord(planted(), weights="rook")
    assert rook.loc[at(0, 0), "neighbours"] == 2
    assert rook.loc[at(5, 5), "neighbours"] == 4
    assert rook.loc[at(*HOT), "hotspot"] == "hot 99%"


def test_a_libpysal_w_can_be_given() -> None:
    from libpysal.weights import Queen

    frame = planted()
    w = Queen.from_dataframe(frame, use_index=False, silence_warnings=True)
    given = getis_ord(frame, weights=w)
    assert given["gi_p"].tolist() == getis_ord(frame)["gi_p"].tolist()
    assert w.transform == "O"  # the caller's weights are not modified


def test_deterministic_for_a_seed() -> None:
    first = getis_ord(planted(), seed=99, local_moran=True)
    second = getis_ord(planted(), seed=99, local_moran=True)
    assert first["gi_p"].tolist() == second["gi_p"].tolist()
    assert first["moran_p"].tolist() == second["moran_p"].tolist()
    other = getis_ord(planted(), seed=100)
    assert other["gi_p"].tolist() != first["gi_p"].tolist()
    assert other["gi_z"].tolist() == first["gi_z"].tolist()  # analytical, seed-free


def test_local_moran_quadrants(result) -> None:
    assert result.loc[at(*HOT), "moran_quadrant"] == "HH"
    assert result.loc[at(*COLD), "moran_quadrant"] == "LL"
    significant = result["moran_quadrant"] != "not significant"
    assert (result.loc[significant, "moran_p"] <= 0.05).all()


def test_local_moran_finds_high_and_low_outliers() -> None:
    values = np.full(N * N, 10.0) + np.random.default_rng(3).normal(0, 0.5, N * N)
    values[block((2, 2))] = 0
    values[at(2, 2)] = 40  # high among lows
    values[block((7, 7))] = 30
    values[at(7, 7)] = 0  # low among highs
    moran = getis_ord(grid(values), local_moran=True)
    assert moran.loc[at(2, 2), "moran_quadrant"] == "HL"
    assert moran.loc[at(7, 7), "moran_quadrant"] == "LH"
    assert moran.loc[at(7, 7), "moran_i"] < 0


def test_islands_are_not_significant_and_say_so() -> None:
    frame = planted()
    lone = gpd.GeoDataFrame({"count": [12.0]}, geometry=[shapely.box(0, 0, 100, 100)], crs=frame.crs)
    with_island = gpd.GeoDataFrame(
        gpd.pd.concat([frame, lone], ignore_index=True), geometry="geometry", crs=frame.crs
    )
    result = getis_ord(with_island, local_moran=True)
    island = result.iloc[-1]
    assert island["neighbours"] == 0
    assert island["hotspot"] == "not significant"
    assert island["moran_quadrant"] == "not significant"
    assert np.isnan([island["gi_z"], island["gi_p"], island["moran_i"], island["moran_p"]]).all()
    assert result.loc[at(*HOT), "hotspot"] == "hot 99%"


def test_all_equal_values_are_all_not_significant() -> None:
    result = getis_ord(grid(np.full(N * N, 4.0)), local_moran=True)
    assert set(result["hotspot"]) == {"not significant"}
    assert set(result["moran_quadrant"]) == {"not significant"}
    assert (result["gi_z"] == 0).all()
    assert (result["gi_p"] == 1).all()
    assert (result["moran_i"] == 0).all()
    assert (result["moran_p"] == 1).all()


def test_all_zero_counts_too() -> None:
    assert set(getis_ord(grid(np.zeros(N * N)))["hotspot"]) == {"not significant"}


@pytest.mark.parametrize(
    ("frame", "kwargs", "message"),
    [
        (grid(np.arange(N * N, dtype=float)).iloc[:2], {}, r"areas has 2 rows; allowed: at least 3"),
        (
            grid(np.arange(N * N, dtype=float)),
            {"value": "people"},
            r"'people' is not a numeric column.*count",
        ),
        (grid(np.arange(N * N, dtype=float) - 1), {}, r"count = -1\.0; allowed: finite values >= 0"),
        (grid(np.full(N * N, np.nan)), {}, r"allowed: finite values >= 0"),
        (grid(np.arange(N * N, dtype=float)), {"permutations": 9}, r"permutations 9 .*99\.\.99999"),
        (grid(np.arange(N * N, dtype=float)), {"seed": -1}, r"seed -1 is not allowed"),
        (grid(np.arange(N * N, dtype=float)), {"weights": "knn"}, r"weights 'knn'.*queen, rook"),
        (grid(np.arange(N * N, dtype=float)), {"weights": 3}, r"weights is a int"),
    ],
)
def test_bad_input_names_the_value_and_what_is_allowed(frame, kwargs, message) -> None:
    with pytest.raises(InvalidInputError, match=message):
        getis_ord(frame, **kwargs)


def test_contiguity_needs_polygons() -> None:
    points = gpd.GeoDataFrame({"count": [1.0, 2.0, 3.0]}, geometry=gpd.points_from_xy([0, 1, 2], [0, 0, 0]))
    with pytest.raises(InvalidInputError, match="is not a polygon"):
        getis_ord(points)


def test_misaligned_weights_are_refused() -> None:
    from libpysal.weights import lat2W

    with pytest.raises(InvalidInputError, match="weights cover 9 areas but areas has 100 rows"):
        getis_ord(planted(), weights=lat2W(3, 3))


# --------------------------------------------------------------------------- real units
@pytest.fixture(scope="module")
def taian_reports() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    units = load_taian()
    return units, demo_reports(units, n=1500, seed=11)


def test_hot_communities_have_more_reports_than_cold_ones(taian_reports) -> None:
    units, reports = taian_reports
    district = units[(units["code"] == "370902000000") | units["code"].str.startswith("370902")]
    areas = density_by_unit(reports[reports["district_code"] == "370902000000"], district)
    result = getis_ord(areas)
    mean = result.groupby(result["hotspot"].str.split().str[0])["count"].mean()
    assert mean["hot"] > mean["not"] > mean["cold"]
    assert (result["neighbours"] > 0).all()  # communities tile their district


def test_hexagons_work_with_queen_contiguity(taian_reports) -> None:
    _, reports = taian_reports
    result = getis_ord(hex_bins(reports, resolution=8))
    assert result["neighbours"].max() == 6  # a hexagon has six neighbours at most
    assert (result["neighbours"] == 0).any()  # and lone cells are islands
    assert result.loc[result["count"].idxmax(), "hotspot"].startswith("hot")


def test_a_quiet_area_among_quiet_areas_is_not_a_cold_spot() -> None:
    """Mostly-zero counts (villages with no reports) tie at the minimum: every permuted
    neighbourhood sum equals the observed one, so nothing is unusual there."""
    values = np.zeros(N * N)
    values[block(HOT)] = 30
    result = getis_ord(grid(values))
    far = at(8, 8)
    assert result.loc[far, "hotspot"] == "not significant"
    assert result.loc[far, "gi_p"] > 0.1
    assert result.loc[at(*HOT), "hotspot"] == "hot 99%"
    assert not result["hotspot"].str.startswith("cold").any()
