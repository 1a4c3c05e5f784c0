"""Read boundary layers from GeoJSON, GeoPackage, Shapefile and GeoParquet.

Every reader returns the same normalized GeoDataFrame in WGS84 (EPSG:4326) with the
columns ``code``, ``name``, ``level``, ``parent_code`` and ``geometry``; other
properties are kept after them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from geo.crs import CRS, parse_crs, to_wgs84
from geo.errors import BoundaryDataError, CRSMismatchError, InvalidInputError
from geo.levels import get_level

if TYPE_CHECKING:
    import geopandas as gpd

FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GeoPackage",
    ".shp": "Shapefile",
    ".zip": "Shapefile",
    ".parquet": "GeoParquet",
    ".geoparquet": "GeoParquet",
}
NORMALIZED_COLUMNS = ("code", "name", "level", "parent_code")


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """Which source fields hold the code, name, parent code and level.

    ``parent_code`` and ``level`` may be None: then every feature is a top-level
    unit, or every feature is at the level passed to :func:`read_boundaries`.
    """

    code: str = "code"
    name: str = "name"
    parent_code: str | None = "parent_code"
    level: str | None = "level"


def read_boundaries(
    path: str | Path,
    *,
    fields: FieldMapping | None = None,
    crs: str | int | CRS | None = None,
    level: str | None = None,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a polygon layer and normalize it to WGS84 with siji's columns.

    Parameters
    ----------
    path : str or Path
        ``.geojson``/``.json``, ``.gpkg``, ``.shp`` (or a zipped shapefile) or
        ``.parquet``/``.geoparquet``.
    fields : FieldMapping, optional
        Source field names; defaults to ``code``, ``name``, ``parent_code``, ``level``.
    crs : str or int, optional
        The source CRS.  Required when the file declares none; ``gcj02`` and ``bd09``
        are converted to WGS84 (GeoJSON always claims WGS84, so a declared ``gcj02``
        overrides it); CGCS2000 counts as WGS84.
    level : str, optional
        The level of every feature, when the layer has no level field.
    layer : str, optional
        Layer name for multi-layer GeoPackages.

    Raises
    ------
    BoundaryDataError
        Unreadable file, missing fields, unknown levels, non-polygonal or empty
        geometries; the message names the file, field or feature.
    CRSMismatchError
        The declared CRS contradicts the one in the file.
    """
    path = Path(path)
    fields = fields or FieldMapping()
    frame = _read_frame(path, layer)
    frame = _to_wgs84(frame, crs, path)
    return _normalize(frame, fields, level, path)


