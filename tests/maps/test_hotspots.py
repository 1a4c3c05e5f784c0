"""getis_ord: planted hot and cold spots found, random reports not, the correction for testing
thousands of areas, hexagons with their neighbours, local Moran quadrants, islands, bad input."""

from __future__ import annotations

import warnings

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
    assert result.loc[at(*HOT), "gi_q"] <= 0.01
    # the centre and the cells beside it survive the correction; every cell of the block is hot uncorrected
    assert (result.loc[block(HOT), "hotspot"] != "not significant").sum() >= 5
    uncorrected = getis_ord(planted(), correction="none")
    assert all(label.startswith("hot") for label in uncorrected.loc[block(HOT), "hotspot"])


def test_the_empty_block_is_a_cold_spot(result) -> None:
    assert result.loc[at(*COLD), "hotspot"] == "cold 99%"
    assert result.loc[at(*COLD), "hotspot_zh"] == "冷点 99%"
    assert result.loc[at(*COLD), "gi_z"] < -2.58
    assert not any(label.startswith("hot") for label in result.loc[block(COLD), "hotspot"])


def test_columns_values_and_the_input_are_kept(result) -> None:
    assert result.columns.tolist() == [
        "count", "geometry", "neighbours", "gi_z", "gi_p", "gi_q", "hotspot", "hotspot_zh",
        "moran_i", "moran_p", "moran_q", "moran_quadrant",
    ]  # fmt: skip
    assert set(result["hotspot"]) <= set(HOTSPOT_CLASSES)
    assert (result["hotspot_zh"] == result["hotspot"].map(HOTSPOT_ZH)).all()
    assert set(result["moran_quadrant"]) <= set(MORAN_QUADRANTS)
    assert result.crs == planted().crs
    assert result["count"].tolist() == planted()["count"].tolist()
    # significance levels and signs agree with the label; the adjusted p is never below the raw one
    hot99 = result["hotspot"] == "hot 99%"
    assert ((result.loc[hot99, "gi_q"] <= 0.01) & (result.loc[hot99, "gi_z"] > 0)).all()
    quiet = result["hotspot"] == "not significant"
    assert (result.loc[quiet, "gi_q"] > 0.10).all()
    assert (result["gi_q"] >= result["gi_p"] - 1e-12).all()
    significance = result.attrs["significance"]
    assert (significance["correction"], significance["sides"], significance["tests"]) == (
        "fdr",
        "two-sided",
        100,
    )


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
        (grid(np.arange(N * N, dtype=float)), {"permutations": 9}, r"permutations 9 .*99\.\.999,999"),
        (grid(np.arange(N * N, dtype=float)), {"permutations": 10**6}, r"allowed: integers 99\.\.999,999"),
        (
            grid(np.arange(N * N, dtype=float)),
            {"correction": "bonferroni"},
            r"correction 'bonferroni'.*fdr, none",
        ),
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
    result = getis_ord(areas, correction="none")
    mean = result.groupby(result["hotspot"].str.split().str[0])["count"].mean()
    assert mean["hot"] > mean["not"] > mean["cold"]
    assert (result["neighbours"] > 0).all()  # communities tile their district


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


# --------------------------------------------------------------------------- thousands of tests
# 444 reports over the 3,782 communities, as in the issue that asked for the correction.
RANDOM_REPORTS = 444
CAIYUAN_SANLI = "370902002001"  # 三里社区 of 财源街道, where the cluster is planted


@pytest.fixture(scope="module")
def communities() -> tuple[gpd.GeoDataFrame, object]:
    """The bundled set's communities and their queen weights (built once: 2 s)."""
    from libpysal.weights import Queen

    units = load_taian()
    frame = units[units["level"] == "community"].reset_index(drop=True)
    return frame, Queen.from_dataframe(frame, use_index=False, silence_warnings=True)


def _in_random_communities(n: int, communities: gpd.GeoDataFrame, seed: int) -> np.ndarray:
    return np.bincount(
        np.random.default_rng(seed).integers(0, len(communities), n), minlength=len(communities)
    )


def _uniform_in_space(n: int, communities: gpd.GeoDataFrame, seed: int) -> np.ndarray:
    """Counts of ``n`` points spread uniformly over the city's area (large villages get more)."""
    from boundaries.bundled import index_from_frame

    units = load_taian()
    city = units.loc[units["level"] == "city"].geometry.iloc[0]
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = city.bounds
    x, y = rng.uniform(x0, x1, 20 * n), rng.uniform(y0, y1, 20 * n)
    inside = shapely.contains_xy(city, x, y)
    codes = index_from_frame(units).lookup(x[inside][:n], y[inside][:n]).columns()["community_code"]
    row = {code: i for i, code in enumerate(communities["code"])}
    return np.bincount([row[code] for code in codes], minlength=len(communities))


