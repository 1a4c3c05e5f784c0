"""Batch lookup beyond one machine: the exact lookup on a Dask cluster.

Two entry points:

:func:`lookup_file_dask`
    A file in, a file out, like :func:`batch.run.lookup_file`, with the lookups run
    on the workers of a ``dask.distributed`` cluster.  The file is read and written
    where this function runs, with the very readers and writers of
    :func:`~batch.run.lookup_file` (:class:`~batch.readers.PointReader`,
    :class:`~batch.writers.ResultWriter`): the output is identical to the single-process
    one (same rows in the same order, same columns, same values, same bytes for CSV),
    and the workers need no access to the input or output paths (a cluster on other
    machines works without a shared filesystem).  Each partition of ``chunk_rows``
    rows is sent to a worker, looked up there with
    :func:`~batch.run.lookup_chunk`, and its table comes back; at most a few
    partitions per worker are in flight, so memory here stays bounded by the
    partition size, not the file size.

:func:`lookup_dask`
    The lower level: a ``dask.dataframe`` / ``dask_geopandas`` frame in, the same
    frame with the jurisdiction columns appended out (lazy, one task per partition),
    for data that is already partitioned on shared storage (e.g.
    ``dask_geopandas.read_parquet`` of a directory) and written with Dask's own
    writers.

The index is built **once per worker process**: the boundary set is put in the graph
(or scattered) once, and :func:`worker_index` caches the built
:class:`~geo.index.JurisdictionIndex` in a module-level dict keyed by a hash of the
boundary set and the snap distance.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import shapely

from batch.formats import DEFAULT_CHUNK_ROWS, detect_format
from batch.readers import PointChunk, PointReader
from batch.run import (
    ADDED_COLUMNS,
    MAX_INVALID_ROWS,
    BatchSummary,
    ProgressCallback,
    default_crs,
    lookup_chunk,
    output_crs,
    output_geometry,
    replaced_columns,
    result_columns,
)
from batch.writers import ResultWriter, free_name
from geo.crs import CRS, parse_crs, require_lonlat_frame
from geo.errors import InvalidInputError
from geo.index import DEFAULT_SNAP_DISTANCE_M, INVALID, STATUSES, JurisdictionIndex

if TYPE_CHECKING:
    import os

    import geopandas as gpd
    import pandas as pd
    from distributed import Client
    from numpy.typing import NDArray

    from geo.index import LookupResult

#: Partitions in flight per worker thread: enough to keep workers busy while this
#: process reads the next partition and writes the previous one.
IN_FLIGHT_PER_THREAD = 2

_INDEX_CACHE: dict[str, JurisdictionIndex] = {}
_INDEX_LOCK = threading.Lock()


@dataclass(frozen=True)
class BoundarySet:
    """A boundary set in a compact, picklable form, with its content hash.

    Attributes
    ----------
    codes, names, levels, parent_codes : tuple of str (parent None for the top level)
    wkb : tuple of bytes
        The polygons (WGS84), as WKB.
    key : str
        SHA-256 over all of the above: equal sets have equal keys.
    """

    codes: tuple[str, ...]
    names: tuple[str, ...]
    levels: tuple[str, ...]
    parent_codes: tuple[str | None, ...]
    wkb: tuple[bytes, ...]
    key: str

    @classmethod
    def from_frame(cls, frame: gpd.GeoDataFrame) -> BoundarySet:
        """Take a normalized boundary frame (``code``, ``name``, ``level``, ``parent_code``, EPSG:4326).

        Raises
        ------
        CRSMismatchError
            The frame is not in EPSG:4326 (or 4490, the same to a metre).
        """
        require_lonlat_frame(frame.crs)
        codes = tuple(str(v) for v in frame["code"])
        names = tuple(str(v) for v in frame["name"])
        levels = tuple(str(v) for v in frame["level"])
        parents = tuple(None if _missing(v) else str(v) for v in frame["parent_code"])
        wkb = tuple(shapely.to_wkb(np.asarray(frame.geometry.values, dtype=object), flavor="iso").tolist())
        digest = hashlib.sha256()
        for part in (codes, names, levels, tuple("" if p is None else p for p in parents)):
            digest.update("\x1f".join(part).encode())
            digest.update(b"\x1e")
        for blob in wkb:
            digest.update(len(blob).to_bytes(8, "little"))
            digest.update(blob)
        return cls(codes, names, levels, parents, wkb, digest.hexdigest())

    def build(self, snap_distance_m: float = DEFAULT_SNAP_DISTANCE_M) -> JurisdictionIndex:
        """Build the index (what :func:`boundaries.bundled.index_from_frame` builds)."""
        geometries = shapely.from_wkb(np.asarray(self.wkb, dtype=object))
        return JurisdictionIndex.from_arrays(
            np.asarray(self.codes, dtype=object),
            np.asarray(self.names, dtype=object),
            np.asarray(self.levels, dtype=object),
            np.asarray(self.parent_codes, dtype=object),
            geometries,
            snap_distance_m=snap_distance_m,
        )


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def worker_index(boundaries: BoundarySet, snap_distance_m: float) -> JurisdictionIndex:
    """The index of ``boundaries``, built once per process and then taken from a cache.

    Thread-safe: concurrent first calls in one worker build the index once.
    """
    key = f"{boundaries.key}:{float(snap_distance_m)!r}"
    with _INDEX_LOCK:
        index = _INDEX_CACHE.get(key)
        if index is None:
            index = boundaries.build(snap_distance_m)
            _INDEX_CACHE[key] = index
    return index


def cached_index_keys() -> list[str]:
    """Keys of the indexes this process has built (for tests: ``client.run(cached_index_keys)``)."""
    with _INDEX_LOCK:
        return list(_INDEX_CACHE)


# --- file in, file out ---------------------------------------------------------------


@dataclass
class _PartitionResult:
    table: pa.Table
    status_counts: NDArray[np.int64]
    invalid_rows: list[tuple[int, str]]  # 0-based row within the partition, reason


def _lookup_partition(
    boundaries: BoundarySet,
    snap_distance_m: float,
    chunk: PointChunk,
    crs: CRS,
    drop: list[str],
) -> _PartitionResult:
    """Worker side: look one partition up with :func:`batch.run.lookup_chunk`."""
    index = worker_index(boundaries, snap_distance_m)
    table, result, errors = lookup_chunk(index, chunk, crs, drop=drop)
    invalid = np.flatnonzero(result.status == INVALID)[:MAX_INVALID_ROWS]
    return _PartitionResult(
        table,
        np.bincount(result.status, minlength=len(STATUSES)).astype(np.int64),
        list(zip(invalid.tolist(), errors[invalid].tolist(), strict=True)),
    )


def lookup_file_dask(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    scheduler: str | Client,
    x_col: str | None = None,
    y_col: str | None = None,
    crs: str | int | CRS | None = None,
    partitions: int | None = None,
    generation_frame: gpd.GeoDataFrame | None = None,
    snap_distance_m: float = DEFAULT_SNAP_DISTANCE_M,
    chunk_rows: int | None = None,
    encoding: str = "utf-8",
    input_format: str | None = None,
    output_format: str | None = None,
    progress: ProgressCallback | None = None,
) -> BatchSummary:
    """Look up every point of a file on a Dask cluster; write the file with jurisdiction columns.

    The output is identical to :func:`batch.run.lookup_file`'s on the same input and
    boundary set: every input row, in order, every input column unchanged, then
    :data:`batch.run.ADDED_COLUMNS`.

    Parameters
    ----------
    input_path, output_path : path-like
        CSV, GeoJSON, GeoPackage or GeoParquet, by extension (any to any).  Read and
        written by this process; the workers never open them.
    scheduler : str or distributed.Client
        A scheduler address (``"tcp://127.0.0.1:8786"``; a client is opened and
        closed here) or a connected client.
    x_col, y_col, crs, encoding, input_format, output_format
        As for :func:`batch.run.lookup_file`.
    partitions : int, optional
        Split the input into about this many partitions (e.g. a few per worker);
        default: partitions of ``chunk_rows`` rows.
    generation_frame : GeoDataFrame, optional
        The normalized boundary set (``code``, ``name``, ``level``, ``parent_code``,
        geometry in EPSG:4326), e.g. ``store.generations.load_frame(engine, id)``.
        Default: the bundled Tai'an set.
    snap_distance_m : float
        Snap distance of the index (50 m by default, as in the service).
    chunk_rows : int, optional
        Rows per partition when ``partitions`` is not given (default 200,000).
    progress : callable, optional
        Called after every partition written as ``progress(rows_done, bytes_read, bytes_total)``
        (the reading runs a few partitions ahead of the writing).

    Returns
    -------
    BatchSummary
        ``rows``, ``counts_by_status``, ``invalid_rows`` (first 1,000, 1-based data
        row numbers) and ``seconds``, as :func:`batch.run.lookup_file` returns.

    Raises
    ------
    InvalidInputError
        As :func:`batch.run.lookup_file` (the output is then left untouched).

    Examples
    --------
    >>> from distributed import Client, LocalCluster                        # doctest: +SKIP
    >>> with LocalCluster(n_workers=2, threads_per_worker=1) as cluster:    # doctest: +SKIP
    ...     summary = lookup_file_dask("in.csv", "out.parquet", scheduler=cluster.scheduler_address)
    """
    started = time.perf_counter()
    if generation_frame is None:
        from boundaries.bundled import load_taian

        generation_frame = load_taian()
    boundaries = BoundarySet.from_frame(generation_frame)
    if chunk_rows is not None and chunk_rows < 1:
        raise InvalidInputError(f"chunk_rows must be at least 1, got {chunk_rows}", chunk_rows=chunk_rows)
    if partitions is not None and partitions < 1:
        raise InvalidInputError(f"partitions must be at least 1, got {partitions}", partitions=partitions)
    rows_per_partition = chunk_rows or DEFAULT_CHUNK_ROWS
    if partitions is not None:
        rows_per_partition = max(1, math.ceil(_estimate_rows(input_path, input_format) / partitions))
    lookup_crs = parse_crs(crs) if crs is not None else None
    out_fmt = detect_format(output_path, output_format)
    client, owned = _connect(scheduler)
    try:
        return _run(
            client,
            boundaries,
            snap_distance_m,
            input_path,
            output_path,
            out_fmt=out_fmt,
            lookup_crs=lookup_crs,
            x_col=x_col,
            y_col=y_col,
            rows_per_partition=rows_per_partition,
            encoding=encoding,
            input_format=input_format,
            started=started,
            progress=progress,
        )
    finally:
        if owned:
            client.close()


def _connect(scheduler: str | Client) -> tuple[Client, bool]:
    from distributed import Client

    if isinstance(scheduler, Client):
        return scheduler, False
    if not isinstance(scheduler, str):
        kind = type(scheduler).__name__
        raise TypeError(f"scheduler must be an address or a distributed.Client, not {kind}")
    return Client(scheduler, timeout="30s"), True


def _estimate_rows(path: str | os.PathLike[str], fmt: str | None) -> int:
    """Rows of a file, cheaply: Parquet metadata, GDAL's feature count, CSV line breaks."""
    name = detect_format(path, fmt)
    if name == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    if name == "csv":
        lines = 0
        with open(path, "rb") as handle:
            while block := handle.read(1 << 24):
                lines += block.count(b"\n")
        return max(1, lines)
    import pyogrio

    return max(1, int(pyogrio.read_info(path).get("features") or 1))


