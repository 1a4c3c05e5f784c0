"""Caps on request bodies, enforced while the body streams in.

A declared Content-Length over the cap is refused before anything is read; a body
without one (chunked) is counted as it arrives and cut off at the cap.  Either way
the client gets a 413 naming the cap, and nothing is stored.

A JSON body (``application/json``) can have its own, smaller cap whatever the path:
it is parsed whole in memory, at roughly 15 times its size (measured: an 84 MB body of
2,000,000 points took 1.4 GB and 24 s before the point-count check could refuse it),
whereas file uploads stream to disk.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body


class BodyTooLargeError(Exception):
    """Raised inside the app when a streamed body passes its cap."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class BodySizeLimit:
    """ASGI middleware: ``limit_for(path)`` gives the cap in bytes for a request path.

    Parameters
    ----------
    app : ASGI app
    limit_for : callable
        Path -> cap in bytes.
    json_limit : int, optional
        Cap for ``application/json`` bodies on every path, when smaller than the
        path's cap (JSON is parsed in memory, uploads are spooled to disk).
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int], json_limit: int | None = None) -> None:
        self.app = app
        self.limit_for = limit_for
        self.json_limit = json_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        if self.json_limit is not None and _media_type(scope) == "application/json":
            limit = min(limit, self.json_limit)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _reject(send, limit, declared)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLargeError:
            if not started:
                await _reject(send, limit, None)


def _media_type(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return value.decode("latin-1").split(";")[0].strip().lower()
    return ""


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _reject(send: Send, limit: int, declared: int | None) -> None:
    size = f"{declared:,} bytes" if declared is not None else f"more than {limit:,} bytes"
    body: dict[str, Any] = error_body(
        "payload_too_large",
        f"request body of {size} is over the limit of {limit:,} bytes",
        {"limit_bytes": limit, "content_length": declared},
    )
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
