"""Performance of units and service teams over a period, rated 骏马 / 黄牛 / 蜗牛.

Input is a :class:`pandas.DataFrame` of cases, one row per report (see
:data:`REQUIRED_COLUMNS`); :func:`unit_metrics` counts, per owning unit (or per
service team), the digital-city-management indicators of the period ``[start, end)``
and rates each unit with the thresholds of ``routing/ratings.toml``.

Definitions (a case is *in the period* when its ``due_at`` is in ``[start, end)``, or,
for a case deferred before its clock started, when its ``paused_at`` is)

``due_at`` is the due time that counts: the one the category gave at the first
dispatch, moved only by an approved extension and by the time a deferral paused the
clock; escalation (督办) never moves it.  ``closed_at`` is the first closure.

``due`` 应结案数
    Cases in the period, except state ``invalid`` (无效) and ``deferred`` (挂账).
``deferred`` 挂账数
    Cases in the period in state ``deferred``, whatever state they were deferred
    from; reported apart, never in ``due``.
``closed`` 结案数
    Due cases with ``closed_at`` before ``end`` (the period is half-open, so a case
    closed at ``end`` or later is not closed in this period).  Closure is read from
    ``closed_at`` (the first closure), not from the current ``state``: a case closed
    in the period and reopened afterwards still counts for this period.
``reopened`` 重开数
    Due cases reopened at least once (``reopen_count > 0``).
``closed_on_time`` 按期结案数 / ``handled_on_time`` 按期处置数
    Due cases with ``closed_at <= due_at`` / ``handled_at <= due_at`` (handled_at is
    the handler's report that the work is done, 反馈).
``reworked`` 返工数
    Due cases with ``rework_count > 0``.
Rates (``NaN`` when the denominator is 0, never a misleading 0)
    ``closure_rate`` 结案率 = closed / due; ``on_time_closure_rate`` 按期结案率 =
    closed_on_time / due; ``on_time_handling_rate`` 按期处置率 = handled_on_time / due;
    ``rework_rate`` 返工率 = reworked / due cases handled at least once (``handled_at``
    set, or ``rework_count > 0``: a reworked case was handled before its check failed).
``median_handling_hours`` / ``median_handling_hours_wall``
    Median of ``handled_at - dispatched_at`` over due cases with both set, in office
    hours of the :class:`~routing.calendar.WorkCalendar` (weekends, holidays, nights
    and lunch breaks do not count; make-up workdays do) and in wall-clock hours.

Every unit (or team) that appears in the input is listed, so a unit with nothing due
shows up as 待评 with ``NaN`` rates instead of silently disappearing.

Ratings (:data:`RATINGS`): ``fast`` 骏马, ``steady`` 黄牛, ``slow`` 蜗牛, and
``unrated`` 待评 for fewer than ``min_cases`` due cases; see ``ratings.toml``.

Examples
--------
>>> import pandas as pd
>>> t = lambda s: pd.Timestamp(s, tz="Asia/Shanghai").tz_convert("UTC")
>>> cases = pd.DataFrame({
...     "report_id": [1, 2], "unit_key": ["370902002001"] * 2, "unit_name": ["岱庙社区"] * 2,
...     "created_at": [t("2025-09-01 09:00")] * 2, "dispatched_at": [t("2025-09-01 10:00")] * 2,
...     "due_at": [t("2025-09-03 10:00")] * 2,
...     "handled_at": [t("2025-09-02 10:00"), t("2025-09-04 10:00")],
...     "closed_at": [t("2025-09-02 15:00"), pd.NaT], "state": ["closed", "handled"],
...     "rework_count": [0, 0]})
>>> row = unit_metrics(cases, t("2025-09-01"), t("2025-10-01")).iloc[0]
>>> int(row.due), int(row.closed), float(row.on_time_closure_rate), row.rating_zh
(2, 1, 0.5, '待评')
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from geo.errors import InvalidInputError
from routing._toml import read_toml
from routing.calendar import WorkCalendar, default_calendar
from routing.errors import NaiveDatetimeError

STATES: tuple[str, ...] = (
    "reported",
    "verified",
    "filed",
    "dispatched",
    "in_progress",
    "handled",
    "checked",
    "closed",
    "returned",
    "rework",
    "deferred",
    "reopened",
    "invalid",
)
"""The states a case can be in (the ``state`` column)."""
TIMESTAMP_COLUMNS: tuple[str, ...] = ("created_at", "dispatched_at", "due_at", "handled_at", "closed_at")
"""Columns holding timezone-aware instants, ``NaT`` when the step has not happened."""
REQUIRED_COLUMNS: tuple[str, ...] = (
    "report_id",
    "unit_key",
    "unit_name",
    *TIMESTAMP_COLUMNS,
    "state",
    "rework_count",
)
"""Columns :func:`unit_metrics` needs; ``team`` is needed too for ``by="team"``."""
OPTIONAL_COLUMNS: dict[str, str] = {"paused_at": "datetime64[ns, UTC]", "reopen_count": "int64"}
"""Columns :func:`unit_metrics` reads when present (absent: never paused, never reopened): their dtypes."""
GROUP_BY: tuple[str, ...] = ("unit_key", "team")
"""What :func:`unit_metrics` can group by."""

COUNT_COLUMNS: tuple[str, ...] = (
    "due",
    "closed",
    "closed_on_time",
    "handled_on_time",
    "deferred",
    "reworked",
    "reopened",
)
RATE_COLUMNS: tuple[str, ...] = (
    "closure_rate",
    "on_time_closure_rate",
    "on_time_handling_rate",
    "rework_rate",
)
HOURS_COLUMNS: tuple[str, ...] = ("median_handling_hours", "median_handling_hours_wall")
METRIC_COLUMNS: tuple[str, ...] = (
    "unit_key",
    "unit_name",
    *COUNT_COLUMNS,
    *RATE_COLUMNS,
    *HOURS_COLUMNS,
    "rating",
    "rating_zh",
)
"""Columns of :func:`unit_metrics` by unit; by team the first two are replaced by ``team``."""

RATINGS: dict[str, str] = {"fast": "骏马", "steady": "黄牛", "slow": "蜗牛", "unrated": "待评"}
"""Rating code -> Chinese label."""

CHINESE_HEADERS: dict[str, str] = {
    "unit_key": "单位编码",
    "unit_name": "单位名称",
    "team": "服务队",
    "due": "应结案数",
    "closed": "结案数",
    "closed_on_time": "按期结案数",
    "handled_on_time": "按期处置数",
    "deferred": "挂账数",
    "reworked": "返工数",
    "reopened": "重开数",
    "closure_rate": "结案率",
    "on_time_closure_rate": "按期结案率",
    "on_time_handling_rate": "按期处置率",
    "rework_rate": "返工率",
    "median_handling_hours": "处置用时中位数（工作小时）",
    "median_handling_hours_wall": "处置用时中位数（自然小时）",
    "rating": "评级代码",
    "rating_zh": "评级",
}
"""English column name -> Chinese header, for CSV files and the CLI."""

RATE_DIGITS = 4
"""Decimals of rates in :func:`to_csv` (0.9375 = 93.75%)."""
HOURS_DIGITS = 2
"""Decimals of hours in :func:`to_csv`."""

_MAX_MIN_CASES = 1_000_000
_SHOWN = 5  # how many bad values / report ids an error message lists


class RatingsDataError(InvalidInputError):
    """A rating-thresholds file that cannot be used (syntax, fields, ranges, consistency)."""

    code = "invalid_ratings"


# --------------------------------------------------------------------------- thresholds
# (table, key) in ratings.toml -> attribute of RatingThresholds
_RATE_FIELDS: dict[tuple[str, str], str] = {
    ("fast", "min_on_time_closure_rate"): "fast_min_on_time_closure_rate",
    ("fast", "max_rework_rate"): "fast_max_rework_rate",
    ("slow", "on_time_closure_rate_below"): "slow_on_time_closure_rate_below",
    ("slow", "rework_rate_above"): "slow_rework_rate_above",
}
_FIELD_NAMES = {attr: f"{table}.{key}" for (table, key), attr in _RATE_FIELDS.items()}


@dataclass(frozen=True, slots=True)
class RatingThresholds:
    """When a unit is 骏马, 蜗牛 or 待评 (see ``routing/ratings.toml`` for the rules).

    Validated on construction: rates in ``0..1``, ``min_cases`` from 1, and fast at
    least as strict as slow.  Errors name ``source``, the field as written in the
    TOML file, the value and what is allowed.

    Examples
    --------
    >>> t = RatingThresholds(10, 0.9, 0.05, 0.7, 0.2)
    >>> t.fast_min_on_time_closure_rate
    0.9
    >>> RatingThresholds(10, 0.6, 0.05, 0.7, 0.2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    routing.metrics.RatingsDataError: <RatingThresholds>: field 'fast.min_on_time_closure_rate': 0.6 is ...
    """

    min_cases: int
    fast_min_on_time_closure_rate: float
    fast_max_rework_rate: float
    slow_on_time_closure_rate_below: float
    slow_rework_rate_above: float
    source: str = "<RatingThresholds>"

    def __post_init__(self) -> None:
        value = self.min_cases
        if (
            isinstance(value, bool)
            or not isinstance(value, int | np.integer)
            or not 1 <= value <= _MAX_MIN_CASES
        ):
            raise self._error("min_cases", value, f"an integer from 1 to {_MAX_MIN_CASES}")
        for attr in _FIELD_NAMES:
            rate = getattr(self, attr)
            if (
                isinstance(rate, bool)
                or not isinstance(rate, int | float | np.integer | np.floating)
                or not math.isfinite(rate)
                or not 0 <= rate <= 1
            ):
                raise self._error(_FIELD_NAMES[attr], rate, "a number from 0 to 1")
        if self.fast_min_on_time_closure_rate < self.slow_on_time_closure_rate_below:
            raise self._error(
                "fast.min_on_time_closure_rate",
                self.fast_min_on_time_closure_rate,
                "at least slow.on_time_closure_rate_below "
                f"({self.slow_on_time_closure_rate_below}): fast (骏马) must be at least as strict as "
                "slow (蜗牛)",
            )
        if self.fast_max_rework_rate > self.slow_rework_rate_above:
            raise self._error(
                "fast.max_rework_rate",
                self.fast_max_rework_rate,
                f"at most slow.rework_rate_above ({self.slow_rework_rate_above}): fast (骏马) must be "
                "at least as strict as slow (蜗牛)",
            )

    def _error(self, field: str, value: object, allowed: str) -> RatingsDataError:
        return RatingsDataError(
            f"{self.source}: field {field!r}: {value!r} is not allowed; allowed: {allowed}",
            file=self.source,
            field=field,
            value=repr(value),
            allowed=allowed,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> RatingThresholds:
        """Build thresholds from the parsed TOML structure (see ``ratings.toml``).

        Examples
        --------
        >>> RatingThresholds.from_dict({
        ...     "min_cases": 5,
        ...     "fast": {"min_on_time_closure_rate": 0.95, "max_rework_rate": 0.02},
        ...     "slow": {"on_time_closure_rate_below": 0.8, "rework_rate_above": 0.1},
        ... }).min_cases
        5
        """
        _check_keys(data, {"schema", "min_cases", "fast", "slow"}, {"min_cases", "fast", "slow"}, source, "")
        schema = data.get("schema", 1)
        if schema != 1 or isinstance(schema, bool):
            raise RatingsDataError(
                f"{source}: field 'schema': {schema!r} is not supported; allowed: 1",
                file=source,
                field="schema",
                value=repr(schema),
                allowed=[1],
            )
        values: dict[str, Any] = {}
        for table in ("fast", "slow"):
            keys = {key for (name, key) in _RATE_FIELDS if name == table}
            _check_keys(data[table], keys, keys, source, table)
        for (table, key), attr in _RATE_FIELDS.items():
            values[attr] = data[table][key]
        return cls(min_cases=data["min_cases"], source=source, **values)

    def to_dict(self) -> dict[str, Any]:
        """The TOML structure of these thresholds (inverse of :meth:`from_dict`).

        Examples
        --------
        >>> default_thresholds().to_dict()["slow"]
        {'on_time_closure_rate_below': 0.7, 'rework_rate_above': 0.2}
        """
        out: dict[str, Any] = {"schema": 1, "min_cases": self.min_cases, "fast": {}, "slow": {}}
        for (table, key), attr in _RATE_FIELDS.items():
            out[table][key] = getattr(self, attr)
        return out


def _check_keys(table: object, allowed: set[str], required: set[str], source: str, where: str) -> None:
    prefix = f"{where}." if where else ""
    if not isinstance(table, dict):
        raise RatingsDataError(
            f"{source}: field {where!r}: {table!r} is not allowed; allowed: a table with "
            f"{', '.join(sorted(allowed))}",
            file=source,
            field=where,
            value=repr(table),
            allowed=sorted(allowed),
        )
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise RatingsDataError(
            f"{source}: unknown field {prefix + unknown[0]!r}; allowed: "
            f"{', '.join(prefix + key for key in sorted(allowed))}",
            file=source,
            field=prefix + unknown[0],
            allowed=sorted(allowed),
        )
    missing = sorted(required - set(table))
    if missing:
        raise RatingsDataError(
            f"{source}: field {prefix + missing[0]!r} is missing; required: "
            f"{', '.join(prefix + key for key in sorted(required))}",
            file=source,
            field=prefix + missing[0],
            allowed=sorted(required),
        )


def load_thresholds(path: str | Path | None = None) -> RatingThresholds:
    """Load and validate a thresholds file; ``None`` loads the packaged ``routing/ratings.toml``.

    Raises :class:`RatingsDataError` naming the file, the field, the bad value and
    what is allowed (and the line for a TOML syntax error).

    Examples
    --------
    >>> t = load_thresholds()
    >>> t.min_cases, t.fast_min_on_time_closure_rate, t.slow_rework_rate_above, t.source
    (10, 0.9, 0.2, 'routing/ratings.toml')
    """
    data, source = read_toml(path, resource="ratings.toml", error=RatingsDataError, what="ratings")
    return RatingThresholds.from_dict(data, source=source)


@lru_cache(maxsize=1)
def default_thresholds() -> RatingThresholds:
    """The packaged thresholds, loaded once.

    Examples
    --------
    >>> default_thresholds() is default_thresholds()
    True
    """
    return load_thresholds()


# --------------------------------------------------------------------------- rating
def rate(row: Mapping[str, Any] | pd.Series, thresholds: RatingThresholds | None = None) -> tuple[str, str]:
    """The rating of one row of :func:`unit_metrics`: ``(code, Chinese label)``.

    ``row`` needs ``due``, ``on_time_closure_rate`` and ``rework_rate``.  A ``NaN``
    rework rate (nothing handled) counts as no rework.  ``thresholds`` defaults to the
    packaged ``ratings.toml``.

    Examples
    --------
    >>> rate({"due": 40, "on_time_closure_rate": 0.95, "rework_rate": 0.0})
    ('fast', '骏马')
    >>> rate({"due": 40, "on_time_closure_rate": 0.80, "rework_rate": 0.1})
    ('steady', '黄牛')
    >>> rate({"due": 40, "on_time_closure_rate": 0.95, "rework_rate": 0.25})
    ('slow', '蜗牛')
    >>> rate({"due": 3, "on_time_closure_rate": 1.0, "rework_rate": 0.0})
    ('unrated', '待评')
    """
    limits = thresholds or default_thresholds()
    values: dict[str, float] = {}
    for key in ("due", "on_time_closure_rate", "rework_rate"):
        try:
            raw = row[key]
        except KeyError:
            raise InvalidInputError(
                f"row has no {key!r}; required: due, on_time_closure_rate, rework_rate",
                field=key,
                allowed=["due", "on_time_closure_rate", "rework_rate"],
            ) from None
        try:
            values[key] = float(raw)
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"row[{key!r}]={raw!r} is not a number; allowed: a number (NaN for an empty rate)",
                field=key,
                value=repr(raw),
            ) from None
    code = str(
        _rating_codes(
            np.array([values["due"]]),
            np.array([values["on_time_closure_rate"]]),
            np.array([values["rework_rate"]]),
            limits,
        )[0]
    )
    return code, RATINGS[code]


def _rating_codes(
    due: np.ndarray, on_time: np.ndarray, rework: np.ndarray, limits: RatingThresholds
) -> np.ndarray:
    """Vectorized ratings; the one implementation behind :func:`rate` and :func:`unit_metrics`."""
    rework = np.where(np.isnan(rework), 0.0, rework)
    with np.errstate(invalid="ignore"):
        unrated = ~(due >= limits.min_cases)  # NaN due is unrated too
        fast = (on_time >= limits.fast_min_on_time_closure_rate) & (rework <= limits.fast_max_rework_rate)
        slow = (on_time < limits.slow_on_time_closure_rate_below) | (rework > limits.slow_rework_rate_above)
    return np.select([unrated, fast, slow], ["unrated", "fast", "slow"], default="steady")


# --------------------------------------------------------------------------- input checks
def _instant(value: object, name: str) -> pd.Timestamp:
    if not isinstance(value, datetime):
        raise InvalidInputError(
            f"{name}={value!r} is not a datetime; allowed: a timezone-aware datetime or pandas.Timestamp",
            field=name,
            value=repr(value),
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{name}={value.isoformat()} has no time zone; allowed: a timezone-aware datetime, e.g. "
            "pd.Timestamp('2025-09-01', tz='Asia/Shanghai')",
            field=name,
            value=value.isoformat(),
        )
    return pd.Timestamp(value).tz_convert("UTC")


def _ids(frame: pd.DataFrame, mask: pd.Series) -> str:
    ids = frame.loc[mask, "report_id"].head(_SHOWN).tolist()
    more = int(mask.sum()) - len(ids)
    return ", ".join(map(str, ids)) + (f" and {more} more" if more > 0 else "")


def _check_cases(
    cases: object, start: object, end: object, by: object
) -> tuple[pd.DataFrame, pd.Timestamp, pd.Timestamp]:
    """Validate the input of :func:`unit_metrics`; return the cases (timestamps in UTC) and the period.

    Raises :class:`~geo.errors.InvalidInputError` (or :class:`~routing.errors.NaiveDatetimeError`)
    with a message naming the bad column, value or report ids and what is allowed.
    """
    if not isinstance(cases, pd.DataFrame):
        raise InvalidInputError(
            f"cases is a {type(cases).__name__}; allowed: a pandas.DataFrame with columns "
            f"{', '.join(REQUIRED_COLUMNS)}",
            field="cases",
            value=type(cases).__name__,
        )
    if not isinstance(by, str) or by not in GROUP_BY:
        raise InvalidInputError(
            f"by={by!r} is not allowed; allowed: {', '.join(GROUP_BY)}",
            field="by",
            value=repr(by),
            allowed=list(GROUP_BY),
        )
    lo, hi = _instant(start, "start"), _instant(end, "end")
    if lo >= hi:
        raise InvalidInputError(
            f"start={lo.isoformat()} is not before end={hi.isoformat()}; allowed: start < end "
            "(the period is [start, end))",
            field="start",
            value=lo.isoformat(),
        )
    required = REQUIRED_COLUMNS + (("team",) if by == "team" else ())
    missing = [name for name in required if name not in cases.columns]
    if missing:
        raise InvalidInputError(
            f"cases is missing column(s) {', '.join(map(repr, missing))}; required: "
            f"{', '.join(REQUIRED_COLUMNS)}" + (", team (for by='team')" if by == "team" else ""),
            field="columns",
            value=missing,
            allowed=list(required),
        )
    frame = cases.loc[:, list(required)].copy()
    for name, kind in OPTIONAL_COLUMNS.items():
        absent = pd.Series(pd.NaT if kind.startswith("datetime") else 0, index=frame.index, dtype=kind)
        frame[name] = cases[name] if name in cases.columns else absent
    for name in (*TIMESTAMP_COLUMNS, "paused_at"):
        column = frame[name]
        dtype = column.dtype
        if isinstance(dtype, pd.DatetimeTZDtype):
            frame[name] = column.dt.tz_convert("UTC")
        elif pd.api.types.is_datetime64_dtype(dtype):
            raise NaiveDatetimeError(
                f"column {name!r} has naive timestamps (dtype {dtype}); allowed: timezone-aware "
                f"timestamps, e.g. cases[{name!r}].dt.tz_localize('Asia/Shanghai') or "
                f"pd.to_datetime(..., utc=True)",
                field=name,
                value=str(dtype),
            )
        elif column.isna().all():  # e.g. an all-None object column: nothing has happened yet
            frame[name] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
        else:
            raise InvalidInputError(
                f"column {name!r} has dtype {dtype}, not timestamps; allowed: timezone-aware datetime64 "
                f"(NaT when not happened), e.g. pd.to_datetime(cases[{name!r}], utc=True)",
                field=name,
                value=str(dtype),
            )
    if frame["report_id"].isna().any():
        raise InvalidInputError(
            f"column 'report_id' has {int(frame['report_id'].isna().sum())} empty value(s); "
            "allowed: a unique id on every case",
            field="report_id",
        )
    duplicated = frame["report_id"].duplicated(keep=False)
    if duplicated.any():
        raise InvalidInputError(
            f"column 'report_id' has duplicates: {_ids(frame, duplicated)}; allowed: one row per report",
            field="report_id",
            value=frame.loc[duplicated, "report_id"].head(_SHOWN).tolist(),
        )
    bad_state = ~frame["state"].isin(STATES)
    if bad_state.any():
        unknown = sorted({repr(value) for value in frame.loc[bad_state, "state"]})
        raise InvalidInputError(
            f"column 'state' has unknown value(s) {', '.join(unknown[:_SHOWN])} (report_id "
            f"{_ids(frame, bad_state)}); allowed: {', '.join(STATES)}",
            field="state",
            value=unknown[:_SHOWN],
            allowed=list(STATES),
        )
    rework = frame["rework_count"]
    if not pd.api.types.is_numeric_dtype(rework) or pd.api.types.is_bool_dtype(rework):
        raise InvalidInputError(
            f"column 'rework_count' has dtype {rework.dtype}; allowed: non-negative integers",
            field="rework_count",
            value=str(rework.dtype),
        )
    numbers = rework.astype("float64")
    bad_rework = numbers.isna() | (numbers < 0) | (numbers != np.floor(numbers))
    if bad_rework.any():
        raise InvalidInputError(
            f"column 'rework_count' has value(s) {rework[bad_rework].head(_SHOWN).tolist()} "
            f"(report_id {_ids(frame, bad_rework)}); allowed: non-negative integers",
            field="rework_count",
            allowed="non-negative integers",
        )
    frame["rework_count"] = numbers.astype("int64")
    frame["reopen_count"] = pd.to_numeric(frame["reopen_count"]).fillna(0).astype("int64")
    no_unit = frame["unit_key"].isna()
    if no_unit.any():
        raise InvalidInputError(
            f"column 'unit_key' is empty for report_id {_ids(frame, no_unit)}; allowed: the owning "
            "unit's key on every case, e.g. '370902002001' or 'city:园林局'",
            field="unit_key",
        )
    backwards = frame["handled_at"] < frame["dispatched_at"]  # NaT compares False
    if backwards.any():
        raise InvalidInputError(
            f"handled_at is before dispatched_at for report_id {_ids(frame, backwards)}; allowed: "
            "handled_at at or after dispatched_at",
            field="handled_at",
            value=frame.loc[backwards, "report_id"].head(_SHOWN).tolist(),
        )
    return frame, lo, hi


# --------------------------------------------------------------------------- metrics
def unit_metrics(
    cases: pd.DataFrame,
    start: datetime,
    end: datetime,
    *,
    by: str = "unit_key",
    calendar: WorkCalendar | None = None,
    thresholds: RatingThresholds | None = None,
) -> pd.DataFrame:
    """Counts, rates, handling times and ratings per unit (or team) for the period ``[start, end)``.

    Parameters
    ----------
    cases : pandas.DataFrame
        One row per report with :data:`REQUIRED_COLUMNS` (and ``team`` for
        ``by="team"``); timestamps timezone-aware (any zone), ``NaT`` when not happened.
    start, end : datetime
        Timezone-aware bounds of the period; a case belongs to it when its ``due_at``
        is in ``[start, end)``.
    by : {"unit_key", "team"}
        Group by owning unit, or by service team (cases without a team are left out).
    calendar : WorkCalendar, optional
        For the working-hours median; default the packaged calendar.
    thresholds : RatingThresholds, optional
        For the ratings; default the packaged ``ratings.toml``.

    Returns
    -------
    pandas.DataFrame
        :data:`METRIC_COLUMNS` (with ``team`` instead of ``unit_key, unit_name`` when
        ``by="team"``), one row per unit or team in ``cases``, sorted by it.  Counts
        are int64, rates and hours float64 (``NaN`` for an empty denominator or no
        timed case).  ``unit_name`` is the name on the unit's most recently created case.
        See the module docstring for the definitions.

    Raises
    ------
    geo.errors.InvalidInputError
        Missing columns, naive or non-timestamp columns, ``start >= end``, unknown
        states, duplicate report ids, bad rework counts, handled before dispatched.

    Examples
    --------
    >>> import pandas as pd
    >>> t = lambda s: pd.Timestamp(s, tz="Asia/Shanghai").tz_convert("UTC")
    >>> cases = pd.DataFrame({
    ...     "report_id": [1], "unit_key": ["city:园林局"], "unit_name": ["市园林局"],
    ...     "created_at": [t("2025-09-26 15:00")], "dispatched_at": [t("2025-09-26 16:00")],
    ...     "due_at": [t("2025-09-30 16:00")], "handled_at": [t("2025-09-29 09:30")],
    ...     "closed_at": [t("2025-09-29 11:00")], "state": ["closed"], "rework_count": [0]})
    >>> m = unit_metrics(cases, t("2025-09-01"), t("2025-10-01"))
    >>> m[["median_handling_hours", "median_handling_hours_wall"]].iloc[0].tolist()  # Sunday 28th is worked
    [10.0, 65.5]
    """
    frame, lo, hi = _check_cases(cases, start, end, by)
    cal = calendar or default_calendar()
    limits = thresholds or default_thresholds()
    if by == "team":
        frame = frame[frame["team"].notna()]
    key = frame[by]

    state, due_at = frame["state"], frame["due_at"]
    handled_at, closed_at = frame["handled_at"], frame["closed_at"]
    # a case deferred before its clock started has no due time: it counts when it was deferred
    anchor = due_at.where(due_at.notna(), frame["paused_at"])
    in_period = anchor.notna() & (anchor >= lo) & (anchor < hi) & (state != "invalid")
    deferred = in_period & (state == "deferred")
    due = in_period & ~deferred
    closed = due & closed_at.notna() & (closed_at < hi)
    was_handled = handled_at.notna()
    reworked = due & (frame["rework_count"] > 0)
    flags = pd.DataFrame(
        {
            "due": due,
            "closed": closed,
            "closed_on_time": closed & (closed_at <= due_at),
            "handled_on_time": due & was_handled & (handled_at <= due_at),
            "deferred": deferred,
            "reworked": reworked,
            "reopened": due & (frame["reopen_count"] > 0),
            "handled_once": (due & was_handled) | reworked,
        },
        index=frame.index,
    ).astype("int64")
    counts = flags.groupby(key, sort=True).sum()
    counts.index.name = by

    # handling time: the calendar walks day by day, so only the timed cases are looped over
    timed = frame.loc[due & was_handled & frame["dispatched_at"].notna()]
    begins = pd.DatetimeIndex(timed["dispatched_at"]).floor("us").to_pydatetime()
    ends = pd.DatetimeIndex(timed["handled_at"]).floor("us").to_pydatetime()
    hours = pd.DataFrame(
        {
            "median_handling_hours": np.array(
                [cal.working_seconds_between(a, b) for a, b in zip(begins, ends, strict=True)],
                dtype="float64",
            )
            / 3600,
            "median_handling_hours_wall": (timed["handled_at"] - timed["dispatched_at"])
            .dt.total_seconds()
            .to_numpy(dtype="float64")
            / 3600,
        },
        index=timed.index,
    )
    medians = hours.groupby(timed[by]).median().reindex(counts.index)

    def ratio(numerator: str, denominator: str) -> pd.Series:
        bottom = counts[denominator].astype("float64")
        return counts[numerator].astype("float64") / bottom.where(bottom > 0)

    out = counts[list(COUNT_COLUMNS)].copy()
    out["closure_rate"] = ratio("closed", "due")
    out["on_time_closure_rate"] = ratio("closed_on_time", "due")
    out["on_time_handling_rate"] = ratio("handled_on_time", "due")
    out["rework_rate"] = ratio("reworked", "handled_once")
    for name in HOURS_COLUMNS:
        out[name] = medians[name].astype("float64")
    codes = _rating_codes(
        out["due"].to_numpy(dtype="float64"),
        out["on_time_closure_rate"].to_numpy(dtype="float64"),
        out["rework_rate"].to_numpy(dtype="float64"),
        limits,
    )
    ratings = pd.Series(codes, index=out.index).astype(str)
    out["rating"] = ratings
    out["rating_zh"] = ratings.map(RATINGS).astype(str)
    out = out.reset_index()
    if by == "unit_key":
        # the name on the most recent case: units get renamed, old cases keep the old name
        latest = frame.sort_values("created_at", kind="stable", na_position="first")
        names = latest.groupby("unit_key")["unit_name"].last()
        out.insert(1, "unit_name", out["unit_key"].map(names))
    return out


# --------------------------------------------------------------------------- CSV
def to_csv(
    metrics: pd.DataFrame,
    path_or_buffer: str | os.PathLike[str] | IO[str] | IO[bytes],
    chinese_headers: bool = True,
) -> None:
    """Write :func:`unit_metrics` output as UTF-8 CSV with a BOM, so Excel in China opens it right.

    Numbers stay machine-readable: rates as decimals (``0.9375`` = 93.75%) rounded to
    :data:`RATE_DIGITS` (4) digits, never percentages; hours rounded to
    :data:`HOURS_DIGITS` (2); counts as integers; an empty rate or median (``NaN``)
    as an empty cell.  Headers are Chinese (:data:`CHINESE_HEADERS`) unless
    ``chinese_headers=False``; unknown columns keep their names.  Lines end in ``\\n``.

    ``path_or_buffer`` is a path (overwritten), a binary buffer (gets the BOM bytes
    ``EF BB BF``) or a text buffer (gets ``"\\ufeff"`` first; open files with
    ``encoding="utf-8"``, not ``"utf-8-sig"``, or the BOM is doubled).

    Examples
    --------
    >>> import io
    >>> frame = pd.DataFrame({"unit_key": ["370902002001"], "due": [3], "closure_rate": [2 / 3]})
    >>> buffer = io.BytesIO()
    >>> to_csv(frame, buffer)
    >>> buffer.getvalue().decode("utf-8")
    '\\ufeff单位编码,应结案数,结案率\\n370902002001,3,0.6667\\n'
    """
    if not isinstance(metrics, pd.DataFrame):
        raise InvalidInputError(
            f"metrics is a {type(metrics).__name__}; allowed: the pandas.DataFrame of unit_metrics",
            field="metrics",
            value=type(metrics).__name__,
        )
    table = metrics.copy()
    for name in RATE_COLUMNS:
        if name in table.columns:
            table[name] = table[name].astype("float64").round(RATE_DIGITS)
    for name in HOURS_COLUMNS:
        if name in table.columns:
            table[name] = table[name].astype("float64").round(HOURS_DIGITS)
    if chinese_headers:
        table = table.rename(columns=CHINESE_HEADERS)
    text = table.to_csv(index=False, na_rep="", lineterminator="\n")
    if isinstance(path_or_buffer, str | os.PathLike):
        with open(path_or_buffer, "w", encoding="utf-8-sig", newline="") as handle:
            handle.write(text)
    elif isinstance(path_or_buffer, io.TextIOBase):
        path_or_buffer.write("\ufeff" + text)
    elif hasattr(path_or_buffer, "write"):
        path_or_buffer.write(("\ufeff" + text).encode("utf-8"))  # type: ignore[arg-type]
    else:
        raise InvalidInputError(
            f"path_or_buffer={path_or_buffer!r} is not allowed; allowed: a file path or a writable "
            "binary or text buffer",
            field="path_or_buffer",
            value=repr(path_or_buffer),
        )
