"""The options of each map, declared once.

``GET /maps/density|hotspots|pocket-parks`` takes them as query parameters (FastAPI
reads a model as its query) and ``siji maps density|hotspots|pocket-parks`` as flags
made from the same fields (:func:`siji.maps_cli.flag`), so the two cannot drift apart
in names, defaults, bounds, choices or help; :meth:`MapOptions.analysis_kwargs` hands
them to :mod:`maps.build`.

Examples
--------
>>> DensityOptions(categories=["S-01-01,S-02-01"], channels=[" "]).analysis_kwargs()["categories"]
['S-01-01', 'S-02-01']
>>> HotspotOptions().key()
('hotspots', 'community', 8, None, 'fdr', False)
>>> PocketParkOptions(radius_m=5000)
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for PocketParkOptions
radius_m
  Input should be less than or equal to 2000 [type=less_than_equal, input_value=5000, input_type=int]
...
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

__all__ = ["DensityOptions", "HotspotOptions", "MapOptions", "PocketParkOptions"]

Level = Literal["community", "subdistrict", "district"]
Metric = Literal["count", "per_km2", "per_1000"]
Areas = Literal["community", "hex"]
Correction = Literal["fdr", "none"]

_Value = Annotated[str, StringConstraints(max_length=400)]
_LIST_HELP = " Repeat it or separate values with commas."


class MapOptions(BaseModel):
    """What every map's options can do: be a cache key and be handed to the analysis."""

    model_config = ConfigDict(frozen=True)
    kind: ClassVar[str]

    def analysis_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the map's analysis in :mod:`maps.build`."""
        return {name: getattr(self, name) for name in type(self).model_fields}

    def key(self) -> tuple[Any, ...]:
        """A hashable key of the map these options draw (cached pages are keyed by it)."""
        values = (getattr(self, name) for name in type(self).model_fields)
        return (self.kind, *(tuple(v) if isinstance(v, list) else v for v in values))


class DensityOptions(MapOptions):
    """Report density per unit: choropleth, heat map and H3 hexagons."""

    kind: ClassVar[str] = "density"
    level: Level = Field("community", description="Units of the choropleth.")
    metric: Metric = Field(
        "count", description="What the choropleth colours: count, per_km2, or per_1000 (needs population)."
    )
    hex_resolution: int = Field(8, ge=4, le=10, description="H3 resolution of the hexagons.")
    categories: list[_Value] | None = Field(None, description="Only these category codes." + _LIST_HELP)
    start: dt.date | None = Field(None, description="First day (China Standard Time).")
    end: dt.date | None = Field(None, description="Day after the last (exclusive).")
    channels: list[_Value] | None = Field(None, description="Only these channels." + _LIST_HELP)
    states: list[_Value] | None = Field(None, description="Only these states." + _LIST_HELP)

    @field_validator("categories", "channels", "states", mode="after")
    @classmethod
    def _split(cls, raw: list[str] | None) -> list[str] | None:
        """``a,b`` and repeated values alike; nothing left is no filter (None)."""
        if raw is None:
            return None
        return [part.strip() for item in raw for part in item.split(",") if part.strip()] or None


class HotspotOptions(MapOptions):
    """Getis-Ord Gi* hot and cold spots (and local Moran clusters)."""

    kind: ClassVar[str] = "hotspots"
    on: Areas = Field("community", description="The areas tested: communities or H3 hexagons (hex).")
    hex_resolution: int = Field(8, ge=4, le=10, description="H3 resolution of the hexagons when on=hex.")
    permutations: int | None = Field(
        None,
        ge=99,
        le=999_999,
        description="Conditional permutations of the pseudo p-values (default 99,999: a correction over "
        "thousands of areas needs p-values far below 1/1,000).",
    )
    correction: Correction = Field(
        "fdr",
        description="fdr (default): significance after the Benjamini–Hochberg false discovery rate over "
        "every area tested; none: each area tested on its own (uncorrected).",
    )
    local_moran: bool = Field(False, description="Also compute local Moran's I (a second layer).")


class PocketParkOptions(MapOptions):
    """Pocket-park sites (MCLP) for the green-space demand the register leaves unmet."""

    kind: ClassVar[str] = "pocket-parks"
    radius_m: float = Field(
        300.0, ge=50, le=2000, description="Service radius in metres: 300 (300米见绿) or 500 (500米见园)."
    )
    p: int = Field(5, ge=1, le=50, description="How many sites to choose.")
