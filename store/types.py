"""A geometry column type with one Python face (shapely) on PostGIS and SQLite.

On PostgreSQL it is a real PostGIS ``geometry`` column (GeoAlchemy2, so DDL, GiST
indexes and spatial functions work); geometries travel as EWKB so coordinates are
bit-identical to what the in-memory index uses.  On SQLite it is a WKB blob: the
embedded default does its spatial work in memory and needs no SpatiaLite.
"""

from __future__ import annotations

from typing import Any

import shapely
from geoalchemy2 import Geometry
from sqlalchemy import LargeBinary
from sqlalchemy.types import TypeDecorator, TypeEngine


class _PostGISShapely(Geometry):
    """PostGIS geometry bound and read as EWKB, exposed as shapely geometries."""

    cache_ok = True

    def __init__(self, geometry_type: str = "GEOMETRY", srid: int = 4326) -> None:
        super().__init__(
            geometry_type=geometry_type, srid=srid, from_text="ST_GeomFromWKB", spatial_index=False
        )

    def bind_processor(self, dialect: Any) -> Any:

        def process(value: Any) -> Any:
            if value is None:
                return None
            return shapely.to_wkb(value)

        return process

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        def process(value: Any) -> Any:
            return None if value is None else shapely.from_wkb(bytes(value))

        return process


class _WKBBlob(TypeDecorator[Any]):
    """Shapely geometries stored as WKB in a blob (SQLite)."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> bytes | None:
        return None if value is None else shapely.to_wkb(value)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else shapely.from_wkb(value)


def GeometryColumnType(geometry_type: str = "GEOMETRY", srid: int = 4326) -> TypeEngine[Any]:  # noqa: N802
    """The column type: PostGIS geometry on PostgreSQL, a WKB blob elsewhere."""
    return _WKBBlob().with_variant(_PostGISShapely(geometry_type, srid), "postgresql")
