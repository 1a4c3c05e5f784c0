"""The plain ASGI routes ahead of FastAPI's router (/healthz and GET /v1/lookup)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Match, NoMatchFound

from api.plain_routes import PlainRoutes


async def _app(scope: object, receive: object, send: object) -> None:
    """Never called: the matching is under test."""


ROUTES = PlainRoutes({"/healthz": _app, "/v1/lookup": _app})


@pytest.mark.parametrize(
    ("method", "path", "root_path", "expected"),
    [
        ("GET", "/healthz", "", Match.FULL),
        ("HEAD", "/healthz", "", Match.FULL),
        ("GET", "/v1/lookup", "", Match.FULL),
        ("POST", "/v1/lookup", "", Match.NONE),  # the bulk route, further down the router
        ("PUT", "/healthz", "", Match.NONE),  # the documented route answers 405
        ("GET", "/healthz/", "", Match.NONE),
        ("GET", "/v1/lookups", "", Match.NONE),
        ("GET", "/siji/v1/lookup", "/siji", Match.FULL),  # mounted under a root path
        ("GET", "/v1/lookup", "/siji", Match.FULL),  # a server that leaves it out of path
        ("GET", "/siji/healthz", "", Match.NONE),
    ],
)
def test_matches_exact_paths_for_get_and_head(
    method: str, path: str, root_path: str, expected: Match
) -> None:
    scope = {"type": "http", "method": method, "path": path, "root_path": root_path}
    match, child = ROUTES.matches(scope)
    assert match is expected
    assert child == ({"endpoint": _app} if expected is Match.FULL else {})


def test_websockets_are_not_matched() -> None:
    assert ROUTES.matches({"type": "websocket", "path": "/healthz"})[0] is Match.NONE


def test_names_are_left_to_the_documented_routes(client: TestClient) -> None:
    with pytest.raises(NoMatchFound):
        ROUTES.url_path_for("healthz")
    assert client.app.url_path_for("healthz") == "/healthz"  # type: ignore[attr-defined]
    assert client.app.url_path_for("lookup_point") == "/v1/lookup"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("HEAD", "/healthz", 200),
        ("PUT", "/healthz", 405),
        ("DELETE", "/v1/lookup?lon=117.13&lat=36.19", 405),
        ("HEAD", "/v1/lookup?lon=117.13&lat=36.19", 200),
        ("HEAD", "/v1/lookup?lon=abc&lat=36.19", 422),
    ],
)
def test_other_methods_reach_the_documented_routes(
    client: TestClient, method: str, path: str, status: int
) -> None:
    response = client.request(method, path)
    assert response.status_code == status, response.text
    if method == "HEAD":
        assert response.content == b""
        assert int(response.headers["content-length"]) > 0


@pytest.mark.parametrize(
    "query",
    [
        "lon=117.13&lat=36.19",  # inside one unit
        "lon=117.13&lat=36.19&crs=gcj02",
        "lon=117.13&lat=36.19&at=2024-06-01",
        "lon=200&lat=36.19",  # an error, worded by the app's handlers
    ],
)
def test_the_documented_lookup_route_answers_the_same(client: TestClient, query: str) -> None:
    """Without the plain routes, GET /v1/lookup reaches its documented FastAPI route,
    which hands the request to the same app."""
    expected = client.get(f"/v1/lookup?{query}")
    routes = client.app.router.routes  # type: ignore[attr-defined]
    plain = routes.pop(0)
    assert isinstance(plain, PlainRoutes)
    try:
        response = client.get(f"/v1/lookup?{query}")
    finally:
        routes.insert(0, plain)
    assert response.status_code == expected.status_code
    assert response.headers["content-type"] == expected.headers["content-type"]
    assert response.json() == expected.json()
