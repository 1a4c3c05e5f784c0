"""The one place where domain exceptions become HTTP statuses and JSON error bodies.

Every error body is ``{"error": {"code": ..., "message": ..., "detail": ...}}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo.errors import InvalidInputError, NotFoundError, SijiError

STATUS_BY_ERROR: tuple[tuple[type[SijiError], int], ...] = (
    (NotFoundError, 404),
    (InvalidInputError, 422),
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


def _specific() -> dict[type[SijiError], int]:
    from boundaries.service import IndexUnavailableError
    from routing.staff import UnauthenticatedError
    from routing.workflow import ForbiddenError, IllegalTransitionError

    return {
        UnauthenticatedError: 401,
        ForbiddenError: 403,
        IllegalTransitionError: 409,
        IndexUnavailableError: 503,
    }


SPECIFIC_STATUS: dict[type[SijiError], int] = {
    PayloadTooLargeError: 413,
    UnsupportedMediaError: 415,
    NotAcceptableError: 406,
}


def status_for(error: SijiError) -> int:
    """HTTP status of a domain error (500 only for an unexpected kind)."""
    for kind, status in {**SPECIFIC_STATUS, **_specific()}.items():
        if isinstance(error, kind):
            return status
    for kind, status in STATUS_BY_ERROR:
        if isinstance(error, kind):
            return status
    return 500


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


async def _domain(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SijiError)
    return JSONResponse(error_body(exc.code, exc.message, _jsonable(exc.detail)), status_code=status_for(exc))


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
_UNREADABLE_BODY = "There was an error parsing the body"


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, "http_error"
    )
    message = str(exc.detail)
    detail: dict[str, Any] = {}
    if exc.status_code == 400 and message == _UNREADABLE_BODY:
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
