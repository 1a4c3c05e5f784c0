"""GET/POST /v1/lookup over the bundled Tai'an set."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import io
import json
import weakref
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from typer.testing import CliRunner

import boundaries.service as service_module
from api.routes.lookup import PointLookupApp, PointQuery, _point_query
from boundaries.bundled import load_taian
from geo.crs import from_wgs84
from geo.errors import NotFoundError
from geo.grid import EMPTY, MIXED_SUBCELL
from store.engine import make_engine, upgrade
from store.generations import import_generation
from tests.api.conftest import make_client
from tests.common import C111, lonlat
from tests.conftest import units_frame, wait_for

TAISHAN = (117.13, 36.19)  # 泰山区 财源街道 三里社区
LEVELS = ("city", "district", "subdistrict", "community")


def _edge_point() -> tuple[float, float]:
    """A vertex shared by two communities of the bundled set."""
    frame = load_taian()
    communities = frame[frame["level"] == "community"]
    a, b = communities.geometry.values[0], communities.geometry.values[1:]
    touching = b[shapely.touches(b, a)]
    shared = shapely.get_coordinates(shapely.intersection(a, touching[0]))[0]
    return float(shared[0]), float(shared[1])


def test_one_point_answers_all_four_levels(client: TestClient) -> None:
    response = client.get("/v1/lookup", params={"lon": TAISHAN[0], "lat": TAISHAN[1]})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert [body[level]["code"] for level in LEVELS] == [
        "370900000000",
        "370902000000",
        "370902002000",
        "370902002001",
    ]
    assert body["community"]["name"] == "三里社区居委会"
    assert body["generation"]["name"] == "taian-2023"
    assert "candidates" not in body
    assert "distance_m" not in body


def test_the_cli_prints_the_same_json(client: TestClient, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from siji.cli import app

    monkeypatch.setenv("SIJI_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    printed = CliRunner().invoke(app, ["lookup", str(TAISHAN[0]), str(TAISHAN[1])])
    assert printed.exit_code == 0, printed.output
    served = client.get("/v1/lookup", params={"lon": TAISHAN[0], "lat": TAISHAN[1]}).json()
    cli = json.loads(printed.stdout)
    assert {k: v for k, v in cli.items() if k != "generation"} == {
        k: v for k, v in served.items() if k != "generation"
    }


@pytest.mark.parametrize("crs", ["gcj02", "bd09", "cgcs2000", "EPSG:4548"])
def test_every_crs_lands_in_the_same_community(client: TestClient, crs: str) -> None:
    x, y = from_wgs84([TAISHAN[0]], [TAISHAN[1]], crs)
    body = client.get("/v1/lookup", params={"lon": x[0], "lat": y[0], "crs": crs}).json()
    assert body["community"]["code"] == "370902002001", body


def test_gcj02_coordinates_read_as_wgs84_would_land_elsewhere(client: TestClient) -> None:
    """Why the CRS matters: the phone's GCJ-02 point is ~500 m off."""
    x, y = from_wgs84([TAISHAN[0]], [TAISHAN[1]], "gcj02")
    naive = client.get("/v1/lookup", params={"lon": x[0], "lat": y[0]}).json()
    assert naive["community"]["code"] != "370902002001"


def test_shared_vertex_is_boundary_with_candidates(client: TestClient) -> None:
    lon, lat = _edge_point()
    body = client.get("/v1/lookup", params={"lon": lon, "lat": lat}).json()
    assert body["status"] == "boundary"
    codes = [c["code"] for c in body["candidates"]]
    assert codes == sorted(codes)
    assert len(codes) >= 2
    assert body["community"]["code"] == codes[0]


def test_outside_and_snapped(client: TestClient) -> None:
    far = client.get("/v1/lookup", params={"lon": 120.0, "lat": 30.0}).json()
    assert far["status"] == "outside"
    assert all(far[level] is None for level in LEVELS)
    # 20 m west of the city's westernmost vertex
    frame = load_taian()
    city = frame.loc[frame["level"] == "city", "geometry"].iloc[0]
    coords = shapely.get_coordinates(city)
    west = coords[np.argmin(coords[:, 0])]
    near = client.get("/v1/lookup", params={"lon": west[0] - 20 / 90_000, "lat": west[1]}).json()
    assert near["status"] == "snapped"
    assert 15 < near["distance_m"] < 25
    assert near["community"] is not None


