"""Rate limits per client address and per bearer token, with a clear 429.

Counting is a sliding window counter (:mod:`api.rate_counters`): by default in each
worker's memory (:mod:`api.window_counter`: two counters per key, so memory and time
per request stay constant however high a limit is set and however many clients there
are), where each worker process (``siji serve --workers N``) counts on its own and
the limits a client meets are up to N times the settings; or, with
``SIJI_RATE_LIMIT_STORAGE=redis://...``, in Redis shared by every worker and machine,
where the limits hold for the whole service.

IPv6 clients are counted per /64 network: one subscriber usually holds a whole /64,
and counting its addresses one by one would let it pick a fresh one per request.

A refused request is answered before any route runs (so before the body is read or a
token is looked up): ``429`` with ``Retry-After`` (seconds) and the error body of the
API, which names the limit, the window and what was counted; under ``/open311/`` the
GeoReport v2 error list.  ``/healthz``, ``/readyz`` and the map assets are not counted.

The client address is the TCP peer, or, when the peer is a trusted proxy
(``SIJI_TRUSTED_PROXIES``), the address it forwarded: ``X-Forwarded-For`` is read
from the right, skipping trusted proxies, and the first address not trusted is the
client.  Without trusted proxies the header is ignored, so a client cannot pick its
own address.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import math
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_body
from api.rate_counters import MEMORY, counters
from api.schemas.common import ErrorResponse

EXEMPT_PATHS = frozenset({"/healthz", "/readyz"})
EXEMPT_PREFIXES = ("/maps/assets/",)
"""Not counted: the probes (a load balancer polls them) and the map pages' static files."""

RATE_LIMIT_RESPONSE: dict[int | str, dict[str, Any]] = {
    429: {
        "model": ErrorResponse,
        "description": (
            "Too many requests from this client address or with this token: the message names the "
            "limit and the window; Retry-After gives the seconds to wait."
        ),
        "headers": {
            "Retry-After": {
                "description": "Seconds until a request is allowed again.",
                "schema": {"type": "integer"},
            }
        },
    }
}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=16)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in trusted)


@functools.lru_cache(maxsize=16384)
def _is_address(text: str) -> bool:
    """Whether ``text`` is an IP address (cached: clients come back)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def _trusted(address: str, trusted: tuple[str, ...]) -> bool:
    """Whether ``address`` is in one of the ``trusted`` networks.  Cached: behind a
    proxy every request asks it of the same few proxy addresses, and parsing an
    address costs microseconds."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(trusted))


def client_address(peer: str | None, forwarded_for: Iterable[str], trusted: Iterable[str]) -> str:
    """The client's address: the peer, or what trusted proxies say they forwarded for.

    Parameters
    ----------
    peer : str or None
        The TCP peer's address.
    forwarded_for : iterable of str
        The values of every ``X-Forwarded-For`` header, in order.
    trusted : iterable of str
        Addresses or networks of trusted proxies.

    Examples
    --------
    >>> client_address("10.0.0.2", ["203.0.113.9, 10.0.0.1"], ["10.0.0.0/8"])
    '203.0.113.9'
    >>> client_address("198.51.100.7", ["203.0.113.9"], ["10.0.0.0/8"])  # not a trusted peer
    '198.51.100.7'
    >>> client_address("10.0.0.2", ["1.2.3.4, 203.0.113.9"], ["10.0.0.0/8"])  # 1.2.3.4 is the client's claim
    '203.0.113.9'
    """
    current = peer or "unknown"
    proxies = tuple(trusted)
    if not _networks(proxies):
        return current
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        if not _trusted(current, proxies):
            break
        if not _is_address(hop):  # a malformed entry: stop at the last proxy we trust
            break
        current = hop
    return current


def request_address(scope: Scope, trusted: Iterable[str]) -> str:
    """:func:`client_address` of an ASGI request."""
    client = scope.get("client")
    forwarded, _ = _counted_headers(scope)
    return client_address(client[0] if client else None, forwarded, trusted)


