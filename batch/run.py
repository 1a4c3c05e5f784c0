"""The batch lookup driver: a point file in, the same file with jurisdictions out.

Every input row is kept, in order, with every input column unchanged; the columns of
:data:`ADDED_COLUMNS` are appended.  Rows whose point cannot be used get status
``invalid`` and the reason in ``error``.

Column clashes
--------------
An input that already has *all* the added columns is taken to be an earlier siji
output being looked up again (e.g. after a boundary update): those columns are
replaced, and listed in :attr:`BatchSummary.replaced_columns`, so the output has the
same layout as a first run.  An input that has only *some* of them (say a ``status``
column of its own, common in city-management case data) is refused with an
:class:`~geo.errors.InvalidInputError` naming the clashing columns: overwriting
them would silently destroy the user's data, and suffixing ours would make the
output's layout depend on the input.  Names are compared case-insensitively,
because GeoPackage and SQL are case-insensitive.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from batch.arrays import booleans, numbers, scalar, sparse_strings, strings
from batch.formats import DEFAULT_CHUNK_ROWS, detect_format
from batch.points import point_wkb
from batch.readers import PointChunk, PointReader, SourceInfo
from batch.writers import ResultWriter, free_name
from geo.crs import CRS, parse_crs
from geo.errors import InvalidInputError
from geo.index import INVALID, STATUSES, Locator, LookupResult
from geo.levels import LEVEL_KEYS
from geo.locate import locate

if TYPE_CHECKING:
    import os

    from numpy.typing import NDArray

    from batch.dated import DatedLookup

#: The columns a lookup adds, in order (the keys of ``LookupResult.columns()``).
ADDED_COLUMNS: tuple[str, ...] = (
    *(f"{key}_{part}" for key in LEVEL_KEYS for part in ("code", "name")),
    "status",
    "distance_m",
    "candidates",
    "error",
)
MAX_INVALID_ROWS = 1000
ProgressCallback = Callable[[int, int, int], None]


@dataclass
class BatchSummary:
    """What a batch lookup did.

    Attributes
    ----------
    rows : int
        Rows read and written.
    counts_by_status : dict of str to int
        Rows per status, every status of :data:`geo.index.STATUSES` present (0 if none).
    invalid_rows : list of (int, str)
        1-based data row number (header not counted) and reason, for the first
        :data:`MAX_INVALID_ROWS` invalid rows.
    seconds : float
        Wall time of the whole run.
    replaced_columns : list of str
        Input columns that were replaced by the added columns (re-run on an output).
    crs : str
        The CRS the points were read in.
    points_from : str
        ``geometry 'geom'`` or ``columns lon/lat``.
    """

    rows: int = 0
    counts_by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    invalid_rows: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0
    replaced_columns: list[str] = field(default_factory=list)
    crs: str = "wgs84"
    points_from: str = ""

    @property
    def rows_per_second(self) -> float:
        """Throughput of the run."""
        return self.rows / self.seconds if self.seconds > 0 else float("nan")

    def add(self, chunk: PointChunk, status: NDArray[np.uint8], errors: NDArray[np.object_]) -> None:
        """Count one chunk's statuses and remember its first invalid rows."""
        self.rows += len(chunk)
        for code, count in enumerate(np.bincount(status, minlength=len(STATUSES))):
            self.counts_by_status[STATUSES[code]] += int(count)
        room = MAX_INVALID_ROWS - len(self.invalid_rows)
        if room > 0:
            rows = np.flatnonzero(status == INVALID)[:room]
            numbers = (rows + chunk.start + 1).tolist()
            self.invalid_rows.extend(zip(numbers, errors[rows].tolist(), strict=True))