def _run(
    client: Client,
    boundaries: BoundarySet,
    snap_distance_m: float,
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    out_fmt: str,
    lookup_crs: CRS | None,
    x_col: str | None,
    y_col: str | None,
    rows_per_partition: int,
    encoding: str,
    input_format: str | None,
    started: float,
    progress: ProgressCallback | None,
) -> BatchSummary:
    summary = BatchSummary()
    threads = sum(client.nthreads().values()) or 1
    window = IN_FLIGHT_PER_THREAD * threads
    [boundaries_future] = client.scatter([boundaries], broadcast=True, hash=False)
    with PointReader(
        input_path,
        input_format,
        x_col=x_col,
        y_col=y_col,
        chunk_rows=rows_per_partition,
        encoding=encoding,
    ) as reader:
        info = reader.info
        crs = lookup_crs or default_crs(info)
        replaced = replaced_columns(info.columns, source=info.path.name)
        kept = [name for name in info.columns if name not in replaced]
        summary.replaced_columns = replaced
        summary.crs = crs.name
        summary.points_from = info.points_from
        geometry_name = "geometry"
        if out_fmt != "csv" and info.geometry_column and info.geometry_column != "wkb_geometry":
            geometry_name = info.geometry_column
        pending: deque[tuple[PointChunk, Any]] = deque()
        with ResultWriter(
            output_path,
            out_fmt,
            crs=output_crs(info, crs),
            geometry_name=free_name(geometry_name, frozenset(kept) | set(ADDED_COLUMNS)),
            geometry_type=info.geometry_type if info.geometry_column else "Point",
            geometry_position=len(kept),
        ) as writer:
            try:
                for chunk in reader:
                    # The worker needs no input geometry (only its x/y); the output
                    # geometry is taken here from the chunk as read.
                    # Scattered, not embedded in the task: the partition then goes
                    # straight to a worker instead of through the scheduler.
                    [sent] = client.scatter(
                        [PointChunk(chunk.table, chunk.coords, None, chunk.start)], hash=False
                    )
                    future = client.submit(
                        _lookup_partition,
                        boundaries_future,
                        snap_distance_m,
                        sent,
                        crs,
                        replaced,
                        pure=False,
                    )
                    pending.append((chunk, future))
                    while len(pending) >= window:
                        _collect(pending.popleft(), writer, out_fmt, summary)
                        if progress is not None:
                            progress(summary.rows, reader.bytes_done(), info.bytes_total)
                while pending:
                    _collect(pending.popleft(), writer, out_fmt, summary)
                    if progress is not None:
                        progress(summary.rows, reader.bytes_done(), info.bytes_total)
            finally:
                for _, future in pending:
                    future.cancel()
    if progress is not None:
        progress(summary.rows, info.bytes_total, info.bytes_total)
    summary.seconds = time.perf_counter() - started
    return summary


