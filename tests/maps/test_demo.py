"""demo_reports and demo_parks: the reports_geoframe shape, determinism, plausible patterns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from boundaries.bundled import index_from_frame, load_taian
from geo.errors import InvalidInputError
from geo.levels import LEVEL_KEYS
from maps import demo
from maps.demo import demo_parks, demo_reports
from routing.catalog import default_catalog
from routing.intake import CHANNELS, route
from routing.workflow import STATES

END = pd.Timestamp("2025-06-01T00:00:00", tz="Asia/Shanghai")


@pytest.fixture(scope="module")
def units() -> gpd.GeoDataFrame:
    return load_taian()


@pytest.fixture(scope="module")
def fixed_end() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(demo, "_demo_end", lambda: END)
        yield


@pytest.fixture(scope="module")
def reports(units, fixed_end) -> gpd.GeoDataFrame:
    return demo_reports(units)


def test_deterministic_for_a_seed(units, reports, fixed_end) -> None:
    again = demo_reports(units)
    pd.testing.assert_frame_equal(pd.DataFrame(again), pd.DataFrame(reports))
    other = demo_reports(units, n=3000, seed=2024)
    assert not other["geometry"].geom_equals(reports["geometry"]).all()


def test_same_columns_and_dtypes_as_reports_geoframe(reports, tmp_path) -> None:
    from boundaries.service import BoundaryService
    from routing.intake import ReportIn
    from routing.service import ReportService, reports_geoframe
    from store.engine import make_engine, upgrade
    from store.generations import import_generation
    from tests.common import lonlat
    from tests.conftest import units_frame

    engine = make_engine(f"sqlite:///{tmp_path}/siji.db")
    upgrade(engine)
    import_generation(engine, units_frame(), name="toy", valid_from=dt.date(2024, 1, 1))
    service = ReportService(engine, BoundaryService(engine), secret="test-secret-0123456789")
    x, y = lonlat(0.25, 3)
    service.submit(ReportIn(x=x, y=y, category="B-04-05", description="小区旁没有绿地", channel="hotline"))
    real = reports_geoframe(service)
    engine.dispose()
    assert reports.columns.tolist() == real.columns.tolist()
    assert reports.dtypes.astype(str).tolist() == real.dtypes.astype(str).tolist()
    assert reports.crs == real.crs
    assert reports.geometry.name == real.geometry.name


def test_ids_times_channels_and_states(reports) -> None:
    assert reports["id"].tolist() == list(range(1, 3001))
    assert reports["created_at"].is_monotonic_increasing
    assert reports["created_at"].min() >= END - pd.Timedelta(days=180)
    assert reports["created_at"].max() < END
    channels = reports["channel"].value_counts()
    assert set(channels.index) == set(CHANNELS)
    assert channels["app"] > channels["hotline"] > channels["patrol"] > channels["station"]
    assert set(reports["state"]) <= set(STATES)
    old = reports["created_at"] < END - pd.Timedelta(days=30)
    assert (reports.loc[old, "state"] == "closed").mean() > 0.7
    assert reports.loc[~old, "state"].nunique() > 5


def test_categories_names_and_demand_flags(reports) -> None:
    catalog = default_catalog()
    top = reports["category_code"].value_counts().index[:3]
    assert set(top) == {"S-01-01", "S-04-01", "S-04-05"}
    assert reports["category_name"].tolist() == [catalog.get(c).name_zh for c in reports["category_code"]]
    demand_codes = {c.code for c in catalog.demand_categories()}
    assert (reports["demand"] == reports["category_code"].isin(demand_codes)).all()
    assert 0.06 < reports["demand"].mean() < 0.10


def test_codes_agree_with_the_lookup_and_the_hierarchy(units, reports) -> None:
    found = index_from_frame(units).lookup(reports.geometry.x, reports.geometry.y).columns()
    for level in LEVEL_KEYS:
        assert (reports[f"{level}_code"].to_numpy(dtype=object) == found[f"{level}_code"]).all()
    parent = units.set_index("code")["parent_code"]
    assert (reports["community_code"].map(parent) == reports["subdistrict_code"]).all()
    assert (reports["subdistrict_code"].map(parent) == reports["district_code"]).all()
    assert (reports["city_code"] == "370900000000").all()


def test_owner_keys_are_what_routing_would_store(reports) -> None:
    catalog = default_catalog()
    for row in reports.iloc[::10].itertuples():  # the router reads names too; they do not change the key
        answer = {level: {"code": getattr(row, f"{level}_code"), "name": ""} for level in LEVEL_KEYS}
        assert route(catalog.get(row.category_code), answer).key == row.owner_key


def test_reports_cluster_in_urban_communities_and_hot_spots(units, reports) -> None:
    names = units.set_index("code")["name"]
    urban = reports["community_code"].map(names).str.endswith("社区居委会")
    assert urban.mean() > 0.8
    per_community = reports["community_code"].value_counts()
    assert per_community.iloc[:6].sum() > 0.25 * len(reports)  # a few hot spots ...
    assert per_community.iloc[5] > 5 * per_community.median()  # ... far above the rest
    demand = reports[reports["demand"]]
    assert demand["community_code"].value_counts().iloc[:4].sum() > 0.7 * len(demand)


def test_a_custom_catalog_is_used(units, fixed_end) -> None:
    catalog = default_catalog()
    small = type(catalog)(majors=catalog.majors, categories=catalog.in_major("S-06"))
    drawn = demo_reports(units, n=50, catalog=small)
    assert set(drawn["category_code"]) <= {"S-06-01", "S-06-02"}
    assert not drawn["demand"].any()


@pytest.mark.parametrize(("kwargs", "message"), [({"n": 0}, "n 0 is not allowed"), ({"seed": -1}, "seed -1")])
def test_bad_arguments(units, kwargs, message) -> None:
    with pytest.raises(InvalidInputError, match=message):
        demo_reports(units, **kwargs)


def test_units_without_communities_are_refused(units) -> None:
    with pytest.raises(InvalidInputError, match="units has no community rows"):
        demo_reports(units[units["level"] != "community"])


# --------------------------------------------------------------------------- parks
def test_demo_parks(units) -> None:
    parks = demo_parks(units)
    assert parks.columns.tolist() == ["park_id", "name", "geometry"]
    assert parks["park_id"].tolist() == list(range(1, 41))
    assert parks["name"].is_unique
    assert parks["name"].str.endswith("号口袋公园").all()
    assert parks.crs.to_epsg() == 4326
    found = index_from_frame(units).lookup(parks.geometry.x, parks.geometry.y).columns()
    names = units.set_index("code")["name"]
    assert pd.Series(found["subdistrict_code"]).map(names).str.endswith("街道").all()
    assert parks["name"].str[:2].tolist() == [n[:2] for n in pd.Series(found["subdistrict_code"]).map(names)]
    pd.testing.assert_frame_equal(pd.DataFrame(demo_parks(units)), pd.DataFrame(parks))
    assert not demo_parks(units, seed=1).geometry.geom_equals(parks.geometry).all()
    assert len(demo_parks(units, n=5)) == 5
    assert np.isfinite(parks.geometry.x).all()