@pytest.mark.parametrize(
    "spread", [_in_random_communities, _uniform_in_space], ids=["by-community", "by-area"]
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_reports_give_no_significant_spots_after_correction(communities, spread, seed: int) -> None:
    frame, w = communities
    counts = spread(RANDOM_REPORTS, frame, seed)
    assert counts.sum() == RANDOM_REPORTS
    result = getis_ord(frame[["geometry"]].assign(count=counts), weights=w, seed=seed)
    assert set(result["hotspot"]) == {"not significant"}, result["hotspot"].value_counts().to_dict()
    # uncorrected, the same p-values call about a hundred areas significant by chance alone
    assert (result["gi_p"] <= 0.10).sum() > 50
    assert result.attrs["significance"]["tests"] == len(frame)


def test_a_planted_cluster_is_found_and_nothing_else(communities) -> None:
    frame, w = communities
    rng = np.random.default_rng(5)
    centre = int(np.flatnonzero(frame["code"] == CAIYUAN_SANLI)[0])
    cluster = [centre, *w.neighbors[centre]]
    counts = _in_random_communities(RANDOM_REPORTS, frame, 5)
    counts += np.bincount(rng.choice(cluster, 100), minlength=len(frame))  # 100 more reports in 6 communities
    result = getis_ord(frame[["geometry", "code"]].assign(count=counts), weights=w)
    assert all(label.startswith("hot") for label in result.loc[cluster, "hotspot"])
    ring = set(cluster) | {j for i in cluster for j in w.neighbors[i]}
    found = set(np.flatnonzero(result["hotspot"] != "not significant"))
    assert found <= ring, f"spots away from the cluster: {sorted(found - ring)}"
    uncorrected = getis_ord(frame[["geometry"]].assign(count=counts), weights=w, correction="none")
    assert (uncorrected["hotspot"] != "not significant").sum() > 5 * len(found)  # most of them chance


def _district_reports(seed: int, cluster: int) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """泰山区, 300 reports spread over it and ``cluster`` more around 三里社区 (117.13, 36.19)."""
    units = load_taian()
    district = units[units["code"] == "370902000000"]
    area = district.geometry.iloc[0]
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = area.bounds
    x, y = rng.uniform(x0, x1, 3000), rng.uniform(y0, y1, 3000)
    inside = shapely.contains_xy(area, x, y)
    x, y = x[inside][:300], y[inside][:300]
    x = np.concatenate([x, 117.13 + rng.normal(0, 0.003, cluster)])
    y = np.concatenate([y, 36.19 + rng.normal(0, 0.0025, cluster)])
    return district, gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=4326)


def test_hexagons_cover_the_area_with_their_neighbours_and_find_the_cluster() -> None:
    import h3

    from maps.analysis.hexagons import hex_weights, hexagons_of

    district, reports = _district_reports(3, cluster=60)
    hexes = hex_bins(reports, resolution=8, area=district)
    assert set(hexagons_of(district, 8)) <= set(hexes["h3"])  # every hexagon of the area ...
    assert (hexes["count"] == 0).sum() > len(hexes) / 2  # ... zero counts included
    assert hexes["count"].sum() == len(reports)
    result = getis_ord(hexes, weights=hex_weights(hexes["h3"]))
    assert (result["neighbours"] > 0).all()  # every hexagon has neighbours
    assert result["neighbours"].max() == 6
    centre = h3.latlng_to_cell(36.19, 117.13, 8)
    assert result.loc[result["h3"] == centre, "hotspot"].iloc[0].startswith("hot")
    spots = result.loc[result["hotspot"] != "not significant", "h3"]
    assert max(h3.grid_distance(centre, cell) for cell in spots) <= 2


def test_random_reports_on_hexagons_give_nothing_after_correction() -> None:
    from maps.analysis.hexagons import hex_weights

    district, reports = _district_reports(4, cluster=0)
    hexes = hex_bins(reports, resolution=8, area=district)
    result = getis_ord(hexes, weights=hex_weights(hexes["h3"]))
    assert set(result["hotspot"]) == {"not significant"}


def test_a_city_of_hexagons_too_fine_is_refused_before_it_is_built() -> None:
    from maps.analysis.hexagons import hexagons_of

    city = load_taian().query("level == 'city'")
    with pytest.raises(
        InvalidInputError, match=r"H3 resolution 10 gives about [\d,]+ hexagons.*use resolution 8"
    ):
        hexagons_of(city, 10)


@pytest.mark.parametrize(
    "values",
    [np.arange(N * N, dtype=float), np.zeros(N * N), np.full(N * N, 3.0)],
    ids=["varied", "zeros", "constant"],
)
def test_no_library_warning_reaches_the_user(values: np.ndarray) -> None:
    """esda and libpysal warn about islands, disconnected weights and zero variances: the
    result says all that (neighbours, NaN, not significant), so nothing is printed."""
    frame = grid(values)
    lone = gpd.GeoDataFrame({"count": [1.0]}, geometry=[shapely.box(0, 0, 100, 100)], crs=frame.crs)
    with_island = gpd.GeoDataFrame(gpd.pd.concat([frame, lone], ignore_index=True), crs=frame.crs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        getis_ord(with_island, local_moran=True)
        getis_ord(with_island, local_moran=True, correction="none")


def test_the_summary_names_the_correction_in_planner_words() -> None:
    fdr = getis_ord(planted()).attrs["significance"]
    assert fdr["method"] == "Benjamini–Hochberg false discovery rate"
    assert "at most 5 % are expected to be false alarms" in fdr["explanation_en"]
    assert "预计误报不超过 5%" in fdr["explanation_zh"]
    assert fdr["levels"]["95%"] == "BH-adjusted p-value (q) <= 0.05"
    none = getis_ord(planted(), correction="none").attrs["significance"]
    assert "not corrected for multiple testing" in none["explanation_en"]
    assert "5 % (5) 95 %" in none["explanation_en"]  # 100 areas: 5 reach 95 % by chance
    assert none["smallest_p"] == pytest.approx(2 / 100_000)
