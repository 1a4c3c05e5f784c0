"""Read a park file into the register's frame: GeoPackage, GeoJSON, Shapefile, GeoParquet or CSV.

The file is opened, checked and brought to WGS84 exactly as a boundary file is
(:mod:`boundaries.read`: format and content checks, size limits, encodings, the
declared CRS against the given one, GCJ-02/BD-09 conversion, NaN and out-of-range
vertices); a CSV is read by the batch reader (:class:`batch.PointReader`: points from
``lon``/``lat`` or named columns, each bad row named).  Then the fields are mapped
(:class:`GreenSpaceFields`) and every feature is checked: a name, a known kind
(:mod:`greenspace.kinds`), a point or polygon geometry (invalid polygons refused, or
repaired on request), an opening date and an area that parse.  Polygons get their
area on the WGS84 ellipsoid; points keep the file's area, if any.

Every problem is a :class:`GreenSpaceDataError` naming the file, the field, the
features (by name, or ``#n`` for the n-th) and what is allowed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from geo.errors import BoundaryDataError, InvalidInputError
from greenspace.kinds import get_kind

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

__all__ = [
    "MAX_REGISTER_BYTES",
    "REGISTER_COLUMNS",
    "GreenSpaceDataError",
    "GreenSpaceFields",
    "check_inside",
    "read_green_spaces",
]

MAX_REGISTER_BYTES = 256 << 20
"""Largest park file read: a city's register is a few MB even with detailed polygons."""
REGISTER_COLUMNS = ("code", "name", "kind", "area_m2", "opened_on")
"""The columns of a read register frame, before the file's other attributes and the geometry."""
MAX_NAME_CHARS = 200
MAX_CODE_CHARS = 64
_WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom", "shape")
_DATE = re.compile(r"^(\d{4})(?:[-/.年](\d{1,2})(?:[-/.月](\d{1,2})日?)?月?)?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


class GreenSpaceDataError(InvalidInputError):
    """A park file that cannot be registered (unreadable, bad fields, kinds, dates, geometry)."""

    code = "invalid_green_spaces"


@dataclass(frozen=True, slots=True)
class GreenSpaceFields:
    """Which source fields hold each register column.

    ``name`` must exist.  The others may be None (not in the file); a field left at its
    default name is optional, a field named explicitly must exist.

    Attributes
    ----------
    name : str
        The green space's name (公园名称).
    kind : str or None
        Its kind (公园/口袋公园/广场 ...); None when ``kind=`` gives one kind for all.
    code : str or None
        An identifier from the source, unique within it (optional).
    opened : str or None
        The opening date (开园日期): a date, ``2019-06-01``, ``2019/6/1``, ``2019年6月1日``,
        ``20190601``, or a year or month (``2019``, ``2019-06``: its first day).
    area : str or None
        The area in m² (used for points; polygons are measured).
    """

    name: str = "name"
    kind: str | None = "kind"
    code: str | None = "code"
    opened: str | None = "opened"
    area: str | None = "area_m2"


_DEFAULTS = GreenSpaceFields()


def read_green_spaces(
    path: str | Path,
    *,
    fields: GreenSpaceFields | None = None,
    kind: str | None = None,
    crs: Any = None,
    layer: str | None = None,
    encoding: str | None = None,
    x_col: str | None = None,
    y_col: str | None = None,
    repair: bool = False,
    max_bytes: int = MAX_REGISTER_BYTES,
) -> gpd.GeoDataFrame:
    """Read and check a park file; return the register frame in WGS84.

    Parameters
    ----------
    path : str or Path
        ``.gpkg``, ``.geojson``/``.json``, ``.shp`` (or a zipped shapefile),
        ``.parquet``/``.geoparquet`` or ``.csv`` (points from ``lon``/``lat``,
        ``lng``/``lat``, ``longitude``/``latitude``, ``x``/``y`` or ``经度``/``纬度``).
    fields : GreenSpaceFields, optional
        Source field names (default ``name``, ``kind``, ``code``, ``opened``, ``area_m2``).
    kind : str, optional
        The kind of every feature, when the file has no kind field (any name
        :func:`~greenspace.kinds.get_kind` accepts).
    crs : str or int, optional
        The source CRS (``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``, ``EPSG:<code>``):
        required when the file declares none (always for CSV).
    layer, encoding
        As for :func:`boundaries.read.read_boundaries` (``encoding`` also for CSV).
    x_col, y_col : str, optional
        The CSV columns of longitude/x and latitude/y.
    repair : bool
        Repair invalid polygons (``make_valid``, keeping polygonal parts) instead of
        refusing them.
    max_bytes : int
        Refuse larger files.

    Returns
    -------
    GeoDataFrame
        ``code`` (str or None), ``name``, ``kind`` (a key of
        :data:`~greenspace.kinds.KINDS`), ``area_m2`` (float or NaN), ``opened_on``
        (``datetime.date`` or None), the file's other attributes, geometry (Point,
        Polygon or MultiPolygon), EPSG:4326.  ``attrs["repaired"]`` lists the features
        whose polygons were repaired.

    Raises
    ------
    GreenSpaceDataError
        Unreadable, empty, oversized or mislabelled file; no CRS; missing fields;
        empty names; unknown kinds; duplicate codes; dates or areas that do not parse;
        missing, empty, non-point/polygon or (without ``repair``) invalid geometries.
    CRSMismatchError
        The given CRS contradicts the one the file declares.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "parks.csv"
    >>> _ = path.write_text("name,kind,lon,lat,opened\\n岱庙广场,广场,117.126,36.195,2019/6/1\\n", "utf-8")
    >>> parks = read_green_spaces(path, crs="wgs84")
    >>> parks[["name", "kind", "opened_on"]].to_dict("records")
    [{'name': '岱庙广场', 'kind': 'square', 'opened_on': datetime.date(2019, 6, 1)}]
    """
    from boundaries.read import FieldMapping, _check_finite, _check_lonlat_range, _read_frame, _to_wgs84

    path = Path(path)
    fields = fields or GreenSpaceFields()
    labels = FieldMapping(code=fields.name)  # features are named by their name in messages
    try:
        if path.suffix.lower() == ".csv":
            frame = _read_csv(path, encoding, x_col, y_col, max_bytes)
        else:
            # NaN vertices make shapely warn while parsing; _check_finite names them instead
            with np.errstate(invalid="ignore"):
                frame = _read_frame(path, layer, encoding, max_bytes, what="park")
        _check_finite(frame, labels, path)
        frame = _to_wgs84(frame, crs, path)
        _check_lonlat_range(frame, labels, path)
    except BoundaryDataError as exc:
        raise GreenSpaceDataError(exc.message, **exc.detail) from exc
    return _normalize(frame, fields, kind, repair, path)


def check_inside(frame: gpd.GeoDataFrame, area: Any, *, margin_m: float = 1000.0, where: str = "") -> None:
    """Refuse features farther than ``margin_m`` from ``area`` (e.g. the city): a wrong CRS, or another city.

    Parameters
    ----------
    frame : GeoDataFrame
        A register frame (EPSG:4326).
    area : shapely geometry
        WGS84 polygon(s) the features must lie in or near.
    margin_m : float
        Allowed distance outside, in metres (a park across the city line still serves it).
    where : str
        The area's name, for the message.

    Raises
    ------
    GreenSpaceDataError
        Naming up to ten features, their distance and the likely cause.
    """
    from pyproj import Geod

    geometry = np.asarray(frame.geometry.values, dtype=object)
    probe = shapely.point_on_surface(geometry)
    link = shapely.get_coordinates(shapely.shortest_line(probe, area)).reshape(-1, 2, 2)  # probe -> area
    _, _, distance = Geod(ellps="WGS84").inv(link[:, 0, 0], link[:, 0, 1], link[:, 1, 0], link[:, 1, 1])
    far = np.flatnonzero(np.asarray(distance) > margin_m)
    if len(far):
        shown = ", ".join(f"{frame['name'].iloc[i]!r} ({distance[i] / 1000:,.1f} km)" for i in far[:10])
        raise GreenSpaceDataError(
            f"{len(far):,} feature(s) lie more than {margin_m:,.0f} m outside {where or 'the boundary set'}: "
            f"{shown}; allowed: green spaces in or next to the city. A wrong source CRS (--crs) or "
            "another city's file?",
            features=[str(frame["name"].iloc[i]) for i in far[:10]],
        )


# --------------------------------------------------------------------------- reading
def _read_csv(
    path: Path, encoding: str | None, x_col: str | None, y_col: str | None, max_bytes: int
) -> gpd.GeoDataFrame:
    """A point CSV as a frame without a CRS (a CSV declares none)."""
    import geopandas as gpd
    import pyarrow as pa

    from batch import PointReader

    if path.exists() and path.stat().st_size > max_bytes:
        raise GreenSpaceDataError(
            f"cannot read {path.name!r}: it is {path.stat().st_size:,} bytes; park files over "
            f"{max_bytes:,} bytes are refused",
            path=str(path),
        )
    try:
        with PointReader(path, "csv", x_col=x_col, y_col=y_col, encoding=encoding or "utf-8") as reader:
            chunks = list(reader)
    except InvalidInputError as exc:
        raise GreenSpaceDataError(_csv_hint(path, exc.message), **exc.detail) from exc
    table = pa.concat_tables([chunk.table for chunk in chunks])
    problems = np.concatenate([chunk.coords.problems for chunk in chunks])
    bad = np.flatnonzero(np.concatenate([chunk.coords.bad for chunk in chunks]))
    if len(bad):
        shown = "; ".join(f"row {i + 1}: {problems[i]}" for i in bad[:10])
        raise GreenSpaceDataError(
            f"{path.name!r}: {len(bad):,} row(s) have no usable point: {shown}", path=str(path), rows=len(bad)
        )
    if table.num_rows == 0:
        raise GreenSpaceDataError(
            f"{path.name!r} has no rows; a park file needs at least one", path=str(path)
        )
    x = np.concatenate([chunk.coords.x for chunk in chunks])
    y = np.concatenate([chunk.coords.y for chunk in chunks])
    frame = table.to_pandas()
    frame = frame.drop(columns=[c for c in (reader.info.x_col, reader.info.y_col) if c in frame.columns])
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(x, y))


