"""Schemas of the lookup endpoints."""

from __future__ import annotations

from typing import Literal

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


class BatchLookupRequest(BaseModel):
    crs: str = Field(
        default="wgs84", max_length=64, description="wgs84, cgcs2000, gcj02, bd09 or EPSG:<code>."
    )
    points: list[PointIn] = Field(min_length=1)


class BatchRow(BaseModel):
    """One row of a bulk answer: the same columns as ``siji lookup-batch``."""

    id: str | int | None = None
    lon: float | None
    lat: float | None
    city_code: str | None
    city_name: str | None
    district_code: str | None
    district_name: str | None
    subdistrict_code: str | None
    subdistrict_name: str | None
    community_code: str | None
    community_name: str | None
    status: Status
    distance_m: float | None
    candidates: str | None
    error: str | None


class BatchLookupResponse(BaseModel):
    generation: GenerationRef
    count: int
    counts_by_status: dict[str, int]
    results: list[BatchRow]
