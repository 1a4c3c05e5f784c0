"""Fixtures for the batch tests: a tiny Tai'an-like index and one dataset in every format."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import box

from geo.index import JurisdictionIndex

# Two districts side by side (split at lon 117.1), one subdistrict and community each.
UNITS = [
    ("3709", "泰安市", "city", None, box(117.0, 36.0, 117.2, 36.2)),
    ("370902", "泰山区", "district", "3709", box(117.0, 36.0, 117.1, 36.2)),
    ("370911", "岱岳区", "district", "3709", box(117.1, 36.0, 117.2, 36.2)),
    ("370902001", "财源街道", "subdistrict", "370902", box(117.0, 36.0, 117.1, 36.2)),
    ("370911001", "粥店街道", "subdistrict", "370911", box(117.1, 36.0, 117.2, 36.2)),
    ("370902001001", "东岳社区", "community", "370902001", box(117.0, 36.0, 117.1, 36.2)),
    ("370911001001", "粥店社区", "community", "370911001", box(117.1, 36.0, 117.2, 36.2)),
]

# id, name, lon text, lat text, input geometry (spatial formats), expected status.
ROWS = [
    ("007", "泰山 west", "117.05", "36.1", shapely.Point(117.05, 36.1), "ok"),
    ("008", "岱岳 east", "117.15", "36.1", shapely.Point(117.15, 36.1), "ok"),
    ("009", "on the edge", "117.1", "36.1", shapely.Point(117.1, 36.1), "boundary"),
    ("010", "just outside", "117.2003", "36.1", shapely.Point(117.2003, 36.1), "snapped"),
    ("011", "far away", "118.5", "36.5", shapely.Point(118.5, 36.5), "outside"),
    ("012", "text lon", "abc", "36.1", None, "invalid"),
    ("013", "blank lon", "", "36.1", shapely.Point(), "invalid"),
    ("014", "lat 95", "117.05", "95", shapely.box(117.0, 36.0, 117.01, 36.01), "invalid"),
    ("015", "swapped", "36.1", "117.05", shapely.Point(36.1, 117.05), "invalid"),
]
STATUSES = [row[-1] for row in ROWS]
INPUT_CRS = "EPSG:4490"  # CGCS2000: must survive into spatial outputs
FORMAT_EXT = {"csv": ".csv", "geojson": ".geojson", "gpkg": ".gpkg", "parquet": ".parquet"}


@pytest.fixture(scope="session")
def index() -> JurisdictionIndex:
    codes, names, levels, parents, geoms = zip(*UNITS, strict=True)
    return JurisdictionIndex.from_arrays(codes, names, levels, parents, geoms)


def attributes() -> pd.DataFrame:
    """The attribute columns shared by every input format (all text, like a CSV)."""
    return pd.DataFrame(
        {
            "id": [r[0] for r in ROWS],
            "name": [r[1] for r in ROWS],
            "lon": [r[2] for r in ROWS],
            "lat": [r[3] for r in ROWS],
        },
        dtype=object,
    )


def spatial_frame() -> gpd.GeoDataFrame:
    frame = attributes()
    frame["n"] = np.arange(len(ROWS), dtype=np.int64)
    return gpd.GeoDataFrame(frame, geometry=[r[4] for r in ROWS], crs=INPUT_CRS)


def write_input(folder: Path, fmt: str, stem: str = "input") -> Path:
    """Write the test dataset as ``fmt``; CSV carries x/y columns, the others a geometry too."""
    path = folder / f"{stem}{FORMAT_EXT[fmt]}"
    if fmt == "csv":
        attributes().to_csv(path, index=False)
    elif fmt == "parquet":
        spatial_frame().to_parquet(path)
    else:
        spatial_frame().to_file(path, driver="GPKG" if fmt == "gpkg" else "GeoJSON")
    return path


def read_output(path: Path) -> pd.DataFrame:
    """Read any output back (CSV as text, so "007" can be checked as "007")."""
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    if path.suffix == ".parquet":
        return gpd.read_parquet(path)
    return gpd.read_file(path)
