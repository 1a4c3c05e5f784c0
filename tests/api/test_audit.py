"""The audit log over HTTP, the client address it records, and idempotent actions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette

from routing.staff import issue
from tests.api.conftest import make_client

CAIYUAN, SANLI, DISTRICT = "370902002000", "370902002001", "370902000000"
REPORT = {
    "lon": 117.13,
    "lat": 36.19,
    "category": "S-01-01",
    "description": "路边有暴露垃圾",
    "channel": "app",
}


@pytest.fixture(scope="module")
def behind_proxy(client: TestClient) -> Iterator[Starlette]:
    """The service behind a trusted reverse proxy (10.0.0.0/8), on the session's database."""
    url = client.app.state.settings.database_url  # type: ignore[attr-defined]
    for proxied in make_client(url, escalation_interval_s=0, trusted_proxies=["10.0.0.0/8"]):
        yield proxied.app


def _token(client: TestClient, unit: str, role: str, name: str | None = None) -> dict[str, str]:
    engine = client.app.state.boundaries.engine  # type: ignore[attr-defined]
    token, _ = issue(engine, name=name or f"{role}-{unit}", unit_key=unit, role=role)
    return {"Authorization": f"Bearer {token}"}


def _new(client: TestClient) -> int:
    response = client.post("/v1/reports", json=REPORT)
    assert response.status_code == 201, response.text
    return int(response.json()["report"]["id"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "recorded"),
    [
        ("10.0.0.3", "203.0.113.50", "203.0.113.50"),  # through the trusted proxy
        ("10.0.0.3", "198.51.100.1, 203.0.113.51", "203.0.113.51"),  # the client's own claim is not used
        ("192.0.2.77", "203.0.113.52", "192.0.2.77"),  # not a trusted proxy: the header is ignored
    ],
)
def test_an_action_is_audited_with_who_what_when_and_where(
    behind_proxy: Starlette, peer: str, forwarded: str, recorded: str
) -> None:
    client = TestClient(behind_proxy, client=(peer, 40000))
    rid = _new(client)
    dispatcher = _token(client, CAIYUAN, "dispatcher", name=f"张三-{peer}-{forwarded}")
    acted = client.post(
        f"/v1/reports/{rid}/actions",
        json={"action": "verify"},
        headers={**dispatcher, "X-Forwarded-For": forwarded},
    )
    assert acted.status_code == 200, acted.text
    page = client.get(f"/v1/audit?report_id={rid}", headers=_token(client, CAIYUAN, "supervisor"))
    assert page.status_code == 200, page.text
    [entry] = page.json()["entries"]
    assert entry["actor"] == f"张三-{peer}-{forwarded}"
    assert (entry["role"], entry["unit_key"], entry["action"], entry["outcome"]) == (
        "dispatcher", CAIYUAN, "report.verify", "ok",
    )  # fmt: skip
    assert entry["client"] == recorded
    assert isinstance(entry["token_id"], int)
    assert entry["at"].endswith("+00:00")
    assert entry["detail"]["from_state"] == "reported"
    assert entry["detail"]["to_state"] == "verified"


def test_x_forwarded_for_is_ignored_without_trusted_proxies(client: TestClient) -> None:
    rid = _new(client)
    client.post(
        f"/v1/reports/{rid}/actions",
        json={"action": "verify"},
        headers={**_token(client, CAIYUAN, "dispatcher"), "X-Forwarded-For": "203.0.113.99"},
    )
    entries = client.get(f"/v1/audit?report_id={rid}", headers=_token(client, DISTRICT, "supervisor"))
    assert [e["client"] for e in entries.json()["entries"]] == ["testclient"]


