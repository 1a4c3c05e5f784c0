"""The green-space register over HTTP, and the pocket-park map that uses it, on SQLite and PostGIS.

The register (``tests.common.green_spaces``): 泰山公园, a 400 m square park on 三里社区;
岱庙广场, a square 1.2 km east; 青年路口袋公园, a point 1.5 km north; 新建口袋公园, opening
in 2099.  Demand reports are placed where only the right rule covers them: 250 m from
the park's edge (450 m from its centre), 170 m from the square (green space, but no
park, within 500 m), and far from everything.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from greenspace.read import read_green_spaces
from routing.staff import issue
from store.greenspace import import_green_spaces
from tests.api.conftest import make_client
from tests.common import EDGE_PROBE, green_spaces, metric_offset
from tests.conftest import fresh_postgis_database

NEAR_SQUARE = metric_offset(1500.0, 0.0)  # 170 m east of 岱庙广场, 1.3 km from 泰山公园
FAR = metric_offset(2500.0, -2500.0)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('parks')}/siji.db"
    else:
        url = fresh_postgis_database(request.getfixturevalue("postgis_server"))
    yield from make_client(url)


def _register(client: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "parks.gpkg"
    green_spaces().to_file(path)
    engine = client.app.state.boundaries.engine  # type: ignore[attr-defined]
    import_green_spaces(engine, read_green_spaces(path), source="园林局台账", replace=True)


def _gardens(client: TestClient) -> dict[str, str]:
    engine = client.app.state.boundaries.engine  # type: ignore[attr-defined]
    token, _ = issue(engine, name="园林局规划", unit_key="city:园林局", role="planner")
    return {"Authorization": f"Bearer {token}"}


def test_an_empty_register_means_demo_parks_and_the_map_says_so(client: TestClient) -> None:
    body = client.get("/v1/parks").json()
    assert (body["total"], body["parks"]) == (0, [])
    answer = client.get("/maps/pocket-parks", params={"format": "geojson", "p": 2}).json()
    assert answer["summary"]["parks"] == 40
    page = client.get("/maps/pocket-parks", params={"p": 2}).text
    assert "40 demo parks (the park register is empty)" in page


def test_the_register_is_listed_and_exported(client: TestClient, tmp_path: Path) -> None:
    _register(client, tmp_path)
    body = client.get("/v1/parks").json()
    assert body["total"] == 4
    first = body["parks"][0]
    assert {k: first[k] for k in ("name", "kind", "kind_zh", "geometry_type", "opened_on", "source")} == {
        "name": "泰山公园", "kind": "park", "kind_zh": "公园", "geometry_type": "Polygon",
        "opened_on": "2005-01-01", "source": "园林局台账",
    }  # fmt: skip
    assert first["area_m2"] == pytest.approx(160_000, rel=2e-3)
    pocket = client.get("/v1/parks", params={"kind": ["口袋公园"]}).json()
    assert [p["name"] for p in pocket["parks"]] == ["青年路口袋公园", "新建口袋公园"]
    page = client.get("/v1/parks", params={"limit": 1, "offset": 1})
    assert page.json()["parks"][0]["name"] == "岱庙广场"
    assert client.get("/v1/parks", params={"q": "泰山"}).json()["total"] == 1

    geojson = client.get("/v1/parks", params={"format": "geojson"})
    assert geojson.headers["content-type"] == "application/geo+json"
    assert geojson.headers["x-total-count"] == "4"
    document = geojson.json()
    assert [f["geometry"]["type"] for f in document["features"]] == [
        "Polygon",
        "MultiPolygon",
        "Point",
        "Point",
    ]
    csv = client.get("/v1/parks", params={"format": "csv"})
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    table = pd.read_csv(io.BytesIO(csv.content), encoding="utf-8-sig")
    assert table["name"].tolist() == ["泰山公园", "岱庙广场", "青年路口袋公园", "新建口袋公园"]
    # the GeoJSON export is a park file the importer reads back
    exported = tmp_path / "export.geojson"
    exported.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    again = read_green_spaces(exported)
    assert again["kind"].tolist() == ["park", "square", "pocket_park", "pocket_park"]


@pytest.mark.parametrize(
    ("params", "status", "fragment"),
    [
        ({"kind": "花坛"}, 422, "kind '花坛' is not a kind of green space; allowed: park"),
        ({"limit": 10_001}, 422, "limit"),
        ({"format": "kml"}, 422, "format"),
        ({"offset": -1}, 422, "offset"),
    ],
)
def test_bad_parameters_are_422s_that_name_them(
    client: TestClient, params: dict[str, object], status: int, fragment: str
) -> None:
    response = client.get("/v1/parks", params=params)
    assert response.status_code == status
    assert fragment in json.dumps(response.json(), ensure_ascii=False)


def test_the_pocket_park_plan_measures_against_the_register(client: TestClient, tmp_path: Path) -> None:
    _register(client, tmp_path)
    for lon, lat in (EDGE_PROBE, NEAR_SQUARE, FAR):
        body = {"lon": lon, "lat": lat, "category": "B-04-05", "description": "缺少绿地", "channel": "app"}
        assert client.post("/v1/reports", json=body).status_code == 201
    gardens = _gardens(client)
    answer = client.get(
        "/maps/pocket-parks", params={"format": "geojson", "p": 1, "radius_m": 300}, headers=gardens
    ).json()
    summary = answer["summary"]
    # 3 open green spaces (新建口袋公园 opens in 2099); distances to 泰山公园 from its edge
    assert summary["parks"] == 3
    assert summary["coverage"]["total_demand"] == 3
    assert summary["coverage"]["covered_before"] == 2  # the edge probe and the point by the square
    standards = {row["standard"]: row for row in summary["standards"]}
    assert (standards["green_300"]["covered_before"], standards["park_500"]["covered_before"]) == (2, 1)
    assert standards["green_300"]["covered_after"] >= standards["green_300"]["covered_before"]
    assert sum(row["demand"] for row in summary["by_subdistrict"]) == 3
    assert {"subdistrict_code", "subdistrict_name", "green_300_before", "park_500_after"} <= set(
        summary["by_subdistrict"][0]
    )
    # at 500 m the square does not count (见园: parks and pocket parks)
    wide = client.get(
        "/maps/pocket-parks", params={"format": "geojson", "p": 1, "radius_m": 500}, headers=gardens
    ).json()
    assert wide["summary"]["coverage"]["covered_before"] == 1
    page = client.get("/maps/pocket-parks", params={"p": 1}, headers=gardens).text
    assert "3 条真实报告 3 real reports" in page  # what the map was built from, on either database
    assert "existing parks: 3 from the park register" in page
    assert "现有公园：登记册中的 3 处（公园 1、口袋公园 1、广场 1）" in page
    assert "300米见绿、500米见园" in page
    assert "泰山公园" in page  # drawn as a polygon with its tooltip
    assert "演示" not in page


def test_hot_spots_of_a_few_real_reports_say_how_they_were_tested(client: TestClient) -> None:
    gardens = _gardens(client)
    for lon, lat in (EDGE_PROBE, NEAR_SQUARE, FAR):
        body = {"lon": lon, "lat": lat, "category": "B-04-05", "description": "缺少绿地", "channel": "app"}
        assert client.post("/v1/reports", json=body).status_code == 201
    answer = client.get("/maps/hotspots", params={"format": "geojson"}, headers=gardens).json()
    # (a handful of reports can still make a spot: two report pairs next to one community are
    # improbable under a random arrangement, so no "nothing significant" here)
    assert len(answer["features"]) == 3782
    significance = answer["summary"]["significance"]
    assert (significance["correction"], significance["sides"]) == ("fdr", "two-sided")
    assert significance["tests"] == 3782
    page = client.get("/maps/hotspots", params={"correction": "none"}, headers=gardens).text
    assert "not corrected for multiple testing" in page
    assert "条真实报告" in page
