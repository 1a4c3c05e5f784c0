"""Security headers on every response, and the Content-Security-Policy of the HTML pages.

Every answer carries :data:`SECURITY_HEADERS`: a Content-Security-Policy, ``nosniff``,
framing by the service's own pages only (``frame-ancestors 'self'`` and its older
form ``X-Frame-Options: SAMEORIGIN``), no ``Referer`` sent on (URLs may hold an Open311
token) and no camera, microphone or location asked for.

The policy loads everything from the service itself and nothing from elsewhere.  A
script runs only when it comes from the service or, inline, when the page's own policy
names its SHA-256 hash: the pages written here (the maps folium writes, Swagger UI's
start-up script) are given :func:`page_policy`, which hashes each of their inline
scripts, so a script slipped into a page through data (a unit name, a description)
would not run.  Styles may be inline: folium, Leaflet, Swagger UI and ReDoc set
``style`` attributes and write ``<style>`` elements.  ReDoc runs its search in a worker
made from a ``blob:`` URL.

A response that sets its own ``Content-Security-Policy`` (a page's) keeps it; every
other header here is set only when the response has not set it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "Content-Security-Policy"
POLICY: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data: blob:",
    "font-src": "'self' data:",
    "connect-src": "'self'",
    "worker-src": "'self' blob:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'self'",
}
"""The directives of every response's policy (pages add their inline scripts' hashes)."""

_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)


def policy(script_hashes: Iterable[str] = ()) -> str:
    """The Content-Security-Policy, allowing the inline scripts of the given hashes.

    Parameters
    ----------
    script_hashes : iterable of str
        Base64 SHA-256 digests of inline scripts that may run.

    Examples
    --------
    >>> policy().split("; ")[:2]
    ["default-src 'self'", "script-src 'self'"]
    >>> "script-src 'self' 'sha256-abc='" in policy(["abc="])
    True
    """
    directives = dict(POLICY)
    hashes = " ".join(f"'sha256-{digest}'" for digest in dict.fromkeys(script_hashes))
    if hashes:
        directives["script-src"] = f"{directives['script-src']} {hashes}"
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def inline_script_hashes(html: str) -> list[str]:
    """Base64 SHA-256 digests of a page's inline scripts, as a browser computes them.

    Scripts with a ``src`` are left out (they load from the service); the digest is of
    the UTF-8 text between the tags, exactly as written.

    Examples
    --------
    >>> inline_script_hashes('<script>a()</script><script src="/x.js"></script>')
    ['qVpDBgj7bpq5hMAcGp3AOc79J3Y1Z4HvySTwKrWDoy4=']
    """
    return [
        base64.b64encode(hashlib.sha256(match.group(1).encode()).digest()).decode()
        for match in _INLINE_SCRIPT.finditer(html)
    ]


def page_policy(html: str) -> str:
    """The policy of a page: :data:`POLICY` with the page's own inline scripts allowed.

    Examples
    --------
    >>> "'sha256-qVpDBgj7bpq5hMAcGp3AOc79J3Y1Z4HvySTwKrWDoy4='" in page_policy("<script>a()</script>")
    True
    """
    return policy(inline_script_hashes(html))


SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    (CSP, policy()),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "SAMEORIGIN"),
    ("Referrer-Policy", "no-referrer"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
"""Set on every response that has not set them itself."""
_RAW = tuple((name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS)


class SecurityHeaders:
    """ASGI middleware: :data:`SECURITY_HEADERS` on every HTTP response.

    Examples
    --------
    >>> import asyncio
    >>> sent = []
    >>> own = [(b"x-content-type-options", b"x")]
    >>> async def app(scope, receive, send):
    ...     await send({"type": "http.response.start", "status": 200, "headers": own})
    >>> async def send(message): sent.append(message)
    >>> asyncio.run(SecurityHeaders(app)({"type": "http"}, None, send))
    >>> [value for name, value in sent[0]["headers"] if name == b"x-content-type-options"]
    [b'x']
    >>> len(sent[0]["headers"]) == len(SECURITY_HEADERS)
    True
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in _RAW if item[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
