"""The map routes: pages, GeoJSON and CSV answers, scope by token, demo data, assets."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from maps.offline import external_asset_urls
from routing.staff import issue
from tests.api.conftest import make_client

TAISHAN = {"lon": 117.13, "lat": 36.19}  # 泰山区 财源街道 三里社区
CAIYUAN = "370902002000"  # 财源街道
DAIMIAO = "370902001000"  # 岱庙街道, a sibling of 财源街道
MAP_ROUTES = ("/maps/density", "/maps/hotspots", "/maps/pocket-parks")


def _token(client: TestClient, unit: str, role: str = "planner") -> dict[str, str]:
    engine = client.app.state.boundaries.engine  # type: ignore[attr-defined]
    token, _ = issue(engine, name=f"{role}-{unit}", unit_key=unit, role=role)
    return {"Authorization": f"Bearer {token}"}


def _report(client: TestClient, lon: float, lat: float, category: str = "S-01-01") -> dict:
    body = {"lon": lon, "lat": lat, "category": category, "description": "地图测试", "channel": "app"}
    response = client.post("/v1/reports", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _inside(code: str) -> tuple[float, float]:
    """A point inside a unit of the bundled set."""
    from boundaries.bundled import load_taian

    units = load_taian()
    point = units.loc[units["code"] == code].geometry.iloc[0].representative_point()
    return point.x, point.y


@pytest.fixture(scope="module")
def empty_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A new installation: the bundled boundaries and no report at all."""
    yield from make_client(f"sqlite:///{tmp_path_factory.mktemp('maps-empty')}/siji.db")