def _bearer(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer`` header value, if any."""
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def counting_key(address: str) -> str:
    """The key a client address is counted under: itself, or its /64 for IPv6.

    Examples
    --------
    >>> counting_key("198.51.100.7")
    '198.51.100.7'
    >>> counting_key("2001:db8:1:2:a:b:c:d")
    '2001:db8:1:2::/64'
    >>> counting_key("::ffff:198.51.100.7")  # IPv4 on a dual-stack socket
    '198.51.100.7'
    >>> counting_key("unknown")
    'unknown'
    """
    if ":" not in address:  # IPv4 or no address: as it is
        return address
    try:
        ip = ipaddress.IPv6Address(address)
    except ValueError:
        return address
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((ip, 64), strict=False))


def _counted_headers(scope: Scope) -> tuple[list[str], str]:
    """(every X-Forwarded-For value, the first Authorization value) in one pass over the
    raw headers."""
    forwarded: list[str] = []
    authorization = ""
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            forwarded.append(value.decode("latin-1"))
        elif name == b"authorization" and not authorization:
            authorization = value.decode("latin-1")
    return forwarded, authorization


class RateLimit:
    """ASGI middleware: refuse requests over the per-address or per-token limit with a 429.

    Parameters
    ----------
    app : ASGI app
    per_address, per_token : int
        Requests allowed per window (0: that limit is off).
    window_s : int
        The sliding window, in seconds.
    trusted_proxies : list of str
        See :func:`client_address`.
    storage : str
        Where requests are counted: ``memory://`` or ``redis://...``
        (:mod:`api.rate_counters`).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        per_address: int,
        per_token: int,
        window_s: int,
        trusted_proxies: Iterable[str] = (),
        storage: str = MEMORY,
    ) -> None:
        self.app = app
        self.window_s = window_s
        self.trusted = tuple(trusted_proxies)
        self.limits = {"address": per_address, "token": per_token}
        self.counters = counters(storage, window_s, tuple(self.limits))
        # The address limit, read on every counted request, as attributes.
        self._per_address = per_address
        self._by_address = self.counters["address"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        if self._per_address > 0:
            # Nearly every request has neither X-Forwarded-For nor Authorization: it is
            # counted by its TCP peer, against the address limit alone, which hit()
            # tests and counts.  (Inline: it runs before every counted request, and one
            # dict built in C tests the headers where a loop in Python would test each.)
            names = dict(scope.get("headers", ()))
            if b"x-forwarded-for" not in names and b"authorization" not in names:
                client = scope.get("client")
                address = (client[0] if client else None) or "unknown"
                key = counting_key(address) if ":" in address else address  # IPv4 as it is
                if not await self._by_address.hit(key, self._per_address):
                    await (await self._refusal(scope, "address", key))(scope, receive, send)
                    return
                await self.app(scope, receive, send)
                return
        forwarded, authorization = _counted_headers(scope)
        counted = []
        if self._per_address > 0:
            client = scope.get("client")
            address = client_address(client[0] if client else None, forwarded, self.trusted)
            counted.append(("address", counting_key(address)))
        token = _bearer(authorization) if authorization else None
        if token is not None and self.limits["token"] > 0:
            # Counted under a digest: the token itself is never kept.
            counted.append(("token", hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()))
        # Test every limit before counting any, so that a request refused by one uses up
        # nothing of the others.  In memory nothing interleaves (the awaits return at
        # once); in Redis two requests may pass the test together, and each hit() then
        # checks and counts atomically, so a limit is never passed, only the other
        # limit may count a request that this one refuses.
        # The last limit is not tested apart: hit() tests it and counts, first, so that it
        # counts nothing the others then refuse (one Redis call fewer, mostly of one).
        for kind, key in counted[:-1]:
            if not await self.counters[kind].allows(key, self.limits[kind]):
                await (await self._refusal(scope, kind, key))(scope, receive, send)
                return
        for kind, key in counted[-1:] + counted[:-1]:
            if not await self.counters[kind].hit(key, self.limits[kind]):
                await (await self._refusal(scope, kind, key))(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _refusal(self, scope: Scope, kind: str, key: str) -> Response:
        limit = self.limits[kind]
        retry_after = max(1, math.ceil(await self.counters[kind].retry_after(key, limit)))
        who = f"client address {key}" if kind == "address" else "token"
        message = (
            f"rate limit exceeded: at most {limit} requests per {self.window_s} s per {who}; "
            f"retry after {retry_after} s"
        )
        headers = {"Retry-After": str(retry_after)}
        if scope.get("path", "").startswith("/open311/"):
            from api.open311_format import error_response

            fmt = "xml" if scope["path"].endswith(".xml") else "json"
            return error_response(fmt, 429, [message], headers)
        detail: dict[str, Any] = {
            "limit": limit,
            "window_s": self.window_s,
            "per": kind,
            "retry_after_s": retry_after,
        }
        if kind == "address":
            detail["address"] = key
        return JSONResponse(error_body("rate_limited", message, detail), status_code=429, headers=headers)


def document(app: FastAPI) -> None:
    """Add the 429 answer to the OpenAPI responses of every counted route.

    Done on the generated schema (once, when it is first asked for), so routes of
    every router get it, including routers that do not list it themselves.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        spec = {k: v for k, v in RATE_LIMIT_RESPONSE[429].items() if k != "model"}
        for path, operations in schema.get("paths", {}).items():
            if path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES):
                continue
            answer = dict(spec)
            if not path.startswith("/open311/"):  # Open311 answers errors in its own list format
                answer["content"] = {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
                }
            for operation in operations.values():
                operation.setdefault("responses", {}).setdefault("429", answer)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