def _collect(item: tuple[PointChunk, Any], writer: ResultWriter, out_fmt: str, summary: BatchSummary) -> None:
    chunk, future = item
    part: _PartitionResult = future.result()
    writer.write(part.table, output_geometry(chunk, out_fmt))
    summary.rows += len(chunk)
    for code, count in enumerate(part.status_counts.tolist()):
        summary.counts_by_status[STATUSES[code]] += int(count)
    room = MAX_INVALID_ROWS - len(summary.invalid_rows)
    if room > 0:
        summary.invalid_rows.extend(
            (chunk.start + row + 1, reason) for row, reason in part.invalid_rows[:room]
        )


# --- dask frame in, dask frame out ---------------------------------------------------


def lookup_dask(
    frame: Any,
    *,
    x_col: str | None = None,
    y_col: str | None = None,
    crs: str | int | CRS | None = None,
    generation_frame: gpd.GeoDataFrame | None = None,
    snap_distance_m: float = DEFAULT_SNAP_DISTANCE_M,
) -> Any:
    """Append the jurisdiction columns to a ``dask.dataframe`` or ``dask_geopandas`` frame (lazy).

    Parameters
    ----------
    frame : dask.dataframe.DataFrame or dask_geopandas.GeoDataFrame
        Points from ``x_col``/``y_col`` (numbers or text, parsed as
        :func:`batch.points.coordinates_from_columns` does) when given or when the
        frame has no geometry; otherwise from the active geometry column (Points;
        anything else becomes an ``invalid`` row).
    x_col, y_col : str, optional
    crs : str, int or CRS, optional
        CRS of the points; default: the GeoDataFrame's CRS for geometry, WGS84 for
        columns.
    generation_frame : GeoDataFrame, optional
        The boundary set; default: the bundled Tai'an set.
    snap_distance_m : float

    Returns
    -------
    dask frame of the same kind
        Every row and column of ``frame`` in order, then :data:`batch.run.ADDED_COLUMNS`
        (a frame that already has all of them gets them replaced, like
        :func:`batch.run.lookup_file`).  Compute it, or write it with ``to_parquet`` /
        ``to_csv``, on any scheduler.

    Examples
    --------
    >>> import dask_geopandas, geopandas as gpd                               # doctest: +SKIP
    >>> points = dask_geopandas.from_geopandas(gpd.read_parquet("p.parquet"), npartitions=8)  # doctest: +SKIP
    >>> lookup_dask(points).to_parquet("out/")                               # doctest: +SKIP
    """
    import dask

    if generation_frame is None:
        from boundaries.bundled import load_taian

        generation_frame = load_taian()
    boundaries = BoundarySet.from_frame(generation_frame)
    meta = frame._meta
    geometry_name = _geometry_name(meta)
    columns = [str(c) for c in meta.columns]
    if x_col is None and y_col is None and geometry_name is None:
        from batch.points import find_xy_columns, missing_xy_error

        found = find_xy_columns(columns, None, None, source="frame")
        if found is None:
            raise missing_xy_error(columns, "frame")
        x_col, y_col = found
    elif x_col is not None or y_col is not None:
        from batch.points import find_xy_columns

        x_col, y_col = find_xy_columns(columns, x_col, y_col, source="frame")  # type: ignore[misc]
    if crs is not None:
        lookup_crs = parse_crs(crs)
    elif x_col is None and getattr(meta, "crs", None) is not None:
        epsg = meta.crs.to_epsg()
        if epsg is None:
            raise InvalidInputError("the frame's CRS has no EPSG code; give crs= explicitly")
        lookup_crs = parse_crs(epsg)
    else:
        lookup_crs = parse_crs(None)
    drop = replaced_columns([c for c in columns if c != geometry_name], source="frame")
    payload = dask.delayed(boundaries, name=f"siji-boundaries-{boundaries.key[:16]}", traverse=False)
    # The output layout, from the same function on the empty meta with a one-unit index.
    probe = JurisdictionIndex.from_arrays(["0"], ["-"], ["city"], [None], [shapely.box(0, 0, 1, 1)])
    out_meta = _lookup_frame(meta, probe, lookup_crs, x_col, y_col, drop)
    return frame.map_partitions(
        _lookup_partition_frame,
        payload,
        snap_distance_m,
        lookup_crs,
        x_col,
        y_col,
        drop,
        meta=out_meta,
        align_dataframes=False,
    )


