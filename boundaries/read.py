"""Read boundary layers from GeoJSON, GeoPackage, Shapefile and GeoParquet.

Every reader returns the same normalized GeoDataFrame in WGS84 (EPSG:4326) with the
columns ``code``, ``name``, ``level``, ``parent_code`` and ``geometry``; other
properties are kept after them.

The checks any importer of a polygon layer needs (the fields a file must have, and
coordinates whose size contradicts their CRS) live in :mod:`boundaries.layer_checks`
and are imported here as well: ``from boundaries.read import require_fields`` works.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from boundaries.layer_checks import check_coordinate_units, require_fields, which
from geo.crs import CRS, parse_crs, to_wgs84
from geo.errors import BoundaryDataError, CRSMismatchError, InvalidInputError, counted
from geo.levels import get_level
from geo.signatures import FORMAT_STARTS, PARQUET, described

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
#: Largest boundary file read (bytes on disk; for a zip, the sum of its members
#: inflated).  GDAL holds a whole GeoJSON in memory and the frame costs several times
#: the file, so a bigger file is refused before it is opened.  A city's four levels
#: take a few hundred MB at most, even as GeoJSON.
MAX_FILE_BYTES = 1 << 30
#: Widest code and name the store keeps (``store.models.Unit``: String(32), String(200)).
MAX_CODE_CHARS = 32
MAX_NAME_CHARS = 200
# The old-style GeoJSON "crs" member; GDAL silently reads WGS84 when it names a CRS
# it does not know, so siji looks at it itself (in the first bytes, where writers put it).
_GEOJSON_CRS = re.compile(rb'"crs"\s*:\s*\{[^{}]*"properties"\s*:\s*\{[^{}]*"name"\s*:\s*"([^"]{1,200})"')
_HEAD_BYTES = 1 << 16


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
    encoding: str | None = None,
    max_bytes: int = MAX_FILE_BYTES,
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
        Layer name of a GeoPackage; required when it holds more than one layer.
    encoding : str, optional
        Text encoding of the attributes, e.g. ``gbk`` for a shapefile without a
        ``.cpg`` or a GeoJSON saved as GBK.  Default: what the file declares (UTF-8
        for GeoJSON and GeoPackage).
    max_bytes : int
        Refuse files (for a zip: its members inflated) larger than this.

    Raises
    ------
    BoundaryDataError
        Empty, oversized, unreadable or mislabelled file; a zip that would inflate
        past ``max_bytes``; text that is not in the expected encoding; JSON nested too
        deep; an unknown CRS; missing fields, codes or names; codes or names too long
        for the store; unknown levels; non-polygonal or empty geometries; NaN or
        infinite vertices; coordinates outside -180..180 / -90..90 after conversion.
        The message names the file, field or feature.
    CRSMismatchError
        The declared CRS contradicts the one in the file.
    """
    path = Path(path)
    fields = fields or FieldMapping()
    # GDAL's and pandas' own warnings mean nothing to the people who load a release:
    # what matters is checked below and refused with a message of ours.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = _read_frame(path, layer, encoding, max_bytes)
        _check_finite(frame, fields, path)
        frame = _to_wgs84(frame, crs, path)
        _check_lonlat_range(frame, fields, path)
        return _normalize(frame, fields, level, path)


