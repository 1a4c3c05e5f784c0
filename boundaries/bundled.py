"""The bundled Tai'an boundary set and the bridge from a boundary frame to the index."""

from __future__ import annotations

from importlib.resources import as_file, files
from typing import TYPE_CHECKING

from geo.index import DEFAULT_SNAP_DISTANCE_M, JurisdictionIndex

if TYPE_CHECKING:
    import geopandas as gpd

TAIAN_RESOURCE = "taian_2023.parquet"
TAIAN_NAME = "taian-2023"
TAIAN_VALID_FROM = "2023-01-01"


def load_taian() -> gpd.GeoDataFrame:
    """The bundled Tai'an set: real city and district outlines (Tianditu), real NBS 2023
    codes and names, synthetic polygons below district level (``synthetic`` column).

    Examples
    --------
    >>> frame = load_taian()
    >>> frame["level"].value_counts().to_dict()["community"]
    3782
    """
    import geopandas as gpd

    with as_file(files("boundaries.taian") / "data" / TAIAN_RESOURCE) as path:
        return gpd.read_parquet(path)


def index_from_frame(
    frame: gpd.GeoDataFrame, snap_distance_m: float = DEFAULT_SNAP_DISTANCE_M
) -> JurisdictionIndex:
    """Build the lookup index from a normalized boundary frame (EPSG:4326)."""
    from geo.errors import CRSMismatchError

    if frame.crs is not None and frame.crs.to_epsg() not in (4326, 4490):
        raise CRSMismatchError(
            f"the boundary frame is in {frame.crs.to_string()} but the index needs EPSG:4326; "
            "reproject it with frame.to_crs(4326)",
            frame_crs=frame.crs.to_string(),
            expected_crs="EPSG:4326",
        )
    return JurisdictionIndex.from_arrays(
        frame["code"].to_numpy(),
        frame["name"].to_numpy(),
        frame["level"].to_numpy(),
        frame["parent_code"].to_numpy(),
        frame.geometry.values,
        snap_distance_m=snap_distance_m,
    )
