"""Streaming readers and writers of point files: CSV, GeoJSON, GeoPackage, GeoParquet.

Reading
-------
:class:`PointReader` (or :func:`iter_chunks`) yields :class:`PointChunk` objects of at
most ``chunk_rows`` rows, so memory follows the chunk size, not the file size:

* CSV: ``pyarrow.csv.open_csv`` with every column typed as text, so ``"007"`` stays
  ``"007"``; quoted values may hold newlines.
* GeoParquet / Parquet: ``ParquetFile.iter_batches`` (memory is bounded by one row
  group, the unit Parquet stores; writers normally keep those at ~1M rows or fewer).
* GeoJSON / GeoPackage: ``pyogrio.open_arrow``, GDAL's Arrow stream.

Points come from a Point geometry column, or from x/y columns when the caller names
them or the file has no geometry column (``lon``/``lat``, ``lng``/``lat``,
``longitude``/``latitude``, ``x``/``y``, ``经度``/``纬度``, any case).

Writing
-------
:class:`ResultWriter` writes chunk after chunk into a temporary file next to the
output and renames it over the output only when every chunk is written, so a failed
run never leaves a half-written file behind.

GeoPackage and GeoJSON are written by GDAL in a single session fed with an Arrow
stream of chunks (see ``_GdalSink``), not by appending chunk after chunk: GDAL 3.12
can append to GeoJSON, but it re-reads and rewrites the whole file on each append
(measured here: appending 50,000 features to a 170 MB file took 43 s, and RSS grew
with the file), and GeoPackage appends update the R-tree row by row (2.7x slower).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import functools
import json
import os
import queue
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import shapely

from batch.points import (
    Coordinates,
    binary_storage,
    coordinates_from_columns,
    coordinates_from_geoarrow_points,
    coordinates_from_wkb,
    find_xy_columns,
    missing_xy_error,
)
from geo.errors import InvalidInputError

if TYPE_CHECKING:
    from types import TracebackType
    from typing import TypeAlias

    from numpy.typing import NDArray

    #: Geometries for a writer: WKB (as read, or from :func:`batch.points.point_wkb`) or shapely objects.
    Geometries: TypeAlias = pa.Array | pa.ChunkedArray | NDArray[np.object_]

DEFAULT_CHUNK_ROWS = 200_000
#: File extension -> format name.
EXTENSIONS: dict[str, str] = {
    ".csv": "csv",
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".parquet": "parquet",
    ".geoparquet": "parquet",
}
FORMATS: tuple[str, ...] = ("csv", "geojson", "gpkg", "parquet")
#: An output format for the HTTP API only (not a file format users name): the rows as
#: comma-separated JSON records, no geometry (see :mod:`batch.json_records`).
RECORDS = "json-records"
# pyarrow's CSV reader reads ~32 blocks ahead whatever use_threads says (measured:
# 8 MB blocks buffered a whole 150 MB file), so the block size bounds memory. 1 MB keeps
# read-ahead near 35 MB at full speed; a row must fit in a block, and 1 MB is far above
# a spreadsheet's 32,767-character cell limit.
_CSV_BLOCK_BYTES = 1 << 20
#: Most columns a point file may have.  Readers allocate per column (pyarrow's CSV
#: reader builds a builder and a type per column, so a 1,000,000-column header took
#: gigabytes); the limit is checked on the header or schema before any row is parsed.
#: Spreadsheet exports stay far below it.
MAX_COLUMNS = 1_000
# A Parquet footer (schema and row-group index) over this size means a schema or a
# row-group count no point file has; it is refused before pyarrow parses it.
_MAX_PARQUET_FOOTER_BYTES = 64 << 20
# GDAL streams a GeoJSON FeatureCollection feature by feature only when it finds the
# "features" member near the start; any other layout it reads whole into memory
# (measured: 2.2 GB for a 2 GB file).  A GeoJSON larger than this must therefore show
# "features" in its first MB.
_GEOJSON_WHOLE_READ_BYTES = 64 << 20
# First bytes of binary formats, to say what a mislabelled file really is.
_BINARY_MAGIC = {
    b"PK\x03\x04": "a zip archive (unzip it first)",
    b"\x1f\x8b": "gzip data (decompress it first)",
    b"BZh": "bzip2 data (decompress it first)",
    b"\xfd7zXZ": "xz data (decompress it first)",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"Rar!": "a RAR archive",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"%PDF": "a PDF document",
    b"\xd0\xcf\x11\xe0": "an old Office document (.xls/.doc)",
    b"SQLite format 3\x00": "an SQLite database (a GeoPackage?)",
    b"PAR1": "a Parquet file",
}


def _io_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean "this file cannot be read/written as asked", never a bug of ours.

    A function: pyogrio (GDAL) is imported only where a GDAL format is read or written,
    or an error is being sorted (importing it costs a CSV or Parquet run 0.4 s: it
    imports geopandas and pandas).
    """
    import pyogrio.errors

    return (
        OSError,
        UnicodeDecodeError,
        pa.ArrowException,
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        pyogrio.errors.FieldError,
        pyogrio.errors.GeometryError,
        pyogrio.errors.CRSError,
        pyogrio.errors.FeatureError,
    )


# GCJ-02/BD-09 output has no CRS on purpose (see batch.run.output_crs).  pyogrio warns
# with stacklevel=2, i.e. as if from this module, so this filter silences only our calls
# (a filter set once is thread-safe; catch_warnings() is not).
warnings.filterwarnings("ignore", message="'crs' was not provided", category=UserWarning, module=__name__)


