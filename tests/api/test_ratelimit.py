"""Rate limits per client address and per token: a clear 429, and nobody else is affected."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from api.app import create_app
from api.rate_counters import MemoryCounter
from api.ratelimit import RateLimit, client_address, counting_key
from api.settings import Settings
from tests.api.conftest import make_client

WINDOW_S = 3600  # long enough that no test run crosses a window edge
PER_ADDRESS, PER_TOKEN = 3, 2


@pytest.fixture(scope="module")
def limited(client: TestClient) -> Iterator[Starlette]:
    """The service with tight limits, on the session's database (bundled set already loaded)."""
    url = client.app.state.settings.database_url  # type: ignore[attr-defined]
    limits = {"rate_limit_per_address": PER_ADDRESS, "rate_limit_per_token": PER_TOKEN}
    for limited_client in make_client(
        url, escalation_interval_s=0, rate_limit_window_s=WINDOW_S, trusted_proxies=["10.0.0.0/8"], **limits
    ):
        yield limited_client.app  # the clients below share its app.state


def from_address(app: Starlette, address: str) -> TestClient:
    return TestClient(app, client=(address, 40000))


def test_one_address_over_its_limit_gets_a_clear_429(limited: Starlette) -> None:
    me, other = from_address(limited, "198.51.100.1"), from_address(limited, "198.51.100.2")
    assert [me.get("/v1/categories").status_code for _ in range(PER_ADDRESS)] == [200] * PER_ADDRESS
    refused = me.get("/v1/categories")
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert (
        f"at most {PER_ADDRESS} requests per {WINDOW_S} s per client address 198.51.100.1" in error["message"]
    )
    assert error["detail"] | {"retry_after_s": 0} == {
        "limit": PER_ADDRESS, "window_s": WINDOW_S, "per": "address", "address": "198.51.100.1",
        "retry_after_s": 0,
    }  # fmt: skip
    assert 1 <= int(refused.headers["Retry-After"]) <= WINDOW_S
    assert int(refused.headers["Retry-After"]) == error["detail"]["retry_after_s"]
    assert me.post("/v1/reports", json={}).status_code == 429  # refused before the body is read
    assert other.get("/v1/categories").status_code == 200  # another address is unaffected
    assert me.get("/healthz").status_code == 200  # probes are never counted
    assert me.get("/readyz").status_code == 200


def test_one_token_over_its_limit_gets_a_429_from_any_address(limited: Starlette) -> None:
    token = {"Authorization": "Bearer sj_not-a-real-token-but-counted"}
    other_token = {"Authorization": "Bearer sj_another-token"}
    clients = [from_address(limited, f"198.51.100.{n}") for n in (11, 12, 13)]
    assert [c.get("/v1/categories", headers=token).status_code for c in clients[:PER_TOKEN]] == [
        200
    ] * PER_TOKEN
    refused = clients[2].get("/v1/categories", headers=token)
    assert refused.status_code == 429
    message = refused.json()["error"]["message"]
    assert f"at most {PER_TOKEN} requests per {WINDOW_S} s per token" in message
    assert "not-a-real-token" not in refused.text  # the token is never echoed
    assert refused.json()["error"]["detail"]["per"] == "token"
    assert clients[2].get("/v1/categories", headers=other_token).status_code == 200  # another token is fine
    assert clients[2].get("/v1/categories").status_code == 200  # and so is the address without it


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(limited: Starlette) -> None:
    proxy = from_address(limited, "10.0.0.2")

    def via_proxy(client_ip: str) -> int:
        return proxy.get("/v1/categories", headers={"X-Forwarded-For": client_ip}).status_code

    assert [via_proxy("203.0.113.7") for _ in range(PER_ADDRESS)] == [200] * PER_ADDRESS
    refused = proxy.get("/v1/categories", headers={"X-Forwarded-For": "203.0.113.7"})
    assert "per client address 203.0.113.7" in refused.json()["error"]["message"]
    assert via_proxy("203.0.113.8") == 200  # the proxy's other clients are unaffected
    # an untrusted peer cannot escape its limit by inventing X-Forwarded-For values
    spoofer = from_address(limited, "198.51.100.20")
    codes = [
        spoofer.get("/v1/categories", headers={"X-Forwarded-For": f"192.0.2.{n}"}).status_code
        for n in range(5)
    ]
    assert codes == [200] * PER_ADDRESS + [429] * (5 - PER_ADDRESS)


def test_ipv6_clients_are_counted_per_64(limited: Starlette) -> None:
    # One subscriber's /64 shares a limit: a fresh address per request does not escape it.
    mine = [from_address(limited, f"2001:db8:5:6::{n:x}") for n in range(PER_ADDRESS + 1)]
    assert [c.get("/v1/categories").status_code for c in mine[:PER_ADDRESS]] == [200] * PER_ADDRESS
    refused = mine[PER_ADDRESS].get("/v1/categories")
    assert refused.status_code == 429
    assert "per client address 2001:db8:5:6::/64" in refused.json()["error"]["message"]
    assert refused.json()["error"]["detail"]["address"] == "2001:db8:5:6::/64"
    assert from_address(limited, "2001:db8:5:7::1").get("/v1/categories").status_code == 200


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:a:b:c:d", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),  # IPv4 clients of a dual-stack socket
        ("fe80::1%eth0", "fe80::/64"),
        ("unknown", "unknown"),
        ("not:an:address", "not:an:address"),
    ],
)
def test_counting_key(address: str, key: str) -> None:
    assert counting_key(address) == key


