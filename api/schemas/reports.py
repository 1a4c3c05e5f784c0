"""Schemas of the report endpoints: requests here; answers reuse the routing package's view models
(:mod:`routing.views`, :mod:`routing.escalation`) instead of declaring them again."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field

from api.schemas.common import datetime_with_offset
from routing.escalation import Escalation
from routing.views import ReportView

Channel = Literal["app", "hotline", "station", "patrol"]


class ReportCreate(BaseModel):
    """A new report.  ``x``/``y`` in ``crs`` (phones send gcj02).  JSON, or multipart with the same
    fields and up to nine ``photos`` parts."""

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
    """One step: JSON, or multipart with the same fields and ``photos`` parts (``handle``: after-photos)."""

    action: str = Field(
        max_length=32,
        description="verify, file, dispatch, start, return, handle, check, ... (the README's table); "
        "an unknown action is a 422 listing them.",
    )
    note: str = Field(default="", max_length=4000, description="The reason or remark (internal by default).")
    public: bool = Field(
        default=False, description="The note is a public reply: the reporter reads it (staff names never)."
    )
    reroute_to: str | None = Field(
        default=None, max_length=64, description="dispatch: another unit or department in your scope."
    )
    transfer_to: str | None = Field(
        default=None,
        max_length=64,
        description="request_transfer: the unit or department (city:园林局, 370902000000:城管局) asked to "
        "take the case over.",
    )
    extend_to: Annotated[
        dt.datetime | None,
        BeforeValidator(lambda v: v if v is None else datetime_with_offset(v)),
        Field(description="request_extension: the due time asked for (RFC 3339 with an offset)."),
    ] = None
    category: str | None = Field(
        default=None, max_length=16, description="recategorise: the new category code (GET /v1/categories)."
    )
    merge_into: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="merge: the id of the original this duplicate joins."
    )
    satisfaction: Literal["satisfied", "basically_satisfied", "unsatisfied"] | None = Field(
        default=None,
        description="verdict (the reporter's token): 满意 satisfied, 基本满意 basically_satisfied, 不满意 "
        "unsatisfied (reopens the case); the note is the comment.",
    )
    version: int | None = Field(
        default=None, description="The version you read; a case changed since is a 409 version_conflict."
    )


ReportOut = ReportView
"""A report as its reader may see it: the routing package's view model, reused as the schema."""


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
    escalated: list[Escalation]
