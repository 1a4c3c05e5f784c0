"""The green-space register over HTTP: existing parks, pocket parks and squares, listed and exported.

The register is reference geography, like the boundaries: public, with no personal
data.  It is imported with ``siji parks import`` and used by ``/maps/pocket-parks``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.deps import BoundariesDep
from api.schemas.common import ERROR_RESPONSES, json_error
from api.schemas.parks import ParkList, ParkOut

router = APIRouter(prefix="/v1", tags=["parks"])

MAX_PAGE = 10_000
PARK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ParkList"}},
            "application/geo+json": {"schema": {"type": "object", "description": "A FeatureCollection."}},
            "text/csv": {"schema": {"type": "string"}},
        },
        "description": "A page of the register: JSON, GeoJSON (with geometries) or CSV (one point per row).",
    },
    400: ERROR_RESPONSES[400],
    422: json_error("Invalid parameter (e.g. an unknown kind), naming it and what is allowed."),
}


@router.get(
    "/parks",
    response_model=ParkList,
    responses=PARK_RESPONSES,
    summary="The green-space register: existing parks, pocket parks and squares",
)
async def list_parks(
    boundaries: BoundariesDep,
    kind: Annotated[
        list[str] | None,
        Query(max_length=10, description="Only these kinds: park, pocket_park, square (or 公园 ...)."),
    ] = None,
    q: Annotated[str | None, Query(max_length=100, description="Name prefix, e.g. 泰山.")] = None,
    source: Annotated[str | None, Query(max_length=200, description="Only this source.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    format: Annotated[
        Literal["json", "geojson", "csv"],
        Query(description="json (a page of records), geojson (with geometries) or csv (UTF-8 with a BOM)."),
    ] = "json",
) -> Response | ParkList:
    from greenspace.kinds import get_kind
    from greenspace.write import register_csv, register_geojson, register_records
    from store.greenspace import load_green_spaces

    kinds = None if kind is None else [get_kind(value).key for value in kind]

    def read() -> Any:
        return load_green_spaces(
            boundaries.engine, kinds=kinds, name_prefix=q, source=source, limit=limit, offset=offset
        )

    total, frame = await run_in_threadpool(read)
    headers = {"X-Total-Count": str(total)}
    if format == "geojson":
        document = {**register_geojson(frame), "total": total, "limit": limit, "offset": offset}
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        return Response(body, media_type="application/geo+json", headers=headers)
    if format == "csv":
        headers["Content-Disposition"] = 'attachment; filename="parks.csv"'
        return Response(register_csv(frame), media_type="text/csv; charset=utf-8", headers=headers)
    parks = [ParkOut(**record) for record in register_records(frame)]
    return ParkList(total=total, limit=limit, offset=offset, parks=parks)
