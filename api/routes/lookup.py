"""Jurisdiction lookups: one point (GET) and bulk (POST: JSON points or an uploaded file)."""

from __future__ import annotations

import datetime as dt
import math
import re
import shutil
import weakref
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qsl

import numpy as np
import pydantic_core
from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

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
from batch.dated import DatedLookup, dated_lookup, dated_points
from batch.formats import RECORDS
from batch.json_records import iter_records_file
from batch.run import lookup_file
from boundaries.service import BoundaryService, generation_ref
from geo.errors import InvalidInputError
from geo.grid import MIXED_SUBCELL
from geo.index import OK, OUTSIDE, JurisdictionIndex
from geo.locate import locate, point_answer, resolve_point, swap_box
from store.generations import GenerationInfo

if TYPE_CHECKING:
    import pandas as pd

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
async def lookup_point() -> Response:
    """The documented form of ``GET /v1/lookup``; requests are answered by
    :class:`PointLookupApp`, ahead of FastAPI's router, and this form answers the same."""
    return _AppResponse(PointLookupApp())


class _AppResponse(Response):
    """A response that an ASGI app sends: what a route returns to hand over to one."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__()
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class PointLookupApp:
    """``GET /v1/lookup`` as a plain ASGI app: the hot path of the service.

    No dependency injection, request or response objects and no response
    re-validation: together they cost several times the lookup itself (measured).
    Errors are raised as everywhere else and answered by the app's error handlers.
    (A class: Starlette wraps plain functions as request handlers.)
    """

    def __init__(self) -> None:
        self._ok_bodies: dict[int, _OkBodies] = {}  # by generation id
        self._latest: _OkBodies | None = None  # those of the generation last asked for

    async def __call__(self, scope: Scope, _receive: Receive, send: Send) -> None:
        # Lifespan state (see create_app): a dict read.  app.state where a server or test
        # client does not hand lifespan state to requests.
        try:
            boundaries: BoundaryService = scope["state"]["boundaries"]
        except KeyError:
            boundaries = scope["app"].state.boundaries
        query: bytes = scope["query_string"]
        rendered = None
        # Nearly every request, in one flat stretch (a call saved here is saved on every
        # request): the common query form in WGS84, the active generation in memory and
        # a point inside one unit of the finest level.  Any other request takes the
        # general path below, which answers it the same way.
        common = _PLAIN_QUERY.fullmatch(query)
        if common is not None:
            # The answers of the active generation, while the service's reading of it
            # is the one they were made for and is not yet due to be read again.
            bodies = self._latest
            active = boundaries.active
            if (
                bodies is None
                or active is None
                or bodies.version != active.version
                or monotonic() >= active.due
            ):
                bodies = self._active_bodies(boundaries)
            if bodies is not None:
                try:
                    lon = float(common[1])
                    lat = float(common[2])
                except ValueError:  # "1.2.3", "." or "-": the general path words the error
                    lon = lat = math.nan
                position = bodies.value_at(lon, lat)
                if position >= 0:  # away from edges
                    rendered = bodies.rendered[position] or bodies.render(position)
                elif position == MIXED_SUBCELL:  # near an edge (~5 % of points)
                    rendered = bodies.near_edge(lon, lat)
                else:  # no unit of the finest level: most such points are far outside
                    rendered = bodies.outside(lon, lat)
        if rendered is None:
            rendered = await self._general(boundaries, query)
        body, length = rendered
        # A new header list each time: middleware may add to it.
        headers = [(b"content-type", b"application/json"), (b"content-length", length)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _active_bodies(self, boundaries: BoundaryService) -> _OkBodies | None:
        """The rendered answers of the active generation if it and its index are in
        memory (see :meth:`BoundaryService.cached_index`, which also has the active
        generation read again when it is due), else None."""
        active = boundaries.active
        ready = boundaries.cached_index()
        if ready is None:
            return None
        bodies = self._bodies_for(ready[1], ready[0])
        # Marked current only if no re-read replaced the service's reading in between:
        # otherwise the next request asks again.
        bodies.version = active.version if active is not None and active.generation is ready[0] else 0
        return bodies

    async def _general(self, boundaries: BoundaryService, query: bytes) -> tuple[bytes, bytes]:
        """(body, Content-Length value) of any query: every form and CRS, ``at=``, points
        on shared edges and vertices, in gaps or outside, and every error."""
        lon, lat, crs, at = _point_query(query)
        # The common case runs on the event loop: the index is in memory and a point costs
        # microseconds, less than the hop to a worker thread.
        ready = boundaries.cached_index() if at is None else None
        if ready is None:
            ready = await run_in_threadpool(boundaries.index, at)
        return self.answer(ready, lon, lat, crs)

    def answer(
        self, ready: tuple[GenerationInfo, JurisdictionIndex], lon: float, lat: float, crs: str
    ) -> tuple[bytes, bytes]:
        """The JSON answer for one point in the generation of ``ready``, and its length
        as the Content-Length value."""
        generation, index = ready
        found = resolve_point(index, lon, lat, crs)
        if found is not None and not found[1]:  # inside one unit: its answer is always the same
            bodies = self._latest
            if bodies is None or bodies.index() is not index:
                bodies = self._bodies_for(index, generation)
            return bodies.of_row(found[0])
        return render_answer(point_answer(index, found, lon, lat, crs), generation_ref(generation))

    def _bodies_for(self, index: JurisdictionIndex, generation: GenerationInfo) -> _OkBodies:
        bodies = self._ok_bodies.get(generation.id)
        if bodies is None or bodies.index() is not index:
            # Those of generations whose index the service has let go go too (they hold
            # its finest raster), and all of them past _GENERATIONS_RENDERED.
            held = {id_: kept for id_, kept in self._ok_bodies.items() if kept.index() is not None}
            self._ok_bodies = held if len(held) < _GENERATIONS_RENDERED else {}
            bodies = self._ok_bodies[generation.id] = _OkBodies(index, generation)
        self._latest = bodies
        return bodies


_GENERATIONS_RENDERED = 8
"""Generations whose answers a PointLookupApp keeps (most requests use the active one)."""


class _OkBodies:
    """The JSON answer of a point inside one unit (status ``ok``) and its length, per
    unit of the finest level, rendered once: every point in a unit gets the same
    bytes.  Holds the index weakly but its finest raster strongly: a PointLookupApp
    drops these once the service has let the index go."""

    def __init__(self, index: JurisdictionIndex, generation: GenerationInfo) -> None:
        self.index = weakref.ref(index)
        # The version of the service's reading of the active generation
        # (BoundaryService.active) these answer for; 0 if they are not the active
        # generation's (see PointLookupApp).
        self.version = 0
        self._units = index.units
        # The finest level's raster answer and rows (see JurisdictionIndex.finest): a
        # position >= 0 is a point inside the unit at rows[position] alone.
        grid, self.rows = index.finest
        self.value_at = grid.value_at
        self._exact_covering = grid.exact_covering
        self._ref = generation_ref(generation)
        # (body, Content-Length value) by position in the finest level, None until first
        # asked for; read directly on the hot path.
        self.rendered: list[tuple[bytes, bytes] | None] = [None] * len(self.rows)
        self._position_of_row = {row: position for position, row in enumerate(self.rows)}
        # Points outside for certain all get one answer (every level null).  The raster
        # that says so, not the index, is held (see above).
        raster = index.outside_raster
        self._surely_outside = raster.holds_one if raster is not None else _never
        self._swap_box = swap_box(index.bounds)
        self._outside = self._rendered(index.units.answer(-1, OUTSIDE))

    def outside(self, lon: float, lat: float) -> tuple[bytes, bytes] | None:
        """(body, Content-Length value) of a WGS84 point that is ``outside`` for certain
        (see :meth:`JurisdictionIndex.surely_outside`), whose swapped coordinates fall
        outside the set's bounds, so it cannot be a swapped point; None for any other
        point (the general path answers it, or words its error)."""
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            return None
        minx, miny, maxx, maxy = self._swap_box
        if miny <= lon <= maxy and minx <= lat <= maxx:
            return None
        return self._outside if self._surely_outside(lon, lat) else None

    def near_edge(self, lon: float, lat: float) -> tuple[bytes, bytes] | None:
        """(body, Content-Length value) of a point for which :attr:`value_at` says
        ``MIXED_SUBCELL``, by the exact test, if one unit alone covers it; None if
        several do (a shared edge or vertex) or none (a gap or outside): the general
        path answers those."""
        covering = self._exact_covering(lon, lat)
        if len(covering) != 1:
            return None
        position = covering[0]
        return self.rendered[position] or self.render(position)

    def of_row(self, row: int) -> tuple[bytes, bytes]:
        """(body, Content-Length value) of a point inside the unit at ``row`` alone (a
        unit of the finest level, as :meth:`JurisdictionIndex.resolve_one` answers)."""
        position = self._position_of_row[row]
        return self.rendered[position] or self.render(position)

    def render(self, position: int) -> tuple[bytes, bytes]:
        """(body, Content-Length value) of a point inside the unit at ``position`` of
        the finest level alone, rendered and kept in :attr:`rendered`."""
        rendered = self.rendered[position] = self._rendered(self._units.answer(self.rows[position], OK))
        return rendered

    def _rendered(self, answer: dict[str, Any]) -> tuple[bytes, bytes]:
        return render_answer(answer, self._ref)


def render_answer(answer: dict[str, Any], generation: dict[str, Any]) -> tuple[bytes, bytes]:
    """The body of ``GET /v1/lookup`` (and its Content-Length value): a point's answer
    (:meth:`geo.index.UnitTable.answer`, :func:`geo.locate.point_answer`) with the
    generation it came from.  Every path of the route renders here: answers rendered
    once per unit, outside answers and the general path.

    Examples
    --------
    >>> render_answer({"status": "outside"}, {"id": 1})
    (b'{"status":"outside","generation":{"id":1}}', b'42')
    """
    answer["generation"] = generation
    # The fuzz tests check this body against the documented LookupResponse schema.
    body = pydantic_core.to_json(answer)
    return body, b"%d" % len(body)


def _never(_x: float, _y: float) -> bool:
    return False


# The form nearly every client sends: plain decimals, lon first, an optional short
# crs name, nothing percent-encoded.  One match finds it and float() reads the
# numbers (float() refuses "1.2.3", "." or "-": those take the general path, which
# words the error; the forms it takes, "5." and ".5" among them, PointQuery reads
# alike).  Any other query (other order, exponents, encoded characters, at=...)
# takes the general path below.  Without crs (WGS84): the form PointLookupApp answers
# on its flat path.
_PLAIN_QUERY = re.compile(rb"lon=(-?[0-9.]{1,40})&lat=(-?[0-9.]{1,40})")
_COMMON_QUERY = re.compile(_PLAIN_QUERY.pattern + rb"(?:&crs=([A-Za-z0-9:_-]{1,64}))?")


def _point_query(raw: bytes) -> tuple[float, float, str, dt.date | None]:
    """(lon, lat, crs, at) of ``GET /v1/lookup``'s query, read as Starlette's
    QueryParams reads it (the last of repeated keys wins), validated by
    :class:`PointQuery`, which also words every error.

    Examples
    --------
    >>> _point_query(b"lon=117.1&lat=36.2")
    (117.1, 36.2, 'wgs84', None)
    >>> _point_query(b"crs=gcj02&lat=36.2&lon=1.171e2&at=2024-01-01")
    (117.1, 36.2, 'gcj02', datetime.date(2024, 1, 1))
    """
    common = _COMMON_QUERY.fullmatch(raw)
    if common is not None:
        lon, lat, crs = common.groups()
        try:
            return float(lon), float(lat), crs.decode() if crs else "wgs84", None
        except ValueError:
            pass
    fields = dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))
    try:
        query = PointQuery.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None
    return query.lon, query.lat, query.crs, query.at


def _inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema with its definitions written in place.

    The bulk body is read raw (one route, several media types), so FastAPI never
    registers the model among the schema's components, and a ``$ref`` to it dangles
    (ReDoc then renders nothing).

    Examples
    --------
    >>> _inline_schema(BatchLookupRequest)["properties"]["points"]["items"]["title"]
    'PointIn'
    """
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