def lookup_file(
    index: Locator,
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    x_col: str | None = None,
    y_col: str | None = None,
    crs: str | int | CRS | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: ProgressCallback | None = None,
    encoding: str = "utf-8",
    input_format: str | None = None,
    output_format: str | None = None,
    by_date: DatedLookup | None = None,
) -> BatchSummary:
    """Look up every point of a file and write the file with jurisdiction columns added.

    Parameters
    ----------
    index : JurisdictionIndex or another Locator (e.g. store.postgis_lookup.PostGISIndex)
    input_path, output_path : path-like
        CSV, GeoJSON, GeoPackage or GeoParquet, by extension (any to any).
    x_col, y_col : str, optional
        Coordinate columns.  Default: the Point geometry of spatial files, else the
        first of lon/lat, lng/lat, longitude/latitude, x/y, 经度/纬度 (any case).
    crs : str, int or CRS, optional
        CRS of the points (``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``, ``EPSG:n``).
        Default: the geometry's CRS in the file when points come from the geometry,
        WGS84 otherwise.  When given it wins over the file's CRS, because Chinese
        GeoJSON is often GCJ-02 however it is tagged.
    chunk_rows : int
        Rows per chunk; memory grows with it, not with the file.
    progress : callable, optional
        Called after every chunk as ``progress(rows_done, bytes_done, bytes_total)``.
    encoding : str
        Text encoding of CSV input (e.g. ``gb18030``).
    input_format, output_format : str, optional
        Override the formats given by the extensions.
    by_date : batch.dated.DatedLookup, optional
        Answer each row with the generation valid on its date (``index`` is then not
        used) and add a ``generation`` column.

    Returns
    -------
    BatchSummary

    Raises
    ------
    InvalidInputError
        Unknown extensions, unreadable/empty/malformed input, missing x/y columns,
        clashing columns, an unknown CRS, an unwritable output.  The output file is
        then left untouched.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from shapely import box
    >>> from geo.index import JurisdictionIndex
    >>> index = JurisdictionIndex.from_arrays(["C"], ["Tai'an"], ["city"], [None], [box(117, 36, 118, 37)])
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "in.csv").write_text("id,lon,lat\\n007,117.5,36.5\\n008,abc,36.5\\n")
    >>> summary = lookup_file(index, folder / "in.csv", folder / "out.csv")
    >>> summary.counts_by_status["ok"], summary.invalid_rows
    (1, [(2, "lon='abc' is not a number")])
    >>> (folder / "out.csv").read_text().splitlines()[1][:30]
    '"007","117.5","36.5","C","Tai\\''
    """
    started = time.perf_counter()
    lookup_crs = parse_crs(crs) if crs is not None else None
    out_fmt = detect_format(output_path, output_format)
    summary = BatchSummary()
    with PointReader(
        input_path, input_format, x_col=x_col, y_col=y_col, chunk_rows=chunk_rows, encoding=encoding
    ) as reader:
        info = reader.info
        lookup_crs = lookup_crs or default_crs(info)
        replaced = replaced_columns(info.columns, source=info.path.name)
        if by_date is not None:
            replaced += by_date.check_columns(info.columns, info.path.name)
        kept = [name for name in info.columns if name not in replaced]
        summary.replaced_columns = replaced
        summary.crs = lookup_crs.name
        summary.points_from = info.points_from
        with ResultWriter(
            output_path,
            out_fmt,
            crs=output_crs(info, lookup_crs),
            geometry_name=free_name(
                _geometry_name(info, out_fmt), frozenset(kept) | set(ADDED_COLUMNS) | {"generation"}
            ),
            geometry_type=info.geometry_type if info.geometry_column else "Point",
            geometry_position=len(kept),
        ) as writer:
            for chunk in reader:
                if by_date is None:
                    table, result, errors = lookup_chunk(index, chunk, lookup_crs, drop=replaced)
                    status = result.status
                else:
                    table, status, errors = by_date.lookup_chunk(chunk, lookup_crs, drop=replaced)
                writer.write(table, output_geometry(chunk, out_fmt))
                summary.add(chunk, status, errors)
                if progress is not None:
                    progress(summary.rows, reader.bytes_done(), info.bytes_total)
    if progress is not None:
        progress(summary.rows, info.bytes_total, info.bytes_total)
    summary.seconds = time.perf_counter() - started
    return summary


