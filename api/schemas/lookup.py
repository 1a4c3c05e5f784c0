"""Schemas of the lookup endpoints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import GenerationRef, UnitRef

Status = Literal["ok", "boundary", "gap", "snapped", "outside", "invalid"]


class Candidate(UnitRef):
    level: Literal["city", "district", "subdistrict", "community"]


class LookupResponse(BaseModel):
    """Who owns one point.  A level with no unit is null."""

    city: UnitRef | None
    district: UnitRef | None
    subdistrict: UnitRef | None
    community: UnitRef | None
    status: Status
    candidates: list[Candidate] | None = Field(
        default=None, description="All units covering a point on a shared edge or vertex, in code order."
    )
    distance_m: float | None = Field(default=None, description="Distance to the snapped unit, metres.")
    generation: GenerationRef


class PointIn(BaseModel):
    id: str | int | None = Field(default=None, description="Your identifier, echoed back.")
    lon: float = Field(description="Longitude (x in a projected CRS).")
    lat: float = Field(description="Latitude (y in a projected CRS).")
    date: str | None = Field(
        default=None,
        max_length=40,
        description="The point's date (YYYY-MM-DD), read with date_col=date: the point is answered by the "
        "generation valid then.",
    )


class BatchLookupRequest(BaseModel):
    crs: str = Field(
        default="wgs84", max_length=64, description="wgs84, cgcs2000, gcj02, bd09 or EPSG:<code>."
    )
    points: list[PointIn] = Field(min_length=1)


ADDED_COLUMNS_DOC = (
    "city_code, city_name, district_code, district_name, subdistrict_code, subdistrict_name, "
    "community_code, community_name, status, distance_m, candidates, error"
)


class BatchLookupResponse(BaseModel):
    generation: GenerationRef
    count: int
    counts_by_status: dict[str, int]
    results: list[dict[str, Any]] = Field(
        description="One object per input row, in input order: the row's own columns (id, lon, lat for "
        "JSON points; every column of an uploaded file) plus " + ADDED_COLUMNS_DOC + "."
    )