def test_reads_of_cases_and_exports_are_audited(client: TestClient) -> None:
    planner = _token(client, CAIYUAN, "planner", name="规划-审计读")
    rid = _new(client)
    assert client.get("/v1/reports", headers=planner).status_code == 200
    assert client.get(f"/v1/reports/{rid}", headers=planner).status_code == 200
    params = {"start": "2025-01-01", "end": "2025-02-01"}
    assert client.get("/v1/metrics", params=params, headers=planner).status_code == 200
    page = client.get(
        "/v1/audit", params={"actor": "规划-审计读"}, headers=_token(client, CAIYUAN, "supervisor")
    )
    assert [e["action"] for e in page.json()["entries"]] == ["metrics.read", "report.read", "reports.list"]


@pytest.mark.parametrize(
    ("unit", "role", "status", "fragment"),
    [
        (CAIYUAN, "dispatcher", 403, "readable by supervisor tokens"),
        (SANLI, "supervisor", 403, "at level 'community'"),
        (None, None, 401, "this needs a token"),
    ],
)
def test_only_supervisors_above_communities_read_the_log(
    client: TestClient, unit: str | None, role: str | None, status: int, fragment: str
) -> None:
    headers = _token(client, unit, role) if unit and role else {}
    response = client.get("/v1/audit", headers=headers)
    assert response.status_code == status
    assert fragment in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"since": "2025-01-01T00:00:00"}, "is not a date-time with an offset"),
        ({"since": "2025-02-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"}, "must be before until"),
        ({"limit": "0"}, "query.limit"),
        ({"report_id": "abc"}, "query.report_id"),
    ],
)
def test_bad_filters_are_422(client: TestClient, params: dict[str, str], fragment: str) -> None:
    response = client.get("/v1/audit", params=params, headers=_token(client, CAIYUAN, "supervisor"))
    assert response.status_code == 422
    assert fragment in response.json()["error"]["message"]


def test_pages(client: TestClient) -> None:
    dispatcher = _token(client, CAIYUAN, "dispatcher")
    for rid in (_new(client), _new(client)):
        client.post(f"/v1/reports/{rid}/actions", json={"action": "verify"}, headers=dispatcher)
    supervisor = _token(client, CAIYUAN, "supervisor")
    # reading the log adds an entry; pages of another action stay put
    first = client.get("/v1/audit?action=report.verify&limit=1", headers=supervisor).json()
    second = client.get("/v1/audit?action=report.verify&limit=1&offset=1", headers=supervisor).json()
    assert first["total"] >= 2
    assert (len(first["entries"]), first["limit"], second["offset"]) == (1, 1, 1)
    assert first["entries"][0]["id"] > second["entries"][0]["id"]


# --- idempotent actions over HTTP -------------------------------------------------------
def test_a_retried_action_returns_the_first_answer(client: TestClient) -> None:
    rid = _new(client)
    dispatcher = {**_token(client, CAIYUAN, "dispatcher"), "Idempotency-Key": f"act-{rid}-verify-0001"}
    first = client.post(f"/v1/reports/{rid}/actions", json={"action": "verify"}, headers=dispatcher)
    again = client.post(f"/v1/reports/{rid}/actions", json={"action": "verify"}, headers=dispatcher)
    assert (first.status_code, again.status_code) == (200, 200)
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["version"] == first.json()["version"] == 2
    events = client.get(f"/v1/reports/{rid}", headers=dispatcher).json()["events"]
    assert [e["action"] for e in events] == ["report", "verify"]
    other = client.post(f"/v1/reports/{rid}/actions", json={"action": "file"}, headers=dispatcher)
    assert other.status_code == 422  # the IETF draft: the same key with another payload
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert "was already used to verify report" in other.json()["error"]["message"]


@pytest.mark.parametrize(("key", "fragment"), [("short", "8 to 128 characters"), ("k" * 129, "header")])
def test_bad_idempotency_keys_are_422(client: TestClient, key: str, fragment: str) -> None:
    rid = _new(client)
    headers = {**_token(client, CAIYUAN, "dispatcher"), "Idempotency-Key": key}
    response = client.post(f"/v1/reports/{rid}/actions", json={"action": "verify"}, headers=headers)
    assert response.status_code == 422
    assert fragment in response.json()["error"]["message"].lower()