def lookup_chunk(
    index: Locator,
    chunk: PointChunk,
    crs: str | int | CRS | None = None,
    *,
    drop: Sequence[str] = (),
) -> tuple[pa.Table, LookupResult, NDArray[np.object_]]:
    """Look up one chunk: its input columns (minus ``drop``) plus :data:`ADDED_COLUMNS`.

    Returns
    -------
    table : pyarrow.Table
        The output rows, without geometry (see :func:`output_geometry`).
    result : LookupResult
    errors : ndarray of object
        The ``error`` column: the row's reading problem, else the lookup's reason.

    Examples
    --------
    >>> import pyarrow as pa
    >>> from shapely import box
    >>> from batch.readers import PointChunk
    >>> from batch.points import coordinates_from_columns
    >>> from geo.index import JurisdictionIndex
    >>> index = JurisdictionIndex.from_arrays(["C"], ["c"], ["city"], [None], [box(117, 36, 118, 37)])
    >>> t = pa.table({"lon": ["117.5"], "lat": ["36.5"]})
    >>> chunk = PointChunk(t, coordinates_from_columns(t, "lon", "lat"), geometry=None, start=0)
    >>> table, _, _ = lookup_chunk(index, chunk)
    >>> table.column("city_code").to_pylist(), table.column("status").to_pylist()
    (['C'], ['ok'])
    """
    coords = chunk.coords
    result = locate(index, coords.x, coords.y, crs)
    errors = result.errors.copy() if result.errors is not None else np.full(len(result), None, dtype=object)
    # locate() only saw NaN for these rows; our reason names the actual value.
    errors[coords.bad] = coords.problems[coords.bad]
    table = chunk.table.drop_columns(list(drop)) if drop else chunk.table
    for name, column in result_columns(result, errors).items():
        table = table.append_column(name, column)
    return table, result, errors


def result_columns(result: LookupResult, errors: NDArray[np.object_] | None = None) -> dict[str, pa.Array]:
    """:meth:`LookupResult.columns` as Arrow arrays, in :data:`ADDED_COLUMNS` order.

    Codes, names and statuses are gathered with ``take`` from the small unit and
    status tables rather than converted from per-row Python strings (several times
    faster); the tests pin the result to ``result.columns()``.

    Parameters
    ----------
    result : LookupResult
    errors : ndarray of object, optional
        The ``error`` column; ``result.errors`` by default.

    Examples
    --------
    >>> from shapely import box
    >>> from geo.index import JurisdictionIndex
    >>> index = JurisdictionIndex.from_arrays(["C"], ["c"], ["city"], [None], [box(117, 36, 118, 37)])
    >>> columns = result_columns(locate(index, [117.5, 120.0], [36.5, 36.5]))
    >>> columns["city_code"].to_pylist(), columns["status"].to_pylist()
    (['C', None], ['ok', 'outside'])
    """
    units = result.units
    codes = strings(units.codes)
    names = strings(units.names)
    out: dict[str, pa.Array] = {}
    for rank, key in enumerate(LEVEL_KEYS):
        rows = result.unit_rows[:, rank]
        picks = numbers(rows, mask=rows < 0)  # -1 (no unit) becomes null
        out[f"{key}_code"] = codes.take(picks)
        out[f"{key}_name"] = names.take(picks)
    out["status"] = strings(STATUSES).take(numbers(result.status))
    # NaN (no snap) becomes null, written empty in CSV rather than "nan".
    distance = np.round(result.distance_m, 2)
    out["distance_m"] = numbers(distance, mask=np.isnan(distance))
    out["candidates"] = _candidates(result, codes)
    if errors is None:
        errors = result.errors if result.errors is not None else np.full(len(result), None, dtype=object)
    out["error"] = sparse_strings(errors)
    return out


def _candidates(result: LookupResult, codes: pa.Array) -> pa.Array:
    """Candidate codes joined by ';' (null without candidates), without a loop over rows."""
    offsets = np.asarray(result.candidate_offsets, dtype=np.int64)
    lists = pa.LargeListArray.from_arrays(numbers(offsets), codes.take(numbers(result.candidate_rows)))
    joined = pc.binary_join(lists, scalar(";", pa.string()))
    none = np.diff(offsets) == 0
    if not none.any():
        return joined
    return pc.if_else(booleans(none), pa.nulls(len(joined), pa.string()), joined)


