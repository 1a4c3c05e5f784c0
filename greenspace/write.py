"""Write the register back out: GeoJSON, GeoPackage, Shapefile, GeoParquet, CSV, or records.

The fields are named as :func:`greenspace.read.read_green_spaces` reads them by default
(``code, name, kind, opened, area_m2``, plus ``id`` and ``source``), so an export imports
again unchanged.  A CSV holds one point per green space (a point on a polygon's
surface) with its ``geometry_type``; polygons travel in the other formats.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from geo.errors import InvalidInputError

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["export_table", "register_csv", "register_geojson", "register_records", "write_register"]


def export_table(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The register as written: ``id, code, name, kind, opened, area_m2, source`` and the geometry.

    ``frame`` is :func:`store.greenspace.load_green_spaces`' frame; dates become ISO text.
    """
    table = frame[["id", "code", "name", "kind", "opened_on", "area_m2", "source", frame.geometry.name]]
    table = table.rename(columns={"opened_on": "opened"})
    table["opened"] = table["opened"].map(lambda d: d.isoformat() if isinstance(d, dt.date) else None)
    return table


def write_register(frame: gpd.GeoDataFrame, path: str | Path) -> None:
    """Write the register to ``path``, the format chosen by its extension.

    Raises
    ------
    InvalidInputError
        An unknown extension, or a Shapefile for a register of points and polygons.
    """
    from boundaries.write import write_frame

    path = Path(path)
    table = export_table(frame)
    if path.suffix.lower() == ".csv":
        path.write_bytes(register_csv(frame))
        return
    families = {"point" if kind == "Point" else "polygon" for kind in table.geom_type}
    if path.suffix.lower() == ".shp" and len(families) > 1:
        raise InvalidInputError(
            f"cannot write {path.name!r}: a Shapefile holds one geometry type and this register has "
            "points and polygons; write a GeoPackage or GeoJSON, or export one kind",
            path=str(path),
        )
    write_frame(table, path)


def register_csv(frame: gpd.GeoDataFrame) -> bytes:
    """The register as UTF-8 CSV with a BOM: the fields, ``lon, lat`` and ``geometry_type``.

    Examples
    --------
    >>> import geopandas as gpd, shapely, datetime as dt
    >>> frame = gpd.GeoDataFrame({"id": [1], "code": [None], "name": ["岱庙广场"], "kind": ["square"],
    ...     "opened_on": [dt.date(2019, 6, 1)], "area_m2": [float("nan")], "source": ["a.csv"]},
    ...     geometry=[shapely.Point(117.12, 36.19)], crs=4326)
    >>> register_csv(frame).decode("utf-8-sig").splitlines()[1]
    '1,,岱庙广场,square,2019-06-01,,a.csv,117.12,36.19,Point'
    """
    table = export_table(frame)
    points = shapely.point_on_surface(np.asarray(table.geometry.values, dtype=object))
    plain = table.drop(columns=[table.geometry.name]).assign(
        lon=np.round(shapely.get_x(points), 7),
        lat=np.round(shapely.get_y(points), 7),
        geometry_type=table.geom_type.to_numpy(),
    )
    buffer = io.StringIO()
    buffer.write("\ufeff")  # Excel in China opens UTF-8 right with a BOM
    plain.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")


def register_records(frame: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """One JSON-ready record per green space (without the geometry; ``lon, lat`` of a point on it).

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> frame = gpd.GeoDataFrame({"id": [7], "code": ["P1"], "name": ["泰山公园"], "kind": ["park"],
    ...     "opened_on": [None], "area_m2": [12000.04], "source": ["a.gpkg"]},
    ...     geometry=[shapely.box(117.1, 36.1, 117.11, 36.11)], crs=4326)
    >>> record = register_records(frame)[0]
    >>> record["kind_zh"], record["geometry_type"], record["area_m2"], record["lon"]
    ('公园', 'Polygon', 12000.0, 117.105)
    """
    from greenspace.kinds import KINDS

    names = {kind.key: kind.name_zh for kind in KINDS}
    points = shapely.point_on_surface(np.asarray(frame.geometry.values, dtype=object))
    records = []
    for row, point in zip(frame.itertuples(), points, strict=True):
        area = float(row.area_m2)
        records.append(
            {
                "id": int(row.id),
                "code": None if row.code is None or row.code != row.code else str(row.code),
                "name": str(row.name),
                "kind": str(row.kind),
                "kind_zh": names.get(str(row.kind), str(row.kind)),
                "geometry_type": row.geometry.geom_type,
                "area_m2": round(area, 1) if area == area else None,
                "opened_on": row.opened_on.isoformat() if isinstance(row.opened_on, dt.date) else None,
                "source": str(row.source),
                "lon": round(float(point.x), 7),
                "lat": round(float(point.y), 7),
            }
        )
    return records


def register_geojson(frame: gpd.GeoDataFrame) -> dict[str, Any]:
    """The register as a GeoJSON FeatureCollection (the records as properties, 7 decimal places)."""
    geometries = shapely.transform(
        np.asarray(frame.geometry.values, dtype=object), lambda xy: np.round(xy, 7)
    )
    features = [
        {
            "type": "Feature",
            "id": record["id"],
            "properties": record,
            "geometry": json.loads(shapely.to_geojson(g)),
        }
        for record, g in zip(register_records(frame), geometries, strict=True)
    ]
    return {"type": "FeatureCollection", "features": features}
