"""``HEAD`` wherever ``GET`` is served.

FastAPI's routes answer only the methods they declare, so ``HEAD /maps/density`` was a
405 where Starlette's own routes add ``HEAD`` beside ``GET``.  :class:`HeadAsGet` runs
every ``HEAD`` request as the ``GET`` of the same URL (access checks, rate limits,
compression and all) and sends that answer's status and headers without its body: the
same ``Content-Type``, ``Content-Length`` and ``Content-Encoding`` a ``GET`` gets (RFC
9110 §9.3.2).  A streamed answer ends after its headers: once the empty body is sent,
the server tells the stream the client is gone, and the stream stops.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """ASGI middleware: answer ``HEAD`` as ``GET`` without the body.

    Examples
    --------
    >>> import asyncio
    >>> sent = []
    >>> async def app(scope, receive, send):
    ...     headers = [(b"content-length", b"5"), (b"x-method", scope["method"].encode())]
    ...     await send({"type": "http.response.start", "status": 200, "headers": headers})
    ...     await send({"type": "http.response.body", "body": b"hello"})
    >>> async def send(message): sent.append(message)
    >>> asyncio.run(HeadAsGet(app)({"type": "http", "method": "HEAD"}, None, send))
    >>> sent[0]["headers"], sent[1]["body"]
    ([(b'content-length', b'5'), (b'x-method', b'GET')], b'')
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        ended = False

        async def headers_only(message: Message) -> None:
            nonlocal ended
            if message["type"] == "http.response.start":
                await send(message)
            elif not ended and message["type"] in ("http.response.body", "http.response.pathsend"):
                ended = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            # anything after the end (more body, trailers) is dropped

        await self.app({**scope, "method": "GET"}, receive, headers_only)
