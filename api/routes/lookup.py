"""Jurisdiction lookups: one point (GET) and bulk (POST: JSON points or an uploaded file)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl

import numpy as np
import pandas as pd
import pydantic_core
from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.deps import BoundariesDep, SettingsDep
from api.errors import UnsupportedMediaError
from api.schemas.common import ERROR_RESPONSES, ErrorResponse
from api.schemas.lookup import BatchLookupRequest, BatchLookupResponse, LookupResponse
from api.uploads import (
    MEDIA_OF_FORMAT,
    ResultFileResponse,
    charset,
    media_type,
    output_format,
    save_stream,
    save_upload,
    spool_path,
    temp_dir,
    upload_format,
)
from batch.run import lookup_file
from boundaries.service import BoundaryService, generation_ref
from geo.errors import InvalidInputError
from geo.locate import locate, locate_point

router = APIRouter(prefix="/v1", tags=["lookup"])

CrsQuery = Annotated[str, Query(max_length=64, description="wgs84, cgcs2000, gcj02, bd09 or EPSG:<code>.")]
AtQuery = Annotated[dt.date | None, Query(description="Use the boundaries valid on this date (YYYY-MM-DD).")]


class PointQuery(BaseModel):
    """The query of ``GET /v1/lookup``."""

    lon: float = Field(description="Longitude (x in a projected CRS).")
    lat: float = Field(description="Latitude (y in a projected CRS).")
    crs: str = Field(
        default="wgs84", max_length=64, description="wgs84, cgcs2000, gcj02, bd09 or EPSG:<code>."
    )
    at: dt.date | None = Field(
        default=None, description="Use the boundaries valid on this date (YYYY-MM-DD)."
    )


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI query parameters documenting ``model``'s fields."""
    schema = model.model_json_schema()
    return [
        {
            "name": name,
            "in": "query",
            "required": name in schema.get("required", []),
            "description": field.get("description", ""),
            "schema": {k: v for k, v in field.items() if k not in ("description", "title")},
        }
        for name, field in schema["properties"].items()
    ]


@router.get(
    "/lookup",
    response_model=LookupResponse,
    responses=ERROR_RESPONSES,
    summary="Who owns one point",
    openapi_extra={"parameters": _query_parameters(PointQuery)},
)
async def lookup_point(request: Request) -> Any:
    """The hot path of the service: the query is validated with one model call and the
    answer serialized here, not by per-parameter dependency injection and response
    re-validation, which together cost several times the lookup (measured)."""
    # The raw query string, parsed as Starlette's QueryParams does (the last of repeated
    # keys wins) without building the multi-dict that nothing here reads.
    fields = dict(parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True))
    try:
        query = PointQuery.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None
    boundaries: BoundaryService = request.app.state.boundaries
    # The common case runs on the event loop: the index is in memory and a point costs
    # tens of microseconds, less than the hop to a worker thread.
    ready = boundaries.cached_index() if query.at is None else None
    if ready is None:
        ready = await run_in_threadpool(boundaries.index, query.at)
    generation, index = ready
    answer = locate_point(index, query.lon, query.lat, query.crs)
    answer["generation"] = generation_ref(generation)
    # The fuzz tests check this body against the documented LookupResponse schema.
    return Response(pydantic_core.to_json(answer), media_type="application/json")


