"""Turn table columns into point coordinates, with one reason per unusable row.

Pure array code (pyarrow compute, numpy, shapely): no file I/O.  A row whose point
cannot be read is never dropped: its coordinates become NaN and ``problems`` says
why, naming the row's value, so the lookup can mark it ``invalid``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from batch.arrays import float_values, objects, scalar, strings
from batch.arrays import numbers as numeric_array
from geo.errors import InvalidInputError

if TYPE_CHECKING:
    from numpy.typing import NDArray

# Default x/y column pairs, tried in order, case-insensitively.  The Chinese pair is
# what spreadsheets exported from Tai'an's grid-management systems usually carry.
DEFAULT_XY_PAIRS: tuple[tuple[str, str], ...] = (
    ("lon", "lat"),
    ("lng", "lat"),
    ("longitude", "latitude"),
    ("x", "y"),
    ("经度", "纬度"),
)
# A finite decimal number, as pyarrow's string->float64 cast reads it.
_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
# pyarrow.compute makes a scalar of a plain Python value with pa.scalar, which imports
# pandas (0.2 s of a fresh siji lookup-batch); these are made without it (batch.arrays).
_TRUE = scalar(True, pa.bool_())
_FALSE = scalar(False, pa.bool_())

_SHOWN_CHARS = 60  # long values are cut in messages so one bad row cannot bloat the output
# shapely type ids 0..7, then the name for id -1 (missing geometry).
_TYPE_NAMES = np.array(
    [
        "Point",
        "LineString",
        "LinearRing",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
        "GeometryCollection",
        "missing geometry",
    ],
    dtype=object,
)


@dataclass(frozen=True, slots=True)
class Coordinates:
    """Coordinates of a chunk of rows, in the input's CRS.

    Attributes
    ----------
    x, y : ndarray of float64
        NaN where the row has a problem.
    problems : ndarray of object
        None for readable rows, otherwise the reason (naming the row's value).
    bad : ndarray of bool
        True where ``problems`` is set.
    """

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    problems: NDArray[np.object_]
    bad: NDArray[np.bool_]


def valid_mask(array: pa.Array) -> NDArray[np.bool_]:
    """True where ``array`` holds a value, read from its validity bitmap.

    (``is_valid().to_numpy()`` would import pandas for a boolean array: 0.4 s of every
    command's start.)

    Examples
    --------
    >>> valid_mask(pa.array([1, None, 3])).tolist()
    [True, False, True]
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    validity = array.buffers()[0]
    if validity is None or array.null_count == 0:
        return np.ones(len(array), dtype=bool)
    bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
    return bits[array.offset : array.offset + len(array)].astype(bool)


def find_xy_columns(
    columns: Sequence[str], x_col: str | None, y_col: str | None, *, source: str
) -> tuple[str, str] | None:
    """Resolve the x/y column names against a table's columns.

    Parameters
    ----------
    columns : sequence of str
        The table's attribute columns.
    x_col, y_col : str or None
        Names asked for (matched exactly, then case-insensitively).  Both None: try
        :data:`DEFAULT_XY_PAIRS` case-insensitively.
    source : str
        The file name, for messages.

    Returns
    -------
    (str, str) or None
        The matching column names; None when no default pair matches.

    Raises
    ------
    InvalidInputError
        Only one of ``x_col``/``y_col`` given, or a named column is missing (the
        message lists the available columns).

    Examples
    --------
    >>> find_xy_columns(["id", "LNG", "Lat"], None, None, source="a.csv")
    ('LNG', 'Lat')
    >>> find_xy_columns(["id", "east", "north"], "east", "north", source="a.csv")
    ('east', 'north')
    """
    if (x_col is None) != (y_col is None):
        raise InvalidInputError(
            f"{source}: give both the x column and the y column (got x_col={x_col!r}, y_col={y_col!r})",
            x_col=x_col,
            y_col=y_col,
        )
    if x_col is not None and y_col is not None:
        return _match_column(columns, x_col, "x", source), _match_column(columns, y_col, "y", source)
    lowered: dict[str, str] = {}
    for name in columns:
        lowered.setdefault(name.lower(), name)  # first of duplicate names wins
    for x_name, y_name in DEFAULT_XY_PAIRS:
        if x_name in lowered and y_name in lowered:
            return lowered[x_name], lowered[y_name]
    return None


def missing_xy_error(columns: Sequence[str], source: str) -> InvalidInputError:
    """The error for a table with neither a point geometry nor default x/y columns."""
    tried = ", ".join(f"{x}/{y}" for x, y in DEFAULT_XY_PAIRS)
    return InvalidInputError(
        f"{source}: no coordinate columns found (looked for {tried}, any case); "
        f"available columns: {_listing(columns)}; name them with x_col/y_col (--x-col/--y-col)",
        available=list(columns),
    )


def _match_column(columns: Sequence[str], wanted: str, axis: str, source: str) -> str:
    if wanted in columns:
        return wanted
    folded = [name for name in columns if name.lower() == wanted.lower()]
    if len(folded) >= 1:
        return folded[0]
    raise InvalidInputError(
        f"{source}: {axis} column {wanted!r} not found; available columns: {_listing(columns)}",
        column=wanted,
        available=list(columns),
    )


def _listing(columns: Sequence[str]) -> str:
    shown = ", ".join(repr(c) for c in columns[:50])
    return shown + (f" ... ({len(columns)} in all)" if len(columns) > 50 else "") if columns else "(none)"


def coordinates_from_columns(table: pa.Table, x_col: str, y_col: str) -> Coordinates:
    """Parse the x/y columns of a table into float coordinates.

    Numeric columns are used as they are; text columns are parsed (surrounding blanks
    ignored).  Nulls, empty text and text that is not a number become problems.

    Examples
    --------
    >>> import pyarrow as pa
    >>> c = coordinates_from_columns(pa.table({"lon": ["117.1", "abc"], "lat": ["36.2", ""]}), "lon", "lat")
    >>> c.x.tolist()[0], c.problems.tolist()[1]
    (117.1, "lon='abc' is not a number; lat='' is empty")
    """
    x, x_problem = parse_numbers(table.column(x_col), x_col)
    y, y_problem = parse_numbers(table.column(y_col), y_col)
    # Not null_handling="skip": in pyarrow 26 it drops the rows where both are null.
    both = pc.and_(x_problem.is_valid(), y_problem.is_valid())
    problems = pc.if_else(
        both,
        pc.binary_join_element_wise(x_problem, y_problem, _text("; ")),
        pc.coalesce(x_problem, y_problem),
    )
    bad = valid_mask(x_problem) | valid_mask(y_problem)
    return _coordinates(x, y, problems, bad)


def parse_numbers(values: pa.ChunkedArray | pa.Array, name: str) -> tuple[NDArray[np.float64], pa.Array]:
    """Parse one coordinate column.

    Returns
    -------
    numbers : ndarray of float64
        NaN where the value is missing or not a number.
    problems : pyarrow.Array of string
        Null where the value is fine, otherwise the reason.

    Raises
    ------
    InvalidInputError
        The column is neither numeric nor text (e.g. a date or a list).

    Examples
    --------
    >>> numbers, problems = parse_numbers(pa.array([" 36.5", None, "1,5"]), "lat")
    >>> numbers.tolist()[0], problems.to_pylist()
    (36.5, [None, 'lat is missing (null)', "lat='1,5' is not a number"])
    """
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if isinstance(array.type, pa.ExtensionType):
        array = array.storage
    kind = array.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        numbers = pc.cast(array, pa.float64())
        problems = _where(array.is_null(), f"{name} is missing (null)")
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        numbers, problems = _parse_text(array.cast(pa.string()), name)
    else:
        raise InvalidInputError(
            f"coordinate column {name!r} has type {kind}; a numeric or text column is needed",
            column=name,
            type=str(kind),
        )
    return float_values(numbers), problems


def _parse_text(text: pa.Array, name: str) -> tuple[pa.Array, pa.Array]:
    trimmed = pc.utf8_trim_whitespace(text)
    try:
        # Fast path: a clean column parses in one cast.
        numbers = pc.cast(trimmed, pa.float64())
    except pa.ArrowInvalid:
        # The cast fails as a whole on one bad value, so find the numbers first.
        is_number = pc.fill_null(pc.match_substring_regex(trimmed, _NUMBER), _TRUE)
        numbers = pc.cast(pc.if_else(is_number, trimmed, scalar("nan", pa.string())), pa.float64())
    # The cast also takes "nan", "inf" and "1e400", which the regex refuses or overflows:
    # calling every non-finite value "not a number" makes both paths agree, so a row's
    # message never depends on the other rows of its chunk.
    bad_number = pc.invert(pc.fill_null(pc.is_finite(numbers), _TRUE))
    empty = pc.fill_null(pc.equal(trimmed, _text("")), _FALSE)
    shown = pc.utf8_slice_codeunits(text, 0, _SHOWN_CHARS)
    problems = pc.case_when(
        pc.make_struct(text.is_null(), empty, bad_number),
        _text(f"{name} is missing (null)"),
        pc.binary_join_element_wise(_text(f"{name}='"), shown, _text("' is empty"), _text("")),
        pc.binary_join_element_wise(_text(f"{name}='"), shown, _text("' is not a number"), _text("")),
    )
    numbers = pc.if_else(pc.is_valid(problems), scalar(np.nan, pa.float64()), numbers)
    return numbers, problems


def _text(value: str) -> pa.Scalar:
    return scalar(value, pa.string())


def _where(mask: pa.Array, message: str) -> pa.Array:
    return pc.if_else(mask, _text(message), scalar(None, pa.string()))


def coordinates_from_wkb(values: pa.ChunkedArray | pa.Array) -> Coordinates:
    """Take the coordinates of the Point rows of a WKB geometry column.

    Missing, undecodable, empty and non-point geometries become problems.  Plain
    little-endian 2-D points (what GDAL, GeoPandas and this module write) are read
    straight from the bytes; only other rows go through shapely.

    Examples
    --------
    >>> import shapely
    >>> wkb = pa.array([shapely.Point(117, 36).wkb, None, shapely.box(0, 0, 1, 1).wkb])
    >>> c = coordinates_from_wkb(wkb)
    >>> c.x.tolist()[0], c.problems.tolist()[1]
    (117.0, 'geometry is missing (null)')
    >>> c.problems.tolist()[2]
    'geometry is a Polygon, not a Point: POLYGON ((1 0, 1 1, 0 1, 0 0, 1 0))'
    """
    array = binary_storage(values)
    n = len(array)
    x, y, fast = _plain_points(array)
    present = valid_mask(array)
    slow = np.flatnonzero(present & ~fast)
    problems = np.full(n, None, dtype=object)
    bad = np.zeros(n, dtype=bool)
    problems[~present] = "geometry is missing (null)"
    bad[~present] = True
    if len(slow):
        geometry = shapely.from_wkb(objects(array.take(numeric_array(slow))), on_invalid="ignore")
        other = coordinates_from_geometry(geometry, undecodable=shapely.is_missing(geometry))
        x[slow], y[slow], problems[slow], bad[slow] = other.x, other.y, other.problems, other.bad
    return Coordinates(x, y, problems, bad)


def binary_storage(values: pa.ChunkedArray | pa.Array) -> pa.BinaryArray:
    """One contiguous ``binary`` array from a (chunked, extension-typed, large) WKB column."""
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if isinstance(array.type, pa.ExtensionType):
        array = array.storage
    if array.type != pa.binary():
        array = array.cast(pa.binary())
    return array


_POINT_HEADER = np.array([1, 1, 0, 0, 0], dtype=np.uint8)  # little-endian, type 1 (Point XY)
_POINT_BYTES = 21  # header + two float64
_POINT_DTYPE = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])  # packed: 21 bytes


