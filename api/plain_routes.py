"""Exact GET paths answered by plain ASGI apps, ahead of FastAPI's router.

``GET /v1/lookup`` is the service's hot path and ``/healthz`` the probe a load
balancer polls.  Both are plain ASGI apps (no dependency injection, request objects or
response re-validation), and both are matched here with one dictionary read instead
of one regular expression per route in turn.  Their FastAPI routes stay in the app
for the OpenAPI schema; other methods on these paths fall through to them (so a
``POST /v1/lookup`` reaches the bulk route, a ``PUT /healthz`` gets a 405).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import ASGIApp, Receive, Scope, Send

_METHODS = frozenset({"GET", "HEAD"})  # HEAD as Starlette adds it to GET routes


def route_path(scope: Scope) -> str:
    """The request's path as routes see it: without the app's ``root_path`` (the prefix
    a proxy mounts it under), as Starlette's router strips it.

    Examples
    --------
    >>> route_path({"path": "/api/healthz", "root_path": "/api"})
    '/healthz'
    >>> route_path({"path": "/healthz", "root_path": ""}), route_path({"path": "/apix", "root_path": "/api"})
    ('/healthz', '/apix')
    """
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if len(path) == len(root):
        return ""
    return path[len(root) :] if path[len(root)] == "/" else path


class PlainRoutes(BaseRoute):
    """One router entry for several exact paths, each answered by a plain ASGI app.

    Parameters
    ----------
    apps : mapping of str to ASGI app
        Path (as the router sees it, without the root path) to the app answering
        ``GET`` and ``HEAD`` on it.

    Examples
    --------
    >>> async def ok(scope, receive, send): ...
    >>> routes = PlainRoutes({"/healthz": ok})
    >>> routes.matches({"type": "http", "method": "GET", "path": "/healthz"})[0].name
    'FULL'
    >>> routes.matches({"type": "http", "method": "POST", "path": "/healthz"})[0].name
    'NONE'
    """

    def __init__(self, apps: Mapping[str, ASGIApp]) -> None:
        self.apps = dict(apps)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["method"] in _METHODS:
            app = self.apps.get(route_path(scope) if scope.get("root_path") else scope["path"])
            if app is not None:
                return Match.FULL, {"endpoint": app}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await scope["endpoint"](scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        # Nothing here is named: url_for() finds these paths through their FastAPI routes.
        raise NoMatchFound(name, path_params)
