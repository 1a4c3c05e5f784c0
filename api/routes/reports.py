"""Reports: intake, reading (scoped), the loop, escalation, categories."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.auth import PrincipalDep
from api.forms import body_schema, read_body
from api.ratelimit import RATE_LIMIT_RESPONSE
from api.schemas.common import ERROR_RESPONSES, ErrorResponse
from api.schemas.reports import ActionRequest, Escalated, ReportCreate, ReportCreated, ReportList, ReportOut
from routing.access import require_staff
from routing.intake import ReportIn
from routing.service import ReportService
from routing.steps import REQUEST_FIELDS

router = APIRouter(prefix="/v1", tags=["reports"])

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    401: {
        "model": ErrorResponse,
        "description": "No token, or an unknown, expired or revoked one (with WWW-Authenticate: Bearer).",
        "headers": {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    },
    403: {"model": ErrorResponse, "description": "Not allowed; says nothing about the report."},
    409: {"model": ErrorResponse, "description": "Illegal transition, naming the allowed actions."},
    **RATE_LIMIT_RESPONSE,
}
ACTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    200: {
        "description": (
            "The report after the step; on a retry with the same Idempotency-Key, the report as it is "
            "now (no second step), with the header Idempotent-Replayed: true."
        )
    },
    409: {
        "model": ErrorResponse,
        "description": (
            "Illegal transition (illegal_transition, naming the actions you may take), or a stale "
            "version (version_conflict, with the current version)."
        ),
    },
    422: {
        "model": ErrorResponse,
        "description": (
            "Invalid input naming the field: an unknown action (listing them), a missing reason, a "
            "field the action does not take, or an Idempotency-Key already used for another request "
            "(idempotency_key_reused)."
        ),
    },
}
PHOTO_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorResponse,
        "description": "A multipart body that cannot be parsed (or over 10 files).",
    },
    413: {"model": ErrorResponse, "description": "A photo or the whole body over its size cap."},
    415: {
        "model": ErrorResponse,
        "description": "A body that is neither JSON nor multipart, or a photo that is not JPEG, PNG or WebP.",
    },
}
IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=128,
        description="8 to 128 characters, new for each request; a retry with the same key returns "
        "the first answer instead of taking the step twice.",
    ),
]
ReportId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _service(request: Request) -> ReportService:
    service: ReportService = request.app.state.reports
    return service


@router.get("/categories", summary="The category catalog (GB/T 30428.2 style)", responses=RATE_LIMIT_RESPONSE)
def categories(request: Request) -> dict[str, Any]:
    return _service(request).catalog.to_dict()


@router.post(
    "/reports",
    response_model=ReportCreated,
    status_code=201,
    responses={
        **AUTH_RESPONSES,
        **PHOTO_RESPONSES,
        200: {
            "model": ReportCreated,
            "description": "An Idempotency-Key replay: the first report, with Idempotent-Replayed: true.",
            "headers": {"Idempotent-Replayed": {"description": "true", "schema": {"type": "string"}}},
        },
        422: {
            "model": ErrorResponse,
            "description": "Invalid input naming the field, an Idempotency-Key already used for another "
            "report (idempotency_key_reused), or a photo that cannot be read, is truncated or has more "
            "pixels than allowed (invalid_photo).",
        },
    },
    openapi_extra={"requestBody": body_schema(ReportCreate)},
    summary="Submit a report (JSON, or multipart with photos); it is routed to the owning unit",
)
async def create_report(request: Request, idempotency_key: IdempotencyKey = None) -> Any:
    service = _service(request)
    body, photos = await read_body(request, ReportCreate, service)
    report = ReportIn(
        x=body.lon,
        y=body.lat,
        crs=body.crs,
        category=body.category,
        description=body.description,
        channel=body.channel,
        photo_urls=tuple(body.photo_urls),
        address=body.address,
        contact=body.contact,
        photos=photos,
    )
    submitted = await run_in_threadpool(service.submit, report, idempotency_key)
    payload = ReportCreated(
        report=submitted.report, reporter_token=submitted.reporter_token, created=submitted.created
    )
    if submitted.created:
        return JSONResponse(payload.model_dump(mode="json"), status_code=201)
    return JSONResponse(payload.model_dump(mode="json"), headers={"Idempotent-Replayed": "true"})


@router.get("/reports", response_model=ReportList, responses=AUTH_RESPONSES, summary="Reports in your units")
async def list_reports(
    request: Request,
    principal: PrincipalDep,
    state: Annotated[str | None, Query(max_length=16)] = None,
    category: Annotated[str | None, Query(max_length=16)] = None,
    overdue: bool = False,
    pending: Annotated[
        Literal["extension", "transfer"] | None,
        Query(description="Only cases with a pending extension or transfer request (to decide)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ReportList:
    """Cases your unit's chain owns, owned earlier (read only), or is asked to take over."""
    total, rows = await run_in_threadpool(
        lambda: _service(request).list_reports(
            principal, state=state, category=category, overdue=overdue, pending=pending, limit=limit,
            offset=offset,
        )
    )  # fmt: skip
    return ReportList(total=total, limit=limit, offset=offset, reports=rows)


@router.get("/reports/{report_id}", response_model=ReportOut, responses=AUTH_RESPONSES, summary="One report")
async def get_report(request: Request, principal: PrincipalDep, report_id: ReportId) -> ReportOut:
    return await run_in_threadpool(_service(request).get, report_id, principal)


@router.post(
    "/reports/{report_id}/actions",
    response_model=ReportOut,
    responses={**ACTION_RESPONSES, **PHOTO_RESPONSES},
    openapi_extra={"requestBody": body_schema(ActionRequest)},
    summary="Take one step of the closed loop (JSON, or multipart with after-photos for handle)",
)
async def act(
    request: Request,
    response: Response,
    principal: PrincipalDep,
    report_id: ReportId,
    idempotency_key: IdempotencyKey = None,
) -> ReportOut:
    """A step by a staff token, or the reporter's verdict (回访) with the reporter's token."""
    service = _service(request)
    body, photos = await read_body(request, ActionRequest, service)
    acted = await run_in_threadpool(
        lambda: service.act_once(
            report_id,
            body.action,
            principal,
            note=body.note,
            public=body.public,
            expected_version=body.version,
            **body.model_dump(include=set(REQUEST_FIELDS) - {"photos"}),
            photos=photos,
            idempotency_key=idempotency_key,
        )
    )
    if acted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return acted.report


@router.post(
    "/escalations/run",
    response_model=Escalated,
    responses=AUTH_RESPONSES,
    summary="Escalate overdue cases now",
)
async def run_escalation(request: Request, principal: PrincipalDep) -> Escalated:
    require_staff(principal, frozenset({"supervisor"}))
    service = _service(request)
    return Escalated(escalated=await run_in_threadpool(lambda: service.escalate_overdue(actor=principal)))
