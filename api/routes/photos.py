"""Photos of cases: served to staff whose unit reads the case and to its reporter, never to anyone else."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from api.auth import PrincipalDep
from api.deps import ReportsDep
from api.ratelimit import RATE_LIMIT_RESPONSE
from api.schemas.common import ErrorResponse

router = APIRouter(prefix="/v1", tags=["photos"])

PhotoId = Annotated[int, Path(ge=1, le=2**31 - 1)]
PHOTO_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}},
        "description": "The photo, re-encoded without metadata (thumbnails are JPEG).",
    },
    401: {"model": ErrorResponse, "description": "No token, or an unknown, expired or revoked one."},
    403: {
        "model": ErrorResponse,
        "description": "Not staff whose unit reads the case, nor its reporter; or no such photo.",
    },
    404: {"model": ErrorResponse, "description": "The photo's file is missing from the media directory."},
    422: {"model": ErrorResponse, "description": "An id out of range."},
    **RATE_LIMIT_RESPONSE,
}


async def _serve(
    reports: ReportsDep, principal: PrincipalDep, photo_id: int, thumbnail: bool
) -> FileResponse:
    path, media_type = await run_in_threadpool(reports.photo_file, photo_id, principal, thumbnail)
    # private: a shared cache must never hand a resident's photo to someone else
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


@router.get(
    "/photos/{photo_id}",
    response_class=FileResponse,
    responses=PHOTO_RESPONSES,
    summary="A photo of a case (staff in scope, the reporter)",
)
async def photo(reports: ReportsDep, principal: PrincipalDep, photo_id: PhotoId) -> FileResponse:
    return await _serve(reports, principal, photo_id, thumbnail=False)


@router.get(
    "/photos/{photo_id}/thumbnail",
    response_class=FileResponse,
    responses=PHOTO_RESPONSES,
    summary="A photo's thumbnail (JPEG, at most 320 pixels on the long side)",
)
async def thumbnail(reports: ReportsDep, principal: PrincipalDep, photo_id: PhotoId) -> FileResponse:
    return await _serve(reports, principal, photo_id, thumbnail=True)
