"""Writers of looked-up rows: CSV, GeoJSON, GeoPackage, GeoParquet (and JSON records
for the HTTP answer, :mod:`batch.json_records`).

:class:`ResultWriter` writes chunk after chunk into a temporary file next to the
output and renames it over the output only when every chunk is written, so a failed
run never leaves a half-written file behind.  Each format has its sink.

GeoPackage and GeoJSON are written by GDAL in a single session fed with an Arrow
stream of chunks (see ``_GdalSink``), not by appending chunk after chunk: GDAL 3.12
can append to GeoJSON, but it re-reads and rewrites the whole file on each append
(measured here: appending 50,000 features to a 170 MB file took 43 s, and RSS grew
with the file), and GeoPackage appends update the R-tree row by row (2.7x slower).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import threading
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import shapely

from batch.arrays import objects, strings
from batch.errors import explain, io_errors
from batch.formats import RECORDS, detect_format
from batch.points import (
    binary_storage,
)
from batch.sink import StreamSink
from geo.errors import InvalidInputError

if TYPE_CHECKING:
    from types import TracebackType
    from typing import TypeAlias

    from numpy.typing import NDArray

    #: Geometries for a writer: WKB (as read, or from :func:`batch.points.point_wkb`) or shapely objects.
    Geometries: TypeAlias = pa.Array | pa.ChunkedArray | NDArray[np.object_]


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
        self._sink: Sink | None = None
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
        except io_errors() as exc:
            raise InvalidInputError(
                f"{self.path.name}: cannot write {self.fmt}: {explain(exc)}", path=str(self.path)
            ) from exc


def _check_writable(path: Path) -> None:
    if path.is_dir():
        raise InvalidInputError(f"output {str(path)!r} is a directory", path=str(path))
    if not path.parent.is_dir():
        raise InvalidInputError(
            f"cannot write {path.name!r}: directory {str(path.parent)!r} does not exist", path=str(path)
        )


def _make_sink(fmt: str, temp: Path, spec: ResultWriter) -> Sink:
    if fmt == RECORDS:
        from batch.json_records import RecordsSink

        return RecordsSink(temp, spec)
    if fmt == "csv":
        return _CsvSink(temp, spec)
    if fmt == "parquet":
        return _ParquetSink(temp, spec)
    return _GdalSink(temp, spec, "GPKG" if fmt == "gpkg" else "GeoJSON")


class Sink:
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


class _CsvSink(Sink):
    def __init__(self, temp: Path, spec: ResultWriter) -> None:
        super().__init__(temp, spec)
        self._file: BinaryIO = open(temp, "wb")  # noqa: SIM115 (closed in close())
        self._writer: pacsv.CSVWriter | None = None

    def write(self, table: pa.Table, geometry: Geometries | None) -> None:
        if geometry is not None:
            if isinstance(geometry, pa.Array | pa.ChunkedArray):
                # Undecodable WKB (kept as read, its row marked invalid) is written empty.
                wkb = objects(binary_storage(geometry))
                geometry = shapely.from_wkb(wkb, on_invalid="ignore")
            wkt = shapely.to_wkt(geometry, rounding_precision=-1)  # full precision, no rounding
            table = self._with_geometry(table, strings(wkt))
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
            table = table.set_column(i, field.name, strings(values))
    return table


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


class _ParquetSink(Sink):
    """GeoParquet, one row group per chunk, written by a worker thread (see
    :class:`StreamSink`): encoding and compressing a chunk overlaps the next lookup."""

    def __init__(self, temp: Path, spec: ResultWriter) -> None:
        super().__init__(temp, spec)
        self._stream = StreamSink(self._consume, "siji-parquet-writer")

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


_WARNINGS = threading.Lock()


@contextlib.contextmanager
def _no_crs_warning() -> Iterator[None]:
    """Without pyogrio's warning that a layer has no CRS: GCJ-02 and BD-09 output has
    none on purpose (see :func:`batch.run.output_crs`).

    Around the write call only, not a filter installed at import: ``catch_warnings``
    saves and restores the process's filters, so writers take turns here (a lock), and
    only that one message is filtered meanwhile.
    """
    with _WARNINGS, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'crs' was not provided", category=UserWarning)
        yield


class _GdalSink(Sink):
    """GeoPackage and GeoJSON: one GDAL write session fed by a stream of chunks.

    ``pyogrio.write_arrow`` consumes an Arrow stream in a worker thread (see
    :class:`StreamSink`).  One session instead of one append per chunk matters:
    GeoPackage then builds its R-tree once at the end (measured 149k rows/s against
    56k for appends, which update the R-tree row by row), and GeoJSON is written by
    GDAL start to finish, whereas GDAL's GeoJSON append rewrites the whole file each
    time.  GDAL writing also overlaps the next lookup.
    """

    def __init__(self, temp: Path, spec: ResultWriter, driver: str) -> None:
        super().__init__(temp, spec)
        self._driver = driver
        self._stream = StreamSink(self._consume, "siji-gdal-writer")

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

        import pyogrio

        with _no_crs_warning():
            pyogrio.write_arrow(pa.RecordBatchReader.from_batches(schema, batches()), self.temp, **options)

    def close(self) -> None:
        self._stream.close()

    def abort(self) -> None:
        self._stream.abort()


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
