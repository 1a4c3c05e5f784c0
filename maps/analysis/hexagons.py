"""H3 hexagons of an area, and which hexagons neighbour which.

A hot-spot analysis on hexagons needs every hexagon of the area, with no reports or
many: a hexagon whose neighbours were left out because they had no reports has no
neighbourhood to compare and can never be significant.  :func:`hexagons_of` lists the
cells of an area (h3's rule: a cell belongs to the area when its centre does), and
:func:`hex_weights` makes contiguity weights from H3's own grid (two cells neighbour
when they share an edge: six neighbours, five around the twelve pentagons), with no
geometry test.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import shapely

from geo.errors import InvalidInputError

__all__ = ["MAX_HEXAGONS", "hex_weights", "hexagons_of"]

MAX_HEXAGONS = 40_000
"""Most hexagons an area may have (the whole city at resolution 8 has about 14,400; at 9, 101,000)."""


def hexagons_of(area: Any, resolution: int) -> list[str]:
    """The H3 cells of ``area`` at ``resolution``, sorted.

    Parameters
    ----------
    area : shapely geometry, GeoSeries or GeoDataFrame
        Polygons; a GeoSeries or GeoDataFrame is taken in its CRS and converted to
        WGS84, a bare geometry must already be WGS84 longitude/latitude.
    resolution : int
        H3 resolution 0..15.

    Raises
    ------
    InvalidInputError
        No polygon in ``area``, or more than :data:`MAX_HEXAGONS` cells (the message
        names the resolution that fits).

    Examples
    --------
    >>> import shapely
    >>> cells = hexagons_of(shapely.box(117.10, 36.18, 117.14, 36.21), 8)
    >>> len(cells) > 10, cells == sorted(cells)
    (True, True)
    """
    import h3

    shape = _area_shape(area)
    expected = _expected_cells(shape, resolution)
    if expected > MAX_HEXAGONS:
        fits = next(
            (r for r in range(resolution - 1, -1, -1) if _expected_cells(shape, r) <= MAX_HEXAGONS), 0
        )
        raise InvalidInputError(
            f"H3 resolution {resolution} gives about {expected:,} hexagons over the area; allowed: at most "
            f"{MAX_HEXAGONS:,} (use resolution {fits} or lower, or a smaller area)",
            field="hex_resolution",
            value=resolution,
        )
    return sorted(h3.geo_to_cells(shape, resolution))


def hex_weights(cells: Iterable[str]) -> Any:
    """Contiguity weights of H3 cells, positionally aligned with ``cells`` (a libpysal W).

    Two cells are neighbours when H3 puts them one step apart (they share an edge);
    cells of other resolutions or outside the list are not neighbours.

    Examples
    --------
    >>> import h3
    >>> centre = h3.latlng_to_cell(36.2, 117.1, 8)
    >>> w = hex_weights(sorted(h3.grid_disk(centre, 1)))
    >>> sorted(w.cardinalities.values())
    [3, 3, 3, 3, 3, 3, 6]
    """
    import h3
    from libpysal.weights import WSP
    from scipy import sparse

    order = list(cells)
    position = {cell: i for i, cell in enumerate(order)}
    rows: list[int] = []
    columns: list[int] = []
    for i, cell in enumerate(order):
        for other in h3.grid_ring(cell, 1):  # the cells one step away, in C: no vectorized form
            j = position.get(other)
            if j is not None:
                rows.append(i)
                columns.append(j)
    matrix = sparse.csr_matrix(
        (np.ones(len(rows)), (np.asarray(rows, dtype=np.int64), np.asarray(columns, dtype=np.int64))),
        shape=(len(order), len(order)),
    )
    return WSP(matrix).to_W(silence_warnings=True)


def _area_shape(area: Any) -> Any:
    """The area as one WGS84 (Multi)Polygon."""
    geometry = getattr(area, "geometry", None)
    if geometry is not None and hasattr(geometry, "to_crs"):
        if geometry.crs is None:
            raise InvalidInputError(
                "area has no CRS; allowed: polygons with a CRS (e.g. area.set_crs(4326))", field="area"
            )
        values = np.asarray(geometry.to_crs(4326).to_numpy(), dtype=object)
    else:
        values = np.asarray([area], dtype=object)
    polygonal = values[np.isin(shapely.get_type_id(values), (3, 6)) & ~shapely.is_empty(values)]
    if not len(polygonal):
        raise InvalidInputError("area has no polygon; allowed: Polygon or MultiPolygon areas", field="area")
    return shapely.union_all(polygonal) if len(polygonal) > 1 else polygonal[0]


def _expected_cells(shape: Any, resolution: int) -> int:
    """About how many cells of ``resolution`` the area holds (its area over a cell's near its centre)."""
    import h3
    from pyproj import Geod

    area_m2 = abs(Geod(ellps="WGS84").geometry_area_perimeter(shape)[0])
    centre = shape.representative_point()
    cell_m2 = h3.cell_area(h3.latlng_to_cell(centre.y, centre.x, resolution), unit="m^2")
    return round(area_m2 / cell_m2)
