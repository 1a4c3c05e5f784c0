"""The analyses as tables: GeoJSON FeatureCollections and CSV (UTF-8 with a BOM)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from maps.render.layers import jsonable

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd


def result_geojson(frame: gpd.GeoDataFrame, **members: Any) -> dict[str, Any]:
    """A result table as a GeoJSON FeatureCollection (geometry to 6 decimals, JSON-safe properties).

    Extra keyword arguments become top-level members (e.g. ``coverage``).

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> frame = gpd.GeoDataFrame({"code": ["1"], "count": [2]}, geometry=[shapely.Point(117, 36)], crs=4326)
    >>> result_geojson(frame, kind="density")["features"][0]["properties"]
    {'code': '1', 'count': 2}
    """
    columns = [c for c in frame.columns if c != frame.geometry.name]
    records = frame[columns].to_dict("records")
    # 6 decimal places: 0.1 m, a third of the bytes of full doubles
    values = np.asarray(frame.geometry.values, dtype=object)
    geometries = shapely.transform(values, lambda xy: np.round(xy, 6))
    features = []
    for record, geometry in zip(records, geometries, strict=True):
        features.append(
            {
                "type": "Feature",
                "properties": {key: jsonable(value, 6) for key, value in record.items()},
                "geometry": None if geometry is None else shapely.geometry.mapping(geometry),
            }
        )
    return {
        "type": "FeatureCollection",
        **{k: _jsonable_deep(v) for k, v in members.items()},
        "features": features,
    }


def _jsonable_deep(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable_deep(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable_deep(v) for v in value]
    if isinstance(value, str):
        return value
    return jsonable(value, 6)


def result_csv(frame: pd.DataFrame) -> bytes:
    """A result table as UTF-8 CSV with a BOM (Excel in China opens it right).

    Geometry is dropped; points keep ``lon, lat`` columns.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> frame = gpd.GeoDataFrame({"name": ["泰山区"]}, geometry=[shapely.Point(117.1, 36.2)], crs=4326)
    >>> result_csv(frame).decode("utf-8-sig").splitlines()
    ['name,lon,lat', '泰山区,117.1,36.2']
    """
    table = frame.copy()
    geometry_name = getattr(frame, "_geometry_column_name", None)
    if geometry_name is not None and geometry_name in table.columns:
        geometry = frame.geometry
        if len(geometry) and (geometry.geom_type == "Point").all():
            table["lon"] = geometry.x.round(6)
            table["lat"] = geometry.y.round(6)
        table = table.drop(columns=[geometry_name])
    buffer = io.StringIO()
    buffer.write("\ufeff")
    table.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")