def _pyogrio() -> Any:
    import pyogrio

    return pyogrio


# --- formats -------------------------------------------------------------------------


def detect_format(path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """Return the format name of a file from its extension (or check ``fmt``).

    Parameters
    ----------
    path : path-like
    fmt : str, optional
        A format name (``csv``, ``geojson``, ``gpkg``, ``parquet``) or extension that
        overrides the file's extension, e.g. for uploads spooled to nameless files.

    Raises
    ------
    InvalidInputError
        Unknown extension or format, naming it and listing the allowed ones.

    Examples
    --------
    >>> detect_format("points.GeoJSON")
    'geojson'
    >>> detect_format("upload.tmp", "parquet")
    'parquet'
    """
    if fmt == RECORDS:
        return RECORDS
    if fmt is not None:
        name = fmt.lower().lstrip(".")
        if name in FORMATS:
            return name
        if f".{name}" in EXTENSIONS:
            return EXTENSIONS[f".{name}"]
        raise InvalidInputError(
            f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}", value=fmt, allowed=list(FORMATS)
        )
    suffix = Path(path).suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    allowed = ", ".join(EXTENSIONS)
    raise InvalidInputError(
        f"{Path(path).name}: unknown file extension {suffix or '(none)'!r}; allowed: {allowed}",
        value=suffix,
        allowed=list(EXTENSIONS),
    )


@contextlib.contextmanager
def _errors_as_invalid_input(path: Path, doing: str, encoding: str | None = None) -> Iterator[None]:
    """Re-raise library errors about a file as InvalidInputError naming the file.

    With ``encoding`` (text formats), a decoding error names the first bad byte, its
    offset and line, found by decoding the file again.
    """
    try:
        yield
    except InvalidInputError:
        raise
    except _io_errors() as exc:
        where = _undecodable(path, encoding) if encoding is not None and _is_decoding_error(exc) else None
        if where is not None:
            raise InvalidInputError(f"{path.name}: cannot {doing}: {where}", path=str(path)) from exc
        raise InvalidInputError(f"{path.name}: cannot {doing}: {_explain(exc)}", path=str(path)) from exc


def _is_decoding_error(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, UnicodeDecodeError) or "UTF8" in text or "UTF-8" in text or "decode" in text


def _undecodable(path: Path, encoding: str, piece_bytes: int = 1 << 20) -> str | None:
    """Where ``path`` stops being ``encoding`` text: byte, offset, line, and a likely fix.

    Decodes in pieces (memory stays at one piece); None when the whole file decodes.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = lines = 0
    with path.open("rb") as handle:
        while piece := handle.read(piece_bytes):
            try:
                decoder.decode(piece)
            except UnicodeDecodeError as exc:
                # exc.start counts from the start of this piece plus what the decoder held back.
                held = len(decoder.getstate()[0]) if hasattr(decoder, "getstate") else 0
                start = max(exc.start - held, 0)
                bad_at = offset + start
                line = lines + piece[:start].count(b"\n") + 1
                bad = piece[start : start + 4]
                return (
                    f"byte 0x{bad[:1].hex()} at offset {bad_at:,} (line {line:,}) is not valid "
                    f"{_codec_label(encoding)} text{_guess_encoding(piece, start)}; re-save the file "
                    "as UTF-8 or give its encoding (encoding=/--encoding: gb18030 for GBK, latin1, ...)"
                )
            offset += len(piece)
            lines += piece.count(b"\n")
    return None


def _codec_label(encoding: str) -> str:
    name = codecs.lookup(encoding).name
    return "UTF-8" if name == "utf-8" else name


def _guess_encoding(piece: bytes, start: int) -> str:
    """A hint like ``" (the line reads as GBK/GB18030: ...)"`` when the bad line is Chinese in GBK."""
    line_start = piece.rfind(b"\n", 0, start) + 1
    line_end = piece.find(b"\n", start)
    line = piece[line_start : line_end if line_end >= 0 else start + 200]
    try:
        text = line.decode("gb18030")
    except UnicodeDecodeError:
        return ""
    if any("\u4e00" <= ch <= "\u9fff" for ch in text):
        return f" (the line reads as GBK/GB18030: {text[:60]!r})"
    return ""


def _explain(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, UnicodeDecodeError) or "UTF8" in text or "UTF-8" in text:
        return (
            f"the text is not valid UTF-8 ({text}); re-save the file as UTF-8 "
            "(spreadsheets in China often save GBK; read those with encoding='gb18030')"
        )
    if "straddling object" in text:
        return f"a row is longer than {_CSV_BLOCK_BYTES >> 20} MB, or a quote is never closed ({text})"
    if "magic bytes" in text:
        return f"not a Parquet file ({text})"
    if "nested" in text.lower():
        return f"the JSON nesting is too deep ({text})"
    # GDAL appends advice about driver prefixes that means nothing to our users.
    return text.split("; It might help", 1)[0]


# --- reading -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PointChunk:
    """A chunk of input rows with their points.

    Attributes
    ----------
    table : pyarrow.Table
        The input's attribute columns as read (geometry column removed).
    coords : Coordinates
        ``x``, ``y`` (input CRS, NaN where unusable), ``problems`` and ``bad``.
    geometry : pyarrow.BinaryArray or None
        The input's geometries (any type) as WKB, exactly as read, when the file has a
        geometry column.
    start : int
        0-based position of the chunk's first row in the input.
    """

    table: pa.Table
    coords: Coordinates
    geometry: pa.BinaryArray | None
    start: int

    def __len__(self) -> int:
        return self.table.num_rows


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What a reader found out about its input before reading any row.

    Attributes
    ----------
    path : Path
    fmt : str
    columns : tuple of str
        Attribute columns in order (without the geometry column).
    geometry_column : str or None
        The input's geometry column, if any.
    crs : str or None
        The geometry's CRS as GDAL/pyproj accept it (``EPSG:4490``, WKT or
        PROJJSON text); None when unknown or when the file has no geometry.
    geometry_type : str
        ``Point``, ``Point Z`` or ``Unknown``: what the output layer may declare.
    x_col, y_col : str or None
        The columns points come from; None when they come from the geometry.
    bytes_total : int
    """

    path: Path
    fmt: str
    columns: tuple[str, ...]
    geometry_column: str | None
    crs: str | None
    geometry_type: str
    x_col: str | None
    y_col: str | None
    bytes_total: int

    @property
    def points_from(self) -> str:
        """Where points come from, for messages: ``geometry 'geom'`` or ``columns lon/lat``."""
        if self.x_col is None:
            return f"geometry {self.geometry_column!r}"
        return f"columns {self.x_col}/{self.y_col}"


