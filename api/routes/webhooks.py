"""Webhooks of units, for their supervisors: add, list, remove, and the dead letters to read and replay."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from api.auth import PrincipalDep
from api.deps import ReportsDep
from api.ratelimit import RATE_LIMIT_RESPONSE
from api.schemas.common import ErrorResponse
from api.schemas.events import DeliveryPage, Replayed, ReplayRequest, WebhookCreate, WebhookList, WebhookOut
from routing import webhooks

router = APIRouter(prefix="/v1", tags=["webhooks"])

WebhookId = Annotated[int, Path(ge=1, le=2**31 - 1)]
WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "A request body that cannot be read (e.g. not UTF-8)."},
    401: {"model": ErrorResponse, "description": "No token, or an unknown, expired or revoked one."},
    403: {
        "model": ErrorResponse,
        "description": "Not a supervisor of the webhook's unit or of a unit above it (or no such webhook).",
    },
    422: {"model": ErrorResponse, "description": "Invalid input, naming the field and what is allowed."},
    **RATE_LIMIT_RESPONSE,
}


@router.post(
    "/webhooks",
    response_model=WebhookOut,
    status_code=201,
    responses=WEBHOOK_RESPONSES,
    summary="Send your unit's events to a URL, signed with a secret (supervisors)",
)
async def add_webhook(reports: ReportsDep, principal: PrincipalDep, body: WebhookCreate) -> WebhookOut:
    return await run_in_threadpool(
        lambda: webhooks.add(
            reports, principal, unit_key=body.unit, url=body.url, secret=body.secret, types=body.types
        )
    )


@router.get(
    "/webhooks", response_model=WebhookList, responses=WEBHOOK_RESPONSES, summary="Webhooks of your units"
)
async def list_webhooks(reports: ReportsDep, principal: PrincipalDep) -> WebhookList:
    return WebhookList(webhooks=await run_in_threadpool(webhooks.list_webhooks, reports, principal))


@router.delete(
    "/webhooks/{webhook_id}",
    response_model=WebhookOut,
    responses=WEBHOOK_RESPONSES,
    summary="Stop a webhook (its deliveries stay readable)",
)
async def remove_webhook(reports: ReportsDep, principal: PrincipalDep, webhook_id: WebhookId) -> WebhookOut:
    return await run_in_threadpool(webhooks.remove, reports, principal, webhook_id)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=DeliveryPage,
    responses=WEBHOOK_RESPONSES,
    summary="A webhook's deliveries: the dead letters by default",
)
async def list_deliveries(
    reports: ReportsDep,
    principal: PrincipalDep,
    webhook_id: WebhookId,
    status: Literal["pending", "delivered", "dead"] = "dead",
    limit: Annotated[int, Query(ge=1, le=webhooks.MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> DeliveryPage:
    total, rows = await run_in_threadpool(
        lambda: webhooks.deliveries(reports, principal, webhook_id, status, limit, offset)
    )
    return DeliveryPage(total=total, deliveries=rows)


@router.post(
    "/webhooks/{webhook_id}/replay",
    response_model=Replayed,
    responses=WEBHOOK_RESPONSES,
    summary="Send dead letters again (all, or the ones named)",
)
async def replay(
    reports: ReportsDep, principal: PrincipalDep, webhook_id: WebhookId, body: ReplayRequest
) -> Replayed:
    count = await run_in_threadpool(webhooks.replay, reports, principal, webhook_id, body.delivery_ids)
    return Replayed(replayed=count)