@pytest.fixture(scope="module")
def reports_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A service with reports in two sibling subdistricts and green-space demand in one."""
    for client in make_client(f"sqlite:///{tmp_path_factory.mktemp('maps-reports')}/siji.db"):
        lon, lat = _inside(DAIMIAO)
        for i in range(4):
            _report(client, TAISHAN["lon"] + i * 0.001, TAISHAN["lat"])
        for i in range(3):
            _report(client, lon + i * 0.0005, lat)
        for i in range(6):
            _report(client, TAISHAN["lon"] + i * 0.0004, TAISHAN["lat"] + 0.001, category="B-04-05")
        yield client


# --- a new installation: demo data, no token ---------------------------------------------


def test_an_empty_database_shows_demo_maps_without_a_token(empty_client: TestClient) -> None:
    for route in MAP_ROUTES:
        page = empty_client.get(route)
        assert page.status_code == 200, (route, page.text[:300])
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert "演示数据 demo data" in page.text
        assert external_asset_urls(page.text) == []
        assert 'src="/maps/assets/leaflet/leaflet.js"' in page.text
        assert '<html lang="zh-CN">' in page.text


def test_demo_geojson_and_csv_answers(empty_client: TestClient) -> None:
    density = empty_client.get("/maps/density", params={"format": "geojson", "level": "subdistrict"})
    assert density.headers["content-type"] == "application/geo+json"
    document = density.json()
    assert document["type"] == "FeatureCollection"
    assert len(document["features"]) == 88
    assert sum(f["properties"]["count"] for f in document["features"]) == 3000  # the demo's reports
    assert {"code", "name", "count", "area_km2", "per_km2"} <= set(document["features"][0]["properties"])
    assert document["features"][0]["geometry"]["type"] in {"Polygon", "MultiPolygon"}

    csv = empty_client.get("/maps/pocket-parks", params={"format": "csv", "radius_m": 500, "p": 3})
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv.content.startswith("\ufeff".encode())
    table = pd.read_csv(io.BytesIO(csv.content), encoding="utf-8-sig", dtype={"subdistrict_code": str})
    assert table.columns.tolist() == [
        "rank",
        "candidate_id",
        "subdistrict_code",
        "subdistrict_name",
        "new_demand_covered",
        "lon",
        "lat",
    ]
    assert table["rank"].tolist() == [1, 2, 3]

    hot = empty_client.get("/maps/hotspots", params={"format": "geojson", "on": "hex"}).json()
    classes = {f["properties"]["hotspot"] for f in hot["features"]}
    assert classes <= {"hot 99%", "hot 95%", "hot 90%", "not significant", "cold 90%", "cold 95%", "cold 99%"}
    assert classes & {"hot 99%", "hot 95%", "hot 90%"}  # the demo's urban clusters survive the correction
    significance = hot["summary"]["significance"]
    assert (significance["correction"], significance["sides"]) == ("fdr", "two-sided")
    assert significance["tests"] == len(hot["features"])  # every hexagon of the city has neighbours
    assert "at most 5 % are expected to be false alarms" in significance["explanation_en"]
    assert min(f["properties"]["neighbours"] for f in hot["features"]) > 0
    assert min(f["properties"]["count"] for f in hot["features"]) == 0  # zero counts included


def test_demo_pages_are_cached_per_generation(empty_client: TestClient) -> None:
    first = empty_client.get("/maps/pocket-parks", params={"p": 2})
    again = empty_client.get("/maps/pocket-parks", params={"p": 2})
    assert first.content == again.content
    cache = empty_client.app.state.maps_cache  # type: ignore[attr-defined]
    assert any(key[0] == "demo_reports" for key in cache.cached())


# --- reports of the service: staff only, in scope ---------------------------------------


def test_report_maps_need_a_staff_token(reports_client: TestClient) -> None:
    for route in MAP_ROUTES:
        anonymous = reports_client.get(route)
        assert anonymous.status_code == 401  # no credentials: authenticate (WWW-Authenticate: Bearer)
        assert anonymous.json()["error"]["code"] == "unauthenticated"
        reporter = reports_client.get(route, headers={"Authorization": "Bearer rp_someone"})
        assert reporter.status_code == 403
    assert (
        reports_client.get("/maps/density", headers={"Authorization": "Bearer sj_nonsense"}).status_code
        == 401
    )


def test_a_token_sees_its_own_units_only(reports_client: TestClient) -> None:
    caiyuan = reports_client.get(
        "/maps/density", params={"format": "geojson"}, headers=_token(reports_client, CAIYUAN)
    )
    features = caiyuan.json()["features"]
    assert features
    assert all(f["properties"]["parent_code"] == CAIYUAN for f in features)
    assert sum(f["properties"]["count"] for f in features) == 4  # its 暴露垃圾 reports, not the 园林局 ones

    daimiao = _token(reports_client, DAIMIAO)
    sibling = reports_client.get("/maps/density", params={"format": "geojson"}, headers=daimiao).json()[
        "features"
    ]
    assert {f["properties"]["parent_code"] for f in sibling} == {DAIMIAO}
    assert sum(f["properties"]["count"] for f in sibling) == 3
    page = reports_client.get("/maps/density", headers=daimiao).text
    assert "演示数据" not in page
    assert "三里社区" not in page  # a 财源街道 community
    assert f"{TAISHAN['lat']}, {TAISHAN['lon']}" not in page  # no heat point of the other unit
    lon, lat = _inside(DAIMIAO)
    assert f"{round(lat, 5)}, {round(lon, 5)}" in page


def test_city_wide_tokens_and_filters(reports_client: TestClient) -> None:
    city = _token(reports_client, "370900000000")
    everything = reports_client.get(
        "/maps/density", params={"format": "geojson", "level": "district"}, headers=city
    ).json()["features"]
    assert len(everything) == 6
    only_app = reports_client.get(
        "/maps/density",
        params={"format": "geojson", "level": "district", "channels": "app,hotline", "categories": "S-01-01"},
        headers=city,
    ).json()["features"]
    assert sum(f["properties"]["count"] for f in only_app) == 7
    none = reports_client.get(
        "/maps/density", params={"format": "geojson", "level": "district", "channels": "patrol"}, headers=city
    ).json()["features"]
    assert sum(f["properties"]["count"] for f in none) == 0
    bad = reports_client.get("/maps/density", params={"channels": "fax"}, headers=city)
    assert bad.status_code == 422
    assert "unknown channel 'fax'" in bad.json()["error"]["message"]


def test_pocket_parks_from_the_services_demand(reports_client: TestClient) -> None:
    gardens = _token(reports_client, "city:园林局")
    answer = reports_client.get(
        "/maps/pocket-parks", params={"format": "geojson", "p": 2, "radius_m": 300}, headers=gardens
    ).json()
    coverage = answer["summary"]["coverage"]
    assert coverage["total_demand"] == 6
    assert coverage["covered_after"] >= coverage["covered_before"]
    assert [f["properties"]["rank"] for f in answer["features"]] == [1, 2]
    page = reports_client.get("/maps/pocket-parks", params={"p": 2}, headers=gardens).text
    assert "演示公园（公园登记册为空）" in page  # the register is empty: demo parks, and the page says so
    assert "6 条真实报告 6 real reports" in page  # the reports this token sees (园林局: its own 6)
    assert page.count('"siji-rank-icon"') == 2  # numbered markers


def test_hotspots_in_a_subdistrict(reports_client: TestClient) -> None:
    answer = reports_client.get(
        "/maps/hotspots",
        params={"format": "csv", "permutations": 99, "local_moran": True},
        headers=_token(reports_client, CAIYUAN),
    )
    assert answer.status_code == 200, answer.text
    table = pd.read_csv(io.BytesIO(answer.content), encoding="utf-8-sig", dtype={"code": str})
    assert {"code", "name", "count", "gi_z", "gi_p", "hotspot", "hotspot_zh", "moran_quadrant"} <= set(
        table.columns
    )
    assert table["count"].sum() == 4


# --- parameters, assets, documentation ---------------------------------------------------


@pytest.mark.parametrize(
    ("route", "params", "field"),
    [
        ("/maps/hotspots", {"permutations": 1_000_000}, "query.permutations"),
        ("/maps/hotspots", {"correction": "bonferroni"}, "query.correction"),
        ("/maps/hotspots", {"on": "county"}, "query.on"),
        ("/maps/pocket-parks", {"p": 0}, "query.p"),
        ("/maps/pocket-parks", {"p": 51}, "query.p"),
        ("/maps/pocket-parks", {"format": "pdf"}, "query.format"),
        ("/maps/density", {"metric": "per_person"}, "query.metric"),
        ("/maps/density", {"hex_resolution": 15}, "query.hex_resolution"),
    ],
)
def test_bad_parameters_are_422_in_the_error_format(
    empty_client: TestClient, route: str, params: dict, field: str
) -> None:
    response = empty_client.get(route, params=params)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert response.json()["error"]["detail"]["problems"][0]["field"] == field


def test_per_1000_needs_population(empty_client: TestClient) -> None:
    response = empty_client.get("/maps/density", params={"metric": "per_1000"})
    assert response.status_code == 422
    assert "population" in response.json()["error"]["message"]


def test_assets_are_served_and_paths_are_checked(empty_client: TestClient) -> None:
    script = empty_client.get("/maps/assets/leaflet/leaflet.js")
    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.content.startswith(b"/* @preserve")
    font = empty_client.get("/maps/assets/fontawesome-free/webfonts/fa-solid-900.woff2")
    assert (font.status_code, font.headers["content-type"]) == (200, "font/woff2")
    css = empty_client.get("/maps/assets/leaflet/leaflet.css")
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    for bad in (
        "../offline.py",
        "%2e%2e/offline.py",
        "leaflet/../../render.py",
        "leaflet",
        "nope.js",
        ".hidden",
        "leaflet/%00.js",
        "..%2foffline.py",
    ):
        response = empty_client.get(f"/maps/assets/{bad}")
        assert response.status_code == 404, bad
        assert response.json()["error"]["code"] == "not_found"


def test_every_page_asset_is_served(empty_client: TestClient) -> None:
    page = empty_client.get("/maps/density").text
    urls = re.findall(r'(?:src|href)="(/maps/assets/[^"]+)"', page)
    assert len(urls) >= 10
    for url in urls:
        assert empty_client.get(url).status_code == 200, url


def test_openapi_documents_the_map_answers(empty_client: TestClient) -> None:
    paths = empty_client.get("/openapi.json").json()["paths"]
    for route in MAP_ROUTES:
        content = paths[route]["get"]["responses"]["200"]["content"]
        assert {"text/html", "application/geo+json", "text/csv"} <= set(content), route
        assert {"403", "422"} <= set(paths[route]["get"]["responses"])
    assert "404" in paths["/maps/assets/{path}"]["get"]["responses"]
    assert json.dumps(paths["/maps/pocket-parks"]["get"]["parameters"]).count('"name"') >= 3