def output_geometry(chunk: PointChunk, fmt: str) -> pa.BinaryArray | None:
    """The geometry to write, as WKB: the input's (byte for byte), else Points built from x/y.

    CSV gets geometry only when the input had some (written as WKT); rows whose x/y
    are unusable get a null geometry.
    """
    if chunk.geometry is not None:
        return chunk.geometry
    if fmt == "csv":
        return None
    return point_wkb(chunk.coords.x, chunk.coords.y)


def replaced_columns(columns: Sequence[str], *, source: str = "input") -> list[str]:
    """Input columns to replace by the added ones (see the module notes on clashes).

    Raises
    ------
    InvalidInputError
        Some, but not all, of the added columns are present.

    Examples
    --------
    >>> replaced_columns(["id", "lon", "lat"])
    []
    >>> replaced_columns(["id", *ADDED_COLUMNS]) == list(ADDED_COLUMNS)
    True
    """
    added = {name.lower() for name in ADDED_COLUMNS}
    clashing = [name for name in columns if name.lower() in added]
    if not clashing or {name.lower() for name in clashing} == added:
        return clashing
    raise InvalidInputError(
        f"{source}: input column(s) {', '.join(map(repr, clashing))} clash with the columns siji adds "
        f"({', '.join(ADDED_COLUMNS)}); rename them and run again (an earlier siji output, which has "
        "all of these columns, is accepted and its columns are replaced)",
        columns=clashing,
    )


def default_crs(info: SourceInfo) -> CRS:
    """The CRS of the points when the caller gave none.

    The geometry's CRS from the file when points come from the geometry (WGS84 when
    the file declares none), WGS84 for x/y columns.

    Raises
    ------
    InvalidInputError
        The file's CRS has no EPSG equivalent.
    """
    if info.x_col is not None or info.crs is None:
        return parse_crs(None)
    import pyproj

    try:
        epsg, name = _epsg_of(info.crs)
    except pyproj.exceptions.CRSError as exc:
        raise InvalidInputError(
            f"{info.path.name}: the geometry's CRS cannot be read ({exc}); give the CRS explicitly "
            "(crs=..., --crs)"
        ) from exc
    if epsg is None:
        raise InvalidInputError(
            f"{info.path.name}: the geometry's CRS ({name}) has no EPSG code; give the CRS "
            "explicitly (crs=..., --crs)",
            crs=name,
        )
    return parse_crs(epsg)


@functools.lru_cache(maxsize=64)
def _epsg_of(crs: str) -> tuple[int | None, str]:
    """(EPSG code or None, name) of a file's CRS text.  Cached: files of one source
    repeat the same PROJJSON, and parsing it costs PROJ tens of milliseconds."""
    import pyproj

    file_crs = pyproj.CRS.from_user_input(crs)
    epsg = file_crs.to_epsg()
    if epsg is None and file_crs.to_authority() == ("OGC", "CRS84"):
        epsg = 4326
    return epsg, str(file_crs.name)


def output_crs(info: SourceInfo, lookup_crs: CRS) -> str | None:
    """CRS to tag spatial output with: the input geometry's, else that of the x/y values.

    GCJ-02 and BD-09 are not geodetic CRSs and have no code, so such output carries
    no CRS (GeoJSON readers will then assume WGS84: pass the CRS again on re-runs).
    """
    if info.geometry_column is not None:
        return info.crs
    return f"EPSG:{lookup_crs.epsg}" if lookup_crs.epsg is not None else None


def _geometry_name(info: SourceInfo, fmt: str) -> str:
    # GDAL names GeoJSON geometry "wkb_geometry" on read; that name means nothing.
    if fmt == "csv" or not info.geometry_column or info.geometry_column == "wkb_geometry":
        return "geometry"
    return info.geometry_column
