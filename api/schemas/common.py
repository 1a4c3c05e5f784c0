"""Schemas shared by several routes."""

from __future__ import annotations

import datetime as dt
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
    404: {"model": ErrorResponse, "description": "Unknown code or no generation on that date."},
    422: {"model": ErrorResponse, "description": "Invalid input, naming the field and the value."},
}
