"""The bundled Tai'an boundary set and the bridge from a boundary frame to the index.

:func:`checked_index` is the bridge every generation crosses before it answers: the
index is built, then every unit of the finest level is looked up at a point inside it
and must answer for that point (a set that validates but that the index would answer
wrongly never goes live).
"""

from __future__ import annotations

from importlib.resources import as_file, files
from typing import TYPE_CHECKING

import numpy as np

from geo.errors import BoundaryDataError
from geo.index import BOUNDARY, DEFAULT_SNAP_DISTANCE_M, STATUSES, JurisdictionIndex

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
    from geo.crs import require_lonlat_frame

    require_lonlat_frame(frame.crs)
    return JurisdictionIndex.from_arrays(
        frame["code"].to_numpy(),
        frame["name"].to_numpy(),
        frame["level"].to_numpy(),
        frame["parent_code"].to_numpy(),
        frame.geometry.values,
        snap_distance_m=snap_distance_m,
    )


class IndexCheckError(BoundaryDataError):
    """A built index that does not answer for its own units."""

    code = "index_check_failed"


def checked_index(
    frame: gpd.GeoDataFrame, snap_distance_m: float = DEFAULT_SNAP_DISTANCE_M
) -> JurisdictionIndex:
    """Build the index of a frame and check it (see :func:`check_index`).

    Raises
    ------
    BoundaryDataError
        The index cannot be built from the frame.
    IndexCheckError
        It was built but does not answer for its own units.
    """
    index = index_from_frame(frame, snap_distance_m=snap_distance_m)
    check_index(index)
    return index


def check_index(index: JurisdictionIndex) -> None:
    """Look up a point inside every unit of its branch's finest level (a
    ``point_on_surface``, never a centroid) and require that unit in the answer: alone
    (``ok``) or among the candidates of a shared edge or an accepted overlap.

    Examples
    --------
    >>> from shapely import box
    >>> index = JurisdictionIndex.from_arrays(
    ...     ["C", "A", "B"], ["c", "a", "b"], ["city", "district", "district"], [None, "C", "C"],
    ...     [box(0, 0, 2, 1), box(0, 0, 1, 1), box(1, 0, 2, 1)])
    >>> check_index(index)
    """
    import shapely

    units = index.units
    leaves = np.flatnonzero(~units.has_children)
    points = shapely.point_on_surface(np.asarray(index.geometries, dtype=object)[leaves])
    result = index.lookup(shapely.get_x(points), shapely.get_y(points))
    answered = result.unit_rows[np.arange(len(leaves)), units.ranks[leaves]]
    wrong = []
    for k in np.flatnonzero(answered != leaves):
        status = int(result.status[k])
        if status == BOUNDARY and leaves[k] in result.candidates(int(k)):
            continue
        wrong.append(int(k))
    if wrong:
        shown = "; ".join(
            f"a point inside {units.codes[leaves[k]]} ({points[k].x:.6f}, {points[k].y:.6f}) answered "
            f"{STATUSES[int(result.status[k])]} with "
            f"{units.codes[answered[k]] if answered[k] >= 0 else 'no unit'}"
            for k in wrong[:5]
        )
        raise IndexCheckError(
            f"the index answers wrongly for {len(wrong):,} of {len(leaves):,} units: {shown}",
            codes=[str(units.codes[leaves[k]]) for k in wrong[:100]],
        )
