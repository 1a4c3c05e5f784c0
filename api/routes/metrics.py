"""Performance of units: 结案率, 按期结案率, 按期处置率, 返工率, handling time, ratings."""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.auth import PrincipalDep
from api.routes.reports import AUTH_RESPONSES
from geo.errors import InvalidInputError
from routing.service import ReportService

router = APIRouter(prefix="/v1", tags=["metrics"])
CHINA = dt.timezone(dt.timedelta(hours=8))


@router.get(
    "/metrics",
    responses={**AUTH_RESPONSES, 200: {"content": {"application/json": {}, "text/csv": {}}}},
    summary="Unit performance and ratings (骏马/黄牛/蜗牛) for a period, within your units",
)
async def metrics(
    request: Request,
    principal: PrincipalDep,
    start: Annotated[dt.date, Query(description="First day (China Standard Time).")],
    end: Annotated[dt.date, Query(description="Day after the last (exclusive).")],
    by: Literal["unit_key", "team"] = "unit_key",
    format: Literal["json", "csv"] = "json",
) -> Any:
    from routing import metrics as unit_metrics

    if end <= start:
        raise InvalidInputError(f"end ({end}) must be after start ({start})", field="end")
    service: ReportService = request.app.state.reports

    def compute() -> Any:
        cases = service.cases_frame(principal)
        if by == "team" and "team" not in cases.columns:
            cases["team"] = cases["unit_name"]  # service teams are the owning desks until teams are modelled
        begin = dt.datetime.combine(start, dt.time(), CHINA)
        finish = dt.datetime.combine(end, dt.time(), CHINA)
        return unit_metrics.unit_metrics(cases, begin, finish, by=by, calendar=service.calendar)

    table = await run_in_threadpool(compute)
    if format == "csv":
        buffer = io.BytesIO()
        unit_metrics.to_csv(table, buffer)
        return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8")
    rows = table.astype(object).where(table.notna(), None).to_dict("records")
    return {"start": start, "end": end, "by": by, "units": rows}
