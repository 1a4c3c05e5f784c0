"""Schemas of the audit log (``GET /v1/audit``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class AuditEntryOut(BaseModel):
    """One staff action."""

    id: int
    at: str = Field(description="When, ISO 8601 in UTC.")
    actor: str = Field(description="The token holder's name; cli:<user> at the command line.")
    token_id: int | None = Field(description="The staff token's id (null at the command line).")
    role: str | None
    unit_key: str | None = Field(description="The acting token's unit.")
    action: str = Field(description="e.g. report.dispatch, reports.list, token.issue, escalation.run.")
    report_id: int | None
    target: str | None = Field(description="Another target than a report, e.g. token:12.")
    outcome: str = Field(description="ok, or refused:<error code>.")
    client: str = Field(description="The client address, or cli:<user>@<host>, or service.")
    detail: dict[str, Any]


class AuditPage(BaseModel):
    """A page of entries, newest first."""

    total: int = Field(description="Entries matching the filters in your scope.")
    limit: int
    offset: int
    entries: list[AuditEntryOut]