def _csv_hint(path: Path, message: str) -> str:
    """The batch reader's message, with what to do about polygons in a CSV."""
    if "no coordinate columns" not in message:
        return message
    with path.open("rb") as handle:
        header = handle.readline(1 << 16).decode("utf-8", errors="replace").lower()
    if any(re.search(rf"(^|[,;\t\"']){name}($|[,;\t\"'\r\n])", header) for name in _WKT_COLUMNS):
        return (
            f"{message}. Polygons written as text (WKT) in a CSV are not read: save the layer as "
            "GeoPackage, GeoJSON or Shapefile, or give each green space a point (lon/lat columns)"
        )
    return message


# --------------------------------------------------------------------------- fields
def _normalize(
    frame: gpd.GeoDataFrame, fields: GreenSpaceFields, kind: str | None, repair: bool, path: Path
) -> gpd.GeoDataFrame:
    import geopandas as gpd
    import pandas as pd

    source = _source_fields(frame, fields, kind, path)
    names = _names(frame[source["name"]], path)
    kinds = _kinds(frame, source.get("kind"), kind, names, path)
    codes = _codes(frame[source["code"]], names, path) if "code" in source else [None] * len(frame)
    opened = _dates(frame[source["opened"]], names, path) if "opened" in source else [None] * len(frame)
    area = _areas(frame[source["area"]], names, path) if "area" in source else np.full(len(frame), np.nan)
    geometry, repaired = _geometries(frame, names, repair, path)
    polygonal = shapely.get_type_id(geometry) != 0
    area[polygonal] = _geodesic_areas(geometry[polygonal])
    extra = frame.drop(columns=[*dict.fromkeys(source.values()), frame.geometry.name])
    extra = extra.drop(columns=[c for c in REGISTER_COLUMNS if c in extra.columns])
    data = pd.DataFrame(
        {
            "code": pd.Series(codes, dtype=object),
            "name": names,
            "kind": kinds,
            "area_m2": area,
            "opened_on": pd.Series(opened, dtype=object),
        }
    )
    data = pd.concat([data, extra.reset_index(drop=True)], axis=1)
    out = gpd.GeoDataFrame(data, geometry=geometry, crs=4326)
    out.attrs["repaired"] = repaired
    return out


