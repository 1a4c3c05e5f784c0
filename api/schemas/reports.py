"""Schemas of the report endpoints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Channel = Literal["app", "hotline", "station", "patrol"]


class ReportCreate(BaseModel):
    """A new report.  ``x``/``y`` in ``crs`` (phones send gcj02)."""

    lon: float = Field(description="Longitude (x in a projected CRS).")
    lat: float = Field(description="Latitude (y in a projected CRS).")
    crs: str = Field(default="wgs84", max_length=64)
    category: str = Field(max_length=16, description="A category code from GET /v1/categories, e.g. S-01-01.")
    description: str = Field(min_length=1, max_length=4000)
    channel: Channel
    photo_urls: list[str] = Field(default_factory=list, max_length=9)
    address: str = Field(default="", max_length=500)
    contact: str = Field(
        default="", max_length=200, description="Reporter's phone or name (not shown to others)."
    )


class ActionRequest(BaseModel):
    action: str = Field(
        max_length=32, description="verify, file, dispatch, start, return, handle, check, ..."
    )
    note: str = Field(default="", max_length=4000)
    reroute_to: str | None = Field(default=None, max_length=64, description="dispatch: another unit code.")
    version: int | None = Field(default=None, description="The version you read; refused if it changed.")


class ReportOut(BaseModel):
    """A report as its reader may see it."""

    id: int
    created_at: str
    category: dict[str, str]
    description: str
    photo_urls: list[str]
    address: str
    channel: str
    channel_zh: str
    location: dict[str, Any]
    jurisdiction: dict[str, Any]
    owner: dict[str, str]
    state: str
    state_zh: str
    dispatched_at: str | None
    due_at: str | None
    handled_at: str | None
    closed_at: str | None
    overdue: bool
    rework_count: int
    escalation_level: int
    supervised: bool
    supervisor: str | None
    duplicate_of: int | None
    version: int
    events: list[dict[str, Any]] | None = None
    allowed_actions: list[str] | None = None


class ReportCreated(BaseModel):
    report: ReportOut
    reporter_token: str = Field(description="Lets the reporter read this report later; shown once.")
    created: bool = Field(description="False when an Idempotency-Key replay returned the first report.")


class ReportList(BaseModel):
    total: int
    limit: int
    offset: int
    reports: list[ReportOut]


class Escalated(BaseModel):
    escalated: list[dict[str, Any]]