BULK_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _inline_schema(BatchLookupRequest)},
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
    date_col: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Answer each row with the generation valid on its date in this column (JSON points: "
            "'date') and add a 'generation' column; excludes at=.",
        ),
    ] = None,
) -> Any:
    out_format = output_format(format, request.headers.get("accept"))
    generation, index = await run_in_threadpool(boundaries.index, at)
    by_date = await run_in_threadpool(dated_lookup, boundaries, date_col, at) if date_col else None
    media = media_type(request)
    if media == "application/json":
        payload = _parse_points(await request.body())
        return await run_in_threadpool(
            _points_answer, index, generation, payload, crs, out_format, settings, by_date
        )
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
        # A JSON answer is written as its records, then sent inside its head and tail.
        json_answer = out_format == "json"
        target = (
            Path(workdir) / "output.records" if json_answer else spool_path(workdir, out_format, "output")
        )
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
            output_format=RECORDS if json_answer else None,
            by_date=by_date,
        )
        if json_answer:
            return _file_json_answer(target, generation, summary, workdir)
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
    index: Any,
    generation: Any,
    payload: BatchLookupRequest,
    crs: str | None,
    out_format: str,
    settings: Any,
    by_date: DatedLookup | None = None,
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
    if by_date is not None:
        dates = [p.date for p in payload.points]
        table = dated_points(by_date, [p.id for p in payload.points], x, y, dates, crs or payload.crs)
        frame = table.to_pandas().assign(id=[p.id for p in payload.points])
        return (
            _json_answer(frame, generation)
            if out_format == "json"
            else _frame_response(frame, out_format, generation)
        )
    import pandas as pd  # here: 0.2-0.4 s of every siji serve start otherwise

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


def _file_json_answer(target: Path, generation: Any, summary: Any, workdir: str | Path) -> StreamingResponse:
    """The JSON answer around the records the lookup wrote to ``target`` (see
    :class:`batch.json_records.RecordsSink`), streamed from the file: memory holds one
    piece, whatever the upload's size.  ``workdir`` goes once it is sent."""
    head = {
        "generation": generation_ref(generation),
        "count": summary.rows,
        "counts_by_status": {k: v for k, v in summary.counts_by_status.items() if v},
    }
    return StreamingResponse(
        iter_records_file(head, target),
        media_type="application/json",
        headers={"X-Siji-Generation": str(generation.id), "X-Siji-Rows": str(summary.rows)},
        background=BackgroundTask(shutil.rmtree, workdir, ignore_errors=True),
    )


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