class PointReader:
    """Read a point file in chunks.

    Parameters
    ----------
    path : path-like
    fmt : str, optional
        Overrides the format given by the extension.
    x_col, y_col : str, optional
        Take points from these columns (also in files with a geometry column).
    chunk_rows : int
        Rows per chunk (the last one may be shorter).  At least one chunk is always
        yielded, empty for an input without rows, so writers learn the schema.
    encoding : str
        Text encoding of CSV files (e.g. ``gb18030``); UTF-8 by default.
    layer : str, optional
        GeoPackage/GeoJSON layer; the first one by default.

    Raises
    ------
    InvalidInputError
        Missing, empty or unreadable file; unknown extension; missing x/y columns.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "p.csv"
    >>> _ = path.write_text("id,lon,lat\\n007,117.1,36.2\\n008,abc,36.3\\n")
    >>> with PointReader(path, chunk_rows=1) as reader:
    ...     chunks = list(reader)
    >>> reader.info.x_col, len(chunks), chunks[0].table.column("id").to_pylist()
    ('lon', 2, ['007'])
    >>> chunks[1].coords.problems.tolist()
    ["lon='abc' is not a number"]
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fmt: str | None = None,
        *,
        x_col: str | None = None,
        y_col: str | None = None,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        encoding: str = "utf-8",
        layer: str | None = None,
    ) -> None:
        if chunk_rows < 1:
            raise InvalidInputError(f"chunk_rows must be at least 1, got {chunk_rows}", chunk_rows=chunk_rows)
        self.path = Path(path)
        self.chunk_rows = int(chunk_rows)
        self._stack = contextlib.ExitStack()
        self._rows_done = 0
        fmt_name = detect_format(self.path, fmt)
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InvalidInputError(
                f"unknown encoding {encoding!r}; use a codec name such as utf-8, gb18030 or latin1",
                encoding=encoding,
            ) from None
        _check_readable(self.path)
        _check_content(self.path, fmt_name, encoding)
        self._encoding = encoding if fmt_name == "csv" else None
        try:
            with _errors_as_invalid_input(self.path, f"read it as {fmt_name}", self._encoding):
                self._source = _open_source(
                    self.path, fmt_name, encoding, layer, self.chunk_rows, self._stack
                )
            self.info = self._describe(fmt_name, x_col, y_col)
        except BaseException:
            self._stack.close()  # no context manager has been entered yet to close the file
            raise

    def _describe(self, fmt: str, x_col: str | None, y_col: str | None) -> SourceInfo:
        source = self._source
        columns = tuple(name for name in source.schema.names if name != source.geometry_column)
        _check_column_count(self.path, len(columns))
        if x_col is None and y_col is None and source.geometry_column is not None:
            xy = None
        else:
            xy = find_xy_columns(columns, x_col, y_col, source=self.path.name)
            if xy is None:
                raise missing_xy_error(columns, self.path.name)
        return SourceInfo(
            path=self.path,
            fmt=fmt,
            columns=columns,
            geometry_column=source.geometry_column,
            crs=source.crs,
            geometry_type=source.geometry_type,
            x_col=xy[0] if xy else None,
            y_col=xy[1] if xy else None,
            bytes_total=self.path.stat().st_size,
        )

    def __enter__(self) -> PointReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the input file."""
        self._stack.close()

    def __iter__(self) -> Iterator[PointChunk]:
        with _errors_as_invalid_input(self.path, f"read it as {self.info.fmt}", self._encoding):
            empty = True
            for table in _rechunk(self._source.batches(), self.chunk_rows):
                empty = False
                yield self._chunk(table)
            if empty:
                yield self._chunk(self._source.schema.empty_table())

    def _chunk(self, table: pa.Table) -> PointChunk:
        table = table.replace_schema_metadata(None)  # stale pandas/geo metadata must not leak out
        info = self.info
        geometry = None
        from_geometry = None
        if info.geometry_column is not None:
            from_geometry, geometry = self._source.decode(table.column(info.geometry_column))
            table = table.drop_columns([info.geometry_column])
        if info.x_col is not None and info.y_col is not None:
            coords = coordinates_from_columns(table, info.x_col, info.y_col)
        else:
            assert from_geometry is not None  # _describe() requires x/y columns without a geometry
            coords = from_geometry
        start = self._rows_done
        self._rows_done += table.num_rows
        return PointChunk(table=table, coords=coords, geometry=geometry, start=start)

    def bytes_done(self) -> int:
        """How far into the input file reading has got, in bytes (an estimate for GDAL formats)."""
        return min(self._source.bytes_done(self._rows_done), self.info.bytes_total)