@pytest.mark.parametrize(
    ("params", "code", "fragment"),
    [
        ({"lon": "nan", "lat": 36.19}, "invalid_coordinate", "lon=nan is not a finite number"),
        ({"lon": 117.13, "lat": 95}, "invalid_coordinate", "lat=95.0 is out of range; allowed -90..90"),
        ({"lon": 36.19, "lat": 117.13}, "swapped_axes", "look swapped"),
        ({"lon": 117.13, "lat": 36.19, "crs": "mars2"}, "unknown_crs", "unknown CRS 'mars2'"),
        ({"lon": "east", "lat": 36.19}, "invalid_request", "query.lon"),
        ({"lat": 36.19}, "invalid_request", "query.lon"),
        ({"lon": 117.13, "lat": 36.19, "at": "yesterday"}, "invalid_request", "query.at"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_value(
    client: TestClient, params: dict, code: str, fragment: str
) -> None:
    response = client.get("/v1/lookup", params=params)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert fragment in error["message"]


@pytest.mark.parametrize(
    "query",
    [
        "lon=117.13&lat=36.19",  # the common form, read by one match
        "lon=117.13&lat=36.19&crs=wgs84",
        "lat=36.19&lon=117.13",  # the general path: any other order,
        "lon=117.13&lat=36.19&crs=EPSG%3A4326",  # percent-encoding,
        "lon=1.1713e2&lat=36.19",  # exponents,
        "lon=0&lon=117.13&lat=36.19",  # repeated keys (the last wins),
        "lon=117.13&lat=36.19&at=2024-06-01",  # a date,
        "lon=117.13&lat=36.19&extra=1",  # and unknown keys (ignored)
    ],
)
def test_every_query_form_gets_the_same_answer(client: TestClient, query: str) -> None:
    expected = client.app.state.boundaries.lookup_point(*TAISHAN)  # type: ignore[attr-defined]
    response = client.get(f"/v1/lookup?{query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == expected


@settings(max_examples=300, deadline=None)
@given(
    lon=st.text(alphabet="-.0123456789", min_size=1, max_size=12),
    lat=st.text(alphabet="-.0123456789", min_size=1, max_size=12),
)
def test_the_common_form_reads_as_the_general_path(lon: str, lat: str) -> None:
    """Plain-decimal queries take one match and float(); whatever they accept, the
    general path (PointQuery) reads alike, and what they refuse the general path words."""
    general: tuple[float, float] | None
    try:
        query = PointQuery.model_validate({"lon": lon, "lat": lat})
        general = (query.lon, query.lat)
    except ValidationError:
        general = None
    common: tuple[float, float] | None
    try:
        common = _point_query(f"lon={lon}&lat={lat}".encode())[:2]
    except RequestValidationError:
        common = None
    assert common == general


@pytest.mark.parametrize(
    "query",
    [
        "lon=117.13&lat=",
        "lon=117.13&lat=36.19&crs=",
        "lon=-&lat=36.19",
        "lon=117.13&lat=36.19.5",
        "lon=.&lat=36.19",
        "lon=117.13",
    ],
)
def test_near_misses_of_the_common_form_are_validated(client: TestClient, query: str) -> None:
    response = client.get(f"/v1/lookup?{query}")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] in ("invalid_request", "unknown_crs")


def test_answers_inside_one_unit_match_the_full_answer(client: TestClient) -> None:
    # Those bodies are rendered once per unit; every one must be the answer locate_point gives.
    frame = load_taian()
    communities = frame[frame["level"] == "community"].head(40)
    points = shapely.point_on_surface(communities.geometry.values)
    service = client.app.state.boundaries  # type: ignore[attr-defined]
    for point in points:
        x, y = float(point.x), float(point.y)
        body = client.get("/v1/lookup", params={"lon": f"{x:.9f}", "lat": f"{y:.9f}"}).json()
        assert body == service.lookup_point(float(f"{x:.9f}"), float(f"{y:.9f}"))
        assert body["status"] == "ok"


def test_every_kind_of_point_gets_the_full_answer(client: TestClient) -> None:
    # Points inside one unit take the route's flat path (by the raster away from edges,
    # by the exact test near them); points on vertices and edges, in gaps or outside
    # take the general one, but for points outside for certain (the outside raster),
    # which the flat path answers too.  Each must give locate_point's answer.
    frame = load_taian()
    communities = frame[frame["level"] == "community"].geometry.values
    minx, miny, maxx, maxy = shapely.total_bounds(communities)
    rng = np.random.default_rng(11)
    x = rng.uniform(minx - 0.05, maxx + 0.05, 300)  # some outside the city
    y = rng.uniform(miny - 0.05, maxy + 0.05, 300)
    vertices = shapely.get_coordinates(communities[:40])[::7]
    edges = shapely.get_coordinates(
        shapely.line_interpolate_point(shapely.boundary(communities[:40]), 0.37, normalized=True)
    )
    points = np.concatenate([np.column_stack([x, y]), vertices, edges])
    service = client.app.state.boundaries  # type: ignore[attr-defined]
    index = service.index()[1]
    grid, _ = index.finest
    paths: Counter[str] = Counter()
    for px, py in points:
        value = grid.value_at(float(px), float(py))
        if value >= 0:
            paths["raster"] += 1
        elif value == MIXED_SUBCELL and len(grid.exact_covering(float(px), float(py))) == 1:
            paths["exact test"] += 1
        elif value == EMPTY and index.surely_outside(float(px), float(py)):
            paths["outside raster"] += 1
        else:
            paths["general"] += 1
    assert all(paths[path] for path in ("raster", "exact test", "outside raster", "general")), paths
    for px, py in points:
        query = {"lon": repr(float(px)), "lat": repr(float(py))}
        response = client.get("/v1/lookup", params=query)
        assert response.status_code == 200, (query, response.text)
        assert response.json() == service.lookup_point(float(px), float(py)), query


def test_answers_come_from_the_generation_they_name(tmp_path: Path) -> None:
    # Answers inside one unit are rendered once per generation: a request for one
    # generation must never get the bytes rendered for another.
    url = f"sqlite:///{tmp_path / 'siji.db'}"
    engine = make_engine(url)
    upgrade(engine)
    import_generation(engine, units_frame(), name="toy", valid_from=dt.date(2024, 1, 1))
    renamed = units_frame()
    renamed.loc[renamed["code"] == C111, "name"] = "新名社区"
    import_generation(engine, renamed, name="renamed", valid_from=dt.date(2025, 1, 1))
    engine.dispose()
    lon, lat = lonlat(1, 1)  # inside C111
    expected = {
        "2024-06-01": ("toy", "西南社区"),
        "2025-06-01": ("renamed", "新名社区"),
        None: ("renamed", "新名社区"),  # the active generation
    }
    for client in make_client(url, load_bundled=False):
        for _ in range(2):  # in turn, so that each generation's answers are already rendered
            for at, (generation, community) in expected.items():
                params = {"lon": lon, "lat": lat} if at is None else {"lon": lon, "lat": lat, "at": at}
                body = client.get("/v1/lookup", params=params).json()
                assert body["status"] == "ok"
                assert (body["generation"]["name"], body["community"]["name"]) == (generation, community)


@pytest.mark.parametrize("lifespan_state", [True, False])
def test_the_route_finds_the_boundaries_where_the_server_puts_them(
    client: TestClient, lifespan_state: bool
) -> None:
    # Lifespan state when the server hands it to requests, else app.state.
    app = client.app
    service = app.state.boundaries  # type: ignore[attr-defined]
    scope: dict[str, Any] = {"type": "http", "app": app, "query_string": b"lon=%r&lat=%r" % TAISHAN}
    if lifespan_state:
        scope["state"] = {"boundaries": service}
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(PointLookupApp()(scope, _no_body, send))
    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"]) == service.lookup_point(*TAISHAN)


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def test_the_flat_path_follows_the_active_generation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The route keeps the active generation's rendered answers while the service's
    # reading of it stands: a generation imported later answers once the service has
    # read it again, and none is answered once no generation is valid.
    monkeypatch.setattr(service_module, "ACTIVE_TTL_S", 0.0)  # every request finds it due
    url = f"sqlite:///{tmp_path / 'siji.db'}"
    engine = make_engine(url)
    upgrade(engine)
    import_generation(engine, units_frame(), name="toy", valid_from=dt.date(2024, 1, 1))
    params = dict(zip(("lon", "lat"), lonlat(1, 1), strict=True))  # inside C111

    def answered(client: TestClient) -> tuple[int, str | None]:
        response = client.get("/v1/lookup", params=params)
        if response.status_code != 200:
            return response.status_code, None
        return 200, response.json()["community"]["name"]

    for client in make_client(url, load_bundled=False):
        assert answered(client) == (200, "西南社区")
        renamed = units_frame()
        renamed.loc[renamed["code"] == C111, "name"] = "新名社区"
        import_generation(engine, renamed, name="renamed", valid_from=dt.date(2025, 1, 1))
        wait_for(partial(answered, client), (200, "新名社区"))
        monkeypatch.setattr(service_module, "generation_at", _no_generation)
        wait_for(partial(answered, client), (404, None))
    engine.dispose()


def test_the_answers_of_a_generation_the_service_let_go_are_let_go(tmp_path: Path) -> None:
    # Rendered answers hold their generation's finest raster: once the service drops
    # that generation's index from its cache, the route must not keep the raster alive.
    url = f"sqlite:///{tmp_path / 'siji.db'}"
    engine = make_engine(url)
    upgrade(engine)
    import_generation(engine, units_frame(), name="toy", valid_from=dt.date(2024, 1, 1))
    import_generation(engine, units_frame(), name="copy", valid_from=dt.date(2025, 1, 1))
    engine.dispose()
    params = dict(zip(("lon", "lat"), lonlat(1, 1), strict=True))  # inside C111
    for client in make_client(url, load_bundled=False, index_cache_size=1):
        service = client.app.state.boundaries  # type: ignore[attr-defined]
        assert client.get("/v1/lookup", params={**params, "at": "2024-06-01"}).status_code == 200
        raster = weakref.ref(service.index(dt.date(2024, 6, 1))[1].finest[0])
        # The other generation's index takes the only place in the cache.
        assert client.get("/v1/lookup", params={**params, "at": "2025-06-01"}).status_code == 200
        gc.collect()
        assert raster() is None


def _no_generation(engine: object, at: object = None) -> NoReturn:
    raise NotFoundError("no boundary generation is valid on 2026-01-01", at="2026-01-01")


def test_a_date_before_every_generation_is_404(client: TestClient) -> None:
    response = client.get("/v1/lookup", params={"lon": TAISHAN[0], "lat": TAISHAN[1], "at": "2001-01-01"})
    assert response.status_code == 404
    assert "no boundary generation is valid on 2001-01-01" in response.json()["error"]["message"]


# --- bulk ---------------------------------------------------------------------------------
def test_bulk_json_points(client: TestClient) -> None:
    points = [
        {"id": "a", "lon": TAISHAN[0], "lat": TAISHAN[1]},
        {"id": 2, "lon": 120.0, "lat": 30.0},
        {"id": None, "lon": 36.19, "lat": 117.13},
    ]
    response = client.post("/v1/lookup", json={"points": points})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 3
    assert [r["status"] for r in body["results"]] == ["ok", "outside", "invalid"]
    assert body["results"][0]["community_code"] == "370902002001"
    assert body["results"][0]["id"] == "a"
    assert "swapped" in body["results"][2]["error"]
    assert body["counts_by_status"] == {"ok": 1, "outside": 1, "invalid": 1}


CSV = "id,name,lon,lat\n007,站点A,117.13,36.19\n008,bad,abc,36.19\n009,远处,120,30\n"


def test_bulk_csv_upload_comes_back_as_csv_with_every_row_and_column(client: TestClient) -> None:
    response = client.post(
        "/v1/lookup", content=CSV.encode(), headers={"content-type": "text/csv"}, params={"format": "csv"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = pd.read_csv(io.StringIO(response.text), dtype=str, keep_default_na=False)
    assert rows["id"].tolist() == ["007", "008", "009"]
    assert rows["name"].tolist() == ["站点A", "bad", "远处"]
    assert rows["status"].tolist() == ["ok", "invalid", "outside"]
    assert rows.loc[0, "subdistrict_name"] == "财源街道"
    assert "abc" in rows.loc[1, "error"]


def test_bulk_multipart_geojson_to_geojson(client: TestClient) -> None:
    frame = gpd.GeoDataFrame(
        {"id": [1, 2]}, geometry=gpd.points_from_xy([TAISHAN[0], 120], [TAISHAN[1], 30]), crs=4326
    )
    upload = frame.to_json().encode()
    response = client.post(
        "/v1/lookup",
        files={"file": ("points.geojson", upload, "application/geo+json")},
        headers={"accept": "application/geo+json"},
    )
    assert response.status_code == 200, response.text
    features = response.json()["features"]
    assert [f["properties"]["status"] for f in features] == ["ok", "outside"]
    assert features[0]["geometry"]["coordinates"] == [TAISHAN[0], TAISHAN[1]]


def test_bulk_geoparquet_to_geoparquet(client: TestClient, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    n = 5000
    frame = gpd.GeoDataFrame(
        {"n": np.arange(n)},
        geometry=gpd.points_from_xy(rng.uniform(117.0, 117.2, n), rng.uniform(36.1, 36.25, n)),
        crs=4326,
    )
    source = tmp_path / "in.parquet"
    frame.to_parquet(source)
    response = client.post(
        "/v1/lookup",
        content=source.read_bytes(),
        headers={"content-type": "application/vnd.apache.parquet"},
        params={"format": "parquet"},
    )
    assert response.status_code == 200, response.text
    out = tmp_path / "out.parquet"
    out.write_bytes(response.content)
    result = gpd.read_parquet(out)
    assert len(result) == n
    assert result["n"].tolist() == list(range(n))
    assert set(result["status"]) <= {"ok", "boundary", "outside", "snapped"}
    assert response.headers["x-siji-rows"] == str(n)


def test_bulk_file_as_json(client: TestClient) -> None:
    response = client.post("/v1/lookup", content=CSV.encode(), headers={"content-type": "text/csv"})
    assert response.status_code == 200
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["ok", "invalid", "outside"]
    assert body["results"][0]["id"] == "007"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"content": b"x", "headers": {"content-type": "application/pdf"}}, 415, "unsupported_media_type"),
        (
            {"content": CSV.encode(), "headers": {"content-type": "text/csv"}, "params": {"format": "xlsx"}},
            406,
            "not_acceptable",
        ),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 422, "invalid_request"),
        ({"json": {"points": []}}, 422, "invalid_request"),
        ({"json": {"points": [{"lon": "x", "lat": 1}]}}, 422, "invalid_request"),
        (
            {"content": b"lon,lat\n", "headers": {"content-type": "text/csv"}, "params": {"x_col": "east"}},
            422,
            "invalid_input",
        ),
        (
            {
                "content": b"\xff\xfe\x00garbage",
                "headers": {"content-type": "application/vnd.apache.parquet"},
            },
            422,
            "invalid_input",
        ),
    ],
)
def test_bad_bulk_requests(client: TestClient, kwargs: dict, status: int, code: str) -> None:
    response = client.post("/v1/lookup", **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_oversized_upload_is_413(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.api.conftest import make_client

    for small in make_client(f"sqlite:///{tmp_path}/s.db", max_upload_bytes=2048):
        body = ("lon,lat\n" + "117.13,36.19\n" * 500).encode()
        response = small.post("/v1/lookup", content=body, headers={"content-type": "text/csv"})
        assert response.status_code == 413
        assert "over the limit of 2,048 bytes" in response.json()["error"]["message"]

        def chunks():  # type: ignore[no-untyped-def]
            yield b"lon,lat\n"
            for _ in range(500):
                yield b"117.13,36.19\n"

        streamed = small.post("/v1/lookup", content=chunks(), headers={"content-type": "text/csv"})
        assert streamed.status_code == 413


def test_bulk_json_answer_is_streamed_with_every_value_as_the_parquet_answer_has_it(
    client: TestClient, tmp_path: Path
) -> None:
    # JSON answers to uploads are rendered chunk by chunk (batch.json_records): every
    # row, column and value must read back as the same upload answered as GeoParquet.
    import geopandas as gpd
    import pyarrow.parquet as pq

    n = 1_500
    rng = np.random.default_rng(3)
    frame = gpd.GeoDataFrame(
        {
            "id": np.arange(n),
            "weight": rng.uniform(0, 1, n),
            "label": [['quote "q"', "back\\slash", "line\nbreak", "中文", None][i % 5] for i in range(n)],
            "flag": [i % 3 == 0 for i in range(n)],
        },
        geometry=gpd.points_from_xy(rng.uniform(116.0, 118.1, n), rng.uniform(35.5, 36.6, n)),
        crs=4326,
    )
    upload = tmp_path / "points.parquet"
    frame.to_parquet(upload)
    headers = {"content-type": "application/vnd.apache.parquet"}
    as_json = client.post("/v1/lookup", content=upload.read_bytes(), headers=headers)
    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["content-type"] == "application/json"
    body = as_json.json()
    as_parquet = client.post(
        "/v1/lookup", content=upload.read_bytes(), headers=headers, params={"format": "parquet"}
    )
    (tmp_path / "answer.parquet").write_bytes(as_parquet.content)
    expected = pq.read_table(tmp_path / "answer.parquet").drop_columns(["geometry"]).to_pylist()
    for row in expected:
        if row["distance_m"] != row["distance_m"]:  # NaN: null in JSON
            row["distance_m"] = None
    assert body["count"] == n
    assert sum(body["counts_by_status"].values()) == n
    assert body["results"] == expected
