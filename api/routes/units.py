"""Units of a boundary generation: search, detail, children, GeoJSON."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import shapely
from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pyproj import Geod

from api.deps import BoundariesDep
from api.schemas.common import ERROR_RESPONSES, JSON_ERROR_RESPONSES
from api.schemas.units import (
    GenerationList,
    GenerationOut,
    LineageLink,
    Period,
    UnitDetail,
    UnitFeature,
    UnitList,
    UnitSummary,
)
from boundaries.codes import ALLOWED, as_given, short_code
from boundaries.service import BoundaryService, generation_ref
from geo.errors import UnknownUnitError
from store import units as unit_store
from store.generations import GenerationInfo, list_generations
from store.lineage import explain_absence, lineage

router = APIRouter(prefix="/v1", tags=["units"])
_GEOD = Geod(ellps="WGS84")  # geodesic areas: exact on the ellipsoid, no projection needed

AtQuery = Annotated[dt.date | None, Query(description="Use the boundaries valid on this date (YYYY-MM-DD).")]
CodePath = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$")]


class GeoJSONResponse(JSONResponse):
    """JSON with the GeoJSON media type (RFC 7946)."""

    media_type = "application/geo+json"


def _summary(row: unit_store.UnitRow) -> UnitSummary:
    return UnitSummary(
        code=row.code,
        name=row.name,
        level=row.level,  # type: ignore[arg-type]
        parent_code=row.parent_code,
        short_code=short_code(row.code),
    )


@router.get("/units", response_model=UnitList, responses=ERROR_RESPONSES, summary="Search units")
def search_units(
    boundaries: BoundariesDep,
    level: Annotated[str | None, Query(description="city, district, subdistrict or community.")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Name prefix, e.g. 泰山.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    at: AtQuery = None,
) -> UnitList:
    generation = boundaries.generation(at)
    total, rows = unit_store.find_units(
        boundaries.engine, generation.id, level=level, name_prefix=q, limit=limit, offset=offset
    )
    return UnitList(
        generation=generation_ref(generation),  # type: ignore[arg-type]
        total=total,
        limit=limit,
        offset=offset,
        units=[_summary(r) for r in rows],
    )


@router.get(
    "/units/{code}.geojson",
    response_model=UnitFeature,
    response_class=GeoJSONResponse,
    responses=JSON_ERROR_RESPONSES,
    summary="A unit as a GeoJSON Feature",
)
def unit_geojson(
    boundaries: BoundariesDep,
    code: CodePath,
    simplify: Annotated[float, Query(ge=0, le=0.1, description="Simplify tolerance in degrees.")] = 0.0,
    at: AtQuery = None,
) -> JSONResponse:
    generation = boundaries.generation(at)
    row = _unit(boundaries, generation, code, at)
    geometry = _geometry(boundaries, generation.id, row.code, simplify)
    feature = {
        "type": "Feature",
        "id": row.code,
        "properties": _summary(row).model_dump(),
        "geometry": geometry,
    }
    return GeoJSONResponse(feature)


@router.get("/units/{code}", response_model=UnitDetail, responses=ERROR_RESPONSES, summary="One unit")
def unit_detail(
    boundaries: BoundariesDep,
    code: CodePath,
    geometry: Annotated[bool, Query(description="Include the GeoJSON geometry.")] = False,
    simplify: Annotated[float, Query(ge=0, le=0.1, description="Simplify tolerance in degrees.")] = 0.0,
    at: AtQuery = None,
) -> UnitDetail:
    generation = boundaries.generation(at)
    engine = boundaries.engine
    row = _unit(boundaries, generation, code, at)
    code = row.code
    polygon = unit_store.unit_geometry(engine, generation.id, code)
    return UnitDetail(
        **_summary(row).model_dump(),
        generation=generation_ref(generation),  # type: ignore[arg-type]
        parents=[_summary(p) for p in unit_store.parent_chain(engine, generation.id, row)],
        children_count=unit_store.children_count(engine, generation.id, code),
        synthetic=bool(row.properties.get("synthetic", False)),
        area_km2=round(abs(_GEOD.geometry_area_perimeter(polygon)[0]) / 1e6, 4),
        lineage=[LineageLink(**link) for link in lineage(engine, code)],
        geometry=_geometry(boundaries, generation.id, code, simplify) if geometry else None,
    )


@router.get(
    "/units/{code}/children", response_model=UnitList, responses=ERROR_RESPONSES, summary="Direct children"
)
def unit_children(boundaries: BoundariesDep, code: CodePath, at: AtQuery = None) -> UnitList:
    generation = boundaries.generation(at)
    code = _unit(boundaries, generation, code, at).code
    rows = unit_store.children(boundaries.engine, generation.id, code)
    return UnitList(
        generation=generation_ref(generation),  # type: ignore[arg-type]
        total=len(rows),
        limit=len(rows),
        offset=0,
        units=[_summary(r) for r in rows],
    )


@router.get("/generations", response_model=GenerationList, summary="Boundary generations, oldest first")
def generations(boundaries: BoundariesDep) -> GenerationList:
    return GenerationList(
        generations=[
            GenerationOut(
                id=g.id,
                name=g.name,
                valid_from=g.valid_from,
                valid_to=g.valid_to,
                source=g.source,
                unit_count=g.unit_count,
                active=g.active,
                withdrawn_from=g.withdrawn_from,
                periods=[Period(valid_from=p.start, valid_to=p.end) for p in g.periods],
            )
            for g in list_generations(boundaries.engine)
        ]
    )


def _unit(
    boundaries: BoundaryService, generation: GenerationInfo, code: str, at: dt.date | None
) -> unit_store.UnitRow:
    """The unit of a 12-digit or short code (:mod:`boundaries.codes`), or a 404 that says
    where a code of another generation is and leads."""
    full = boundaries.full_code(code, generation)
    try:
        return unit_store.get_unit(boundaries.engine, generation.id, full)
    except UnknownUnitError as exc:
        raise absent_unit_error(boundaries, generation, full, at, given=code) from exc


def absent_unit_error(
    boundaries: BoundaryService,
    generation: GenerationInfo,
    code: str,
    at: dt.date | None,
    *,
    given: str | None = None,
) -> UnknownUnitError:
    """The 404 of a code not in ``generation``: the generations it is in, the units that
    continue it in ``generation``, and the ``at=`` to ask with for the code itself.
    ``given``: the short code the caller wrote, when ``code`` is its 12-digit form."""
    where = f"boundary generation {generation.id} {generation.name!r} (valid from {generation.valid_from})"
    shown = as_given(given or code, code)
    absence = explain_absence(boundaries.engine, code, at or dt.date.today())
    if absence is None:
        return UnknownUnitError(
            f"unit code {shown} is not in {where}, nor in any other generation; allowed: {ALLOWED}",
            code=code,
            generation=generation_ref(generation),
        )
    spans = "; ".join(
        f"generation {g.id} {g.name!r} "
        + ", ".join(f"{p.start} to {p.end - dt.timedelta(days=1) if p.end else 'today'}" for p in g.periods)
        for g in absence.valid_in
    )
    if absence.successors:
        shown = ", ".join(
            f"{s.code} {s.name} ({s.kind}" + (f", {s.share:.0%} of its area)" if s.share is not None else ")")
            for s in absence.successors
        )
        leads = f"in generation {generation.id} it continues as {shown}"
    elif absence.at > (at or dt.date.today()):
        leads = "it is not valid yet"
    else:
        leads = "no unit of this generation continues it"
    return UnknownUnitError(
        f"unit code {shown} is not in {where}; it is in {spans}: ask with at={absence.at} for the unit "
        f"itself; {leads}",
        code=code,
        generation=generation_ref(generation),
        valid_in=[
            {
                **generation_ref(g),
                "periods": [[str(p.start), None if p.end is None else str(p.end)] for p in g.periods],
            }
            for g in absence.valid_in
        ],
        successors=[
            {"code": s.code, "name": s.name, "level": s.level, "kind": s.kind, "share": s.share}
            for s in absence.successors
        ],
        at=str(absence.at),
    )


def _geometry(boundaries: Any, generation_id: int, code: str, simplify: float) -> dict[str, Any]:
    polygon = unit_store.unit_geometry(boundaries.engine, generation_id, code)
    if simplify > 0:
        polygon = shapely.simplify(polygon, simplify, preserve_topology=True)
    return shapely.geometry.mapping(polygon)