def iter_chunks(
    path: str | os.PathLike[str],
    fmt: str | None = None,
    *,
    x_col: str | None = None,
    y_col: str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    encoding: str = "utf-8",
) -> Iterator[PointChunk]:
    """Yield the chunks of a point file (a :class:`PointReader` that closes itself).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "p.csv"
    >>> _ = path.write_text("name,X,Y\\na,117.1,36.2\\n")
    >>> [chunk.coords.x.tolist() for chunk in iter_chunks(path)]
    [[117.1]]
    """
    with PointReader(path, fmt, x_col=x_col, y_col=y_col, chunk_rows=chunk_rows, encoding=encoding) as reader:
        yield from reader


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise InvalidInputError(f"input file {str(path)!r} does not exist", path=str(path))
    if not path.is_file():
        raise InvalidInputError(f"input {str(path)!r} is not a file", path=str(path))
    if path.stat().st_size == 0:
        raise InvalidInputError(f"input file {path.name!r} is empty (0 bytes)", path=str(path))


def _check_content(path: Path, fmt: str, encoding: str) -> None:
    """Refuse a file whose first or last bytes show it cannot be ``fmt``, before a parser runs.

    The parsers' own messages for such files ("cannot infer number of columns", "not
    recognized as being in a supported file format") do not say what is wrong.
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(_CSV_BLOCK_BYTES if fmt in ("csv", "geojson") else 64)
        handle.seek(max(size - 8, 0))
        tail = handle.read(8)
    binary = next((what for magic, what in _BINARY_MAGIC.items() if head.startswith(magic)), None)
    starts = f"it starts with {binary or _shown(head)}"
    problem = None
    if fmt == "csv":
        problem = f"this is {binary}, not CSV text" if binary else _csv_header_problem(head, encoding)
    elif fmt == "parquet":
        problem = _parquet_problem(head, tail, size, starts)
    elif fmt == "gpkg" and not head.startswith(b"SQLite format 3\x00"):
        problem = f"not a GeoPackage: {starts}, not the SQLite header a GeoPackage has"
    elif fmt == "geojson" and head.lstrip(b"\xef\xbb\xbf \t\r\n\x1e")[:1] not in (b"{", b""):
        problem = f"not GeoJSON: {starts}, not '{{'"
    elif fmt == "geojson" and size > _GEOJSON_WHOLE_READ_BYTES and b'"features"' not in head:
        problem = (
            f"a GeoJSON file of {size:,} bytes must be a FeatureCollection with its 'features' in the "
            f"first MB (other layouts are read whole into memory); use CSV or GeoParquet for big files"
        )
    if problem is not None:
        raise InvalidInputError(f"{path.name}: cannot read it as {fmt}: {problem}", path=str(path))


def _shown(head: bytes) -> str:
    return f"the bytes {head[:8].hex(' ')}"


def _csv_header_problem(head: bytes, encoding: str) -> str | None:
    end = head.find(b"\n")
    line = head if end < 0 else head[:end]
    nul = line.find(b"\x00")
    if codecs.lookup(encoding).name == "utf-8" and nul >= 0:
        return (
            f"not UTF-8 CSV text: NUL byte at offset {nul:,} of the header "
            "(UTF-16 text? then give encoding='utf-16', --encoding utf-16)"
        )
    columns = len(next(csv.reader([line.decode(encoding, errors="replace")]), []))
    if columns > MAX_COLUMNS:
        counted = f"{columns:,} columns" if end >= 0 else f"more than {columns:,} columns (in its first MB)"
        return f"the header has {counted}; at most {MAX_COLUMNS:,} are allowed"
    if end < 0 and len(head) == _CSV_BLOCK_BYTES:
        return (
            f"the header line is longer than {_CSV_BLOCK_BYTES >> 20} MB "
            f"(no line break in the first {_CSV_BLOCK_BYTES:,} bytes)"
        )
    return None


def _parquet_problem(head: bytes, tail: bytes, size: int, starts: str) -> str | None:
    if not head.startswith(b"PAR1"):
        return f"not a Parquet file: {starts}, not 'PAR1'"
    if len(tail) < 8 or tail[4:] != b"PAR1":
        return "the file is cut short: it does not end with its footer and 'PAR1' (interrupted download?)"
    footer = int.from_bytes(tail[:4], "little")
    if footer > size - 12:
        return f"the footer claims {footer:,} bytes in a {size:,}-byte file; the file is corrupt"
    if footer > _MAX_PARQUET_FOOTER_BYTES:
        return (
            f"the metadata is {footer:,} bytes (over {_MAX_PARQUET_FOOTER_BYTES:,}): far more columns or "
            f"row groups than a point file has (at most {MAX_COLUMNS:,} columns)"
        )
    return None


def _check_column_count(path: Path, count: int) -> None:
    if count > MAX_COLUMNS:
        raise InvalidInputError(
            f"{path.name}: {count:,} columns; at most {MAX_COLUMNS:,} are allowed",
            path=str(path),
            columns=count,
            limit=MAX_COLUMNS,
        )


def _rechunk(batches: Iterator[pa.RecordBatch], chunk_rows: int) -> Iterator[pa.Table]:
    """Regroup record batches of any size into tables of exactly ``chunk_rows`` rows.

    Readers batch by bytes (CSV) or row group (Parquet); slicing shares buffers, so
    this costs no copy and makes the chunking independent of the file's layout.
    """
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        while batch.num_rows:
            take = min(chunk_rows - count, batch.num_rows)
            pending.append(batch.slice(0, take))
            count += take
            batch = batch.slice(take)
            if count == chunk_rows:
                yield pa.Table.from_batches(pending)
                pending, count = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


class _Source:
    """A format-specific reader of record batches (see the subclasses)."""

    schema: pa.Schema
    geometry_column: str | None = None
    crs: str | None = None
    geometry_type: str = "Point"

    def batches(self) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def decode(self, column: pa.ChunkedArray) -> tuple[Coordinates, pa.BinaryArray]:
        """Points of the geometry column, and the column as WKB (WKB unless a subclass knows better)."""
        wkb = binary_storage(column)
        return coordinates_from_wkb(wkb), wkb

    def bytes_done(self, rows_done: int) -> int:
        raise NotImplementedError


def _open_source(
    path: Path, fmt: str, encoding: str, layer: str | None, chunk_rows: int, stack: contextlib.ExitStack
) -> _Source:
    if fmt == "csv":
        return _CsvSource(path, encoding, stack)
    if fmt == "parquet":
        return _ParquetSource(path, chunk_rows, stack)
    return _OgrSource(path, layer, chunk_rows, stack)


class _CsvSource(_Source):
    def __init__(self, path: Path, encoding: str, stack: contextlib.ExitStack) -> None:
        self.path = path
        self._read = pacsv.ReadOptions(block_size=_CSV_BLOCK_BYTES, encoding=encoding)
        # Quoted values may hold line breaks (addresses typed with Alt+Enter in Excel).
        self._parse = pacsv.ParseOptions(newlines_in_values=True)
        # A first pass over the first block only learns the column names, so that the
        # real reader can type every column as text (no inference: "007" stays "007").
        with contextlib.closing(
            pacsv.open_csv(path, read_options=self._read, parse_options=self._parse)
        ) as probe:
            names = probe.schema.names
        self.schema = pa.schema([pa.field(name, pa.string()) for name in names])
        self._convert = pacsv.ConvertOptions(
            column_types={name: pa.string() for name in names}, strings_can_be_null=False
        )
        self._file = stack.enter_context(pa.OSFile(str(path)))

    def batches(self) -> Iterator[pa.RecordBatch]:
        reader = pacsv.open_csv(
            self._file, read_options=self._read, parse_options=self._parse, convert_options=self._convert
        )
        with contextlib.closing(reader):
            yield from reader

    def bytes_done(self, rows_done: int) -> int:
        # The reader reads ahead a few blocks; close enough for a progress bar.
        return int(self._file.tell()) if not self._file.closed else 0


class _ParquetSource(_Source):
    def __init__(self, path: Path, chunk_rows: int, stack: contextlib.ExitStack) -> None:
        self._file = pq.ParquetFile(path)
        stack.callback(self._file.close)
        self.schema = self._file.schema_arrow
        self._chunk_rows = chunk_rows
        self._rows_total = self._file.metadata.num_rows
        self._bytes_total = path.stat().st_size
        self._encoding = "wkb"
        geo = _geoparquet_metadata(self.schema, path)
        if geo is not None:
            self._use_geo_metadata(path, geo)
        else:
            self.geometry_column = _geoarrow_wkb_column(self.schema)

    def _use_geo_metadata(self, path: Path, geo: dict[str, Any]) -> None:
        name = geo.get("primary_column")
        column = geo.get("columns", {}).get(name)
        if name not in self.schema.names or not isinstance(column, dict):
            raise InvalidInputError(
                f"{path.name}: GeoParquet metadata names a missing geometry column {name!r}"
            )
        self.geometry_column = name
        self._encoding = str(column.get("encoding", "WKB")).lower()
        if self._encoding not in ("wkb", "point"):
            raise InvalidInputError(
                f"{path.name}: geometry encoding {column.get('encoding')!r} is not supported; "
                "allowed: WKB, point",
                encoding=column.get("encoding"),
            )
        # GeoParquet: an absent "crs" means OGC:CRS84; an explicit null means unknown.
        crs = column.get("crs", "OGC:CRS84")
        self.crs = json.dumps(crs) if isinstance(crs, dict) else crs
        self.geometry_type = _declared_type(column.get("geometry_types") or [])

    def batches(self) -> Iterator[pa.RecordBatch]:
        yield from self._file.iter_batches(batch_size=self._chunk_rows)

    def decode(self, column: pa.ChunkedArray) -> tuple[Coordinates, pa.BinaryArray]:
        if self._encoding == "point":
            return coordinates_from_geoarrow_points(column)
        return super().decode(column)

    def bytes_done(self, rows_done: int) -> int:
        return self._bytes_total * rows_done // max(self._rows_total, 1)


def _geoparquet_metadata(schema: pa.Schema, path: Path) -> dict[str, Any] | None:
    raw = (schema.metadata or {}).get(b"geo")
    if raw is None:
        return None
    try:
        geo = json.loads(raw)
    except ValueError as exc:
        raise InvalidInputError(
            f"{path.name}: the GeoParquet 'geo' metadata is not valid JSON: {exc}"
        ) from exc
    return geo if isinstance(geo, dict) else None


def _geoarrow_wkb_column(schema: pa.Schema) -> str | None:
    """The first column tagged as GeoArrow WKB (how GDAL and Parquet GEOMETRY types arrive)."""
    for field in schema:
        tag = (field.metadata or {}).get(b"ARROW:extension:name")
        if tag == b"geoarrow.wkb" or getattr(field.type, "extension_name", None) == "geoarrow.wkb":
            return str(field.name)
    return None


def _declared_type(types: list[str] | str | None) -> str:
    """The geometry type an output layer may declare, from the input's declared types."""
    if isinstance(types, str):
        types = [types]
    names = {str(t).replace(" ", "").lower() for t in types or []}
    if names == {"point"}:
        return "Point"
    if names == {"pointz"}:
        return "Point Z"
    return "Unknown"


