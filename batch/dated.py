"""Each row by the boundaries of its own date: re-assigning history in one run.

With a date column (``siji lookup-batch --date-col``, ``POST /v1/lookup?date_col=``),
the rows of a chunk are grouped by the generation valid on their date, each group is
looked up in that generation's index, and the answers are put back in row order with
a ``generation`` column (the generation's name).  A row whose date cannot be read, or
on which no generation is valid (before the earliest one, or withdrawn), is
``invalid`` with the reason in ``error``.

Dates are calendar days in China: ``2024-06-01``, ``2024/6/1`` or ``20240601``,
optionally followed by a time (``2024-06-01 08:30``, ``2024-06-01T08:30:00+08:00``:
the date as written is taken); Arrow ``date32`` columns as they are, and timestamps
(Parquet) in China Standard Time when they carry a time zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from batch.run import ADDED_COLUMNS, result_columns
from geo.errors import InvalidInputError
from geo.index import INVALID, STATUSES
from geo.locate import locate

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from batch.readers import PointChunk
    from boundaries.service import BoundaryService
    from geo.crs import CRS
    from geo.index import Locator
    from store.timeline import GenerationInfo, Period

GENERATION_COLUMN = "generation"
"""The column added with ``--date-col``: the name of the generation that answered."""
CHINA = "Asia/Shanghai"


@dataclass
class DatedLookup:
    """Looks rows up in the generation valid on their date.

    Parameters
    ----------
    date_col : str
        The column holding each row's date.
    periods : list of Period
        Which generation answers when (``store.generations.timeline``).
    generations : dict of int to GenerationInfo
    index_of : callable
        The index of a generation (built once, then cached by the caller).
    """

    date_col: str
    periods: Sequence[Period]
    generations: dict[int, GenerationInfo]
    index_of: Callable[[GenerationInfo], Locator]

    def check_columns(self, columns: Sequence[str], source: str) -> list[str]:
        """The input's columns to drop (an earlier ``generation`` column of a re-run);
        refuse a missing date column or a ``generation`` column of the input's own."""
        if self.date_col not in columns:
            raise InvalidInputError(
                f"{source} has no column {self.date_col!r} for --date-col; its columns: {', '.join(columns)}",
                field="date_col",
                value=self.date_col,
            )
        rerun = {name.lower() for name in ADDED_COLUMNS} <= {name.lower() for name in columns}
        clash = [name for name in columns if name.lower() == GENERATION_COLUMN]
        if clash and not rerun:
            raise InvalidInputError(
                f"{source}: the input column {clash[0]!r} clashes with the column --date-col adds; rename it",
                columns=clash,
            )
        return clash

    def lookup_chunk(
        self, chunk: PointChunk, crs: str | int | CRS | None, drop: Sequence[str] = ()
    ) -> tuple[pa.Table, NDArray[np.uint8], NDArray[np.object_]]:
        """One chunk's output table (input columns minus ``drop``, the added columns and
        ``generation``), status codes and ``error`` values, in row order."""
        n = len(chunk)
        days = parse_dates(chunk.table.column(self.date_col))
        owner, reasons = self._generation_of(days, chunk.table.column(self.date_col))
        status = np.full(n, INVALID, dtype=np.uint8)
        errors = np.full(n, None, dtype=object)
        columns = {
            name: pa.nulls(n, pa.float64() if name == "distance_m" else pa.string()) for name in ADDED_COLUMNS
        }
        order: list[NDArray[np.int64]] = []
        parts: list[dict[str, pa.Array]] = []
        for generation_id in np.unique(owner[owner >= 0]):
            rows = np.flatnonzero(owner == generation_id)
            result = locate(
                self.index_of(self.generations[int(generation_id)]),
                chunk.coords.x[rows],
                chunk.coords.y[rows],
                crs,
            )
            group_errors = (
                result.errors.copy() if result.errors is not None else np.full(len(rows), None, dtype=object)
            )
            bad = chunk.coords.bad[rows]
            group_errors[bad] = chunk.coords.problems[rows][bad]
            status[rows] = result.status
            errors[rows] = group_errors
            order.append(rows)
            parts.append(result_columns(result, group_errors))
        undated = np.flatnonzero(owner < 0)
        errors[undated] = reasons[undated]
        if order or len(undated):
            positions = np.concatenate([*order, undated]).astype(np.int64)
            inverse = np.empty(n, dtype=np.int64)
            inverse[positions] = np.arange(n)
            for name in ADDED_COLUMNS:
                filler = pa.nulls(len(undated), columns[name].type)
                if name == "status":
                    filler = pa.array([STATUSES[INVALID]] * len(undated), type=pa.string())
                elif name == "error":
                    filler = pa.array(reasons[undated], type=pa.string())
                pieces = [part[name].cast(columns[name].type) for part in parts] + [filler]
                columns[name] = pa.concat_arrays(pieces).take(pa.array(inverse))
        table = chunk.table.drop_columns(list(drop)) if drop else chunk.table
        for name in ADDED_COLUMNS:
            table = table.append_column(name, columns[name])
        names = np.array([self.generations[int(g)].name if g >= 0 else None for g in owner], dtype=object)
        table = table.append_column(GENERATION_COLUMN, pa.array(names, type=pa.string()))
        return table, status, errors

    def _generation_of(
        self, days: NDArray[np.datetime64], raw: pa.ChunkedArray | pa.Array
    ) -> tuple[NDArray[np.int64], NDArray[np.object_]]:
        """The generation id valid on each day (-1: none) and the reason where none."""
        starts = np.array([p.start for p in self.periods], dtype="datetime64[D]")
        ends = np.array([p.end or dt.date.max for p in self.periods], dtype="datetime64[D]")
        ids = np.array([p.generation_id for p in self.periods], dtype=np.int64)
        k = np.searchsorted(starts, days, side="right") - 1
        known = ~np.isnat(days) & (k >= 0)
        valid = known.copy()
        valid[known] = days[known] < ends[k[known]]
        owner = np.where(valid, ids[np.clip(k, 0, None)], -1)
        reasons = np.full(len(days), None, dtype=object)
        values = raw.to_pylist()
        earliest = starts[0] if len(starts) else None
        for i in np.flatnonzero(~valid):
            if np.isnat(days[i]):
                reasons[i] = (
                    f"{self.date_col}={values[i]!r} is not a date (YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD, "
                    "optionally with a time)"
                    if values[i] not in (None, "")
                    else f"{self.date_col} is empty; a date is needed to choose the boundaries"
                )
            elif earliest is not None and days[i] < earliest:
                reasons[i] = f"{self.date_col}={days[i]} is before the earliest boundary generation "
                reasons[i] += f"(valid from {earliest})"
            else:
                reasons[i] = f"no boundary generation is valid on {self.date_col}={days[i]} (withdrawn)"
        return owner, reasons


