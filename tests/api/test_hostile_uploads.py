"""Hostile bodies to ``POST /v1/lookup``: a 4xx JSON error naming the problem, never a 500.

A 2 GB body streamed without a length is cut off at the cap with a 413 after reading
no more than the cap, and the request's spool directory is removed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import tests.hostile_inputs as hostile
from api.limits import BodySizeLimit
from store.engine import make_engine, upgrade
from store.generations import import_generation
from tests.api.conftest import make_client
from tests.conftest import TOY_VALID_FROM, units_frame

CAP = 16 << 20  # the small client's SIJI_MAX_UPLOAD_BYTES
JSON_CAP = 1 << 20  # ... and its SIJI_MAX_JSON_BYTES
CSV = {"content-type": "text/csv"}
PARQUET = {"content-type": "application/vnd.apache.parquet"}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile-bodies")


@pytest.fixture(scope="module")
def small_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The service over the toy set (no bundled import) with an 8 MiB upload cap."""
    url = f"sqlite:///{tmp_path_factory.mktemp('hostile-api')}/siji.db"
    engine = make_engine(url)
    upgrade(engine)
    import_generation(engine, units_frame(), name="toy", valid_from=TOY_VALID_FROM)
    engine.dispose()
    yield from make_client(url, max_upload_bytes=CAP, max_json_bytes=JSON_CAP, load_bundled=False)