class _OgrSource(_Source):
    def __init__(self, path: Path, layer: str | None, chunk_rows: int, stack: contextlib.ExitStack) -> None:
        self.path = path
        self._layer = layer
        meta, reader = stack.enter_context(
            _pyogrio().open_arrow(path, layer=layer, batch_size=chunk_rows, use_pyarrow=True)
        )
        self._reader = reader
        self.schema = reader.schema
        self.geometry_column = _geoarrow_wkb_column(self.schema)
        self.crs = meta.get("crs") if self.geometry_column else None
        self.geometry_type = _declared_type(meta.get("geometry_type"))
        self._rows_total: int | None = None
        self._bytes_total = path.stat().st_size

    def batches(self) -> Iterator[pa.RecordBatch]:
        yield from self._reader

    def bytes_done(self, rows_done: int) -> int:
        if self._rows_total is None:
            # Counted only when progress is asked for: for GeoJSON it costs a scan.
            info = _pyogrio().read_info(self.path, layer=self._layer)
            self._rows_total = max(int(info.get("features") or 0), 0)
        if not self._rows_total:
            return 0
        return self._bytes_total * rows_done // self._rows_total


# --- writing -------------------------------------------------------------------------


class ResultWriter:
    """Write result tables chunk by chunk, atomically.

    Use it as a context manager: rows go to a temporary file in the output's
    directory, which replaces ``path`` on a clean exit and is deleted if an exception
    escapes (no half-written output is ever left behind).

    Parameters
    ----------
    path : path-like
        The output file; its extension gives the format unless ``fmt`` is given.
    fmt : str, optional
    crs : str, optional
        CRS of the geometries (spatial formats), as pyproj accepts it; None writes no
        CRS.
    geometry_name : str
        Name of the geometry column (GeoParquet, GeoPackage) or of the WKT column
        (CSV).
    geometry_type : str
        Declared geometry type: ``Point``, ``Point Z`` or ``Unknown``.
    geometry_position : int, optional
        Column position of the geometry (CSV WKT column, GeoParquet column); at the
        end by default.

    Examples
    --------
    >>> import tempfile, pathlib, shapely, numpy as np
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "out.gpkg"
    >>> with ResultWriter(out, crs="EPSG:4326") as writer:
    ...     writer.write(pa.table({"id": ["a"]}), np.array([shapely.Point(117, 36)]))
    >>> import pyogrio; pyogrio.read_dataframe(out).geometry.iloc[0].wkt
    'POINT (117 36)'
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fmt: str | None = None,
        *,
        crs: str | None = None,
        geometry_name: str = "geometry",
        geometry_type: str = "Point",
        geometry_position: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.fmt = detect_format(self.path, fmt)
        self.crs = crs
        self.geometry_name = geometry_name
        self.geometry_type = geometry_type
        self.geometry_position = geometry_position
        self.rows = 0
        self._sink: _Sink | None = None
        self._temp: Path | None = None

    def __enter__(self) -> ResultWriter:
        _check_writable(self.path)
        # Same directory, so the final rename is atomic and never crosses filesystems;
        # the real suffix is kept because GDAL picks options by extension.
        self._temp = self.path.with_name(
            f".{self.path.stem}.{uuid.uuid4().hex[:12]}.partial{self.path.suffix}"
        )
        with self._errors():
            self._sink = _make_sink(self.fmt, self._temp, self)
        return self

    def write(self, table: pa.Table, geometry: Geometries | None = None) -> None:
        """Append rows.

        Parameters
        ----------
        table : pyarrow.Table
            Attribute columns.  Every call must have the same columns.
        geometry : pyarrow binary array (WKB) or ndarray of shapely geometries, optional
            One per row.  Spatial formats store WKB as given (null geometries when
            None); CSV writes WKT (no column when None).
        """
        if self._sink is None:
            raise RuntimeError("ResultWriter.write() called outside its 'with' block")
        if geometry is not None and len(geometry) != table.num_rows:
            raise ValueError(f"{len(geometry)} geometries for {table.num_rows} rows")
        with self._errors():
            self._sink.write(table, geometry)
        self.rows += table.num_rows

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def commit(self) -> None:
        """Finish the file and move it over the output path."""
        if self._sink is None or self._temp is None:
            raise RuntimeError("ResultWriter.commit() called outside its 'with' block")
        try:
            with self._errors():
                self._sink.close()
                os.replace(self._temp, self.path)
        except BaseException:
            self.abort()
            raise
        self._sink = None

    def abort(self) -> None:
        """Drop the temporary file (and SQLite's side files)."""
        if self._sink is not None:
            with contextlib.suppress(Exception):
                self._sink.abort()
            self._sink = None
        if self._temp is not None:
            for suffix in ("", "-journal", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{self._temp}{suffix}").unlink()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except _io_errors() as exc:
            raise InvalidInputError(
                f"{self.path.name}: cannot write {self.fmt}: {_explain(exc)}", path=str(self.path)
            ) from exc


def _check_writable(path: Path) -> None:
    if path.is_dir():
        raise InvalidInputError(f"output {str(path)!r} is a directory", path=str(path))
    if not path.parent.is_dir():
        raise InvalidInputError(
            f"cannot write {path.name!r}: directory {str(path.parent)!r} does not exist", path=str(path)
        )


def _make_sink(fmt: str, temp: Path, spec: ResultWriter) -> _Sink:
    if fmt == RECORDS:
        from batch.json_records import RecordsSink

        return RecordsSink(temp, spec)
    if fmt == "csv":
        return _CsvSink(temp, spec)
    if fmt == "parquet":
        return _ParquetSink(temp, spec)
    return _GdalSink(temp, spec, "GPKG" if fmt == "gpkg" else "GeoJSON")


class _Sink:
    def __init__(self, temp: Path, spec: ResultWriter) -> None:
        self.temp = temp
        self.spec = spec

    def write(self, table: pa.Table, geometry: Geometries | None) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Finish the file (the writer then renames it)."""
        raise NotImplementedError

    def abort(self) -> None:
        """Stop writing; the writer then deletes the file."""
        self.close()

    def _with_geometry(self, table: pa.Table, column: pa.Array) -> pa.Table:
        position = self.spec.geometry_position
        position = table.num_columns if position is None else min(position, table.num_columns)
        return table.add_column(position, self.spec.geometry_name, column)

    def _wkb(self, geometry: Geometries | None, rows: int) -> pa.Array:
        if geometry is None:
            return pa.nulls(rows, pa.binary())
        if isinstance(geometry, pa.Array | pa.ChunkedArray):
            return binary_storage(geometry)
        return pa.array(shapely.to_wkb(geometry, flavor="iso"), type=pa.binary())


class _CsvSink(_Sink):
    def __init__(self, temp: Path, spec: ResultWriter) -> None:
        super().__init__(temp, spec)
        self._file: BinaryIO = open(temp, "wb")  # noqa: SIM115 (closed in close())
        self._writer: pacsv.CSVWriter | None = None

    def write(self, table: pa.Table, geometry: Geometries | None) -> None:
        if geometry is not None:
            if isinstance(geometry, pa.Array | pa.ChunkedArray):
                # Undecodable WKB (kept as read, its row marked invalid) is written empty.
                wkb = binary_storage(geometry).to_numpy(zero_copy_only=False)
                geometry = shapely.from_wkb(wkb, on_invalid="ignore")
            wkt = shapely.to_wkt(geometry, rounding_precision=-1)  # full precision, no rounding
            table = self._with_geometry(table, pa.array(wkt, type=pa.string()))
        table = _csv_safe(table)
        if self._writer is None:
            self._writer = pacsv.CSVWriter(self._file, table.schema)
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._file.close()


def _csv_safe(table: pa.Table) -> pa.Table:
    """Render the columns CSV cannot hold (lists, structs, maps, binary) as JSON text.

    Only GeoPackage/GeoJSON/Parquet inputs have such columns, and rarely; this is the
    one place that converts value by value.
    """
    for i, field in enumerate(table.schema):
        kind = field.type
        if pa.types.is_nested(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            values = [
                None if v is None else json.dumps(v, default=_json_default, ensure_ascii=False)
                for v in table.column(i).to_pylist()
            ]
            table = table.set_column(i, field.name, pa.array(values, type=pa.string()))
    return table


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


class _ParquetSink(_Sink):
    """GeoParquet, one row group per chunk, written by a worker thread (see
    :class:`_StreamSink`): encoding and compressing a chunk overlaps the next lookup."""

    def __init__(self, temp: Path, spec: ResultWriter) -> None:
        super().__init__(temp, spec)
        self._stream = _StreamSink(self._consume, "siji-parquet-writer")

    def write(self, table: pa.Table, geometry: Geometries | None) -> None:
        self._stream.put(self._with_geometry(table, self._wkb(geometry, table.num_rows)))

    def _consume(self, first: pa.Table, tables: Iterator[pa.Table]) -> None:
        schema = first.schema.with_metadata({b"geo": json.dumps(self._geo_metadata()).encode()})
        # Dictionary encoding pays for text (codes, names, statuses: a few thousand
        # values repeated), not for point WKB, which is nearly always unique: hashing
        # it was a sixth of the writing time, for a dictionary that is then dropped.
        text = (pa.types.is_string, pa.types.is_large_string)
        dictionary = [field.name for field in schema if any(is_text(field.type) for is_text in text)]
        with pq.ParquetWriter(self.temp, schema, use_dictionary=dictionary) as writer:
            writer.write_table(first.cast(schema))
            for table in tables:
                writer.write_table(table.cast(schema))

    def _geo_metadata(self) -> dict[str, Any]:
        column: dict[str, Any] = {
            "encoding": "WKB",
            # An empty list means "any type" in GeoParquet.
            "geometry_types": [] if self.spec.geometry_type == "Unknown" else [self.spec.geometry_type],
            "crs": _projjson(self.spec.crs),
        }
        return {
            "version": "1.0.0",
            "primary_column": self.spec.geometry_name,
            "columns": {self.spec.geometry_name: column},
        }

    def close(self) -> None:
        self._stream.close()

    def abort(self) -> None:
        self._stream.abort()


def _projjson(crs: str | None) -> dict[str, Any] | None:
    if crs is None:
        return None
    result: dict[str, Any] = json.loads(_projjson_text(crs))
    return result


@functools.lru_cache(maxsize=64)
def _projjson_text(crs: str) -> str:
    # Cached: every output of a source repeats its CRS, and PROJ takes tens of
    # milliseconds to parse one.
    import pyproj

    return str(pyproj.CRS.from_user_input(crs).to_json())


class _GdalSink(_Sink):
    """GeoPackage and GeoJSON: one GDAL write session fed by a stream of chunks.

    ``pyogrio.write_arrow`` consumes an Arrow stream in a worker thread (see
    :class:`_StreamSink`).  One session instead of one append per chunk matters:
    GeoPackage then builds its R-tree once at the end (measured 149k rows/s against
    56k for appends, which update the R-tree row by row), and GeoJSON is written by
    GDAL start to finish, whereas GDAL's GeoJSON append rewrites the whole file each
    time.  GDAL writing also overlaps the next lookup.
    """

    def __init__(self, temp: Path, spec: ResultWriter, driver: str) -> None:
        super().__init__(temp, spec)
        self._driver = driver
        self._stream = _StreamSink(self._consume, "siji-gdal-writer")

    def write(self, table: pa.Table, geometry: Geometries | None) -> None:
        self._stream.put(self._with_geometry(table, self._wkb(geometry, table.num_rows)))

    def _consume(self, first: pa.Table, tables: Iterator[pa.Table]) -> None:
        schema = first.schema
        taken = {name.lower() for name in schema.names}
        options: dict[str, Any] = {
            "layer": self.spec.path.stem,
            "driver": self._driver,
            "geometry_name": self.spec.geometry_name,
            "geometry_type": self.spec.geometry_type,
            "crs": self.spec.crs,
        }
        if self._driver == "GPKG" and "fid" in taken:
            # A text column named "fid" would collide with GeoPackage's integer key.
            options["layer_options"] = {"FID": free_name("fid", taken)}

        def batches() -> Iterator[pa.RecordBatch]:
            yield from first.to_batches()
            for table in tables:
                yield from (table if table.schema.equals(schema) else table.cast(schema)).to_batches()

        _pyogrio().write_arrow(pa.RecordBatchReader.from_batches(schema, batches()), self.temp, **options)

    def close(self) -> None:
        self._stream.close()

    def abort(self) -> None:
        self._stream.abort()


class _StreamSink:
    """Hands chunks to ``consume(first, rest)`` running in a worker thread.

    :meth:`put` queues a chunk (at most ``_QUEUE_CHUNKS`` wait, which bounds memory);
    the worker's errors surface in the caller's thread at the next :meth:`put` or at
    :meth:`close`; :meth:`abort` makes the rest iterator raise so that the consumer
    stops and closes its file.
    """

    _QUEUE_CHUNKS = 2  # chunks waiting for the writer: bounds memory, keeps it busy

    def __init__(self, consume: Callable[[pa.Table, Iterator[pa.Table]], None], name: str) -> None:
        self._consume = consume
        self._name = name
        self._queue: queue.Queue[pa.Table | None] = queue.Queue(maxsize=self._QUEUE_CHUNKS)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._aborted = threading.Event()

    def put(self, table: pa.Table) -> None:
        if self._thread is None:
            # A daemon, so that a writer never closed cannot keep the interpreter from exiting.
            self._thread = threading.Thread(target=self._run, args=(table,), name=self._name, daemon=True)
            self._thread.start()
            return
        self._put(table)

    def _run(self, first: pa.Table) -> None:
        try:
            self._consume(first, self._rest())
        except BaseException as exc:  # handed to the caller's thread in put()/close()
            self._error = exc

    def _rest(self) -> Iterator[pa.Table]:
        while True:
            table = self._queue.get()
            if self._aborted.is_set():
                raise RuntimeError("write aborted")
            if table is None:
                return
            yield table

    def _put(self, item: pa.Table | None) -> None:
        # Never block forever on a worker that has died: wait in short slices.
        while True:
            if self._error is not None:
                raise self._error
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                if self._thread is None or not self._thread.is_alive():
                    raise RuntimeError(f"the {self._name} thread stopped") from self._error

    def close(self) -> None:
        if self._thread is None:
            return
        self._put(None)
        self._thread.join()
        self._thread = None
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        if self._thread is None:
            return
        self._aborted.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)  # wake the worker if it waits for a chunk
        self._thread.join()
        self._thread = None


def free_name(base: str, taken: set[str] | frozenset[str]) -> str:
    """``base``, or ``base_1``, ``base_2`` ... whichever is not in ``taken`` (compared lower-case).

    Examples
    --------
    >>> free_name("geometry", {"id", "geometry"})
    'geometry_1'
    """
    lowered = {name.lower() for name in taken}
    name, n = base, 0
    while name.lower() in lowered:
        n += 1
        name = f"{base}_{n}"
    return name