def _read_frame(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    import geopandas as gpd
    import pyogrio

    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise BoundaryDataError(
            f"cannot read {path.name!r}: unknown format {suffix!r}; allowed: {', '.join(sorted(FORMATS))}",
            path=str(path),
        )
    if not path.exists():
        raise BoundaryDataError(f"file not found: {path}", path=str(path))
    try:
        if FORMATS[suffix] == "GeoParquet":
            return gpd.read_parquet(path)
        return pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:  # pyogrio/pyarrow raise many types for broken files
        raise BoundaryDataError(
            f"cannot read {path.name!r} as {FORMATS[suffix]}: {exc}", path=str(path)
        ) from exc


def _to_wgs84(frame: gpd.GeoDataFrame, declared: str | int | CRS | None, path: Path) -> gpd.GeoDataFrame:
    file_epsg = frame.crs.to_epsg() if frame.crs is not None else None
    if declared is None:
        if frame.crs is None:
            raise BoundaryDataError(
                f"{path.name!r} declares no CRS; give the source CRS "
                "(wgs84, cgcs2000, gcj02, bd09 or EPSG:<code>)",
                path=str(path),
            )
        source = parse_crs(file_epsg) if file_epsg is not None else None
        if source is None:
            return _densified(frame, _segment_length(frame.crs)).to_crs(4326)
    else:
        source = parse_crs(declared)
        file_is_wgs84 = file_epsg in (4326, 4490)
        # GeoJSON (RFC 7946) always claims WGS84, so a declared gcj02/bd09 is the truth.
        if frame.crs is not None and not file_is_wgs84 and source.epsg != file_epsg:
            raise CRSMismatchError(
                f"{path.name!r} declares CRS {frame.crs.to_string()} but the source CRS was given as "
                f"{source}; omit the declared CRS, or reproject the file first",
                file_crs=frame.crs.to_string(),
                declared_crs=str(source),
            )
    if source.is_wgs84:
        return frame.set_crs(4326, allow_override=True)
    if source.epsg is not None:
        frame = frame.set_crs(source.epsg, allow_override=True)
        return _densified(frame, _segment_length(frame.crs)).to_crs(4326)
    geometry = shapely.transform(
        _densified(frame, _DEGREE_SEGMENT).geometry.values,
        lambda xy: np.column_stack(to_wgs84(xy[:, 0], xy[:, 1], source)),
    )
    out = frame.set_geometry(geometry)
    return out.set_crs(4326, allow_override=True)


# Reprojection and the GCJ-02/BD-09 conversions move vertices, not edges: a straight
# edge of a parent with few vertices and the same edge of its children, cut by extra
# vertices, would drift apart by metres.  Densifying first (to ~50 m) keeps the drift
# to fractions of a millimetre, so units stay nested within the validator's tolerance.
_DEGREE_SEGMENT = 0.0005
_METRE_SEGMENT = 50.0


def _segment_length(crs: Any) -> float:
    if crs.is_geographic:
        return _DEGREE_SEGMENT
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return _METRE_SEGMENT / (factor or 1.0)


def _densified(frame: gpd.GeoDataFrame, max_segment: float) -> gpd.GeoDataFrame:
    return frame.set_geometry(shapely.segmentize(frame.geometry.values, max_segment), crs=frame.crs)


def _normalize(
    frame: gpd.GeoDataFrame, fields: FieldMapping, level: str | None, path: Path
) -> gpd.GeoDataFrame:
    import geopandas as gpd
    import pandas as pd

    available = [c for c in frame.columns if c != frame.geometry.name]
    wanted = {"code": fields.code, "name": fields.name}
    if fields.parent_code is not None and (
        fields.parent_code in frame.columns or fields.parent_code != "parent_code"
    ):
        wanted["parent_code"] = fields.parent_code
    if level is None and fields.level is not None:
        wanted["level"] = fields.level
    missing = [f"{role} field {source!r}" for role, source in wanted.items() if source not in frame.columns]
    if missing:
        raise BoundaryDataError(
            f"{path.name!r} has no {', '.join(missing)}; available fields: {available}",
            path=str(path),
            available=available,
        )
    codes = _as_code_strings(frame[fields.code])
    if level is not None:
        level_keys = [get_level(level).key] * len(frame)
    else:
        level_keys = _levels(frame[wanted["level"]], codes)
    parents = (
        _as_code_strings(frame[wanted["parent_code"]]) if "parent_code" in wanted else [None] * len(frame)
    )
    geometry = shapely.force_2d(frame.geometry.values)
    _check_geometry_types(np.asarray(geometry), codes, path)
    extra = frame.drop(columns=[*dict.fromkeys(wanted.values()), frame.geometry.name])
    extra = extra.drop(columns=[c for c in NORMALIZED_COLUMNS if c in extra.columns])
    data = pd.DataFrame(
        {
            "code": codes,
            "name": frame[fields.name].astype(str).to_numpy(),
            "level": level_keys,
            # object dtype keeps None for "no parent" (a string dtype would turn it into NaN)
            "parent_code": pd.Series(parents, dtype=object),
        }
    )
    data = pd.concat([data, extra.reset_index(drop=True)], axis=1)
    return gpd.GeoDataFrame(data, geometry=np.asarray(geometry), crs=4326)


def _as_code_strings(column: Any) -> list[str | None]:
    """Codes as strings; integers read from shapefiles lose no digits, floats lose '.0'."""
    out: list[str | None] = []
    for value in column.tolist():
        if value is None or (isinstance(value, float) and np.isnan(value)):
            out.append(None)
        elif isinstance(value, float) and value.is_integer():
            out.append(str(int(value)))
        else:
            text = str(value).strip()
            out.append(text or None)
    return out


def _levels(column: Any, codes: list[str | None]) -> list[str]:
    keys = []
    for value, code in zip(column.tolist(), codes, strict=True):
        try:
            keys.append(get_level(value).key)
        except InvalidInputError as exc:
            raise BoundaryDataError(f"unit {code!r}: {exc.message}", code=code, level=str(value)) from exc
    return keys


def _check_geometry_types(geometry: Any, codes: list[str | None], path: Path) -> None:
    type_ids = shapely.get_type_id(geometry)
    missing = np.array([g is None for g in geometry], dtype=bool)
    empty = ~missing & shapely.is_empty(geometry)
    wrong = ~missing & ~empty & ~np.isin(type_ids, [3, 6])
    for mask, what in ((missing, "no geometry"), (empty, "an empty geometry")):
        if mask.any():
            rows = np.flatnonzero(mask)[:10]
            raise BoundaryDataError(
                f"{path.name!r}: features {[codes[i] for i in rows]} have {what}; every unit needs a polygon",
                path=str(path),
            )
    if wrong.any():
        rows = np.flatnonzero(wrong)[:10]
        kinds = sorted({geometry[i].geom_type for i in rows})
        raise BoundaryDataError(
            f"{path.name!r}: features {[codes[i] for i in rows]} are {', '.join(kinds)}; "
            "only Polygon and MultiPolygon are allowed",
            path=str(path),
        )