@pytest.mark.parametrize(("fmt", "marker"), [("json", '"code":429'), ("xml", "<code>429</code>")])
def test_open311_gets_its_own_error_format(limited: Starlette, fmt: str, marker: str) -> None:
    me = from_address(limited, f"198.51.100.{30 + len(fmt)}")
    for _ in range(PER_ADDRESS):
        assert me.get(f"/open311/v2/services.{fmt}").status_code == 200
    refused = me.get(f"/open311/v2/services.{fmt}")
    assert refused.status_code == 429
    assert marker in refused.text.replace(" ", "")
    assert "Retry-After" in refused.headers


def test_openapi_documents_429(limited: Starlette) -> None:
    paths = from_address(limited, "198.51.100.40").get("/openapi.json").json()["paths"]
    for path, method in [
        ("/v1/reports", "get"), ("/v1/reports/{report_id}/actions", "post"), ("/v1/lookup", "post"),
        ("/v1/metrics", "get"), ("/maps/density", "get"), ("/v1/audit", "get"),
        ("/open311/v2/requests.{format}", "get"),
    ]:  # fmt: skip
        assert "429" in paths[path][method]["responses"], (path, method)
    assert "429" not in paths["/healthz"]["get"]["responses"]


def _tiny(**limits: int) -> Starlette:
    async def ok(_request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/x", ok)])
    return RateLimit(app, window_s=60, **limits)  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("limits", "codes"),
    [
        ({"per_address": 0, "per_token": 0}, [200] * 6),
        ({"per_address": 4, "per_token": 0}, [200] * 4 + [429] * 2),
        ({"per_address": 0, "per_token": 2}, [200] * 2 + [429] * 4),
    ],
)
def test_zero_turns_a_limit_off(limits: dict[str, int], codes: list[int]) -> None:
    client = TestClient(_tiny(**limits))
    assert [client.get("/x", headers={"Authorization": "Bearer t"}).status_code for _ in codes] == codes


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("198.51.100.7", ["203.0.113.9"], [], "198.51.100.7"),  # no trusted proxies: header ignored
        ("198.51.100.7", ["203.0.113.9"], ["10.0.0.0/8"], "198.51.100.7"),  # peer not trusted
        ("10.0.0.2", ["203.0.113.9"], ["10.0.0.0/8"], "203.0.113.9"),
        ("10.0.0.2", ["1.2.3.4, 203.0.113.9, 10.0.0.5"], ["10.0.0.0/8"], "203.0.113.9"),  # two proxies
        ("10.0.0.2", ["1.2.3.4", "203.0.113.9"], ["10.0.0.0/8"], "203.0.113.9"),  # repeated headers
        ("10.0.0.2", ["garbage, 203.0.113.9"], ["10.0.0.0/8"], "203.0.113.9"),
        ("10.0.0.2", ["203.0.113.9, garbage"], ["10.0.0.0/8"], "10.0.0.2"),  # malformed last hop
        ("10.0.0.2", [], ["10.0.0.0/8"], "10.0.0.2"),
        ("2001:db8::2", ["2001:db8:1::9"], ["2001:db8::/64"], "2001:db8:1::9"),
        (None, [], [], "unknown"),
    ],
)
def test_client_address(peer: str | None, forwarded: list[str], trusted: list[str], expected: str) -> None:
    assert client_address(peer, forwarded, trusted) == expected


def test_a_bad_trusted_proxy_setting_is_named() -> None:
    with pytest.raises(
        ValidationError, match=r"trusted proxy 'proxy\.local' is not an IP address or network"
    ):
        Settings(trusted_proxies=["10.0.0.1", "proxy.local"], environment="test")


def test_production_defaults_limit() -> None:
    settings = Settings(environment="test")
    assert settings.rate_limit_per_address > 0
    assert settings.rate_limit_per_token > 0
    app = create_app(settings)
    assert any(m.cls is RateLimit for m in app.user_middleware)


@pytest.mark.parametrize(
    ("headers", "client", "expected"),
    [
        ([(b"host", b"siji")], ("198.51.100.7", 5000), "198.51.100.7"),
        ([], ("2001:db8:1:2:a:b:c:d", 5000), "2001:db8:1:2::/64"),
        ([], ("::ffff:198.51.100.7", 5000), "198.51.100.7"),
        ([(b"host", b"siji")], None, "unknown"),
        # Either header takes the limiter's general path, which counts the same peer
        # (X-Forwarded-For from a peer that is not a trusted proxy is ignored).
        ([(b"host", b"siji"), (b"x-forwarded-for", b"203.0.113.9")], ("10.0.0.2", 5000), "10.0.0.2"),
        ([(b"authorization", b"Bearer t")], ("198.51.100.7", 5000), "198.51.100.7"),
    ],
)
def test_requests_are_counted_by_their_peer(
    headers: list[tuple[bytes, bytes]], client: tuple[str, int] | None, expected: str
) -> None:
    async def ok(_scope: Scope, _receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: Message) -> None:
        pass

    limiter = RateLimit(ok, per_address=5, per_token=5, window_s=60)
    scope = {"type": "http", "method": "GET", "path": "/x", "headers": headers, "client": client}
    asyncio.run(limiter(scope, receive, send))
    memory = limiter.counters["address"]
    assert isinstance(memory, MemoryCounter)
    assert memory.counter.count(expected) == 1
    assert len(memory.counter) == 1