def _source_fields(
    frame: gpd.GeoDataFrame, fields: GreenSpaceFields, kind: str | None, path: Path
) -> dict[str, str]:
    """Register column -> source field, for the fields the file has; missing required ones are errors."""
    available = [str(c) for c in frame.columns if c != frame.geometry.name]
    source: dict[str, str] = {}
    missing: list[str] = []
    for role in ("name", "kind", "code", "opened", "area"):
        wanted = getattr(fields, role)
        if wanted is None or (role == "kind" and kind is not None):
            continue
        if wanted in frame.columns:
            source[role] = wanted
        elif role == "name" or wanted != getattr(_DEFAULTS, role) or (role == "kind" and kind is None):
            missing.append(f"{role} field {wanted!r}")
    if missing:
        hint = "; name the fields (--name-field, --kind-field ...)"
        if any(item.startswith("kind ") for item in missing):
            hint += " or give one kind for every feature (--kind)"
        raise GreenSpaceDataError(
            f"{path.name!r} has no {', '.join(missing)}; the file has: {available}{hint}",
            path=str(path),
            available=available,
        )
    return source


def _label(names: list[str], i: Any) -> str:
    return names[int(i)] if names[int(i)] else f"#{int(i) + 1}"


def _listed(names: list[str], rows: Any, values: list[Any] | None = None) -> str:
    rows = list(rows)
    parts = [f"{_label(names, i)!r}" + (f" ({values[i]!r})" if values is not None else "") for i in rows[:10]]
    more = f" and {len(rows) - 10:,} more" if len(rows) > 10 else ""
    return ", ".join(parts) + more


