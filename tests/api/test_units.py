"""Units, generations, health and errors over HTTP; the same answers on PostGIS."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

TAISHAN_DISTRICT = "370902000000"
CAIYUAN = "370902002000"
SANLI = "370902002001"


def test_search_by_level_and_name_prefix(client: TestClient) -> None:
    body = client.get("/v1/units", params={"level": "district"}).json()
    assert body["total"] == 6
    assert [u["name"] for u in body["units"]][:2] == ["泰山区", "岱岳区"]
    found = client.get("/v1/units", params={"q": "财源", "level": "subdistrict"}).json()
    assert [u["code"] for u in found["units"]] == [CAIYUAN]
    assert (
        client.get("/v1/units", params={"level": "community", "limit": 5, "offset": 10}).json()["total"]
        == 3782
    )


def test_name_prefix_is_not_a_pattern(client: TestClient) -> None:
    assert client.get("/v1/units", params={"q": "%"}).json()["total"] == 0
    assert client.get("/v1/units", params={"q": "_"}).json()["total"] == 0


def test_unit_detail_with_parent_chain_children_and_geometry(client: TestClient) -> None:
    body = client.get(f"/v1/units/{CAIYUAN}", params={"geometry": "true", "simplify": 0.001}).json()
    assert body["name"] == "财源街道"
    assert body["level"] == "subdistrict"
    assert [p["code"] for p in body["parents"]] == ["370900000000", TAISHAN_DISTRICT]
    assert body["children_count"] > 0
    assert body["synthetic"] is True
    assert 0 < body["area_km2"] < 100
    assert body["geometry"]["type"] in ("Polygon", "MultiPolygon")
    plain = client.get(f"/v1/units/{CAIYUAN}").json()
    assert plain["geometry"] is None


def test_children_and_geojson(client: TestClient) -> None:
    children = client.get(f"/v1/units/{CAIYUAN}/children").json()
    assert SANLI in [u["code"] for u in children["units"]]
    assert all(u["parent_code"] == CAIYUAN for u in children["units"])
    feature = client.get(f"/v1/units/{SANLI}.geojson")
    assert feature.headers["content-type"] == "application/geo+json"
    assert feature.json()["properties"]["name"] == "三里社区居委会"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v1/units/999999999999", 404, "unknown_unit"),
        ("/v1/units/999999999999/children", 404, "unknown_unit"),
        ("/v1/units?level=province", 422, "invalid_input"),
        ("/v1/units?limit=0", 422, "invalid_request"),
        ("/v1/units/37%3B%20DROP", 422, "invalid_request"),
        ("/v1/nothing-here", 404, "not_found"),
    ],
)
def test_errors_have_one_shape(client: TestClient, path: str, status: int, code: str) -> None:
    response = client.get(path)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]


@pytest.mark.parametrize(
    ("given", "code", "name", "short"),
    [
        ("370902", TAISHAN_DISTRICT, "泰山区", "370902"),
        ("370900", "370900000000", "泰安市", "370900"),
        ("370902002", CAIYUAN, "财源街道", "370902002"),
        (TAISHAN_DISTRICT, TAISHAN_DISTRICT, "泰山区", "370902"),
        (SANLI, SANLI, "三里社区居委会", None),
    ],
)
def test_short_codes_name_the_same_unit(
    client: TestClient, given: str, code: str, name: str, short: str | None
) -> None:
    body = client.get(f"/v1/units/{given}").json()
    assert (body["code"], body["name"], body["short_code"]) == (code, name, short)
    assert body == client.get(f"/v1/units/{code}").json()
    feature = client.get(f"/v1/units/{given}.geojson").json()
    assert (feature["id"], feature["properties"]["short_code"]) == (code, short)
    children = client.get(f"/v1/units/{given}/children").json()["units"]
    assert children == client.get(f"/v1/units/{code}/children").json()["units"]
    assert all(child["parent_code"] == code for child in children)


@pytest.mark.parametrize(
    ("given", "read_as"),
    [("370999", "370999000000"), ("370902999", "370902999000"), ("3709", None), ("37090200000", None)],
)
def test_unknown_short_codes_are_404s_naming_the_value(
    client: TestClient, given: str, read_as: str | None
) -> None:
    response = client.get(f"/v1/units/{given}")
    assert response.status_code == 404, response.text
    message = response.json()["error"]["message"]
    assert f"unit code {given!r}" in message
    assert (f"read as {read_as}" in message) is (read_as is not None)
    assert "6-digit GB/T 2260 code" in message
    assert "9-digit code of a township" in message


def test_generations_health_and_docs(client: TestClient) -> None:
    generations = client.get("/v1/generations").json()["generations"]
    assert [(g["name"], g["active"], g["unit_count"]) for g in generations] == [("taian-2023", True, 3877)]
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready"
    assert ready["database"]
    assert ready["index_loaded"]
    assert ready["units"] == 3877
    assert client.get("/docs").status_code == 200
    assert "/v1/lookup" in client.get("/openapi.json").json()["paths"]


REQUESTS = [
    ("/v1/lookup", {"lon": 117.13, "lat": 36.19}),
    ("/v1/lookup", {"lon": 117.135, "lat": 36.195, "crs": "gcj02"}),
    ("/v1/lookup", {"lon": 116.9, "lat": 35.9}),
    ("/v1/lookup", {"lon": 120.0, "lat": 30.0}),
    ("/v1/units", {"level": "subdistrict", "q": "新"}),
    (f"/v1/units/{CAIYUAN}", {}),
    (f"/v1/units/{CAIYUAN}/children", {}),
    ("/v1/units/370902", {}),
    ("/v1/units/370902002/children", {}),
]


@pytest.mark.postgis
@pytest.mark.parametrize(("path", "params"), REQUESTS)
def test_postgis_gives_identical_answers(
    client: TestClient, postgis_client: TestClient, path: str, params: dict
) -> None:
    a = client.get(path, params=params).json()
    b = postgis_client.get(path, params=params).json()
    a.pop("generation", None)
    b.pop("generation", None)
    assert a == b
