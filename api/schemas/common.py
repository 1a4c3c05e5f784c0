"""Schemas shared by several routes."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import BaseModel, Field


class ErrorInfo(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. invalid_coordinate.")
    message: str = Field(description="What was wrong, naming the value and what is allowed.")
    detail: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    """Every error answer has this shape."""

    error: ErrorInfo


class UnitRef(BaseModel):
    code: str
    name: str


class GenerationRef(BaseModel):
    id: int
    name: str
    valid_from: dt.date


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    # FastAPI answers 400 itself, before any route runs, for a body it cannot decode.
    400: {"model": ErrorResponse, "description": "A request body that cannot be read (e.g. not UTF-8)."},
    404: {
        "model": ErrorResponse,
        "description": (
            "Unknown code or no generation on that date.  A code of another generation is named "
            "with the generations it is in (`detail.valid_in`), the units that continue it "
            "(`detail.successors`) and the `at=` date to ask with (`detail.at`)."
        ),
    },
    422: {"model": ErrorResponse, "description": "Invalid input, naming the field and the value."},
    503: {
        "model": ErrorResponse,
        "description": "The index of the boundary generation asked for cannot be used (see /readyz).",
    },
}


def json_error(description: str) -> dict[str, Any]:
    """An error answer documented as JSON, for routes whose own media type is another one.

    FastAPI documents a response ``model`` under the route's media type, so on a route
    that answers GeoJSON or HTML an ``ERROR_RESPONSES`` entry would claim the error body
    is GeoJSON or HTML; this names the JSON media type explicitly.
    """
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }


JSON_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: json_error(response["description"]) for status, response in ERROR_RESPONSES.items()
}
"""``ERROR_RESPONSES`` for routes that answer another media type than JSON."""


RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
"""An RFC 3339 date-time: seconds and an offset are required."""


def datetime_with_offset(value: Any) -> Any:
    """Parse an RFC 3339 date-time with its offset, and nothing else.

    pydantic alone would also take numbers as Unix times; use it as a
    ``BeforeValidator`` on query parameters documented as ``date-time``.

    Examples
    --------
    >>> datetime_with_offset("2025-06-01T08:00:00+08:00").isoformat()
    '2025-06-01T08:00:00+08:00'
    """
    if isinstance(value, str) and RFC3339.fullmatch(value):
        return dt.datetime.fromisoformat(value.upper())
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    raise ValueError(f"{shown} is not a date-time with an offset (2025-06-01T08:00:00+08:00)")
