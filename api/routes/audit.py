"""The audit log of staff actions, for supervisors."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BeforeValidator
from starlette.concurrency import run_in_threadpool

from api.auth import PrincipalDep
from api.deps import ReportsDep
from api.ratelimit import RATE_LIMIT_RESPONSE
from api.schemas.audit import AuditEntryOut, AuditPage
from api.schemas.common import ErrorResponse, datetime_with_offset
from routing.audit import AuditQuery

router = APIRouter(prefix="/v1", tags=["audit"])

AUDIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Unknown, expired or revoked token."},
    403: {
        "model": ErrorResponse,
        "description": "Not a supervisor token of a subdistrict, district, the city or a city department.",
    },
    422: {"model": ErrorResponse, "description": "Invalid filter, naming it and what is allowed."},
    **RATE_LIMIT_RESPONSE,
}


@router.get(
    "/audit",
    response_model=AuditPage,
    responses=AUDIT_RESPONSES,
    summary="Staff actions in your units (who, what, when, from where), newest first",
)
async def audit_log(
    reports: ReportsDep,
    principal: PrincipalDep,
    since: Annotated[
        dt.datetime | None,
        BeforeValidator(datetime_with_offset),
        Query(description="From this time (inclusive): RFC 3339 with an offset."),
    ] = None,
    until: Annotated[
        dt.datetime | None,
        BeforeValidator(datetime_with_offset),
        Query(description="Before this time (exclusive): RFC 3339 with an offset."),
    ] = None,
    actor: Annotated[str | None, Query(max_length=200, description="A token holder's name, exactly.")] = None,
    token_id: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="A staff token's id.")] = None,
    report_id: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Actions on this report.")] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="e.g. report.dispatch, token.issue.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AuditPage:
    """Readable by ``supervisor`` tokens of a subdistrict, a district, the city or a city
    department: the actions of their unit and the units below it, and actions on cases
    owned there.  Reading the log is itself recorded."""
    query = AuditQuery(
        since=since, until=until, actor=actor, token_id=token_id, report_id=report_id, action=action,
        limit=limit, offset=offset,
    )  # fmt: skip
    total, entries = await run_in_threadpool(reports.audit_log, principal, query)
    return AuditPage(total=total, limit=limit, offset=offset, entries=[AuditEntryOut(**e) for e in entries])
