"""filter_reports, density_by_unit and hex_bins: counts, areas, rates, filters, H3 cells."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from boundaries.bundled import load_taian
from geo.errors import CRSMismatchError, InvalidInputError
from maps.analysis.density import METRIC_CRS, density_by_unit, filter_reports, hex_bins
from maps.demo import demo_reports

UTC = dt.UTC
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def units() -> gpd.GeoDataFrame:
    return load_taian()


@pytest.fixture(scope="module")
def reports(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return demo_reports(units, n=1500, seed=7)


def toy_reports() -> gpd.GeoDataFrame:
    """Six reports with every field chosen, around two instants either side of CST midnight."""
    created = pd.to_datetime(
        [
            "2025-03-01T15:59:59Z",  # 23:59:59 on 1 March in China
            "2025-03-01T16:00:00Z",  # 00:00:00 on 2 March in China
            "2025-03-05T08:00:00Z",
            "2025-03-09T08:00:00Z",
            "2025-03-10T08:00:00Z",
            "2025-03-12T08:00:00Z",
        ],
        utc=True,
    )
    return gpd.GeoDataFrame(
        {
            "id": np.arange(1, 7),
            "category_code": ["S-01-01", "S-01-01", "S-04-01", "B-04-05", "S-04-05", "S-01-01"],
            "channel": ["app", "hotline", "app", "station", "patrol", "app"],
            "state": ["reported", "closed", "closed", "dispatched", "reported", "invalid"],
            "created_at": created,
            "community_code": ["C1", "C1", "C2", None, "C1", "C9"],
        },
        geometry=gpd.points_from_xy(np.full(6, 117.1), np.full(6, 36.2)),
        crs=4326,
    )


def box_units() -> gpd.GeoDataFrame:
    """Two communities: a 1 km x 2 km box and a 1 km x 1 km box (drawn in metres), plus a city row."""
    x0, y0 = 500_000.0, 4_000_000.0
    boxes = [
        shapely.segmentize(shapely.box(x0, y0, x0 + 1000, y0 + 2000), 10),
        shapely.segmentize(shapely.box(x0 + 1000, y0, x0 + 2000, y0 + 1000), 10),
    ]
    metric = gpd.GeoSeries([shapely.union_all(boxes), *boxes], crs=METRIC_CRS)
    return gpd.GeoDataFrame(
        {
            "code": ["X", "C1", "C2"],
            "name": ["市", "一社区", "二社区"],
            "level": ["city", "community", "community"],
            "parent_code": [None, "X", "X"],
            "population": [3000, 2000, 0],
        },
        geometry=metric.to_crs(4326).to_numpy(),
        crs=4326,
    )


# --------------------------------------------------------------------------- density
@pytest.mark.parametrize("level", ["district", "subdistrict", "community"])
def test_counts_equal_a_groupby_of_the_stored_codes(units, reports, level) -> None:
    result = density_by_unit(reports, units, level=level)
    expected = reports.groupby(f"{level}_code").size()
    counted = result.set_index("code")["count"]
    assert counted[counted > 0].sort_index().to_dict() == expected.sort_index().to_dict()
    assert int(result["count"].sum()) == len(reports)
    assert result.attrs["unmatched_reports"] == 0


def test_every_unit_of_the_level_is_a_row_zero_counts_included(units, reports) -> None:
    result = density_by_unit(reports, units)
    communities = units[units["level"] == "community"]
    assert result["code"].tolist() == communities["code"].tolist()
    assert (result["count"] == 0).sum() > 1000  # most villages have no demo report
    assert result.columns.tolist() == [
        "code", "name", "parent_code", "count", "area_km2", "per_km2", "geometry",
    ]  # fmt: skip
    assert result.crs.to_epsg() == 4326
    assert result["count"].dtype == np.int64
    assert result.geometry.geom_equals(communities.geometry.reset_index(drop=True)).all()


def test_counting_uses_the_stored_code_not_the_point(units, reports) -> None:
    moved = reports.copy()
    moved["geometry"] = shapely.points(117.0, 36.0)  # every point somewhere else entirely
    assert (
        density_by_unit(moved, units)["count"].tolist() == density_by_unit(reports, units)["count"].tolist()
    )


def test_areas_and_per_km2_of_known_boxes() -> None:
    result = density_by_unit(toy_reports(), box_units()).set_index("code")
    assert result.loc["C1", "area_km2"] == pytest.approx(2.0, rel=1e-6)
    assert result.loc["C2", "area_km2"] == pytest.approx(1.0, rel=1e-6)
    assert result["count"].to_dict() == {"C1": 3, "C2": 1}
    assert result.loc["C1", "per_km2"] == pytest.approx(1.5, rel=1e-6)
    assert result.loc["C2", "per_km2"] == pytest.approx(1.0, rel=1e-6)
    assert result.attrs["unmatched_reports"] == 2  # one without a community, one in an unknown C9


def test_area_matches_the_geodesic_area_on_real_units(units, reports) -> None:
    from pyproj import Geod

    result = density_by_unit(reports, units, level="district")
    geod = Geod(ellps="GRS80")
    geodesic = np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in result.geometry]) / 1e6
    np.testing.assert_allclose(result["area_km2"], geodesic, rtol=5e-4)
    np.testing.assert_allclose(result["per_km2"], result["count"] / result["area_km2"])


def test_population_gives_per_1000_and_nan_for_no_people() -> None:
    result = density_by_unit(toy_reports(), box_units(), population="population").set_index("code")
    assert result.columns.tolist()[-3:] == ["population", "per_1000", "geometry"]
    assert result.loc["C1", "population"] == 2000
    assert result.loc["C1", "per_1000"] == pytest.approx(1.5)
    assert np.isnan(result.loc["C2", "per_1000"])


def test_an_unknown_population_column_names_the_numeric_ones() -> None:
    with pytest.raises(InvalidInputError, match=r"'people'.*allowed: population"):
        density_by_unit(toy_reports(), box_units(), population="people")


def test_crs_mismatch_names_both_crs(units, reports) -> None:
    with pytest.raises(CRSMismatchError, match=r"EPSG:4326.*EPSG:4548"):
        density_by_unit(reports, units.to_crs(METRIC_CRS))


def test_unknown_level_is_refused(units, reports) -> None:
    with pytest.raises(InvalidInputError, match="unknown level 'block'"):
        density_by_unit(reports, units, level="block")


def test_level_aliases_are_accepted(units, reports) -> None:
    assert len(density_by_unit(reports, units, level="township")) == 88


# --------------------------------------------------------------------------- filters
@pytest.mark.parametrize(
    ("kwargs", "ids"),
    [
        ({"categories": ["S-01-01"]}, [1, 2, 6]),
        ({"categories": ["s0401", "B-04-05"]}, [3, 4]),
        ({"categories": "S-04-05"}, [5]),
        ({"categories": []}, []),
        ({"channels": ["app"]}, [1, 3, 6]),
        ({"channels": ["hotline", "patrol"]}, [2, 5]),
        ({"states": ["reported"]}, [1, 5]),
        ({"states": ["closed", "invalid"]}, [2, 3, 6]),
        ({"start": dt.date(2025, 3, 2)}, [2, 3, 4, 5, 6]),
        ({"end": dt.date(2025, 3, 2)}, [1]),
        ({"start": dt.datetime(2025, 3, 5, 16, 0, tzinfo=SHANGHAI)}, [3, 4, 5, 6]),
        ({"start": dt.datetime(2025, 3, 5, 8, 0, 1, tzinfo=UTC)}, [4, 5, 6]),
        ({"start": dt.date(2025, 3, 5), "end": dt.date(2025, 3, 10)}, [3, 4]),
        ({"end": dt.datetime(2025, 3, 10, 8, 0, tzinfo=UTC)}, [1, 2, 3, 4]),
        ({"categories": ["S-01-01"], "channels": ["app"], "states": ["reported"]}, [1]),
    ],
)
def test_filters(kwargs, ids) -> None:
    result = filter_reports(toy_reports(), **kwargs)
    assert result["id"].tolist() == ids
    assert isinstance(result, gpd.GeoDataFrame)


def test_filters_match_pandas_on_the_demo(reports) -> None:
    start = dt.date.today() - dt.timedelta(days=30)
    result = filter_reports(reports, categories=["S-01-01"], channels=["app", "hotline"], start=start)
    created = reports["created_at"] >= pd.Timestamp(start, tz=SHANGHAI)
    expected = reports[
        (reports["category_code"] == "S-01-01") & reports["channel"].isin(["app", "hotline"]) & created
    ]
    assert result.index.tolist() == expected.index.tolist()
    assert 0 < len(result) < len(reports)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"channels": ["app", "wechat"]},
            r"unknown channel 'wechat'; allowed: app, hotline, station, patrol",
        ),
        ({"states": ["open"]}, r"unknown state 'open'; allowed: reported, verified"),
        ({"categories": ["垃圾"]}, r"'垃圾' is not a category code"),
        ({"start": dt.datetime(2025, 3, 1)}, r"start 2025-03-01T00:00:00 has no timezone"),
        ({"start": dt.date(2025, 3, 2), "end": dt.date(2025, 3, 2)}, r"is not before end"),
        ({"end": "2025-03-01"}, r"end '2025-03-01' is not a date or datetime"),
    ],
)
def test_bad_filters_name_the_value_and_what_is_allowed(kwargs, message) -> None:
    with pytest.raises(InvalidInputError, match=message):
        filter_reports(toy_reports(), **kwargs)


def test_unknown_channel_error_lists_the_allowed_channels() -> None:
    with pytest.raises(InvalidInputError) as caught:
        filter_reports(toy_reports(), channels=["wechat"])
    assert caught.value.detail["allowed"] == ["app", "hotline", "station", "patrol"]
    assert caught.value.detail["value"] == "wechat"


def test_a_frame_without_crs_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="has no CRS"):
        filter_reports(toy_reports().set_crs(None, allow_override=True), channels=["app"])


# --------------------------------------------------------------------------- hexagons
def test_hex_counts_sum_to_the_reports_and_cells_contain_their_reports(reports) -> None:
    bins = hex_bins(reports, resolution=8)
    assert int(bins["count"].sum()) == len(reports)
    assert bins["h3"].is_unique
    assert (bins["count"] > 0).all()
    assert bins.crs.to_epsg() == 4326
    assert bins.columns.tolist() == ["h3", "count", "geometry"]
    joined = gpd.sjoin(reports, bins, predicate="within", how="inner")
    assert joined.index.is_unique  # every report in exactly one cell
    assert len(joined) == len(reports)
    assert (
        joined.groupby("h3").size().sort_index().tolist()
        == bins.set_index("h3")["count"].sort_index().tolist()
    )
    assert bins["count"].is_monotonic_decreasing


def test_hex_cells_are_h3_cells_of_the_resolution(reports) -> None:
    import h3

    bins = hex_bins(reports, resolution=9)
    assert {h3.get_resolution(cell) for cell in bins["h3"]} == {9}
    expected = [h3.cell_area(cell, unit="m^2") for cell in bins["h3"]]
    np.testing.assert_allclose(bins.geometry.to_crs(METRIC_CRS).area, expected, rtol=2e-3)
    centres = [h3.cell_to_latlng(cell) for cell in bins["h3"]]
    inside = shapely.contains_xy(bins.geometry.to_numpy(), [c[1] for c in centres], [c[0] for c in centres])
    assert inside.all()


def test_hex_bins_reproject_other_crs(reports) -> None:
    assert hex_bins(reports.to_crs(METRIC_CRS))["count"].tolist() == hex_bins(reports)["count"].tolist()


def test_hex_bins_of_no_reports_is_empty(reports) -> None:
    empty = hex_bins(reports.iloc[:0])
    assert len(empty) == 0
    assert empty.columns.tolist() == ["h3", "count", "geometry"]


@pytest.mark.parametrize("resolution", [-1, 16, 8.0, True, "8"])
def test_hex_resolution_is_validated(reports, resolution) -> None:
    with pytest.raises(InvalidInputError, match=r"allowed: integers 0\.\.15"):
        hex_bins(reports, resolution=resolution)


def test_hex_bins_refuse_non_points() -> None:
    frame = gpd.GeoDataFrame(geometry=[shapely.box(117, 36, 117.1, 36.1)], crs=4326)
    with pytest.raises(InvalidInputError, match="allowed: non-empty points"):
        hex_bins(frame)
