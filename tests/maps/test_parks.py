"""Pocket parks: candidate grids away from parks, and MCLP plans with known optima."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest
import shapely

from boundaries.bundled import load_taian
from geo.errors import CRSMismatchError, InvalidInputError
from maps.analysis.density import METRIC_CRS
from maps.analysis.parks import PlanNotReadyError, PocketParkPlan, generate_candidates
from maps.demo import demo_parks, demo_reports

X0, Y0 = 500_000.0, 4_000_000.0  # EPSG:4548, near Tai'an


def points(xy: list[tuple[float, float]], **columns: object) -> gpd.GeoDataFrame:
    x = [X0 + p[0] for p in xy]
    y = [Y0 + p[1] for p in xy]
    return gpd.GeoDataFrame(columns, geometry=gpd.points_from_xy(x, y), crs=METRIC_CRS)


def ring(cx: float, cy: float, k: int, r: float = 30.0) -> list[tuple[float, float]]:
    angles = np.arange(k) * 2 * np.pi / k
    return [(cx + r * np.cos(a), cy + r * np.sin(a)) for a in angles]


# demand clusters A (10 points), B (6), C (3) and a single point D, on an east-west line
A, B, C, D = (0.0, 0.0), (2000.0, 0.0), (4000.0, 0.0), (6000.0, 0.0)
DEMAND_XY = ring(*A, 10) + ring(*B, 6) + ring(*C, 3) + [D]
CLUSTER = ["A"] * 10 + ["B"] * 6 + ["C"] * 3 + ["D"]
# candidates 1..7: on A, a decoy, on B, a decoy, on C, exactly on D, and one half-covering A
CANDIDATE_XY = [A, (1000.0, 0.0), B, (3000.0, 0.0), C, D, (0.0, 280.0)]


def demand(**columns: object) -> gpd.GeoDataFrame:
    return points(DEMAND_XY, cluster=CLUSTER, subdistrict_code=["S1"] * 16 + ["S2"] * 4, **columns)


def candidates() -> gpd.GeoDataFrame:
    return points(CANDIDATE_XY, candidate_id=np.arange(1, 8), subdistrict_code=["S1"] * 4 + ["S2"] * 3)


# --------------------------------------------------------------------------- known optima
def test_mclp_picks_the_two_largest_clusters() -> None:
    plan = PocketParkPlan.from_geodataframe(demand(), candidates(), p=2).solve()
    chosen = plan.chosen
    assert chosen["candidate_id"].tolist() == [1, 3]
    assert chosen["rank"].tolist() == [1, 2]
    assert chosen["new_demand_covered"].tolist() == [10, 6]
    assert chosen["subdistrict_code"].tolist() == ["S1", "S1"]
    assert chosen.crs.to_epsg() == 4326
    assert chosen.columns.tolist() == [
        "candidate_id",
        "rank",
        "new_demand_covered",
        "subdistrict_code",
        "geometry",
    ]
    assert plan.coverage == {
        "total_demand": 20,
        "covered_before": 0,
        "covered_after": 16,
        "share_before": 0.0,
        "share_after": 0.8,
        "radius_m": 300.0,
        "p": 2,
    }
    assert sorted(plan.uncovered["cluster"]) == ["C", "C", "C", "D"]


def test_an_existing_park_covers_its_cluster_first() -> None:
    park = points([(2000.0, 50.0)], name=["老公园"])
    plan = PocketParkPlan.from_geodataframe(demand(), candidates(), park, p=2).solve()
    assert plan.chosen["candidate_id"].tolist() == [1, 5]  # B is served: A and C instead
    assert plan.chosen["new_demand_covered"].tolist() == [10, 3]
    coverage = plan.coverage
    assert (coverage["total_demand"], coverage["covered_before"], coverage["covered_after"]) == (20, 6, 19)
    assert coverage["share_before"] == pytest.approx(0.3)
    assert coverage["share_after"] == pytest.approx(0.95)
    assert plan.uncovered["cluster"].tolist() == ["D"]
    table = plan.per_subdistrict
    assert table.to_dict("records") == [
        {"subdistrict_code": "S1", "demand": 16, "covered_before": 6, "covered_after": 16},
        {"subdistrict_code": "S2", "demand": 4, "covered_before": 0, "covered_after": 3},
    ]


@pytest.mark.parametrize(
    ("p", "ids", "after"),
    [(1, [1], 10), (3, [1, 3, 5], 19), (4, [1, 3, 5, 6], 20)],
)
def test_more_sites_cover_more(p, ids, after) -> None:
    plan = PocketParkPlan.from_geodataframe(demand(), candidates(), p=p).solve()
    assert plan.chosen["candidate_id"].tolist() == ids
    assert plan.coverage["covered_after"] == after


def test_a_point_exactly_at_a_site_is_covered() -> None:
    plan = PocketParkPlan.from_geodataframe(demand().iloc[[19]], candidates(), p=1).solve()
    assert plan.chosen["candidate_id"].tolist() == [6]
    assert plan.coverage["covered_after"] == 1


def test_sites_beyond_what_helps_are_padded_with_zero_gain() -> None:
    plan = PocketParkPlan.from_geodataframe(demand(), candidates(), p=7).solve()
    assert sorted(plan.chosen["candidate_id"]) == [1, 2, 3, 4, 5, 6, 7]
    assert plan.chosen["new_demand_covered"].tolist() == [10, 6, 3, 1, 0, 0, 0]
    assert plan.coverage["share_after"] == 1.0


def test_weights_change_the_choice() -> None:
    weighted = demand(people=[1] * 19 + [100])
    plan = PocketParkPlan.from_geodataframe(weighted, candidates(), weight="people", p=1).solve()
    assert plan.chosen["candidate_id"].tolist() == [6]
    assert plan.coverage["total_demand"] == 119
    assert plan.coverage["covered_after"] == 100
    fractional = demand(people=[0.5] * 20)
    coverage = (
        PocketParkPlan.from_geodataframe(fractional, candidates(), weight="people", p=1).solve().coverage
    )
    assert coverage["covered_after"] == 5.0
    assert isinstance(coverage["covered_after"], float)


def test_radius_500_covers_more_than_300() -> None:
    far = points(ring(0.0, 0.0, 8, r=400.0))
    site = points([(0.0, 0.0)])
    near = PocketParkPlan.from_geodataframe(far, site, radius_m=300, p=1).solve().coverage
    wide = PocketParkPlan.from_geodataframe(far, site, radius_m=500, p=1).solve().coverage
    assert (near["covered_after"], wide["covered_after"]) == (0, 8)
    assert (near["radius_m"], wide["radius_m"]) == (300.0, 500.0)


def test_service_areas_are_circles_around_the_chosen_sites() -> None:
    plan = PocketParkPlan.from_geodataframe(demand(), candidates(), p=2, radius_m=300).solve()
    areas = plan.service_areas
    assert areas.columns.tolist() == ["candidate_id", "rank", "radius_m", "geometry"]
    assert areas.crs.to_epsg() == 4326
    np.testing.assert_allclose(areas.to_crs(METRIC_CRS).area, np.pi * 300**2, rtol=3e-3)
    assert areas.geometry.contains(plan.chosen.geometry.reset_index(drop=True)).all()
    covered = demand().to_crs(4326).loc[plan.covered_after_mask]
    assert covered.geometry.within(areas.union_all()).all()


def test_the_array_core_is_optimal_on_random_instances() -> None:
    rng = np.random.default_rng(5)
    for _ in range(5):
        demand_xy = rng.uniform(0, 2000, size=(60, 2))
        sites_xy = rng.uniform(0, 2000, size=(12, 2))
        weights = rng.integers(1, 10, size=60)
        before = rng.random(60) < 0.2
        cost = np.hypot(*(demand_xy[:, None, :] - sites_xy[None, :, :]).transpose(2, 0, 1))
        plan = PocketParkPlan(cost, weights, radius_m=400, p=3, covered_before=before).solve()
        reach = cost <= 400
        best = max(
            weights[before | reach[:, list(trio)].any(axis=1)].sum()
            for trio in itertools.combinations(range(12), 3)
        )
        assert plan.coverage["covered_after"] == best
        assert plan.coverage["covered_before"] == weights[before].sum()
        assert sum(plan.new_demand_covered) == best - weights[before].sum()


def test_sparse_and_dense_cost_matrices_agree() -> None:
    from scipy import sparse

    cost = np.array([[0.0, 900.0], [250.0, 900.0], [900.0, 100.0]])
    dense = PocketParkPlan(cost, radius_m=300, p=1).solve()
    matrix = sparse.csr_array((cost[cost <= 300], np.nonzero(cost <= 300)), shape=cost.shape)
    assert matrix.nnz == 3  # the zero distance is stored explicitly
    assert (
        PocketParkPlan(matrix, radius_m=300, p=1).solve().selected.tolist() == dense.selected.tolist() == [0]
    )


# --------------------------------------------------------------------------- errors
def test_results_before_solve_are_a_clear_error() -> None:
    plan = PocketParkPlan.from_geodataframe(demand(), candidates(), p=2)
    assert not plan.solved
    for name in ("chosen", "coverage", "per_subdistrict", "uncovered", "service_areas", "selected"):
        with pytest.raises(PlanNotReadyError, match=rf"{name} is not available: the plan is not solved yet"):
            getattr(plan, name)
    assert issubclass(PlanNotReadyError, RuntimeError)


def test_a_plan_from_arrays_has_no_map_results() -> None:
    plan = PocketParkPlan(np.zeros((2, 2)), p=1).solve()
    assert plan.coverage["covered_after"] == 2
    with pytest.raises(PlanNotReadyError, match=r"build it with PocketParkPlan\.from_geodataframe"):
        _ = plan.chosen


@pytest.mark.parametrize("p", [8, 0, -1, 2.5, True])
def test_p_outside_the_candidates_is_refused(p) -> None:
    with pytest.raises(
        InvalidInputError, match=r"cannot be chosen from 7 candidates; allowed: integers 1\.\.7"
    ):
        PocketParkPlan.from_geodataframe(demand(), candidates(), p=p)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"demand": demand().iloc[:0]}, "demand is empty"),
        ({"candidates": candidates().assign(candidate_id=1)}, "candidate_id 1 appears twice"),
        ({"candidates": candidates().set_geometry(candidates().buffer(5))}, "allowed: non-empty points"),
        ({"weight": "people"}, r"weight 'people' is not a numeric column of demand"),
        ({"demand": demand(people=[1.0] * 19 + [np.nan]), "weight": "people"}, r"row 19 has people = nan"),
        ({"radius_m": 0}, r"radius_m 0 is not allowed; allowed: a finite number of metres > 0"),
        ({"radius_m": float("nan")}, r"radius_m nan is not allowed"),
    ],
)
def test_bad_plan_input_is_refused(change, message) -> None:
    arguments = {"demand": demand(), "candidates": candidates(), "weight": None, "radius_m": 300.0}
    arguments.update(change)
    with pytest.raises(InvalidInputError, match=message):
        PocketParkPlan.from_geodataframe(
            arguments["demand"],
            arguments["candidates"],
            weight=arguments["weight"],
            radius_m=arguments["radius_m"],
            p=1,
        )


def test_frames_in_different_crs_name_both() -> None:
    with pytest.raises(CRSMismatchError, match=r"demand is in EPSG:4548 but candidates is in EPSG:4326"):
        PocketParkPlan.from_geodataframe(demand(), candidates().to_crs(4326), p=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cost_matrix": np.array([[np.nan]])}, "NaN or negative distance"),
        ({"cost_matrix": np.zeros(3)}, r"shape \(3,\); allowed: 2-D"),
        ({"cost_matrix": np.zeros((2, 1)), "weights": [1, -1]}, "negative, NaN or infinite"),
        ({"cost_matrix": np.zeros((2, 1)), "covered_before": [1, 0]}, r"allowed: \(2,\) booleans"),
    ],
)
def test_bad_arrays_are_refused(kwargs, message) -> None:
    with pytest.raises(InvalidInputError, match=message):
        PocketParkPlan(**kwargs, p=1)


# --------------------------------------------------------------------------- Tai'an
@pytest.fixture(scope="module")
def taian() -> dict[str, gpd.GeoDataFrame]:
    units = load_taian()
    parks = demo_parks(units, n=40, seed=3)
    reports = demo_reports(units, n=2000, seed=3)
    return {
        "units": units,
        "parks": parks,
        "reports": reports,
        "candidates": generate_candidates(units, parks),
    }


def test_candidates_keep_their_distance_from_parks(taian) -> None:
    sites = taian["candidates"].to_crs(METRIC_CRS)
    parks = taian["parks"].to_crs(METRIC_CRS)
    _, distance = parks.sindex.nearest(sites.geometry, return_distance=True, return_all=False)
    assert distance.min() >= 300
    everywhere = generate_candidates(taian["units"], None)
    assert len(sites) < len(everywhere)
    assert len(generate_candidates(taian["units"], taian["parks"], min_distance_m=0)) == len(everywhere)
    closer = generate_candidates(taian["units"], taian["parks"], min_distance_m=100)
    assert len(sites) < len(closer) < len(everywhere)


def test_candidates_lie_on_a_grid_inside_the_urban_subdistricts(taian) -> None:
    units, sites = taian["units"], taian["candidates"]
    subdistricts = units[units["level"] == "subdistrict"]
    streets = subdistricts[subdistricts["name"].str.endswith("街道")]
    assert set(sites["subdistrict_code"]) == set(streets["code"])
    assert sites["candidate_id"].tolist() == list(range(1, len(sites) + 1))
    assert sites.columns.tolist() == ["candidate_id", "subdistrict_code", "geometry"]
    polygons = streets.set_index("code").geometry.loc[sites["subdistrict_code"]].to_numpy()
    assert shapely.contains(polygons, sites.geometry.to_numpy()).all()
    metric = sites.to_crs(METRIC_CRS)
    xy = shapely.get_coordinates(metric.geometry.to_numpy())
    np.testing.assert_allclose(xy / 250, np.round(xy / 250), atol=1e-6)  # multiples of the spacing
    _, gaps = metric.sindex.nearest(metric.geometry, return_distance=True, exclusive=True)
    assert gaps.min() == pytest.approx(250, abs=1e-3)


def test_one_subdistrict_gets_the_same_points_alone(taian) -> None:
    alone = generate_candidates(taian["units"], taian["parks"], subdistrict_codes=["370902001000"])
    together = taian["candidates"][taian["candidates"]["subdistrict_code"] == "370902001000"]
    assert set(alone["subdistrict_code"]) == {"370902001000"}
    assert alone.geometry.geom_equals_exact(together.geometry.reset_index(drop=True), 1e-9).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"subdistrict_codes": ["370902999000"]}, r"'370902999000' is not a subdistrict of units"),
        ({"subdistrict_codes": ["370902000000"]}, r"'370902000000' is not a subdistrict of units"),
        ({"spacing_m": 0}, r"spacing_m 0 is not allowed"),
        ({"spacing_m": 1}, r"grid points; allowed: at most 5,000,000"),
        ({"min_distance_m": -5}, r"min_distance_m -5 is not allowed"),
    ],
)
def test_bad_candidate_arguments(taian, kwargs, message) -> None:
    with pytest.raises(InvalidInputError, match=message):
        generate_candidates(taian["units"], None, **kwargs)


def test_parks_in_another_crs_are_refused(taian) -> None:
    with pytest.raises(CRSMismatchError, match="units is in EPSG:4326 but parks is in EPSG:4548"):
        generate_candidates(taian["units"], taian["parks"].to_crs(METRIC_CRS))


@pytest.mark.parametrize("radius", [300.0, 500.0])
def test_a_plan_for_taian(taian, radius) -> None:
    needs = taian["reports"][taian["reports"]["demand"]]
    plan = PocketParkPlan.from_geodataframe(needs, taian["candidates"], taian["parks"], radius_m=radius, p=5)
    plan.solve()
    chosen, coverage = plan.chosen, plan.coverage
    assert chosen["rank"].tolist() == [1, 2, 3, 4, 5]
    assert chosen["candidate_id"].isin(taian["candidates"]["candidate_id"]).all()
    gains = chosen["new_demand_covered"].to_numpy()
    assert (np.diff(gains) <= 0).all()  # coverage is submodular: greedy gains never grow
    assert gains.sum() == coverage["covered_after"] - coverage["covered_before"]
    assert coverage["total_demand"] == len(needs)
    assert len(plan.uncovered) == coverage["total_demand"] - coverage["covered_after"]
    table = plan.per_subdistrict
    assert table["demand"].sum() == coverage["total_demand"]
    assert table["covered_before"].sum() == coverage["covered_before"]
    assert table["covered_after"].sum() == coverage["covered_after"]
    assert coverage["share_after"] > 0.5  # demo demand is clustered: five sites serve most of it


def test_500_metres_serve_more_of_taian_than_300(taian) -> None:
    needs = taian["reports"][taian["reports"]["demand"]]
    shares = {
        radius: PocketParkPlan.from_geodataframe(
            needs, taian["candidates"], taian["parks"], radius_m=radius, p=5
        )
        .solve()
        .coverage
        for radius in (300.0, 500.0)
    }
    assert shares[500.0]["covered_before"] >= shares[300.0]["covered_before"]
    assert shares[500.0]["covered_after"] > shares[300.0]["covered_after"]
