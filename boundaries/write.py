"""Write boundary frames to GeoJSON, GeoPackage, Shapefile or GeoParquet.

What :func:`export_level` writes, ``siji boundaries import`` reads back unchanged:
``code, name, level, parent_code`` and the polygons (a shapefile keeps
``parent_code`` as ``parent_cod``, which the reader finds; see
``boundaries.read.require_fields``).
"""

from __future__ import annotations

import warnings
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
        return
    with warnings.catch_warnings():
        # GDAL's note that a DBF cuts field names to 10 characters: expected, and read back.
        warnings.filterwarnings("ignore", message="Normalized/laundered field name", category=RuntimeWarning)
        pyogrio.write_dataframe(frame, path, driver={"GeoJSON": "GeoJSON"}.get(FORMATS[suffix]))


ALL_LEVELS = "all"


def export_level(frame: gpd.GeoDataFrame, level: str, path: str | Path) -> int:
    """Write the units of one level with ``code, name, parent_code`` (or, for ``all``,
    every unit with ``code, name, level, parent_code``); return how many."""
    if str(level).strip().lower() == ALL_LEVELS:
        chosen = frame[["code", "name", "level", "parent_code", frame.geometry.name]]
    else:
        key = get_level(level).key
        chosen = frame.loc[frame["level"] == key, ["code", "name", "parent_code", frame.geometry.name]]
    write_frame(chosen, path)
    return len(chosen)
