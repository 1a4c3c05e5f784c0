"""The event feed of a unit: what it must act on or know of, from a cursor; long-poll or SSE."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.auth import PrincipalDep
from api.deps import ReportsDep
from api.ratelimit import RATE_LIMIT_RESPONSE
from api.schemas.common import ErrorResponse
from api.schemas.events import EventPage
from geo.errors import InvalidInputError
from routing.access import Principal, require_staff
from routing.outbox import MAX_PAGE
from routing.service import ReportService

router = APIRouter(prefix="/v1", tags=["events"])

POLL_S = 0.5
"""How often a waiting request asks the database for new events (other workers write them too)."""
MAX_WAIT_S = 30
STREAM_S = 300.0
"""How long one server-sent event stream stays open; the client reconnects with Last-Event-ID."""
HEARTBEAT_S = 15.0

EVENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/json": {}, "text/event-stream": {}},
        "description": "JSON: a page of events and the next cursor.  With Accept: text/event-stream: one "
        "SSE message per event (id = its cursor, event = its type, data = the event), until the stream "
        f"ends after {STREAM_S:.0f} s; reconnect with Last-Event-ID.",
    },
    401: {"model": ErrorResponse, "description": "No token, or an unknown, expired or revoked one."},
    403: {"model": ErrorResponse, "description": "Not a staff token."},
    422: {"model": ErrorResponse, "description": "A bad cursor, limit or event type, naming it."},
    **RATE_LIMIT_RESPONSE,
}


@router.get(
    "/events",
    response_model=EventPage,
    responses=EVENT_RESPONSES,
    summary="Events your unit must act on or know of, after a cursor (long-poll or server-sent events)",
)
async def events(
    request: Request,
    reports: ReportsDep,
    principal: PrincipalDep,
    after: Annotated[
        int, Query(ge=0, le=2**62, description="The cursor: events after it (0: from the first).")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    types: Annotated[
        str | None, Query(max_length=2000, description="Comma-separated event types (default: all).")
    ] = None,
    wait: Annotated[
        float, Query(ge=0, le=MAX_WAIT_S, description="Seconds to wait for an event when there is none yet.")
    ] = 0,
    last_event_id: Annotated[
        str | None, Header(max_length=32, description="SSE resume: the last cursor.")
    ] = None,
) -> Any:
    """Every step of a case owned (or, before the step, owned) by your unit's chain, a transfer asked
    of it, a case due soon: oldest first, each once, resumable from its ``cursor``."""
    require_staff(principal)
    kinds = tuple(t.strip() for t in types.split(",") if t.strip()) if types else ()
    if last_event_id is not None:
        after = _cursor(last_event_id)
    if "text/event-stream" in request.headers.get("accept", ""):
        await run_in_threadpool(
            reports.events, principal, after, 1, kinds
        )  # refuse bad input before streaming
        return StreamingResponse(
            _stream(request, reports, principal, after, limit, kinds),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
    deadline = time.monotonic() + wait
    while True:
        found, cursor = await run_in_threadpool(reports.events, principal, after, limit, kinds)
        if found or time.monotonic() >= deadline or await request.is_disconnected():
            return EventPage(events=found, next_cursor=cursor)
        await asyncio.sleep(POLL_S)


def _cursor(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise InvalidInputError(
            f"Last-Event-ID {text[:32]!r} is not a cursor; allowed: the id of an event received",
            field="Last-Event-ID",
        )
    return value


async def _stream(
    request: Request,
    reports: ReportService,
    principal: Principal,
    after: int,
    limit: int,
    kinds: tuple[str, ...],
) -> AsyncIterator[bytes]:
    ends = time.monotonic() + STREAM_S
    quiet_since = time.monotonic()
    yield b"retry: 2000\n\n"
    while time.monotonic() < ends and not await request.is_disconnected():
        found, after = await run_in_threadpool(reports.events, principal, after, limit, kinds)
        for event in found:
            data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
            yield f"id: {event['cursor']}\nevent: {event['type']}\ndata: {data}\n\n".encode()
        if found:
            quiet_since = time.monotonic()
            continue
        if time.monotonic() - quiet_since >= HEARTBEAT_S:
            yield b": keep-alive\n\n"
            quiet_since = time.monotonic()
        await asyncio.sleep(POLL_S)
