"""Schemas of the green-space register endpoint."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

KindKey = Literal["park", "pocket_park", "square"]


class ParkOut(BaseModel):
    """A green space of the register (its geometry in the GeoJSON answer)."""

    id: int
    code: str | None = Field(description="Its identifier in its source, if the source has one.")
    name: str
    kind: KindKey
    kind_zh: str = Field(description="公园, 口袋公园 or 广场.")
    geometry_type: Literal["Point", "Polygon", "MultiPolygon"]
    area_m2: float | None = Field(description="Measured for polygons; for points from the source or unknown.")
    opened_on: dt.date | None = Field(description="Opening date; a future date is a planned green space.")
    source: str = Field(description="The file or register it was imported from.")
    lon: float = Field(description="A point on the green space (WGS84): the point, or one in the polygon.")
    lat: float


class ParkList(BaseModel):
    total: int = Field(description="Green spaces matching the filters (the answer holds one page).")
    limit: int
    offset: int
    parks: list[ParkOut]
