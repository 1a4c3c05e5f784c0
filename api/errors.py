"""The one place where domain exceptions become HTTP statuses and JSON error bodies.

:data:`ERROR_STATUS` maps every kind of domain error (``geo.errors``,
``routing.errors`` and the edge's own below) to its status; :func:`headers_for` adds
the headers a status needs (the Bearer challenge of a 401).  Every error body is
``{"error": {"code": ..., "message": ..., "detail": ...}}``; Open311 routes render the
same statuses in GeoReport v2's format (``api/routes/open311.py``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from boundaries.service import IndexUnavailableError
from geo.errors import InvalidInputError, NotFoundError, SijiError
from routing.errors import (
    ForbiddenError,
    IllegalTransitionError,
    PhotoTooLargeError,
    PhotoTypeError,
    UnauthenticatedError,
)


class PayloadTooLargeError(InvalidInputError):
    """A request body over the configured cap."""

    code = "payload_too_large"


class UnsupportedMediaError(InvalidInputError):
    """A body in a format the endpoint does not read."""

    code = "unsupported_media_type"


class NotAcceptableError(InvalidInputError):
    """An output format the endpoint cannot write."""

    code = "not_acceptable"


ERROR_STATUS: tuple[tuple[type[SijiError], int], ...] = (
    (UnauthenticatedError, 401),
    (ForbiddenError, 403),
    (IllegalTransitionError, 409),  # VersionConflictError too
    (PayloadTooLargeError, 413),
    (PhotoTooLargeError, 413),
    (UnsupportedMediaError, 415),
    (PhotoTypeError, 415),
    (NotAcceptableError, 406),
    (IndexUnavailableError, 503),  # a generation whose index cannot be built (see /readyz)
    (NotFoundError, 404),
    (InvalidInputError, 422),  # UnknownActionError, IdempotencyConflictError, PhotoError, every bad value
)
"""The one table from domain error to HTTP status: the first class the error is an instance
of decides, so a subclass is listed before its base (any other error is a 500)."""


def status_for(error: SijiError) -> int:
    """HTTP status of a domain error (500 only for an unexpected kind).

    Examples
    --------
    >>> from routing.errors import UnknownActionError, VersionConflictError
    >>> status_for(UnknownActionError("no such action")), status_for(VersionConflictError("stale"))
    (422, 409)
    >>> status_for(SijiError("?"))
    500
    """
    return next((status for kind, status in ERROR_STATUS if isinstance(error, kind)), 500)


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    """The JSON error envelope."""
    return {"error": {"code": code, "message": message, "detail": detail if detail is not None else {}}}


def _jsonable(detail: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in detail.items():
        if isinstance(value, float) and value != value:  # NaN is not JSON
            out[key] = "NaN"
        elif isinstance(value, float) and value in (float("inf"), float("-inf")):
            out[key] = str(value)
        elif isinstance(value, (str, int, float, bool, list, dict)) or value is None:
            out[key] = value
        else:
            out[key] = str(value)
    return out


def headers_for(error: SijiError) -> dict[str, str] | None:
    """Headers a domain error's answer needs: the Bearer challenge of a 401 (RFC 6750)."""
    if status_for(error) != 401:
        return None
    if error.detail.get("reason") == "invalid":
        return {"WWW-Authenticate": 'Bearer realm="siji", error="invalid_token"'}
    return {"WWW-Authenticate": 'Bearer realm="siji"'}


async def _domain(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SijiError)
    return JSONResponse(
        error_body(exc.code, exc.message, _jsonable(exc.detail)),
        status_code=status_for(exc),
        headers=headers_for(exc),
    )


async def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for item in exc.errors():
        location = ".".join(str(part) for part in item.get("loc", ()))
        value = item.get("input")
        problems.append({"field": location, "message": item.get("msg", ""), "value": _short(value)})
    first = problems[0] if problems else {"field": "", "message": "invalid request", "value": None}
    message = f"{first['field']}: {first['message']} (got {first['value']!r})"
    return JSONResponse(error_body("invalid_request", message, {"problems": problems}), status_code=422)


def _short(value: Any) -> Any:
    if isinstance(value, (int, float, bool)) or value is None:
        return value if not (isinstance(value, float) and value != value) else "NaN"
    text = str(value)
    return text if len(text) <= 200 else text[:200] + "..."


# FastAPI's own detail for a body it could not decode (bytes that are not UTF-8, for one).
UNREADABLE_BODY = "There was an error parsing the body"


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, "http_error"
    )
    message = str(exc.detail)
    detail: dict[str, Any] = {}
    if exc.status_code == 400 and message == UNREADABLE_BODY:
        content_type = request.headers.get("content-type", "")
        code, detail = "unreadable_body", {"content_type": _short(content_type)}
        message = (
            f"the request body could not be read as {_short(content_type) or 'no content type'!r}; "
            "send UTF-8 JSON with Content-Type: application/json"
        )
    return JSONResponse(
        error_body(code, message, detail), status_code=exc.status_code, headers=getattr(exc, "headers", None)
    )


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(SijiError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
