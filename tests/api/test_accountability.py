"""Accountability over HTTP: idempotency by the book, disclosure, the calendar's end, the modes at start,
and /v1/metrics recomputed from the case histories (SQLite, and the figures on PostGIS too)."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from routing.staff import issue
from tests.api.conftest import make_client
from tests.routing.test_metrics_from_events import recompute

TAISHAN = {"lon": 117.13, "lat": 36.19}  # 泰山区 财源街道 三里社区
CAIYUAN, SANLI, DISTRICT, CITY = "370902002000", "370902002001", "370902000000", "370900000000"
PHONE = "13912345678"
CHINA = dt.timezone(dt.timedelta(hours=8))


def _token(client: TestClient, unit: str, role: str) -> dict[str, str]:
    token, _ = issue(client.app.state.reports.engine, name=f"{role}@{unit}", unit_key=unit, role=role)  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {token}"}


def _body(**extra: object) -> dict[str, object]:
    return {**TAISHAN, "category": "S-01-01", "description": "路边有暴露垃圾", "channel": "app", **extra}


def _step(client: TestClient, rid: int, action: str, who: dict[str, str], **body: object) -> dict:
    response = client.post(f"/v1/reports/{rid}/actions", json={"action": action, **body}, headers=who)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


# --- 4. idempotency by the book ----------------------------------------------------------------
def test_intake_replays_say_so_and_a_reused_key_with_another_body_is_a_422(client: TestClient) -> None:
    headers = {"Idempotency-Key": "accountability-intake-0001"}
    first = client.post("/v1/reports", json=_body(), headers=headers)
    again = client.post("/v1/reports", json=_body(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    other = client.post("/v1/reports", json=_body(category="S-04-04", description="别的"), headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert "'accountability-intake-0001'" in other.json()["error"]["message"]


def test_open311_replays_say_so_and_a_reused_key_with_another_form_is_refused(client: TestClient) -> None:
    form = {"api_key": "k", "service_code": "S-04-01", "lat": 36.19, "long": 117.13, "description": "摆摊"}
    headers = {"Idempotency-Key": "accountability-open311-0001"}
    first = client.post("/open311/v2/requests.json", data=form, headers=headers)
    again = client.post("/open311/v2/requests.json", data=form, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    other = client.post("/open311/v2/requests.json", data={**form, "description": "别的"}, headers=headers)
    assert other.status_code == 400
    assert "accountability-open311-0001" in other.json()[0]["description"]


def test_a_step_replay_says_so_and_the_key_with_another_note_is_a_422(client: TestClient) -> None:
    rid = client.post("/v1/reports", json=_body()).json()["report"]["id"]
    who = {**_token(client, CAIYUAN, "dispatcher"), "Idempotency-Key": f"accountability-step-{rid}"}
    body = {"action": "verify", "note": "核实"}
    first = client.post(f"/v1/reports/{rid}/actions", json=body, headers=who)
    again = client.post(f"/v1/reports/{rid}/actions", json=body, headers=who)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["version"] == first.json()["version"]
    other = client.post(f"/v1/reports/{rid}/actions", json={**body, "note": "另一个"}, headers=who)
    assert (other.status_code, other.json()["error"]["code"]) == (422, "idempotency_key_reused")


# --- 9. disclosure ---------------------------------------------------------------------------
def test_the_public_listing_shows_no_personal_numbers_and_staff_see_them(client: TestClient) -> None:
    text = f"门口垃圾没人清，电话{PHONE}，车鲁J·D12345挡道，邮箱 zhang@example.com"
    created = client.post("/v1/reports", json=_body(description=text, address="东岳大街1号 0538-8221234"))
    rid = created.json()["report"]["id"]
    for path in (
        "/open311/v2/requests.json",
        f"/open311/v2/requests/{rid}.json",
        f"/open311/v2/requests/{rid}.xml",
    ):
        public = client.get(path)
        assert public.status_code == 200
        for secret in (PHONE, "D12345", "zhang@example.com", "8221234"):
            assert secret not in public.text, (path, secret)
        assert "[手机号已隐去]" in public.text
    staff = client.get(f"/v1/reports/{rid}", headers=_token(client, CAIYUAN, "planner")).json()
    assert staff["description"] == text
    mine = client.get(
        f"/v1/reports/{rid}", headers={"Authorization": f"Bearer {created.json()['reporter_token']}"}
    )
    assert mine.json()["description"] == text  # their own words


def test_the_reporter_reads_public_replies_only(client: TestClient) -> None:
    created = client.post("/v1/reports", json=_body()).json()
    rid, reporter = created["report"]["id"], {"Authorization": f"Bearer {created['reporter_token']}"}
    dispatcher = _token(client, CAIYUAN, "dispatcher")
    _step(client, rid, "verify", dispatcher, note="内部备注：张三负责")
    _step(client, rid, "file", dispatcher, note="已受理，将于今日处置", public=True)
    events = client.get(f"/v1/reports/{rid}", headers=reporter).json()["events"]
    assert [(e["actor"], e["note"]) for e in events[1:]] == [
        ("派遣员", ""),
        ("派遣员", "已受理，将于今日处置"),
    ]
    assert "张三" not in client.get(f"/v1/reports/{rid}", headers=reporter).text
    assert "dispatcher@" not in client.get(f"/v1/reports/{rid}", headers=reporter).text


# --- 8. the calendar's end, and the modes said at start -------------------------------------------
def _calendar(tmp_path: Path, last_year: int) -> Path:
    path = tmp_path / f"calendar-{last_year}.toml"
    years = "".join(f"[[year]]\nyear = {y}\nholiday = []\n" for y in range(last_year - 1, last_year + 1))
    path.write_text(f"schema = 1\n{years}", encoding="utf-8")
    return path


@pytest.mark.parametrize(("last_year", "warned"), [(dt.date.today().year + 5, False), (2024, True)])
def test_readyz_and_the_start_warn_before_the_calendar_ends(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, last_year: int, warned: bool
) -> None:
    caplog.set_level(logging.WARNING, logger="siji")
    calendar = _calendar(tmp_path, last_year)
    for app in make_client(f"sqlite:///{tmp_path}/cal.db", calendar_path=calendar, escalation_interval_s=0):
        body = app.get("/readyz").json()
    assert body["status"] == "ready"
    said = [r.getMessage() for r in caplog.records if "working-time calendar" in r.getMessage()]
    if warned:
        assert body["warnings"] == said
        assert f"official holidays up to {last_year}-12-31" in said[0]
        assert "Adding a year of holidays" in said[0]
    else:
        assert body["warnings"] == said == []


@pytest.mark.parametrize(
    ("environment", "keys", "said", "status"),
    [
        ("development", [], "accepts any api_key", 201),
        ("test", [], "refuses every request (SIJI_ENVIRONMENT=test: set SIJI_OPEN311_API_KEYS)", 403),
        ("test", ["k1"], "accepts the 1 api_key(s) of SIJI_OPEN311_API_KEYS", 403),
    ],
)
def test_the_server_says_which_open311_mode_it_is_in(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    environment: str,
    keys: list[str],
    said: str,
    status: int,
) -> None:
    caplog.set_level(logging.WARNING, logger="siji")
    form = {
        "api_key": "anything",
        "service_code": "S-04-01",
        "lat": 36.19,
        "long": 117.13,
        "description": "摆摊",
    }
    for app in make_client(
        f"sqlite:///{tmp_path}/o.db", environment=environment, open311_api_keys=keys, escalation_interval_s=0
    ):
        assert app.post("/open311/v2/requests.json", data=form).status_code == status
    assert any(said in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]


# --- 6. /v1/metrics from the histories ---------------------------------------------------------
def test_v1_metrics_is_recomputed_from_the_events(client: TestClient) -> None:
    dispatcher, handler = _token(client, CAIYUAN, "dispatcher"), _token(client, CAIYUAN, "handler")
    supervisor = _token(client, CAIYUAN, "supervisor")
    ids = [client.post("/v1/reports", json=_body()).json()["report"]["id"] for _ in range(4)]
    for rid in ids:
        for action in ("verify", "file", "dispatch"):
            _step(client, rid, action, dispatcher)
    for action, who in (
        ("start", handler),
        ("handle", handler),
        ("check", dispatcher),
        ("close", dispatcher),
    ):
        _step(client, ids[0], action, who)
    _step(client, ids[0], "reopen", dispatcher, note="复发")
    _step(client, ids[1], "defer", supervisor, note="挂账")
    _step(client, ids[2], "request_transfer", dispatcher, transfer_to=f"{DISTRICT}:城管局", note="井盖")
    _step(client, ids[2], "accept_transfer", _token(client, f"{DISTRICT}:城管局", "dispatcher"))
    today = dt.datetime.now(CHINA).date()
    start, end = today - dt.timedelta(days=1), today + dt.timedelta(days=90)
    params = {"start": str(start), "end": str(end)}
    units = client.get("/v1/metrics", params=params, headers=_token(client, CITY, "planner")).json()["units"]
    expected = recompute(
        client.app.state.reports,  # type: ignore[attr-defined]
        dt.datetime.combine(start, dt.time(), CHINA),
        dt.datetime.combine(end, dt.time(), CHINA),
    )
    assert {u["unit_key"] for u in units} == set(expected)
    for unit in units:
        for name in (
            "due",
            "closed",
            "closed_on_time",
            "handled_on_time",
            "deferred",
            "reworked",
            "reopened",
        ):
            assert unit[name] == expected[unit["unit_key"]][name], (unit["unit_key"], name)


# --- 3. departments are units: their maps too --------------------------------------------------
def test_a_district_departments_map_shows_its_district_and_only_its_cases(tmp_path: Path) -> None:
    department = f"{DISTRICT}:城管局"
    for app in make_client(f"sqlite:///{tmp_path}/maps.db", escalation_interval_s=0):
        mine = app.post("/v1/reports", json=_body(category="B-01-01", description="井盖缺失")).json()
        app.post("/v1/reports", json=_body(category="B-04-04", description="操场设施损坏"))  # 教育和体育局's
        planner = _token(app, department, "planner")
        density = app.get("/maps/density", params={"format": "csv"}, headers=planner)
        assert density.status_code == 200, density.text
        header, *rows = (line.split(",") for line in density.text.splitlines())
        assert rows
        assert all(row[0].startswith(DISTRICT[:6]) for row in rows)  # 泰山区's communities only
        assert sum(int(row[header.index("count")]) for row in rows) == 1  # the department's own case
        assert mine["report"]["owner"]["key"] == department
