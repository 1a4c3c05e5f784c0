"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import BoundariesDep
from api.schemas.units import Health, Readiness
from boundaries.service import generation_ref
from store.engine import ping

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> Health:  # async: no worker thread, the cheapest route there is
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Database reachable and the active index loaded",
    responses={503: {"model": Readiness}},
)
def readyz(boundaries: BoundariesDep) -> Readiness | JSONResponse:
    database = index_loaded = False
    generation = None
    units = 0
    try:
        ping(boundaries.engine)
        database = True
        info, index = boundaries.index()
        generation, units, index_loaded = generation_ref(info), len(index.units), True
    except Exception:
        pass
    body = Readiness(
        status="ready" if database and index_loaded else "not ready",
        database=database,
        index_loaded=index_loaded,
        generation=generation,  # type: ignore[arg-type]
        units=units,
    )
    if body.status != "ready":
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    return body
