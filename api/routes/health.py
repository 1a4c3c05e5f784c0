"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from api.deps import BoundariesDep, ReportsDep
from api.schemas.units import Health, Readiness
from boundaries.service import generation_ref
from geo.errors import SijiError
from routing.deadlines import calendar_warning
from store.engine import ping

router = APIRouter(tags=["health"])


_HEALTHY = Health(status="ok").model_dump_json().encode()
_HEALTHY_LENGTH = str(len(_HEALTHY)).encode()


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> Response:
    """The documented form of ``/healthz``; requests are answered by :class:`HealthzApp`."""
    return Response(_HEALTHY, media_type="application/json")


class HealthzApp:
    """``/healthz`` as a plain ASGI app, like ``GET /v1/lookup`` (see
    :func:`api.app.create_app`): the probe costs as little as a request can, and it
    is the bare peer the benchmark measures lookups against.  (A class: Starlette
    wraps plain functions as request handlers.)"""

    async def __call__(self, _scope: Scope, _receive: Receive, send: Send) -> None:
        # A new list each time: middleware may add headers to it.
        headers = [(b"content-type", b"application/json"), (b"content-length", _HEALTHY_LENGTH)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": _HEALTHY})


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Database reachable and a generation's index answering",
    description=(
        "`ready`: the generation valid today answers.  `degraded` (still 200): the index of the "
        "generation valid today failed to build or to pass its check, and the service answers "
        "from the generation named in `generation`; `failed` says which and why.  `not ready` "
        "(503): the database is unreachable or no generation answers."
    ),
    responses={503: {"model": Readiness}},
)
def readyz(boundaries: BoundariesDep, reports: ReportsDep) -> Readiness | JSONResponse:
    database = index_loaded = False
    generation = None
    units = 0
    problem = None
    try:
        ping(boundaries.engine)
        database = True
        info, index = boundaries.index()
        generation, units, index_loaded = generation_ref(info), len(index.units), True
    except SijiError as exc:
        problem = exc.message
    except Exception as exc:  # the database, say: /readyz reports it, never a 500
        problem = f"{type(exc).__name__}: {str(exc)[:300]}"
    detail = boundaries.readiness_detail()
    status = "not ready"
    if database and index_loaded:
        status = "degraded" if detail["failed"] is not None else "ready"
    if detail["failed"] is not None:
        failed = detail["failed"]
        answering = f"answering from generation {generation['name']!r}" if generation else "nothing answers"
        which = f"generation {failed['id']} {failed['name']!r}"
        problem = f"the index of {which} failed ({failed['reason']}); {answering}"
    body = Readiness(
        status=status,  # type: ignore[arg-type]
        database=database,
        index_loaded=index_loaded,
        generation=generation,  # type: ignore[arg-type]
        units=units,
        pending=detail["pending"],
        failed=detail["failed"],
        problem=problem,
        warnings=[w for w in (calendar_warning(reports.calendar),) if w is not None],
    )
    if body.status == "not ready":
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    return body