def _names(column: pd.Series, path: Path) -> list[str]:
    raw = column.tolist()
    names = ["" if v is None or v != v else str(v).strip() for v in raw]
    empty = [i for i, name in enumerate(names) if not name]
    if empty:
        raise GreenSpaceDataError(
            f"{path.name!r}: features {[f'#{i + 1}' for i in empty[:10]]} have no name; "
            "every green space needs one",
            path=str(path),
        )
    long = [i for i, name in enumerate(names) if len(name) > MAX_NAME_CHARS]
    if long:
        raise GreenSpaceDataError(
            f"{path.name!r}: feature #{long[0] + 1} has a name of {len(names[long[0]]):,} characters "
            f"({names[long[0]][:40]!r}...); at most {MAX_NAME_CHARS} are allowed",
            path=str(path),
            field="name",
        )
    return names


def _kinds(frame: Any, field: str | None, kind: str | None, names: list[str], path: Path) -> list[str]:
    if kind is not None:
        try:
            return [get_kind(kind).key] * len(frame)
        except InvalidInputError as exc:
            raise GreenSpaceDataError(f"--kind: {exc.message}", **exc.detail) from exc
    assert field is not None  # _source_fields requires a kind field without kind=
    values = frame[field].tolist()
    keys: list[str] = []
    bad: list[int] = []
    message = ""
    for i, value in enumerate(values):
        try:
            keys.append(get_kind(value).key)
        except InvalidInputError as exc:
            bad.append(i)
            message = message or exc.message
    if bad:
        allowed = message.split("; allowed: ", 1)[-1]
        raise GreenSpaceDataError(
            f"{path.name!r}: field {field!r} of {_listed(names, bad, values)} is not a kind of green space; "
            f"allowed: {allowed}",
            path=str(path),
            field=field,
        )
    return keys


def _codes(column: pd.Series, names: list[str], path: Path) -> list[str | None]:
    from boundaries.read import _as_code_strings

    codes = _as_code_strings(column)
    long = [i for i, code in enumerate(codes) if code is not None and len(code) > MAX_CODE_CHARS]
    if long:
        raise GreenSpaceDataError(
            f"{path.name!r}: {_label(names, long[0])!r} has a code of {len(codes[long[0]] or ''):,} "
            f"characters; at most {MAX_CODE_CHARS} are allowed",
            path=str(path),
            field="code",
        )
    seen: dict[str, int] = {}
    for i, code in enumerate(codes):
        if code is None:
            continue
        if code in seen:
            first = seen[code]
            raise GreenSpaceDataError(
                f"{path.name!r}: code {code!r} is used twice, by #{first + 1} {names[first]!r} and "
                f"#{i + 1} {names[i]!r}; allowed: one green space per code",
                path=str(path),
                field="code",
                value=code,
            )
        seen[code] = i
    return codes


def parse_date(value: Any) -> dt.date | None:
    """An opening date from a file's value; None for an empty one.

    Raises
    ------
    ValueError
        A value that is not one of the accepted forms.

    Examples
    --------
    >>> forms = ("2019-06-01", "2019/6/1", "2019年6月1日", "20190601", "2019-06", "2019")
    >>> [str(parse_date(v)) for v in forms]
    ['2019-06-01', '2019-06-01', '2019-06-01', '2019-06-01', '2019-06-01', '2019-01-01']
    >>> parse_date(None), parse_date("")
    (None, None)
    """
    import pandas as pd

    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, dt.datetime | pd.Timestamp):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        value = str(value)
    text = str(value).strip()
    if not text:
        return None
    text = text.split("T", 1)[0].split(" ", 1)[0]
    match = _COMPACT_DATE.match(text) or _DATE.match(text)
    if match is None:
        raise ValueError(text)
    year, month, day = (int(part) if part else 1 for part in match.groups())
    return dt.date(year, month, day)


def _dates(column: pd.Series, names: list[str], path: Path) -> list[dt.date | None]:
    values = column.tolist()
    dates: list[dt.date | None] = []
    bad: list[int] = []
    for i, value in enumerate(values):
        try:
            dates.append(parse_date(value))
        except ValueError:
            bad.append(i)
            dates.append(None)
    if bad:
        raise GreenSpaceDataError(
            f"{path.name!r}: field {column.name!r} of {_listed(names, bad, values)} is not a date; allowed: "
            "2019-06-01, 2019/6/1, 2019年6月1日, 20190601, or a month or year (2019-06, 2019: its first day)",
            path=str(path),
            field=str(column.name),
        )
    return dates


