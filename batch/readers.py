"""Streaming readers of point files: CSV, GeoJSON, GeoPackage, GeoParquet.

:class:`PointReader` (or :func:`iter_chunks`) yields :class:`PointChunk` objects of at
most ``chunk_rows`` rows, so memory follows the chunk size, not the file size:

* CSV: ``pyarrow.csv.open_csv`` with every column typed as text, so ``"007"`` stays
  ``"007"``; quoted values may hold newlines.
* GeoParquet / Parquet: ``ParquetFile.iter_batches`` (memory is bounded by one row
  group, the unit Parquet stores; writers normally keep those at ~1M rows or fewer).
* GeoJSON / GeoPackage: ``pyogrio.open_arrow``, GDAL's Arrow stream (pyogrio, and with
  it geopandas, is imported only for these).

Points come from a Point geometry column, or from x/y columns when the caller names
them or the file has no geometry column (``lon``/``lat``, ``lng``/``lat``,
``longitude``/``latitude``, ``x``/``y``, ``经度``/``纬度``, any case).
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from batch import formats
from batch.errors import errors_as_invalid_input
from batch.formats import (
    DEFAULT_CHUNK_ROWS,
    check_column_count,
    check_content,
    check_readable,
    detect_format,
)
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
    pass


def _pyogrio() -> Any:
    import pyogrio

    return pyogrio


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
        check_readable(self.path)
        check_content(self.path, fmt_name, encoding)
        self._encoding = encoding if fmt_name == "csv" else None
        try:
            with errors_as_invalid_input(self.path, f"read it as {fmt_name}", self._encoding):
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
        check_column_count(self.path, len(columns))
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
        with errors_as_invalid_input(self.path, f"read it as {self.info.fmt}", self._encoding):
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
        self._read = pacsv.ReadOptions(block_size=formats.CSV_BLOCK_BYTES, encoding=encoding)
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