def _read_frame(
    path: Path, layer: str | None, encoding: str | None, max_bytes: int, *, what: str = "boundary"
) -> gpd.GeoDataFrame:
    """Open a layer after the format, size and content checks; ``what`` names the kind of file in errors."""
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
    fmt = FORMATS[suffix]
    _check_file(path, suffix, max_bytes, what)
    declared_crs = _geojson_crs_member(path) if fmt == "GeoJSON" else None
    if fmt == "GeoPackage":
        layer = _gpkg_layer(path, layer)
    elif layer is not None:
        raise BoundaryDataError(
            f"{path.name!r} is a {fmt} file, which has one layer; --layer is for GeoPackages", path=str(path)
        )
    try:
        if fmt == "GeoParquet":
            frame = gpd.read_parquet(path)
        else:
            frame = pyogrio.read_dataframe(path, layer=layer, encoding=encoding)
    except Exception as exc:  # pyogrio/pyarrow raise many types for broken files
        raise BoundaryDataError(
            f"cannot read {path.name!r} as {fmt}: {_explain(exc)}", path=str(path)
        ) from exc
    if len(frame) == 0:
        needs = "a boundary set needs units" if what == "boundary" else f"a {what} file needs at least one"
        raise BoundaryDataError(f"{path.name!r} has no features; {needs}", path=str(path))
    if declared_crs is not None:
        _check_crs_name(declared_crs, path)
    if frame.crs is None:
        _check_prj(path)
    if encoding is None and fmt == "Shapefile":
        _check_mojibake(frame, path)
    return frame


def _gpkg_layer(path: Path, layer: str | None) -> str | None:
    """The layer to read: the one asked for, or the only one; refuse a choice left open."""
    import pyogrio

    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception:  # an unreadable file: the read below words the error
        return layer
    if layer is None and len(layers) > 1:
        raise BoundaryDataError(
            f"{path.name!r} holds {counted(len(layers), 'layer')} ({', '.join(layers)}); "
            "choose one with --layer",
            path=str(path),
            layers=layers,
        )
    if layer is not None and layer not in layers:
        raise BoundaryDataError(
            f"{path.name!r} has no layer {layer!r}; its layers: {', '.join(layers) or 'none'}",
            path=str(path),
            layers=layers,
        )
    return layer


def _check_file(path: Path, suffix: str, max_bytes: int, what: str = "boundary") -> None:
    """Refuse empty, oversized and mislabelled files before any parser sees them."""
    size = path.stat().st_size
    if size == 0:
        raise BoundaryDataError(f"cannot read {path.name!r}: it is empty (0 bytes)", path=str(path))
    dbf = path.with_suffix(".dbf")
    # A shapefile's attributes live beside it, and GDAL reads them too.
    total = size + (dbf.stat().st_size if suffix == ".shp" and dbf.exists() else 0)
    if total > max_bytes:
        raise BoundaryDataError(
            f"cannot read {path.name!r}: it is {total:,} bytes; "
            f"{what} files over {max_bytes:,} bytes are refused",
            path=str(path),
            size=total,
            limit=max_bytes,
        )
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
        handle.seek(max(size - 4, 0))
        tail = handle.read(4)
    fmt = "zip" if suffix == ".zip" else FORMATS[suffix]
    if fmt == "GeoJSON":
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        if start != b"{":
            raise BoundaryDataError(
                f"cannot read {path.name!r} as GeoJSON: it starts with {_describe_start(head)}, not '{{'",
                path=str(path),
            )
    elif fmt == "Shapefile":
        if not head.startswith(FORMAT_STARTS["Shapefile"]):
            raise BoundaryDataError(
                f"cannot read {path.name!r} as Shapefile: it starts with {_describe_start(head)}",
                path=str(path),
            )
    elif not head.startswith(FORMAT_STARTS[fmt]):
        raise BoundaryDataError(
            f"cannot read {path.name!r} as {fmt}: it starts with {_describe_start(head)}", path=str(path)
        )
    if fmt == "GeoParquet" and tail != PARQUET:
        raise BoundaryDataError(
            f"cannot read {path.name!r} as GeoParquet: it is cut short: a Parquet file ends with its "
            f"footer and 'PAR1', this one ends with {tail!r} (truncated download or copy?)",
            path=str(path),
        )
    if fmt == "zip":
        _check_zip(path, max_bytes, what)


def _describe_start(head: bytes) -> str:
    what = described(head)  # the file signatures batch/ reads too
    if what is not None:
        return what
    shown = head[:8]
    return f"the bytes {shown.hex(' ')} ({shown!r})"


