"""Every route × every kind of caller: who is let in, who is refused, and that nothing leaks.

The routes are enumerated from the app itself, so a new route fails
:func:`test_every_route_is_classified` until it is given an access class here.  Each
(route, principal) pair is one test case: the status must be the one its class says,
and no answer (refusals included) may contain a case of a unit outside the caller's
scope, by id or by description; the unit exports (metrics, maps) must not name the
other unit.

The world: two sibling communities A and B of 财源街道, one case owned by each
(乱堆物料 is a community's; A's filed with a photo); tokens of A and B (dispatchers),
of the subdistrict, the district and the city (supervisors); the reporter of A's case;
an expired, a revoked and a garbage token; and no token.  Webhooks for A's community
are added as the routes that manage them need them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from shapely import Point

from api.app import create_app
from api.settings import Settings
from routing.audit import operator
from routing.staff import issue, revoke
from routing.webhooks import add as add_webhook
from tests.images import png

CAIYUAN = "370902002000"  # 财源街道
COMMUNITY_A = "370902002001"  # 三里社区, under 财源街道
DISTRICT = "370902000000"  # 泰山区
CITY = "370900000000"
POINT_A = (117.13, 36.19)

PRINCIPALS = (
    "anonymous", "reporter", "staff_a", "staff_b", "subdistrict", "district", "city",
    "expired", "revoked", "garbage",
)  # fmt: skip
STAFF = frozenset({"staff_a", "staff_b", "subdistrict", "district", "city"})
SUPERVISORS = frozenset({"subdistrict", "district", "city"})
INVALID = frozenset({"expired", "revoked", "garbage"})
SEES = {
    "reporter": {"A"}, "staff_a": {"A"}, "staff_b": {"B"},
    "subdistrict": {"A", "B"}, "district": {"A", "B"}, "city": {"A", "B"},
}  # fmt: skip
"""Which of the two cases each principal may see."""


@dataclass
class World:
    client: TestClient
    headers: dict[str, dict[str, str]]
    report: dict[str, int]  # "A"/"B" → id
    marker: dict[str, str]  # "A"/"B" → a description no other report has
    unit: dict[str, str]  # "A"/"B" → community code
    reporter_token: str
    photo: int  # a photo of A's case
    fresh: Callable[[], int] = field(repr=False)
    webhook: Callable[[], int] = field(repr=False)  # a new webhook of A's community


@pytest.fixture(scope="module")
def world(client: TestClient) -> World:
    engine = client.app.state.boundaries.engine  # type: ignore[attr-defined]
    _, index = client.app.state.boundaries.index()  # type: ignore[attr-defined]
    units = index.units
    caiyuan = units.row_of_code[CAIYUAN]
    sibling = next(
        int(r)
        for r in range(len(units.codes))
        if units.parents[r] == caiyuan and units.codes[r] != COMMUNITY_A
    )
    inside_b: Point = index.geometries[sibling].representative_point()
    unit = {"A": COMMUNITY_A, "B": str(units.codes[sibling])}
    marker = {k: f"matrix-{k}-{uuid.uuid4().hex}" for k in "AB"}

    def submit(where: tuple[float, float], description: str, photo: bool = False) -> dict[str, Any]:
        body = {"lon": where[0], "lat": where[1], "category": "S-04-04", "description": description}
        if photo:
            response = client.post(
                "/v1/reports",
                data={**body, "channel": "station"},
                files=[("photos", ("a.png", png(), "image/png"))],
            )
        else:
            response = client.post("/v1/reports", json={**body, "channel": "station"})
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    created = {
        "A": submit(POINT_A, marker["A"], photo=True),
        "B": submit((inside_b.x, inside_b.y), marker["B"]),
    }
    for k in "AB":  # a community's case: the two are in sibling scopes
        assert created[k]["report"]["owner"]["key"] == unit[k]

    def token(unit_key: str, role: str, **kw: Any) -> dict[str, str]:
        value, _ = issue(engine, name=f"matrix-{role}-{unit_key}", unit_key=unit_key, role=role, **kw)
        return {"Authorization": f"Bearer {value}"}

    revoked = token(COMMUNITY_A, "dispatcher")
    revoke(engine, int(_token_id(engine, revoked)))
    headers = {
        "anonymous": {},
        "reporter": {"Authorization": f"Bearer {created['A']['reporter_token']}"},
        "staff_a": token(unit["A"], "dispatcher"),
        "staff_b": token(unit["B"], "dispatcher"),
        "subdistrict": token(CAIYUAN, "supervisor"),
        "district": token(DISTRICT, "supervisor"),
        "city": token(CITY, "supervisor"),
        "expired": token(
            COMMUNITY_A, "supervisor", days=1, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
        ),
        "revoked": revoked,
        "garbage": {"Authorization": "Bearer sj_garbage-0000000000000000000000000000"},
    }

    def fresh() -> int:
        return int(submit(POINT_A, f"{marker['A']}-fresh")["report"]["id"])

    reports = client.app.state.reports  # type: ignore[attr-defined]

    def webhook() -> int:
        secret = "matrix-secret-0123456789"
        url = "http://127.0.0.1:9/matrix"
        return int(add_webhook(reports, operator(), unit_key=COMMUNITY_A, url=url, secret=secret)["id"])

    return World(
        client,
        headers,
        {k: created[k]["report"]["id"] for k in "AB"},
        marker,
        unit,
        created["A"]["reporter_token"],
        created["A"]["report"]["photos"][0]["id"],
        fresh,
        webhook,
    )


def _token_id(engine: Any, headers: dict[str, str]) -> int:
    from routing.staff import resolve

    principal = resolve(engine, headers["Authorization"].removeprefix("Bearer "))
    assert principal.token_id is not None
    return principal.token_id


# --- the routes and their access classes -----------------------------------------------
PUBLIC = "public"  # no token needed; tokens are not even read
OWN_CASE = "own case"  # the reporter of A's case, and staff whose scope holds it
STAFF_EXPORT = "staff export"  # any valid staff token, answered within its scope
STAFF_MAP = "staff map"  # the same; 422 allowed (too few units for a statistic in a small scope)
ACT = "act"  # dispatcher/supervisor whose scope holds the case
SUPERVISE = "supervise"  # supervisors only
MANAGE = "manage"  # supervisors of the webhook's unit or a unit above it
AUDIT = "audit"  # supervisors at subdistrict level or above

Request = Callable[[World], tuple[str, dict[str, Any]]]


def get(url: str, **kw: Any) -> Request:
    return lambda w: (url.format(A=w.report["A"], token=w.reporter_token, photo=w.photo), kw)


def on_webhook(path: str, **kw: Any) -> Request:
    return lambda w: (f"/v1/webhooks/{w.webhook()}{path}", kw)


ROUTES: dict[tuple[str, str], tuple[str, Request]] = {
    ("GET", "/openapi.json"): (PUBLIC, get("/openapi.json")),
    ("GET", "/docs"): (PUBLIC, get("/docs")),
    ("GET", "/docs/oauth2-redirect"): (PUBLIC, get("/docs/oauth2-redirect")),
    ("GET", "/redoc"): (PUBLIC, get("/redoc")),
    ("GET", "/healthz"): (PUBLIC, get("/healthz")),
    ("GET", "/readyz"): (PUBLIC, get("/readyz")),
    ("GET", "/v1/lookup"): (PUBLIC, get("/v1/lookup?lon=117.13&lat=36.19")),
    ("POST", "/v1/lookup"): (
        PUBLIC,
        get("/v1/lookup", json={"points": [{"id": "1", "lon": 117.13, "lat": 36.19}]}),
    ),
    ("GET", "/v1/units"): (PUBLIC, get("/v1/units?level=district")),
    ("GET", "/v1/units/{code}.geojson"): (PUBLIC, get(f"/v1/units/{CAIYUAN}.geojson")),
    ("GET", "/v1/units/{code}"): (PUBLIC, get(f"/v1/units/{CAIYUAN}")),
    ("GET", "/v1/units/{code}/children"): (PUBLIC, get(f"/v1/units/{CAIYUAN}/children")),
    ("GET", "/v1/generations"): (PUBLIC, get("/v1/generations")),
    ("GET", "/v1/categories"): (PUBLIC, get("/v1/categories")),
    ("POST", "/v1/reports"): (
        PUBLIC,
        get(
            "/v1/reports",
            json={
                "lon": 117.13,
                "lat": 36.19,
                "category": "S-04-01",
                "description": "摆摊",
                "channel": "app",
            },
        ),
    ),
    ("GET", "/v1/reports"): (STAFF_EXPORT, get("/v1/reports?limit=1000")),
    ("GET", "/v1/reports/{report_id}"): (OWN_CASE, get("/v1/reports/{A}")),
    ("POST", "/v1/reports/{report_id}/actions"): (
        ACT,
        lambda w: (f"/v1/reports/{w.fresh()}/actions", {"json": {"action": "verify"}}),
    ),
    ("POST", "/v1/escalations/run"): (SUPERVISE, get("/v1/escalations/run")),
    ("GET", "/v1/metrics"): (STAFF_EXPORT, lambda _w: ("/v1/metrics", {"params": _period()})),
    ("GET", "/v1/audit"): (AUDIT, get("/v1/audit?limit=1000")),
    ("GET", "/v1/events"): (STAFF_EXPORT, get("/v1/events?limit=500")),
    ("GET", "/v1/photos/{photo_id}"): (OWN_CASE, get("/v1/photos/{photo}")),
    ("GET", "/v1/photos/{photo_id}/thumbnail"): (OWN_CASE, get("/v1/photos/{photo}/thumbnail")),
    ("GET", "/v1/webhooks"): (SUPERVISE, get("/v1/webhooks")),
    ("POST", "/v1/webhooks"): (
        MANAGE,
        get(
            "/v1/webhooks",
            json={
                "unit": COMMUNITY_A,
                "url": "http://127.0.0.1:9/hook",
                "secret": "matrix-secret-0123456789",
            },
        ),
    ),
    ("DELETE", "/v1/webhooks/{webhook_id}"): (MANAGE, on_webhook("")),
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): (MANAGE, on_webhook("/deliveries")),
    ("POST", "/v1/webhooks/{webhook_id}/replay"): (MANAGE, on_webhook("/replay", json={})),
    ("GET", "/open311/v2/services.{format}"): (PUBLIC, get("/open311/v2/services.json")),
    ("GET", "/open311/v2/services/{service_code}.{format}"): (
        PUBLIC,
        get("/open311/v2/services/S-04-04.json"),
    ),
    ("POST", "/open311/v2/requests.{format}"): (
        PUBLIC,
        get(
            "/open311/v2/requests.json",
            data={
                "api_key": "k",
                "service_code": "S-04-01",
                "lat": 36.19,
                "long": 117.13,
                "description": "摆摊",
            },
        ),
    ),
    ("GET", "/open311/v2/requests.{format}"): (PUBLIC, get("/open311/v2/requests.json")),
    ("GET", "/open311/v2/requests/{service_request_id}.{format}"): (
        PUBLIC,
        get("/open311/v2/requests/{A}.json"),
    ),
    ("GET", "/open311/v2/tokens/{token}.{format}"): (PUBLIC, get("/open311/v2/tokens/{token}.json")),
    **{
        (method, "/open311/v2/requests.{format}"): (PUBLIC, get("/open311/v2/requests.json"))
        for method in ("DELETE", "HEAD", "OPTIONS", "PATCH", "PUT")
    },
    ("GET", "/open311/v2/{path:path}"): (PUBLIC, get("/open311/v2/nothing-here")),
    ("GET", "/maps/assets/{path:path}"): (PUBLIC, get("/maps/assets/leaflet/leaflet.css")),
    # the green-space register is reference geography, like the units: public, no personal data
    ("GET", "/v1/parks"): (PUBLIC, get("/v1/parks?format=geojson")),
    ("GET", "/maps/density"): (STAFF_MAP, get("/maps/density?format=csv")),
    ("GET", "/maps/hotspots"): (STAFF_MAP, get("/maps/hotspots?format=csv&permutations=99")),
    ("GET", "/maps/pocket-parks"): (STAFF_MAP, get("/maps/pocket-parks?format=csv")),
}
PUBLIC_CASE_VIEWS = frozenset(
    {("GET", "/open311/v2/requests.{format}"), ("GET", "/open311/v2/requests/{service_request_id}.{format}")}
)
"""GeoReport v2's public listing: every case's public fields, for anyone (the policy test below)."""
UNIT_EXPORTS = frozenset(
    {
        ("GET", "/v1/metrics"),
        ("GET", "/maps/density"),
        ("GET", "/maps/hotspots"),
        ("GET", "/maps/pocket-parks"),
    }
)


def _period() -> dict[str, str]:
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    return {"start": str(today - dt.timedelta(days=1)), "end": str(today + dt.timedelta(days=60))}


def app_routes() -> set[tuple[str, str]]:
    """(method, path) of every route of the app; HEAD only where there is no GET beside it."""
    app = create_app(Settings(environment="test"))
    pairs = set()
    for route in iter_route_contexts(app.routes):
        methods = set(route.methods or ())
        if "GET" in methods:
            methods.discard("HEAD")
        pairs |= {(m, str(route.path)) for m in methods}
    return pairs


def expected(kind: str, who: str) -> set[int]:
    """The statuses allowed for ``who`` on a route of access class ``kind``."""
    if kind == PUBLIC:
        return set()  # anything but 401/403/5xx: checked apart
    if who in INVALID or who == "anonymous":
        return {401}  # no credentials or bad ones: authenticate (WWW-Authenticate: Bearer)
    allowed = {
        OWN_CASE: {"reporter", "staff_a", *SUPERVISORS},
        STAFF_EXPORT: STAFF,
        STAFF_MAP: STAFF,
        ACT: {"staff_a", *SUPERVISORS},  # dispatchers and supervisors whose scope holds A's case
        SUPERVISE: SUPERVISORS,
        MANAGE: SUPERVISORS,  # all three are above community A
        AUDIT: SUPERVISORS,
    }[kind]
    if who not in allowed:
        return {403}
    return {200, 422} if kind == STAFF_MAP else {200, 201} if kind == MANAGE else {200}


def test_every_route_is_classified() -> None:
    routes = app_routes()
    assert sorted(routes - set(ROUTES)) == [], "new routes: give each an access class in ROUTES"
    assert sorted(set(ROUTES) - routes) == [], "ROUTES names routes the app no longer has"


@pytest.mark.parametrize("who", PRINCIPALS)
@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_access(world: World, route: tuple[str, str], who: str) -> None:
    kind, build = ROUTES[route]
    url, kwargs = build(world)
    response = world.client.request(route[0], url, headers=world.headers[who], **kwargs)
    if kind == PUBLIC:
        assert response.status_code not in (401, 403), response.text[:300]
        assert response.status_code < 500, response.text[:300]
    else:
        assert response.status_code in expected(kind, who), response.text[:300]
    if route in PUBLIC_CASE_VIEWS:
        return
    hidden = {"A", "B"} - SEES.get(who, set())
    for case in hidden:
        assert world.marker[case] not in response.text, f"{who} got case {case}'s description"
    if route == ("GET", "/v1/reports") and response.status_code == 200:
        listed = {r["id"] for r in response.json()["reports"]}
        assert not listed & {world.report[c] for c in hidden}
        assert {world.report[c] for c in SEES[who]} <= listed
    if route in UNIT_EXPORTS and response.status_code == 200 and who in ("staff_a", "staff_b"):
        other = world.unit["B" if who == "staff_a" else "A"]
        assert other not in response.text, f"{who}'s {route[1]} names the other community {other}"


def test_a_community_map_page_draws_only_its_own_unit(world: World) -> None:
    page = world.client.get("/maps/density", headers=world.headers["staff_a"])
    assert page.status_code == 200
    assert world.unit["A"] in page.text
    assert world.unit["B"] not in page.text
    assert world.marker["B"] not in page.text


def test_metrics_rows_are_the_callers_units(world: World) -> None:
    for who, own in (("staff_a", "A"), ("staff_b", "B")):
        body = world.client.get("/v1/metrics", params=_period(), headers=world.headers[who]).json()
        assert {u["unit_key"] for u in body["units"]} == {world.unit[own]}


def test_open311_public_listing_is_the_same_for_everyone(world: World) -> None:
    """Policy: GeoReport v2's listing is the city's public disclosure of cases (as in
    FixMyStreet), without personal data.  Anyone may read it and a staff token sees
    nothing more there than anyone else; staff views of cases are under /v1, scoped."""
    anonymous = world.client.get("/open311/v2/requests.json")
    staff = world.client.get("/open311/v2/requests.json", headers=world.headers["staff_a"])
    assert anonymous.status_code == staff.status_code == 200
    assert anonymous.json() == staff.json()