def parse_dates(column: pa.ChunkedArray | pa.Array) -> NDArray[np.datetime64]:
    """Days of a date column as ``datetime64[D]``, NaT where unreadable or not a day of
    the calendar (``2024-02-30`` is refused, never rolled over to March).

    Examples
    --------
    >>> values = ["2024-06-01", "2024/6/1 08:30", "20240601", "2024-13-01", "2023-02-29", None]
    >>> parse_dates(pa.array(values)).tolist()
    [datetime.date(2024, 6, 1), datetime.date(2024, 6, 1), datetime.date(2024, 6, 1), None, None, None]
    """
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_date(array.type):
        days = array.cast(pa.date32())
    elif pa.types.is_timestamp(array.type):
        if array.type.tz is not None:
            array = pc.local_timestamp(array.cast(pa.timestamp(array.type.unit, CHINA)))
        days = array.cast(pa.date32())
    else:
        return _parse_text_dates(array.cast(pa.string()))
    return np.asarray(days.to_numpy(zero_copy_only=False), dtype="datetime64[D]")


_SEPARATED = r"^(?P<y>[0-9]{4})[-/](?P<m>[0-9]{1,2})[-/](?P<d>[0-9]{1,2})$"
_COMPACT = r"^(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})$"


def _parse_text_dates(text: pa.Array) -> NDArray[np.datetime64]:
    """The date part of each value (before a ``T`` or a space), checked against the calendar."""
    trimmed = pc.utf8_trim_whitespace(text)
    first = pc.list_element(pc.split_pattern_regex(trimmed, "[T ]", max_splits=1), 0)
    parts = [pc.extract_regex(first, pattern) for pattern in (_SEPARATED, _COMPACT)]
    y, m, d = (
        np.asarray(pc.coalesce(*[pc.struct_field(p, name) for p in parts]).cast(pa.int64()).fill_null(0))
        for name in ("y", "m", "d")
    )
    ok = (y > 0) & (m >= 1) & (m <= 12) & (d >= 1)
    month = np.where(ok, (y - 1970) * 12 + (m - 1), 0).astype("datetime64[M]")
    month_days = ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")).astype(np.int64)
    ok &= d <= month_days
    days = month.astype("datetime64[D]") + np.where(ok, d - 1, 0)
    return np.where(ok, days, np.datetime64("NaT", "D"))


def dated_points(
    lookup: DatedLookup,
    ids: Sequence[object],
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    dates: Sequence[object],
    crs: str,
) -> pa.Table:
    """JSON points (id, lon, lat, date) answered by their dates, as one table."""
    from batch.points import Coordinates
    from batch.readers import PointChunk

    as_text = [None if d is None else str(d) for d in dates]
    table = pa.table(
        {
            "id": pa.array([None if i is None else str(i) for i in ids], type=pa.string()),
            "lon": lon,
            "lat": lat,
            lookup.date_col: pa.array(as_text, type=pa.string()),
        }
    )
    n = len(lon)
    coords = Coordinates(lon, lat, np.full(n, None, dtype=object), np.zeros(n, dtype=bool))
    out, _, _ = lookup.lookup_chunk(PointChunk(table, coords, geometry=None, start=0), crs)
    return out


def dated_lookup(
    boundaries: BoundaryService, date_col: str | None, at: dt.date | None = None
) -> DatedLookup | None:
    """The :class:`DatedLookup` of a boundary service for ``date_col`` (None without one).

    Raises
    ------
    InvalidInputError
        ``date_col`` given with ``at`` (a fixed date).
    """
    if not date_col:
        return None
    if at is not None:
        raise InvalidInputError(
            f"a date column ({date_col!r}) and a fixed date (at={at}) exclude each other: each row is "
            "answered by its own date; leave one out",
            field="date_col",
        )
    periods, generations = boundaries.timeline()
    return DatedLookup(date_col, periods, generations, boundaries.index_of)
