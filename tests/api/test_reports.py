"""The report API over HTTP: intake, tokens, scoped reads, the loop's status codes."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from routing.staff import issue, revoke

TAISHAN = {"lon": 117.13, "lat": 36.19}  # 泰山区 财源街道 三里社区
CAIYUAN = "370902002000"  # 财源街道, owner of 暴露垃圾 there
SANLI = "370902002001"


def _new(client: TestClient, **extra: object) -> dict:
    body = {**TAISHAN, "category": "S-01-01", "description": "路边有暴露垃圾", "channel": "hotline", **extra}
    response = client.post("/v1/reports", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _token(client: TestClient, unit: str, role: str) -> dict[str, str]:
    token, _ = issue(client.app.state.boundaries.engine, name=f"{role}-{unit}", unit_key=unit, role=role)  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {token}"}


def test_intake_routes_and_returns_a_reporter_token(client: TestClient) -> None:
    created = _new(client)
    report = created["report"]
    assert report["owner"] == {"key": CAIYUAN, "level": "subdistrict", "name": "财源街道"}
    assert report["jurisdiction"]["community_code"] == SANLI
    assert report["channel_zh"] == "12345热线"
    mine = client.get(
        f"/v1/reports/{report['id']}", headers={"Authorization": f"Bearer {created['reporter_token']}"}
    )
    assert mine.status_code == 200
    assert mine.json()["state"] == "reported"


def test_idempotency_key_header(client: TestClient) -> None:
    body = {**TAISHAN, "category": "S-04-01", "description": "占道经营", "channel": "app"}
    headers = {"Idempotency-Key": "app-7f3a9c21-0001"}
    first = client.post("/v1/reports", json=body, headers=headers)
    again = client.post("/v1/reports", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["report"]["id"] == first.json()["report"]["id"]
    assert again.json()["created"] is False


def test_gcj02_phone_point_lands_in_the_same_community(client: TestClient) -> None:
    from geo.crs import from_wgs84

    x, y = from_wgs84([TAISHAN["lon"]], [TAISHAN["lat"]], "gcj02")
    report = _new(client, lon=float(x[0]), lat=float(y[0]), crs="gcj02")["report"]
    assert report["jurisdiction"]["community_code"] == SANLI


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({**TAISHAN, "category": "S-01-01", "description": "x", "channel": "fax"}, "body.channel"),
        ({**TAISHAN, "category": "S-01-01", "description": "x" * 4001, "channel": "app"}, "body.description"),
        (
            {"lon": 120.0, "lat": 30.0, "category": "S-01-01", "description": "x", "channel": "app"},
            "outside the city",
        ),
        (
            {**TAISHAN, "category": "nope", "description": "x", "channel": "app"},
            "unknown category code 'nope'",
        ),
        (
            {"lon": "nan", "lat": 36.19, "category": "S-01-01", "description": "x", "channel": "app"},
            "lon=nan",
        ),
    ],
)
def test_bad_reports_are_422(client: TestClient, body: dict, fragment: str) -> None:
    response = client.post("/v1/reports", json=body)
    assert response.status_code == 422, response.text
    assert fragment in response.json()["error"]["message"]


def test_the_loop_over_http(client: TestClient) -> None:
    rid = _new(client)["report"]["id"]
    dispatcher, handler = _token(client, CAIYUAN, "dispatcher"), _token(client, CAIYUAN, "handler")
    for action, who in [
        ("verify", dispatcher),
        ("file", dispatcher),
        ("dispatch", dispatcher),
        ("start", handler),
    ]:
        response = client.post(f"/v1/reports/{rid}/actions", json={"action": action}, headers=who)
        assert response.status_code == 200, response.text
    illegal = client.post(f"/v1/reports/{rid}/actions", json={"action": "close"}, headers=dispatcher)
    assert illegal.status_code == 409
    assert illegal.json()["error"]["code"] == "illegal_transition"
    assert illegal.json()["error"]["detail"]["allowed"] == ["request_extension"]  # what a dispatcher may do
    forbidden = client.post(f"/v1/reports/{rid}/actions", json={"action": "handle"}, headers=dispatcher)
    assert forbidden.status_code == 403
    detail = client.get(f"/v1/reports/{rid}", headers=handler).json()
    assert detail["allowed_actions"] == ["return", "handle", "request_extension"]
    assert [e["action"] for e in detail["events"]] == ["report", "verify", "file", "dispatch", "start"]
    stale = client.post(
        f"/v1/reports/{rid}/actions", json={"action": "handle", "version": 1}, headers=handler
    )
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "version_conflict"
    assert stale.json()["error"]["detail"]["version"] == detail["version"]
    assert "changed since you read it" in stale.json()["error"]["message"]
    unknown = client.post(f"/v1/reports/{rid}/actions", json={"action": "teleport"}, headers=handler)
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "unknown_action"
    assert "request_transfer" in unknown.json()["error"]["detail"]["allowed"]


def test_tokens_scope_and_refusals_leak_nothing(client: TestClient) -> None:
    rid = _new(client)["report"]["id"]
    sibling = _token(client, "370902001000", "dispatcher")  # another 街道 of 泰山区
    out_of_scope = client.get(f"/v1/reports/{rid}", headers=sibling)
    missing = client.get("/v1/reports/999999", headers=sibling)
    assert out_of_scope.status_code == missing.status_code == 403
    assert out_of_scope.json()["error"]["code"] == missing.json()["error"]["code"] == "forbidden"
    for anonymous in (client.get(f"/v1/reports/{rid}"), client.get("/v1/reports")):
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="siji"'
        assert anonymous.json()["error"]["code"] == "unauthenticated"
    listed = client.get("/v1/reports", headers=_token(client, "370902000000", "planner")).json()
    assert rid in [r["id"] for r in listed["reports"]]
    assert rid not in [r["id"] for r in client.get("/v1/reports", headers=sibling).json()["reports"]]


def test_bad_expired_and_revoked_tokens_are_401(client: TestClient) -> None:
    engine = client.app.state.boundaries.engine  # type: ignore[attr-defined]
    garbage = client.get("/v1/reports", headers={"Authorization": "Bearer sj_nonsense"})
    assert garbage.status_code == 401
    assert garbage.headers["WWW-Authenticate"] == 'Bearer realm="siji", error="invalid_token"'
    token, token_id = issue(engine, name="临时", unit_key=CAIYUAN, role="dispatcher")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/reports", headers=headers).status_code == 200
    revoke(engine, token_id)
    refused = client.get("/v1/reports", headers=headers)
    assert refused.status_code == 401
    assert "not valid" in refused.json()["error"]["message"]
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    expired, _ = issue(engine, name="过期", unit_key=CAIYUAN, role="dispatcher", days=1, now=long_ago)
    assert client.get("/v1/reports", headers={"Authorization": f"Bearer {expired}"}).status_code == 401


def test_escalation_endpoint_needs_a_supervisor(client: TestClient) -> None:
    assert client.post("/v1/escalations/run", headers=_token(client, CAIYUAN, "handler")).status_code == 403
    response = client.post("/v1/escalations/run", headers=_token(client, CAIYUAN, "supervisor"))
    assert response.status_code == 200
    assert isinstance(response.json()["escalated"], list)


def test_categories(client: TestClient) -> None:
    catalog = client.get("/v1/categories").json()
    codes = {c["code"] for c in catalog["categories"]}
    assert {"S-01-01", "S-04-01", "B-01-01", "S-01-05"} <= codes


def test_metrics_for_my_units_as_json_and_csv(client: TestClient) -> None:
    rid = _new(client)["report"]["id"]
    dispatcher = _token(client, CAIYUAN, "dispatcher")
    for action in ("verify", "file", "dispatch"):
        client.post(f"/v1/reports/{rid}/actions", json={"action": action}, headers=dispatcher)
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    params = {"start": str(today - dt.timedelta(days=1)), "end": str(today + dt.timedelta(days=60))}
    body = client.get("/v1/metrics", params=params, headers=_token(client, "370902000000", "planner")).json()
    units = {u["unit_key"]: u for u in body["units"]}
    assert units[CAIYUAN]["due"] >= 1
    assert units[CAIYUAN]["rating"] == "unrated"  # fewer cases than the rating needs
    other = _token(client, "370902001000", "planner")
    sibling = client.get("/v1/metrics", params=params, headers=other).json()
    assert CAIYUAN not in {u["unit_key"] for u in sibling["units"]}  # other units' figures stay hidden
    csv = client.get("/v1/metrics", params={**params, "format": "csv"}, headers=dispatcher)
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.content.startswith("\ufeff".encode())
    assert "结案率" in csv.content.decode("utf-8-sig").splitlines()[0]
    assert client.get("/v1/metrics", params=params).status_code == 401
    bad = client.get("/v1/metrics", params={"start": "2025-02-01", "end": "2025-01-01"}, headers=dispatcher)
    assert bad.status_code == 422


def test_the_service_escalates_on_its_own_schedule(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import time

    from sqlalchemy import update

    from store.models import Report
    from tests.api.conftest import make_client

    for fast in make_client(f"sqlite:///{tmp_path}/esc.db", escalation_interval_s=0.2):
        rid = _new(fast)["report"]["id"]
        dispatcher = _token(fast, CAIYUAN, "dispatcher")
        for action in ("verify", "file", "dispatch"):
            fast.post(f"/v1/reports/{rid}/actions", json={"action": action}, headers=dispatcher)
        engine = fast.app.state.boundaries.engine  # type: ignore[attr-defined]
        with engine.begin() as connection:
            connection.execute(
                update(Report).where(Report.id == rid).values(due_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            view = fast.get(f"/v1/reports/{rid}", headers=dispatcher).json()
            if view["escalation_level"]:
                break
            time.sleep(0.1)
        assert view["escalation_level"] == 1
        assert view["supervisor"] == "370902000000"
        assert view["supervised"] is True


def test_a_broken_catalog_stops_the_start_with_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from api.app import create_app
    from api.settings import Settings
    from routing.errors import CatalogDataError

    bad = tmp_path / "catalog.toml"
    bad.write_text(
        'schema = 1\nname = "x"\n[[category]]\ncode = "B-01-01"\nname_zh = "井盖"\n', encoding="utf-8"
    )
    settings = Settings(database_url=f"sqlite:///{tmp_path}/c.db", catalog_path=bad, environment="test")
    with pytest.raises(CatalogDataError, match=r"catalog\.toml"), TestClient(create_app(settings)):
        pass