def _body(case: str, files: Path) -> dict[str, Any]:
    """Request keyword arguments for one hostile case (made on demand: some cost a second)."""
    geojson = {"content-type": "application/geo+json"}
    gpkg = {"content-type": "application/geopackage+sqlite3"}
    makers: dict[str, Callable[[], dict[str, Any]]] = {
        "deep-json": lambda: {
            "content": hostile.deep_json_body(),
            "headers": {"content-type": "application/json"},
        },
        "million-columns": lambda: {
            "content": hostile.million_columns_csv(files).read_bytes(),
            "headers": CSV,
        },
        "million-columns-multipart": lambda: {
            "files": {"file": ("wide.csv", hostile.million_columns_csv(files).read_bytes(), "text/csv")}
        },
        "gbk": lambda: {"content": hostile.gbk_csv(files).read_bytes(), "headers": CSV},
        "zip-as-zip": lambda: {"content": hostile.zip_body(), "headers": {"content-type": "application/zip"}},
        "zip-as-csv": lambda: {"content": hostile.zip_body(), "headers": CSV},
        "gzip-bomb": lambda: {
            "content": hostile.gzip_csv_body(),
            "headers": {**CSV, "content-encoding": "gzip"},
        },
        "empty": lambda: {"content": b"", "headers": CSV},
        "truncated-parquet": lambda: {
            "content": hostile.truncated_parquet(files, "t.parquet").read_bytes(),
            "headers": PARQUET,
        },
        "png-as-parquet": lambda: {
            "content": hostile.wrong_magic(files, "p.parquet").read_bytes(),
            "headers": PARQUET,
        },
        "png-as-gpkg": lambda: {
            "content": hostile.wrong_magic(files, "p.gpkg").read_bytes(),
            "headers": gpkg,
        },
        "deep-geojson": lambda: {
            "content": hostile.deep_points_geojson(files).read_bytes(),
            "headers": geojson,
        },
        "declared-2gb": lambda: {
            "content": b"lon,lat\n",
            "headers": {**CSV, "content-length": str(2 * hostile.GIB)},
        },
        "over-the-cap": lambda: {
            "content": b"lon,lat\n" + b"117.08,36.17\n" * (CAP // 13 + 1),
            "headers": CSV,
        },
    }
    return makers[case]()


# (case, status, error code, fragment of the message)
EXPECTED = [
    ("deep-json", 422, "invalid_request", "recursion limit exceeded"),
    ("million-columns", 422, "invalid_input", "the header has more than 144,961 columns"),
    ("million-columns-multipart", 422, "invalid_input", "at most 1,000 are allowed"),
    ("gbk", 422, "invalid_input", "byte 0xc7 at offset 22 (line 2) is not valid UTF-8"),
    ("zip-as-zip", 415, "unsupported_media_type", "media type 'application/zip'"),
    ("zip-as-csv", 422, "invalid_input", "this is a zip archive (unzip it first)"),
    ("gzip-bomb", 422, "invalid_input", "this is gzip data (decompress it first)"),
    ("empty", 422, "invalid_input", "is empty (0 bytes)"),
    ("truncated-parquet", 422, "invalid_input", "the file is cut short"),
    ("png-as-parquet", 422, "invalid_input", "not a Parquet file: it starts with a PNG image"),
    ("png-as-gpkg", 422, "invalid_input", "not a GeoPackage: it starts with a PNG image"),
    ("deep-geojson", 422, "invalid_input", "the JSON nesting is too deep"),
    ("declared-2gb", 413, "payload_too_large", "2,147,483,648 bytes is over the limit of 16,777,216 bytes"),
    ("over-the-cap", 413, "payload_too_large", "over the limit of 16,777,216 bytes"),
]


@pytest.mark.parametrize(("case", "status", "code", "fragment"), EXPECTED, ids=[e[0] for e in EXPECTED])
def test_hostile_body_gets_a_4xx_naming_the_problem(
    small_client: TestClient, files: Path, case: str, status: int, code: str, fragment: str
) -> None:
    response = small_client.post("/v1/lookup", **_body(case, files))

    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert fragment in error["message"], error["message"]


@pytest.mark.parametrize(
    ("body", "statuses", "errors"),
    [
        pytest.param(
            b'{"points": [{"id": 1, "lon": NaN, "lat": 36.17}, {"id": 2, "lon": 117.08, "lat": 36.17}]}',
            ["invalid", "ok"],
            ["lon=nan is not a finite number", None],
            id="nan-json",
        ),
        pytest.param(
            b'{"points": [{"id": 1, "lon": 1e400, "lat": 36.17}]}',
            ["invalid"],
            ["lon=inf is not a finite number"],
            id="overflow-json",
        ),
    ],
)
def test_non_finite_json_points_are_flagged(
    small_client: TestClient, body: bytes, statuses: list[str], errors: list[str | None]
) -> None:
    response = small_client.post("/v1/lookup", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == statuses
    for result, expected in zip(results, errors, strict=True):
        assert (result["error"] is None) if expected is None else (expected in result["error"])


def test_a_csv_with_a_few_bad_rows_succeeds(small_client: TestClient, files: Path) -> None:
    response = small_client.post(
        "/v1/lookup", content=hostile.nan_coordinates_csv(files).read_bytes(), headers=CSV
    )
    assert response.status_code == 200, response.text
    assert [r["status"] for r in response.json()["results"]] == ["ok", *["invalid"] * 4, "ok"]


def test_header_only_csv_is_an_empty_answer(small_client: TestClient, files: Path) -> None:
    response = small_client.post(
        "/v1/lookup", content=hostile.header_only_csv(files).read_bytes(), headers=CSV
    )
    assert response.status_code == 200, response.text
    assert response.json()["count"] == 0


def test_2gb_streamed_body_is_cut_off_at_the_cap(
    small_client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Driven at the ASGI level: the body is produced on demand, so what the app pulled is counted
    (TestClient itself would join a generator body in memory before sending it)."""
    monkeypatch.setenv("SIJI_TMPDIR", str(tmp_path))
    chunks = hostile.endless_body()
    pulled = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    started = time.perf_counter()
    assert small_client.portal is not None
    small_client.portal.call(small_client.app, _scope("/v1/lookup", b"text/csv"), receive, send)
    elapsed = time.perf_counter() - started

    assert sent[0]["status"] == 413
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert body["error"]["code"] == "payload_too_large"
    assert pulled <= CAP + (2 << 20)  # the cap and at most the piece that crossed it, not 2 GB
    assert elapsed < 20
    assert list(tmp_path.iterdir()) == []  # the spooled part was removed


def _scope(path: str, content_type: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", content_type)],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }


def test_json_limit_caps_json_bodies_below_the_upload_cap() -> None:
    """The middleware's JSON cap: JSON is parsed in memory, so it gets the small cap on any path."""
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        reached.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    limited = BodySizeLimit(app, limit_for=lambda _path: 1 << 20, json_limit=1024)

    def call(content_type: bytes, size: int) -> int:
        sent: list[dict[str, Any]] = []
        messages = iter([{"type": "http.request", "body": b"x" * size, "more_body": False}])

        async def receive() -> Any:
            return next(messages)

        async def send(message: Any) -> None:
            sent.append(message)

        asyncio.run(limited(_scope("/v1/lookup", content_type), receive, send))
        return int(sent[0]["status"])

    assert call(b"application/json", 2048) == 413
    assert call(b"application/json; charset=utf-8", 1000) == 200
    assert call(b"text/csv", 2048) == 200  # uploads keep the path's cap
    assert call(b"application/geo+json", 2048) == 200


def test_json_body_over_the_json_cap_is_413(small_client: TestClient) -> None:
    body = b'{"points": [' + b",".join([b'{"id": 1, "lon": 117.08, "lat": 36.17}'] * 30_000) + b"]}"
    assert JSON_CAP < len(body) < CAP
    response = small_client.post("/v1/lookup", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_gbk_csv_with_its_charset_is_read(small_client: TestClient, files: Path) -> None:
    response = small_client.post(
        "/v1/lookup",
        content=hostile.gbk_csv(files).read_bytes(),
        headers={"content-type": "text/csv; charset=gbk"},
    )
    assert response.status_code == 200, response.text
    assert [r["name"] for r in response.json()["results"]] == ["泰山区", "岱岳区"]


def test_deep_json_error_names_the_nesting(small_client: TestClient) -> None:
    response = small_client.post(
        "/v1/lookup", content=hostile.deep_json_body(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "nesting" in response.json()["error"]["message"]
