"""The desk's workflow over HTTP, on SQLite and PostGIS: photos at intake and with the handling step,
hostile images, urging, recategorising, merging, the resident's verdict, the event feed and webhooks."""

from __future__ import annotations

import io
import json
import threading
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from routing.staff import issue
from store.models import Photo, Report
from tests.images import HOSTILE, TAIAN_GPS, jpeg_with_gps, png, webp

TAISHAN = {"lon": 117.13, "lat": 36.19}  # 泰山区 财源街道 三里社区
CAIYUAN = "370902002000"  # 财源街道
SANLI = "370902002001"  # 三里社区
DISTRICT = "370902000000"  # 泰山区
SIBLING = "370902001000"  # another 街道 of 泰山区


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def app(request: pytest.FixtureRequest) -> TestClient:
    client: TestClient = request.getfixturevalue("client" if request.param == "sqlite" else "postgis_client")
    return client


def token(client: TestClient, unit: str, role: str) -> dict[str, str]:
    value, _ = issue(client.app.state.boundaries.engine, name=f"{role}-{unit}", unit_key=unit, role=role)  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {value}"}


def submit(
    client: TestClient, category: str = "S-04-04", photos: list[bytes] | None = None
) -> dict[str, Any]:
    fields = {**TAISHAN, "category": category, "description": "楼道口乱堆物料", "channel": "app"}
    if photos is None:
        response = client.post("/v1/reports", json=fields)
    else:
        files = [("photos", (f"p{n}.jpg", data, "image/jpeg")) for n, data in enumerate(photos)]
        response = client.post("/v1/reports", data=fields, files=files)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def act(client: TestClient, rid: int, who: dict[str, str], action: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/v1/reports/{rid}/actions", json={"action": action, **body}, headers=who)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def counts(client: TestClient) -> tuple[int, int, int]:
    """Reports and photos stored, and files under the media directory."""
    reports = client.app.state.reports  # type: ignore[attr-defined]
    with Session(reports.engine) as session:
        stored = session.scalar(select(func.count()).select_from(Report)) or 0
        photos = session.scalar(select(func.count()).select_from(Photo)) or 0
    return stored, photos, len(reports.media.files())


# --- photos --------------------------------------------------------------------------------
def test_a_resident_posts_photos_with_a_report_and_only_they_and_staff_in_scope_see_them(
    app: TestClient,
) -> None:
    created = submit(app, photos=[jpeg_with_gps(), png(), webp()])
    report, mine = created["report"], {"Authorization": f"Bearer {created['reporter_token']}"}
    assert [p["media_type"] for p in report["photos"]] == ["image/jpeg", "image/png", "image/webp"]
    first = report["photos"][0]
    own = app.get(first["url"], headers=mine)
    assert own.status_code == 200
    assert own.headers["content-type"] == "image/jpeg"
    assert "private" in own.headers["cache-control"]
    with Image.open(io.BytesIO(own.content)) as image:
        assert image.size == (640, 480)
        assert not image.getexif()  # no serial number, no owner, no position
    staff = app.get(f"/v1/reports/{report['id']}", headers=token(app, SANLI, "dispatcher")).json()
    assert staff["photos"][0]["taken_at"] == {"lon": TAIAN_GPS[0], "lat": TAIAN_GPS[1]}
    thumbnail = app.get(first["thumbnail_url"], headers=token(app, DISTRICT, "planner"))
    assert (thumbnail.status_code, thumbnail.headers["content-type"]) == (200, "image/jpeg")
    assert app.get(first["url"]).status_code == 401
    assert app.get(first["url"], headers=token(app, SIBLING, "supervisor")).status_code == 403
    assert app.get("/v1/photos/99999999", headers=token(app, DISTRICT, "supervisor")).status_code == 403
    # Open311's media_url points at the stored photo (which anonymous readers cannot open)
    [public] = app.get(f"/open311/v2/requests/{report['id']}.json").json()
    assert public["media_url"] == f"http://testserver/v1/photos/{first['id']}"


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_images_are_refused_and_leave_nothing_behind(app: TestClient, name: str) -> None:
    make, status, code = HOSTILE[name]
    before = counts(app)
    fields = {**TAISHAN, "category": "S-04-04", "description": "坏图片", "channel": "app"}
    files = [("photos", ("good.png", png(), "image/png")), ("photos", ("evil.jpg", make(), "image/jpeg"))]
    response = app.post("/v1/reports", data=fields, files=files)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"].startswith("photos[2] 'evil.jpg' ")
    assert counts(app) == before


def test_oversized_and_misnamed_uploads_are_refused(app: TestClient) -> None:
    before = counts(app)
    fields = {**TAISHAN, "category": "S-04-04", "description": "大图", "channel": "app"}
    huge = b"\xff\xd8\xff" + b"\0" * (16 * 1024 * 1024)
    too_big = app.post("/v1/reports", data=fields, files=[("photos", ("big.jpg", huge, "image/jpeg"))])
    assert too_big.status_code == 413
    assert "SIJI_MAX_PHOTO_BYTES" in too_big.json()["error"]["message"]
    misnamed = app.post("/v1/reports", data=fields, files=[("picture", ("a.png", png(), "image/png"))])
    assert misnamed.status_code == 422
    assert "file part 'picture' is not read here" in misnamed.json()["error"]["message"]
    ten = [("photos", (f"{n}.png", png((8, 8)), "image/png")) for n in range(10)]
    assert app.post("/v1/reports", data=fields, files=ten).status_code == 422
    bad_field = app.post(
        "/v1/reports", data={**fields, "channel": "fax"}, files=[("photos", ("a.png", png(), "image/png"))]
    )
    assert bad_field.status_code == 422
    assert bad_field.json()["error"]["message"].startswith("body.channel")
    text = app.post("/v1/reports", content=b"lon=1", headers={"content-type": "text/plain"})
    assert text.status_code == 415
    assert counts(app) == before


def test_a_report_part_of_json_beside_the_photos(app: TestClient) -> None:
    fields = {**TAISHAN, "category": "S-04-04", "description": "JSON 部分", "channel": "app"}
    response = app.post(
        "/v1/reports",
        data={"report": json.dumps(fields, ensure_ascii=False)},
        files=[("photos", ("a.png", png(), "image/png"))],
    )
    assert response.status_code == 201, response.text
    assert response.json()["report"]["description"] == "JSON 部分"


def test_the_handler_posts_an_after_photo_with_the_handle_step(app: TestClient) -> None:
    rid = submit(app)["report"]["id"]
    dispatcher, handler = token(app, SANLI, "dispatcher"), token(app, SANLI, "handler")
    for action in ("verify", "file", "dispatch"):
        act(app, rid, dispatcher, action)
    version = act(app, rid, handler, "start")["version"]
    response = app.post(
        f"/v1/reports/{rid}/actions",
        data={"action": "handle", "note": "已清理", "version": str(version)},
        files=[("photos", ("after.jpg", jpeg_with_gps(), "image/jpeg"))],
        headers={**handler, "Idempotency-Key": f"after-photo-{rid}"},
    )
    assert response.status_code == 200, response.text
    [after] = response.json()["photos"]
    assert (after["kind"], response.json()["state"]) == ("handled", "handled")
    retry = app.post(
        f"/v1/reports/{rid}/actions",
        data={"action": "handle", "note": "已清理", "version": str(version)},
        files=[("photos", ("after.jpg", jpeg_with_gps(), "image/jpeg"))],
        headers={**handler, "Idempotency-Key": f"after-photo-{rid}"},
    )
    assert (retry.status_code, retry.headers.get("Idempotent-Replayed")) == (200, "true")
    assert len(retry.json()["photos"]) == 1  # the retry stored nothing more
    other = app.post(
        f"/v1/reports/{rid}/actions",
        data={"action": "handle", "note": "已清理", "version": str(version)},
        files=[("photos", ("other.png", png(), "image/png"))],
        headers={**handler, "Idempotency-Key": f"after-photo-{rid}"},
    )
    assert other.status_code == 422  # the same key with another photo
    assert app.get(after["url"], headers=dispatcher).status_code == 200


# --- the desk's steps --------------------------------------------------------------------------
def test_urge_recategorise_merge_and_the_residents_verdict(app: TestClient) -> None:
    dispatcher, handler = token(app, SANLI, "dispatcher"), token(app, SANLI, "handler")
    subdistrict = token(app, CAIYUAN, "supervisor")
    first, second = submit(app), submit(app)
    original, duplicate = first["report"]["id"], second["report"]["id"]
    merged = act(app, duplicate, dispatcher, "merge", merge_into=original)
    assert merged["state"] == "merged"
    for action in ("verify", "file", "dispatch"):
        act(app, original, dispatcher, action)
    urged = act(app, original, subdistrict, "urge", note="请今天处理")
    assert urged["urge_count"] == 1
    for action in ("start", "handle"):
        act(app, original, handler, action)
    for action in ("check", "close"):
        act(app, original, dispatcher, action)
    # the duplicate's reporter follows the original and gives the verdict with their token
    follower = {"Authorization": f"Bearer {second['reporter_token']}"}
    assert app.get(f"/v1/reports/{original}", headers=follower).json()["allowed_actions"] == ["verdict"]
    reopened = act(app, original, follower, "verdict", satisfaction="unsatisfied", note="还有一半没清")
    assert (reopened["state"], reopened["verdict"]["satisfaction"]) == ("reopened", "unsatisfied")
    staff_view = app.get(f"/v1/reports/{original}", headers=dispatcher).json()
    assert staff_view["events"][-1]["note"] == "还有一半没清"
    bad = app.post(
        f"/v1/reports/{original}/actions", json={"action": "verdict", "satisfaction": "meh"}, headers=follower
    )
    assert bad.status_code == 422
    # recategorising happens before dispatch; the recategorised case lands on the subdistrict
    third = submit(app)["report"]["id"]
    moved = act(app, third, subdistrict, "recategorise", category="S-01-01", note="实为暴露垃圾")
    assert moved["owner"]["key"] == CAIYUAN
    metrics = app.get(
        "/v1/metrics",
        params={"start": "2000-01-01", "end": "2100-01-01"},
        headers=token(app, SANLI, "planner"),
    ).json()
    [row] = metrics["units"]
    assert (row["urged"], row["rated"], row["unsatisfied"], row["satisfaction_rate"]) == (1, 1, 1, 0.0)


# --- the event feed -------------------------------------------------------------------------
def test_a_desk_follows_its_events_from_a_cursor_by_long_poll_and_sse(app: TestClient) -> None:
    desk = token(app, SANLI, "dispatcher")
    latest = app.get("/v1/events", params={"after": 0, "limit": 500}, headers=desk).json()
    cursor = latest["next_cursor"]
    while latest["events"]:
        latest = app.get("/v1/events", params={"after": cursor, "limit": 500}, headers=desk).json()
        cursor = latest["next_cursor"]
    rid = submit(app)["report"]["id"]
    fresh = app.get("/v1/events", params={"after": cursor}, headers=desk).json()
    assert [(e["type"], e["report"]["id"]) for e in fresh["events"]] == [("report", rid)]
    cursor = fresh["next_cursor"]

    def dispatch_soon() -> None:
        time.sleep(0.6)
        act(app, rid, desk, "verify")

    threading.Thread(target=dispatch_soon).start()
    started = time.monotonic()
    waited = app.get("/v1/events", params={"after": cursor, "wait": 10}, headers=desk).json()
    assert 0.5 < time.monotonic() - started < 9
    assert [e["type"] for e in waited["events"]] == ["verify"]
    assert waited["events"][0]["id"].startswith("evt_")
    # server-sent events, resumed from the cursor the client last saw
    act(app, rid, desk, "file")
    with app.stream(
        "GET", "/v1/events", headers={**desk, "Accept": "text/event-stream", "Last-Event-ID": str(cursor)}
    ) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        messages = _sse(stream, 2)
    assert [m["event"] for m in messages] == ["verify", "file"]
    assert int(messages[0]["id"]) == waited["events"][0]["cursor"]
    assert json.loads(messages[1]["data"])["report"]["state"] == "filed"
    bad = app.get("/v1/events", params={"types": "dispatched"}, headers=desk)
    assert bad.status_code == 422
    assert "unknown event type 'dispatched'" in bad.json()["error"]["message"]
    assert app.get("/v1/events").status_code == 401
    reporter = {"Authorization": "Bearer rp_x"}
    assert app.get("/v1/events", headers=reporter).status_code == 403


def _sse(stream: httpx.Response, count: int) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in stream.iter_lines():
        if not line:
            if "event" in current:
                messages.append(current)
                if len(messages) == count:
                    return messages
            current = {}
            continue
        name, _, value = line.partition(": ")
        current[name] = value
    return messages


# --- webhooks ------------------------------------------------------------------------------
def test_supervisors_manage_their_units_webhooks(app: TestClient) -> None:
    supervisor = token(app, CAIYUAN, "supervisor")
    body = {
        "unit": SANLI,
        "url": "http://127.0.0.1:9/hook",
        "secret": "a-secret-of-at-least-16",
        "types": ["dispatch"],
    }
    created = app.post("/v1/webhooks", json=body, headers=supervisor)
    assert created.status_code == 201, created.text
    hook = created.json()
    assert (hook["unit_key"], hook["types"], hook["secret_hint"]) == (SANLI, ["dispatch"], "…t-16")
    assert "secret" not in hook
    assert hook["id"] in [w["id"] for w in app.get("/v1/webhooks", headers=supervisor).json()["webhooks"]]
    outside = app.post("/v1/webhooks", json={**body, "unit": SIBLING}, headers=supervisor)
    assert outside.status_code == 403
    short = app.post("/v1/webhooks", json={**body, "secret": "short"}, headers=supervisor)
    assert short.status_code == 422
    dispatcher = app.post("/v1/webhooks", json=body, headers=token(app, SANLI, "dispatcher"))
    assert dispatcher.status_code == 403
    dead = app.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=supervisor).json()
    assert dead == {"total": 0, "deliveries": []}
    assert app.post(f"/v1/webhooks/{hook['id']}/replay", json={}, headers=supervisor).json() == {
        "replayed": 0
    }
    removed = app.delete(f"/v1/webhooks/{hook['id']}", headers=supervisor).json()
    assert removed["disabled_at"] is not None
    elsewhere = token(app, SIBLING, "supervisor")
    assert app.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=elsewhere).status_code == 403
