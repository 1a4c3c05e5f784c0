"""300米见绿、500米见园: distances from a green space's edge, the kinds each standard counts,
the proposed sites, per subdistrict; and which parks a plan is measured against."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from maps.analysis.coverage import STANDARDS, coverage_by_subdistrict, coverage_totals, standard_for
from maps.analysis.parks import PocketParkPlan
from maps.sources import existing_parks
from tests.common import EDGE_PROBE, GREEN_CENTRE, PARK_HALF_M, green_spaces, metric_offset

# demand (EPSG:4326) around 泰山公园 (a 400 m park on GREEN_CENTRE) and 岱庙广场 (a square 1.2 km east)
PROBES = {
    "edge": EDGE_PROBE,  # 250 m from the park's edge, 450 m from its centre
    "square": metric_offset(1500.0, 0.0),  # 170 m from the square, 1.3 km from the park
    "beyond": metric_offset(PARK_HALF_M + 520.0, 0.0),  # 520 m from the park's edge: neither
    "exactly": metric_offset(PARK_HALF_M + 300.0, 0.0),  # exactly 300 m: covered (inclusive)
}


def _demand(*names: str, subdistrict: str = "S") -> gpd.GeoDataFrame:
    points = [shapely.Point(PROBES[name]) for name in names]
    return gpd.GeoDataFrame({"name": list(names), "subdistrict_code": subdistrict}, geometry=points, crs=4326)


@pytest.fixture(scope="module")
def parks() -> gpd.GeoDataFrame:
    frame = green_spaces()
    return frame.assign(kind=["park", "square", "pocket_park", "pocket_park"]).iloc[:3]


def test_distances_are_measured_from_the_edge(parks) -> None:
    table = coverage_by_subdistrict(_demand("edge", "beyond", "exactly"), parks)
    assert table[["demand", "green_300_before", "park_500_before"]].values.tolist() == [[3, 2, 2]]
    # from the centre the edge probe would be 450 m away: not within 300 m
    centre = gpd.GeoDataFrame({"kind": ["park"]}, geometry=[shapely.Point(GREEN_CENTRE)], crs=4326)
    assert coverage_by_subdistrict(_demand("edge"), centre)["green_300_before"].tolist() == [0]


def test_a_square_is_green_space_but_not_a_park(parks) -> None:
    row = coverage_by_subdistrict(_demand("square"), parks).iloc[0]
    assert (row["green_300_before"], row["park_500_before"]) == (1, 0)
    assert standard_for(300).kinds == ("park", "pocket_park", "square")
    assert "square" not in standard_for(500).kinds


def test_proposed_sites_count_as_pocket_parks_for_both_standards(parks) -> None:
    site = gpd.GeoDataFrame(geometry=[shapely.Point(metric_offset(1500.0, 100.0))], crs=4326)
    row = coverage_by_subdistrict(_demand("square", "beyond"), parks, site).iloc[0]
    assert (row["green_300_before"], row["green_300_after"]) == (1, 1)
    # 500 m: the square does not count and 'beyond' is 520 m from the park; the site serves 'square'
    assert (row["park_500_before"], row["park_500_after"]) == (0, 1)


def test_per_subdistrict_and_totals(parks) -> None:
    demand = gpd.GeoDataFrame(
        gpd.pd.concat([_demand("edge", "square", subdistrict="A"), _demand("beyond", subdistrict="B")]),
        crs=4326,
    )
    table = coverage_by_subdistrict(demand, parks, names={"A": "岱庙街道"})
    assert table[["subdistrict_code", "subdistrict_name", "demand"]].values.tolist() == [
        ["A", "岱庙街道", 2], ["B", None, 1],
    ]  # fmt: skip
    totals = {row["standard"]: row for row in coverage_totals(table)}
    assert (totals["green_300"]["covered_before"], totals["green_300"]["demand"]) == (2, 3)
    assert totals["park_500"]["share_before"] == pytest.approx(1 / 3)
    assert [s.key for s in STANDARDS] == ["green_300", "park_500"]


def test_no_parks_and_no_demand() -> None:
    assert coverage_by_subdistrict(_demand("edge"), None)["green_300_before"].tolist() == [0]
    empty = coverage_by_subdistrict(_demand("edge").iloc[:0], None)
    assert empty.empty
    assert coverage_totals(empty)[0]["share_before"] == 0.0


def test_the_plan_excludes_demand_a_polygon_park_serves(parks) -> None:
    demand = _demand("edge", "beyond")
    site = gpd.GeoDataFrame({"candidate_id": [1]}, geometry=[shapely.Point(PROBES["beyond"])], crs=4326)
    plan = PocketParkPlan.from_geodataframe(demand, site, parks.iloc[:1], radius_m=300, p=1).solve()
    assert plan.covered_before_mask.tolist() == [True, False]
    assert plan.coverage["covered_after"] == 2


def test_existing_parks_prefers_the_register_and_keeps_those_near_the_area() -> None:
    register = green_spaces().assign(
        id=np.arange(1, 5), kind=["park", "square", "pocket_park", "pocket_park"]
    )
    register = register.rename(columns={"opened": "opened_on"})

    def demo() -> gpd.GeoDataFrame:
        raise AssertionError("demo parks must not be made while the register has parks")

    parks, source = existing_parks(register, demo)
    assert len(parks) == 4
    assert not source.demo
    assert source.by_kind == {"公园": 1, "口袋公园": 2, "广场": 1}
    # a unit 600 m west of the park: the park (edge 400 m away) and the pocket park 900 m west count
    area = shapely.box(*metric_offset(-800.0, -100.0), *metric_offset(-600.0, 100.0))
    near, near_source = existing_parks(register, demo, area=area)
    assert set(near["name"]) == {"泰山公园", "新建口袋公园"}
    assert near_source.used == 2