def _geometry_name(meta: Any) -> str | None:
    try:
        return str(meta.geometry.name)
    except AttributeError:
        return None


def _lookup_partition_frame(
    part: pd.DataFrame,
    boundaries: BoundarySet,
    snap_distance_m: float,
    crs: CRS,
    x_col: str | None,
    y_col: str | None,
    drop: list[str],
) -> pd.DataFrame:
    return _lookup_frame(part, worker_index(boundaries, snap_distance_m), crs, x_col, y_col, drop)


def _lookup_frame(
    part: pd.DataFrame,
    index: JurisdictionIndex,
    crs: CRS,
    x_col: str | None,
    y_col: str | None,
    drop: list[str],
) -> pd.DataFrame:
    """One pandas/geopandas partition with the added columns appended."""
    from batch.points import coordinates_from_columns, coordinates_from_geometry
    from geo.locate import locate

    if x_col is not None and y_col is not None:
        # Named as in the frame: the reasons of invalid rows name the column.
        table = pa.table(
            [pa.Array.from_pandas(part[x_col]), pa.Array.from_pandas(part[y_col])], names=[x_col, y_col]
        )
        coords = coordinates_from_columns(table, x_col, y_col)
    else:
        coords = coordinates_from_geometry(np.asarray(part.geometry.values, dtype=object))
    result: LookupResult = locate(index, coords.x, coords.y, crs)
    errors = result.errors.copy() if result.errors is not None else np.full(len(result), None, dtype=object)
    errors[coords.bad] = coords.problems[coords.bad]
    out = part.drop(columns=drop) if drop else part.copy()
    for name, column in result_columns(result, errors).items():
        values = column.to_pandas()
        values.index = out.index
        out[name] = values
    return out


__all__ = [
    "BoundarySet",
    "cached_index_keys",
    "lookup_dask",
    "lookup_file_dask",
    "worker_index",
]