def _plain_points(
    array: pa.BinaryArray,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """x, y and a mask of the rows that are plain non-empty little-endian 2-D Point WKB."""
    n = len(array)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    _, offsets_buffer, data_buffer = array.buffers()
    if n == 0 or data_buffer is None:
        return x, y, np.zeros(n, dtype=bool)
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[array.offset : array.offset + n + 1]
    if (
        array.null_count == 0
        and offsets[-1] - offsets[0] == n * _POINT_BYTES
        and (np.diff(offsets) == _POINT_BYTES).all()
    ):
        # Every row is 21 bytes, back to back (the usual GeoParquet of points): read the
        # buffer as packed records, no gathering.
        packed = np.frombuffer(data_buffer, dtype=_POINT_DTYPE, count=n, offset=int(offsets[0]))
        keep = (packed["order"] == 1) & (packed["type"] == 1)
        keep &= np.isfinite(packed["x"]) & np.isfinite(packed["y"])  # POINT EMPTY is NaN, NaN
        x[keep] = packed["x"][keep]
        y[keep] = packed["y"][keep]
        return x, y, keep
    data = np.frombuffer(data_buffer, dtype=np.uint8)
    starts = offsets[:-1].astype(np.int64)
    candidate = (np.diff(offsets) == _POINT_BYTES) & valid_mask(array)
    rows = np.flatnonzero(candidate)
    # Gather each candidate's 21 bytes into one row of a (m, 21) matrix, then view them.
    raw = data[starts[rows, None] + np.arange(_POINT_BYTES)]
    header_ok = (raw[:, :5] == _POINT_HEADER).all(axis=1)
    coords = np.ascontiguousarray(raw[:, 5:]).view("<f8")
    finite = np.isfinite(coords).all(axis=1)  # POINT EMPTY is NaN, NaN in WKB
    keep = header_ok & finite
    fast = np.zeros(n, dtype=bool)
    fast[rows[keep]] = True
    x[rows[keep]] = coords[keep, 0]
    y[rows[keep]] = coords[keep, 1]
    return x, y, fast


def point_wkb(x: NDArray[np.float64], y: NDArray[np.float64]) -> pa.BinaryArray:
    """Point WKB for each (x, y), null where either is not finite; no shapely objects.

    Examples
    --------
    >>> import shapely
    >>> wkb = point_wkb(np.array([117.5, np.nan]), np.array([36.5, 1.0]))
    >>> shapely.from_wkb(wkb.to_numpy(zero_copy_only=False)).tolist()
    [<POINT (117.5 36.5)>, None]
    """
    n = len(x)
    usable = np.isfinite(x) & np.isfinite(y)
    records = np.zeros(n, dtype=_POINT_DTYPE)
    records["order"] = 1
    records["type"] = 1
    records["x"] = x
    records["y"] = y
    offsets = np.arange(n + 1, dtype=np.int32) * _POINT_BYTES
    validity = pa.py_buffer(np.packbits(usable, bitorder="little"))
    return pa.Array.from_buffers(
        pa.binary(),
        n,
        [validity, pa.py_buffer(offsets), pa.py_buffer(records)],
        null_count=int(n - usable.sum()),
    )


def coordinates_from_geoarrow_points(
    values: pa.ChunkedArray | pa.Array,
) -> tuple[Coordinates, pa.BinaryArray]:
    """Coordinates of a GeoArrow ``point`` column (a struct of x, y[, z]), and its WKB."""
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if isinstance(array.type, pa.ExtensionType):
        array = array.storage
    x = float_values(pc.struct_field(array, [0]))
    y = float_values(pc.struct_field(array, [1]))
    missing = ~valid_mask(array)
    x[missing] = np.nan
    y[missing] = np.nan
    wkb = point_wkb(x, y)
    return coordinates_from_wkb(wkb), wkb


def coordinates_from_geometry(
    geometry: NDArray[np.object_], *, undecodable: NDArray[np.bool_] | None = None
) -> Coordinates:
    """Coordinates of an array of shapely geometries; non-points become problems.

    Examples
    --------
    >>> import shapely
    >>> c = coordinates_from_geometry(np.array([shapely.Point(1, 2), shapely.Point()]))
    >>> c.y.tolist()[0], c.problems.tolist()[1]
    (2.0, 'geometry is an empty Point')
    """
    geometry = np.asarray(geometry, dtype=object)
    n = len(geometry)
    undecodable = np.zeros(n, dtype=bool) if undecodable is None else undecodable
    type_ids = shapely.get_type_id(geometry)  # -1 for missing
    missing = (type_ids < 0) & ~undecodable
    empty = (type_ids >= 0) & shapely.is_empty(geometry)
    not_point = (type_ids >= 0) & (type_ids != shapely.GeometryType.POINT) & ~empty
    bad = missing | undecodable | empty | not_point
    good = np.flatnonzero(~bad)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    x[good] = shapely.get_x(geometry[good])
    y[good] = shapely.get_y(geometry[good])
    problems = np.full(n, None, dtype=object)
    problems[missing] = "geometry is missing (null)"
    problems[undecodable] = "geometry is not valid WKB and could not be decoded"
    type_names = _type_names(type_ids)
    problems[empty] = _join("geometry is an empty ", type_names[empty], "")
    wkt = shapely.to_wkt(geometry[not_point], rounding_precision=-1)
    problems[not_point] = _join("geometry is a ", type_names[not_point], ", not a Point: ", _cut(wkt))
    return Coordinates(x, y, problems, bad)


def _type_names(type_ids: NDArray[np.integer]) -> NDArray[np.object_]:
    return _TYPE_NAMES[type_ids]  # id -1 (missing) picks the trailing entry


def _cut(text: NDArray[np.object_]) -> NDArray[np.object_]:
    if len(text) == 0:
        return text
    values = strings(text)
    cut = pc.utf8_slice_codeunits(values, 0, _SHOWN_CHARS)
    long = pc.greater(pc.utf8_length(values), scalar(_SHOWN_CHARS, pa.int64()))
    return objects(pc.if_else(long, pc.binary_join_element_wise(cut, _text("..."), _text("")), cut))


def _join(*parts: str | NDArray[np.object_]) -> NDArray[np.object_]:
    arrays = [_text(p) if isinstance(p, str) else strings(p) for p in parts]
    if not any(isinstance(a, pa.Array) and len(a) for a in arrays):
        return np.empty(0, dtype=object)
    return objects(pc.binary_join_element_wise(*arrays, _text("")))


def _coordinates(
    x: NDArray[np.float64], y: NDArray[np.float64], problems: pa.Array, bad: NDArray[np.bool_]
) -> Coordinates:
    problem_array = objects(problems)
    x = np.where(bad, np.nan, x)
    y = np.where(bad, np.nan, y)
    return Coordinates(x, y, problem_array, bad)