BULK_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/BatchLookupRequest"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "text/csv": {"schema": {"type": "string", "format": "binary"}},
            "application/geo+json": {"schema": {"type": "string", "format": "binary"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    200: {
        "description": "The rows with jurisdiction columns, as JSON, CSV, GeoJSON or GeoParquet.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/geo+json": {"schema": {"type": "object"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    406: {"model": ErrorResponse, "description": "Unknown output format."},
    413: {"model": ErrorResponse, "description": "Upload over the size cap."},
    415: {"model": ErrorResponse, "description": "Body in a format the endpoint does not read."},
}


@router.post(
    "/lookup",
    response_model=BatchLookupResponse,
    responses=FILE_RESPONSES,
    openapi_extra=BULK_BODY,
    summary="Who owns many points: JSON points or an uploaded CSV/GeoJSON/GeoPackage/GeoParquet file",
)
async def lookup_bulk(
    request: Request,
    boundaries: BoundariesDep,
    settings: SettingsDep,
    format: Annotated[
        str | None, Query(description="json, csv, geojson or parquet (else from Accept).")
    ] = None,
    crs: Annotated[
        str | None, Query(max_length=64, description="CRS of the points (default: the file's).")
    ] = None,
    x_col: Annotated[str | None, Query(max_length=200, description="Column holding lon/x.")] = None,
    y_col: Annotated[str | None, Query(max_length=200, description="Column holding lat/y.")] = None,
    input_format: Annotated[
        str | None, Query(max_length=16, description="csv, geojson, gpkg or parquet.")
    ] = None,
    encoding: Annotated[
        str | None,
        Query(
            max_length=32,
            description="Text encoding of a CSV upload, e.g. gb18030 (else the charset of its "
            "Content-Type, else UTF-8).",
        ),
    ] = None,
    at: AtQuery = None,
) -> Any:
    out_format = output_format(format, request.headers.get("accept"))
    generation, index = await run_in_threadpool(boundaries.index, at)
    media = media_type(request)
    if media == "application/json":
        payload = _parse_points(await request.body())
        return await run_in_threadpool(_points_answer, index, generation, payload, crs, out_format, settings)
    workdir = temp_dir()
    try:
        if media == "multipart/form-data":
            form = await request.form(max_files=1, max_fields=10)
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise UnsupportedMediaError("a multipart upload needs a 'file' part", field="file")
            fmt = upload_format(media, upload.filename, input_format)
            source = spool_path(workdir, fmt)
            await save_upload(upload, source)
            text_encoding = encoding or charset(upload.headers.get("content-type"))
        else:
            fmt = upload_format(media, None, input_format)
            source = spool_path(workdir, fmt)
            await save_stream(request.stream(), source)
            text_encoding = encoding or charset(request.headers.get("content-type"))
        target = spool_path(workdir, "parquet" if out_format == "json" else out_format, "output")
        summary = await run_in_threadpool(
            lookup_file,
            index,
            source,
            target,
            x_col=x_col,
            y_col=y_col,
            crs=crs,
            chunk_rows=settings.batch_chunk_rows,
            encoding=text_encoding,
        )
        if out_format == "json":
            return await run_in_threadpool(_file_json_answer, target, generation, summary)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return ResultFileResponse(
        target,
        media_type=MEDIA_OF_FORMAT[out_format],
        filename=f"lookup{target.suffix}",
        headers={"X-Siji-Generation": str(generation.id), "X-Siji-Rows": str(summary.rows)},
        background=BackgroundTask(shutil.rmtree, workdir, ignore_errors=True),
    )


def _parse_points(body: bytes) -> BatchLookupRequest:
    try:
        return BatchLookupRequest.model_validate_json(body)
    except ValidationError as exc:
        # Never echo the body back: it can be the size of the upload cap.
        errors = list(exc.errors(include_url=False, include_input=False))
    for error in errors:
        reason = str(error.get("ctx", {}).get("error", ""))
        if error["type"] == "json_invalid" and "recursion limit" in reason:
            error["msg"] = f"JSON nesting too deep ({reason}); send {{'points': [{{'lon': .., 'lat': ..}}]}}"
    raise RequestValidationError(errors)


def _points_answer(
    index: Any, generation: Any, payload: BatchLookupRequest, crs: str | None, out_format: str, settings: Any
) -> Any:
    if len(payload.points) > settings.max_batch_points:
        raise InvalidInputError(
            f"{len(payload.points):,} points in one request; "
            f"at most {settings.max_batch_points:,} are allowed "
            "(upload a file for more)",
            field="points",
            value=len(payload.points),
        )
    x = np.array([p.lon for p in payload.points], dtype=np.float64)
    y = np.array([p.lat for p in payload.points], dtype=np.float64)
    result = locate(index, x, y, crs or payload.crs)
    columns = result.columns()
    frame = pd.DataFrame({"id": [p.id for p in payload.points], "lon": x, "lat": y, **columns})
    if out_format == "json":
        return _json_answer(frame, generation)
    return _frame_response(frame, out_format, generation)


def _json_answer(frame: pd.DataFrame, generation: Any) -> dict[str, Any]:
    counts = frame["status"].value_counts().to_dict()
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return {
        "generation": generation_ref(generation),
        "count": len(frame),
        "counts_by_status": {str(k): int(v) for k, v in counts.items()},
        "results": records,
    }


def _file_json_answer(target: Path, generation: Any, summary: Any) -> dict[str, Any]:
    import pyarrow.parquet as pq

    try:
        frame = pq.read_table(target).to_pandas()
    finally:
        shutil.rmtree(target.parent, ignore_errors=True)
    frame = frame.drop(columns=[c for c in frame.columns if c == "geometry"])
    answer = _json_answer(frame, generation)
    answer["counts_by_status"] = {k: v for k, v in summary.counts_by_status.items() if v}
    return answer


def _frame_response(frame: pd.DataFrame, out_format: str, generation: Any) -> Response:
    import geopandas as gpd

    workdir = temp_dir()
    target = spool_path(workdir, out_format, "output")
    if out_format == "csv":
        frame.to_csv(target, index=False)
    else:
        spatial = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=4326)
        if out_format == "parquet":
            spatial.to_parquet(target)
        else:
            spatial.to_file(target, driver="GeoJSON")
    return ResultFileResponse(
        target,
        media_type=MEDIA_OF_FORMAT[out_format],
        filename=f"lookup{target.suffix}",
        headers={"X-Siji-Generation": str(generation.id)},
        background=BackgroundTask(shutil.rmtree, workdir, ignore_errors=True),
    )