def _check_zip(path: Path, max_bytes: int, what: str = "boundary") -> None:
    """Read the zip's directory only: refuse a bomb before anything is inflated."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise BoundaryDataError(
            f"{path.name!r} is not a readable zip archive: {exc}", path=str(path)
        ) from exc
    inflated = sum(member.file_size for member in members)
    if inflated > max_bytes:
        raise BoundaryDataError(
            f"{path.name!r} would inflate to {inflated:,} bytes ({len(members)} member(s)); "
            f"{what} files over {max_bytes:,} bytes are refused (a zip bomb?)",
            path=str(path),
            inflated=inflated,
            limit=max_bytes,
        )
    if not any(member.filename.lower().endswith(".shp") for member in members):
        names = [member.filename for member in members[:10]]
        raise BoundaryDataError(
            f"{path.name!r} holds no .shp file (members: {names}); a zipped shapefile is expected",
            path=str(path),
        )


def _geojson_crs_member(path: Path) -> str | None:
    with path.open("rb") as handle:
        match = _GEOJSON_CRS.search(handle.read(_HEAD_BYTES))
    return match.group(1).decode("utf-8", errors="replace") if match else None


def _check_crs_name(name: str, path: Path) -> None:
    import pyproj
    from pyproj.exceptions import CRSError

    try:
        pyproj.CRS.from_user_input(name)
    except CRSError as exc:
        raise BoundaryDataError(
            f'{path.name!r} declares CRS {name!r}, which is unknown ({exc}); fix its "crs" member, '
            "or remove it and give the source CRS (wgs84, cgcs2000, gcj02, bd09 or EPSG:<code>)",
            path=str(path),
            crs=name,
        ) from exc


def _check_prj(path: Path) -> None:
    """A shapefile whose .prj GDAL could not read: say so, rather than 'declares no CRS'."""
    if path.suffix.lower() == ".shp":
        prj = path.with_suffix(".prj")
        text = prj.read_bytes()[:200].decode("utf-8", errors="replace") if prj.exists() else None
    elif path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as archive:
            prjs = [m for m in archive.infolist() if m.filename.lower().endswith(".prj")]
            text = None
            if prjs:
                with archive.open(prjs[0]) as member:  # 200 bytes, never the whole member
                    text = member.read(200).decode("utf-8", errors="replace")
    else:
        return
    if text is not None and text.strip():
        raise BoundaryDataError(
            f"{path.name!r}: its .prj is not a CRS that GDAL can read ({text.strip()[:80]!r}); replace "
            "the .prj, or delete it and give the source CRS (wgs84, cgcs2000, gcj02, bd09 or EPSG:<code>)",
            path=str(path),
        )


def _check_mojibake(frame: gpd.GeoDataFrame, path: Path) -> None:
    """GBK text that GDAL decoded as Latin-1 (a .dbf without .cpg): refuse, name the fix.

    Such text has only characters U+0080..U+00FF where Chinese should be, and its
    Latin-1 bytes decode as GB18030 to CJK characters.
    """
    for column in frame.columns:
        if column == frame.geometry.name or not _is_text(frame[column]):
            continue
        for value in frame[column].dropna().head(1000).tolist():
            if not isinstance(value, str) or not any("\x80" <= ch <= "\xff" for ch in value):
                continue
            try:
                raw = value.encode("latin-1")
                decoded = raw.decode("gb18030")
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
            if any("\u4e00" <= ch <= "\u9fff" for ch in decoded):
                raise BoundaryDataError(
                    f"{path.name!r}: field {column!r} holds {value!r}, which is {decoded!r} in GBK; the "
                    "shapefile has no .cpg naming its encoding. Give the encoding (--encoding gbk, "
                    "or --encoding latin1 if the text really is Latin-1)",
                    path=str(path),
                    field=column,
                )


def _is_text(column: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column))


def _explain(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, UnicodeDecodeError) or "UTF-8" in text or "utf-8" in text:
        return (
            f"the text is not valid UTF-8 ({text}); give its encoding (--encoding gbk for "
            "files saved on Chinese Windows) or re-save it as UTF-8"
        )
    if "nested" in text.lower() or "nesting" in text.lower() or isinstance(exc, RecursionError):
        return f"the JSON nesting is too deep for a boundary file ({text})"
    # GDAL appends advice about driver prefixes that means nothing to our users.
    return text.split("; It might help", 1)[0]


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
            check_coordinate_units(frame.geometry.values, frame.crs, path.name)
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
    check_coordinate_units(frame.geometry.values, source, path.name)
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


def _feature_labels(frame: gpd.GeoDataFrame, fields: FieldMapping, rows: Any) -> list[str]:
    """Codes of the given rows for messages (the 1-based feature number where a code is missing)."""
    codes = frame[fields.code].tolist() if fields.code in frame.columns else [None] * len(frame)
    return [str(codes[i]) if codes[i] is not None and codes[i] == codes[i] else f"#{i + 1}" for i in rows]


def _check_finite(frame: gpd.GeoDataFrame, fields: FieldMapping, path: Path) -> None:
    """Refuse NaN or infinite vertices: they make every area, union and projection fail."""
    coords, rows = shapely.get_coordinates(frame.geometry.values, include_z=False, return_index=True)
    bad = ~np.isfinite(coords).all(axis=1)
    if bad.any():
        first = coords[bad][0]
        units = _feature_labels(frame, fields, np.unique(rows[bad])[:10])
        raise BoundaryDataError(
            f"{path.name!r}: {which('feature', units, 'has', 'have')} NaN or infinite vertex coordinates "
            f"(first: ({first[0]}, {first[1]})); every vertex needs two finite numbers",
            path=str(path),
            codes=units,
        )


def _check_lonlat_range(frame: gpd.GeoDataFrame, fields: FieldMapping, path: Path) -> None:
    """After conversion every vertex must be a longitude/latitude; say what went wrong if not."""
    coords, rows = shapely.get_coordinates(frame.geometry.values, return_index=True)
    x, y = coords[:, 0], coords[:, 1]
    bad = (np.abs(x) > 180) | (np.abs(y) > 90)
    if not bad.any():
        return
    units = _feature_labels(frame, fields, np.unique(rows[bad])[:10])
    first = (float(x[bad][0]), float(y[bad][0]))
    swapped = bool(((np.abs(y) <= 180) & (np.abs(x) <= 90)).all())
    hint = (
        "the axes look swapped (latitude first): write longitude (x) first"
        if swapped
        else "the coordinates are not degrees: give the source CRS (--crs EPSG:<code>) of a projected file"
    )
    raise BoundaryDataError(
        f"{path.name!r}: {which('feature', units, 'has', 'have')} vertices outside longitude -180..180 / "
        "latitude -90..90 "
        f"after conversion to WGS84 (first: {first}); {hint}",
        path=str(path),
        codes=units,
    )


def _check_codes_and_names(codes: list[str | None], names: list[Any], path: Path) -> None:
    missing = [i for i, code in enumerate(codes) if code is None]
    if missing:
        raise BoundaryDataError(
            f"{path.name!r}: {which('feature', [f'#{i + 1}' for i in missing], 'has', 'have')} no code; "
            "every unit needs one",
            path=str(path),
        )
    nameless = [
        codes[i] for i, name in enumerate(names) if name is None or name != name or str(name).strip() == ""
    ]
    if nameless:
        raise BoundaryDataError(
            f"{path.name!r}: {which('unit', nameless, 'has', 'have')} no name; every unit needs one",
            path=str(path),
        )
    for what, values, limit in (
        ("code", codes, MAX_CODE_CHARS),
        ("name", [str(n) for n in names], MAX_NAME_CHARS),
    ):
        long = [i for i, value in enumerate(values) if value is not None and len(value) > limit]
        if long:
            i = long[0]
            shown = values[i] if len(values[i] or "") <= 40 else f"{(values[i] or '')[:40]}..."
            raise BoundaryDataError(
                f"{path.name!r}: unit {codes[i]!r} has a {what} of {len(values[i] or ''):,} characters "
                f"({shown!r}); at most {limit} are allowed",
                path=str(path),
                field=what,
            )


def _normalize(
    frame: gpd.GeoDataFrame, fields: FieldMapping, level: str | None, path: Path
) -> gpd.GeoDataFrame:
    import geopandas as gpd
    import pandas as pd

    fmt = FORMATS.get(path.suffix.lower())
    available = [c for c in frame.columns if c != frame.geometry.name]
    wanted = {"code": fields.code, "name": fields.name}
    if level is None and fields.level is not None:
        wanted["level"] = fields.level
    found = require_fields(available, wanted, path.name, fmt=fmt)
    codes = _as_code_strings(frame[found["code"]])
    _check_codes_and_names(codes, frame[found["name"]].tolist(), path)
    if level is not None:
        level_keys = [get_level(level).key] * len(frame)
    else:
        level_keys = _levels(frame[found["level"]], codes)
    parent_field = _parent_field(available, fields, level_keys, path, fmt)
    if parent_field is not None:
        found["parent code"] = parent_field
    parents = _as_code_strings(frame[parent_field]) if parent_field is not None else [None] * len(frame)
    geometry = shapely.force_2d(frame.geometry.values)
    _check_geometry_types(np.asarray(geometry), codes, path)
    extra = frame.drop(columns=[*dict.fromkeys(found.values()), frame.geometry.name])
    extra = extra.drop(columns=[c for c in NORMALIZED_COLUMNS if c in extra.columns])
    data = pd.DataFrame(
        {
            "code": codes,
            "name": frame[found["name"]].astype(str).to_numpy(),
            "level": level_keys,
            # object dtype keeps None for "no parent" (a string dtype would turn it into NaN)
            "parent_code": pd.Series(parents, dtype=object),
        }
    )
    data = pd.concat([data, extra.reset_index(drop=True)], axis=1)
    return gpd.GeoDataFrame(data, geometry=np.asarray(geometry), crs=4326)


def _parent_field(
    available: list[str], fields: FieldMapping, level_keys: list[str], path: Path, fmt: str | None
) -> str | None:
    """The parent code's field: required when it was named or the units are at more than
    one level; a one-level file without it holds top units only."""
    if fields.parent_code is None:
        return None
    # The dataclass default, read from the field (a slots class has no class attribute).
    default = FieldMapping.__dataclass_fields__["parent_code"].default
    required = fields.parent_code != default or len(set(level_keys)) > 1
    try:
        found = require_fields(available, {"parent code": fields.parent_code}, path.name, fmt=fmt)
    except BoundaryDataError:
        if required:
            raise
        return None
    return found["parent code"]


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
    for row, (value, code) in enumerate(zip(column.tolist(), codes, strict=True)):
        if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
            raise BoundaryDataError(
                f"unit {code!r} (feature #{row + 1}) has no level; every unit needs one", code=code
            )
        try:
            keys.append(get_level(value).key)
        except InvalidInputError as exc:
            raise BoundaryDataError(
                f"unit {code!r} (feature #{row + 1}): {exc.message}", code=code, level=str(value)
            ) from exc
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
                f"{path.name!r}: {which('feature', [codes[i] for i in rows], 'has', 'have')} {what}; "
                "every unit needs a polygon",
                path=str(path),
            )
    if wrong.any():
        rows = np.flatnonzero(wrong)[:10]
        kinds = sorted({geometry[i].geom_type for i in rows})
        raise BoundaryDataError(
            f"{path.name!r}: {which('feature', [codes[i] for i in rows], 'is', 'are')} {', '.join(kinds)}; "
            "only Polygon and MultiPolygon are allowed",
            path=str(path),
        )
