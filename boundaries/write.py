"""Write boundary frames to GeoJSON, GeoPackage, Shapefile or GeoParquet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from boundaries.read import FORMATS
from geo.errors import InvalidInputError
from geo.levels import get_level

if TYPE_CHECKING:
    import geopandas as gpd


def write_frame(frame: gpd.GeoDataFrame, path: str | Path) -> None:
    """Write a frame, the format chosen by the extension."""
    import pyogrio

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS or suffix == ".zip":
        allowed = sorted(s for s in FORMATS if s != ".zip")
        raise InvalidInputError(
            f"cannot write {path.name!r}: unknown format {suffix!r}; allowed: {', '.join(allowed)}",
            path=str(path),
        )
    if FORMATS[suffix] == "GeoParquet":
        frame.to_parquet(path, compression="zstd")
    else:
        pyogrio.write_dataframe(frame, path, driver={"GeoJSON": "GeoJSON"}.get(FORMATS[suffix]))


def export_level(frame: gpd.GeoDataFrame, level: str, path: str | Path) -> int:
    """Write the units of one level with ``code, name, parent_code``; return how many."""
    key = get_level(level).key
    chosen = frame.loc[frame["level"] == key, ["code", "name", "parent_code", frame.geometry.name]]
    write_frame(chosen, path)
    return len(chosen)