def _areas(column: pd.Series, names: list[str], path: Path) -> Any:
    import pandas as pd

    text = column.astype(object).where(column.notna(), None)
    numbers = pd.to_numeric(
        text.map(lambda v: str(v).replace(",", "") if v is not None else None), errors="coerce"
    )
    values = numbers.to_numpy(dtype=float)
    given = text.map(lambda v: v is not None and str(v).strip() != "").to_numpy(dtype=bool)
    bad = np.flatnonzero(given & ~(np.isfinite(values) & (values >= 0)))
    if len(bad):
        raise GreenSpaceDataError(
            f"{path.name!r}: field {column.name!r} of {_listed(names, bad, column.tolist())} is not an area; "
            "allowed: square metres, a number >= 0 (or empty)",
            path=str(path),
            field=str(column.name),
        )
    return np.where(given, values, np.nan)


# --------------------------------------------------------------------------- geometry
def _geometries(frame: Any, names: list[str], repair: bool, path: Path) -> tuple[Any, list[str]]:
    """Points and (valid) polygons, 2-D; the names of the features repaired."""
    from boundaries.validate import repair as repair_polygons

    geometry = np.asarray(shapely.force_2d(frame.geometry.values), dtype=object)
    missing = np.array([g is None for g in geometry], dtype=bool)
    empty = ~missing & shapely.is_empty(geometry)
    for mask, what in ((missing, "no geometry"), (empty, "an empty geometry")):
        if mask.any():
            raise GreenSpaceDataError(
                f"{path.name!r}: {_listed(names, np.flatnonzero(mask))} have {what}; every green space "
                "needs a point or a polygon",
                path=str(path),
            )
    type_id = shapely.get_type_id(geometry)
    wrong = ~np.isin(type_id, (0, 3, 6))
    if wrong.any():
        rows = np.flatnonzero(wrong)
        kinds = sorted({geometry[i].geom_type for i in rows})
        raise GreenSpaceDataError(
            f"{path.name!r}: {_listed(names, rows)} are {', '.join(kinds)}; allowed: Point, Polygon and "
            "MultiPolygon",
            path=str(path),
        )
    invalid = np.flatnonzero(~shapely.is_valid(geometry))
    if not len(invalid):
        return geometry, []
    if not repair:
        reasons = [f"{_label(names, i)!r}: {shapely.is_valid_reason(geometry[i])}" for i in invalid[:10]]
        raise GreenSpaceDataError(
            f"{path.name!r}: {len(invalid):,} polygon(s) are invalid ({'; '.join(reasons)}); repair them in "
            "the source, or import with --repair (make_valid, keeping the polygonal parts)",
            path=str(path),
        )
    import geopandas as gpd

    broken = gpd.GeoDataFrame({"code": [_label(names, i) for i in invalid]}, geometry=geometry[invalid])
    fixed, repaired = repair_polygons(broken)
    geometry[invalid] = fixed.geometry.to_numpy()
    collapsed = invalid[shapely.is_empty(geometry[invalid])]
    if len(collapsed):
        raise GreenSpaceDataError(
            f"{path.name!r}: {_listed(names, collapsed)} have no area left after repair; fix them in the "
            "source",
            path=str(path),
        )
    return geometry, repaired


def _geodesic_areas(polygons: Any) -> Any:
    """Areas in m² on the WGS84 ellipsoid (exact, whatever the projection)."""
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    return np.array([abs(geod.geometry_area_perimeter(p)[0]) for p in polygons], dtype=float)


def jsonable_properties(record: dict[str, Any]) -> dict[str, Any]:
    """The file's other attributes of one feature, as JSON values (for storage).

    Examples
    --------
    >>> import numpy as np, datetime as dt
    >>> record = {"管理": "园林局", "n": np.int64(3), "when": dt.date(2020, 1, 2), "x": float("nan")}
    >>> jsonable_properties(record)
    {'管理': '园林局', 'n': 3, 'when': '2020-01-02', 'x': None}
    """
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, np.generic):
            value = value.item()
        if value is None or (isinstance(value, float) and not np.isfinite(value)):
            out[str(key)] = None
        elif isinstance(value, str | int | float | bool):
            out[str(key)] = value
        elif hasattr(value, "isoformat"):
            out[str(key)] = value.isoformat()
        else:
            out[str(key)] = json.loads(json.dumps(value, default=str))
    return out
