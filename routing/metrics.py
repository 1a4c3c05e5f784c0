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
    Cases in the period, except states ``invalid`` (无效), ``merged`` (已合并: a duplicate
    merged into its original, which counts instead) and ``deferred`` (挂账).
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
``urged`` 被催办数 / ``urgings`` 催办次数
    Due cases urged (催办) at least once / the urgings of due cases in all.
``rated`` 回访数, ``satisfied`` 满意数, ``basically_satisfied`` 基本满意数, ``unsatisfied`` 不满意数
    Due cases with a reporter's verdict (回访), and by their latest verdict.
Rates (``NaN`` when the denominator is 0, never a misleading 0)
    ``closure_rate`` 结案率 = closed / due; ``on_time_closure_rate`` 按期结案率 =
    closed_on_time / due; ``on_time_handling_rate`` 按期处置率 = handled_on_time / due;
    ``rework_rate`` 返工率 = reworked / due cases handled at least once (``handled_at``
    set, or ``rework_count > 0``: a reworked case was handled before its check failed);
    ``satisfaction_rate`` 满意率 = (satisfied + basically_satisfied) / rated;
    ``satisfaction_score`` 满意度得分 = the mean score of the rated cases' verdicts (the
    scores of ``ratings.toml``); ``rating_score`` 评分 = what the rating compares with
    its thresholds (:mod:`routing.ratings`).
``median_handling_hours`` / ``median_handling_hours_wall``
    Median of ``handled_at - dispatched_at`` over due cases with both set, in office
    hours of the :class:`~routing.calendar.WorkCalendar` (weekends, holidays, nights
    and lunch breaks do not count; make-up workdays do) and in wall-clock hours.

Every unit (or team) that appears in the input is listed, so a unit with nothing due
shows up as 待评 with ``NaN`` rates instead of silently disappearing.

Ratings (:data:`RATINGS`, :mod:`routing.ratings`): ``fast`` 骏马, ``steady`` 黄牛,
``slow`` 蜗牛, and ``unrated`` 待评 for fewer than ``min_cases`` due cases, from the
rating score (the 按期结案率 blended with satisfaction, weighted as ``ratings.toml``
says) and the 返工率.

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
import os
from datetime import datetime
from typing import IO

import numpy as np
import pandas as pd

from geo.errors import InvalidInputError
from routing.calendar import WorkCalendar, aware_utc, default_calendar
from routing.errors import NaiveDatetimeError
from routing.ratings import (
    RATINGS,
    RatingsDataError,
    RatingThresholds,
    default_thresholds,
    load_thresholds,
    rate,
    rating_codes,
    rating_scores,
)
from routing.workflow import SATISFACTION

__all__ = [
    "CHINESE_HEADERS", "COUNT_COLUMNS", "DESK_COUNT_COLUMNS", "HOURS_COLUMNS", "METRIC_COLUMNS",
    "OPTIONAL_COLUMNS", "RATE_COLUMNS", "RATINGS", "REQUIRED_COLUMNS", "SATISFACTION_COLUMNS", "STATES",
    "RatingThresholds", "RatingsDataError", "default_thresholds", "load_thresholds", "rate", "to_csv",
    "unit_metrics",
]  # fmt: skip

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
    "merged",
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
OPTIONAL_COLUMNS: dict[str, str] = {
    "paused_at": "datetime64[ns, UTC]",
    "reopen_count": "int64",
    "urge_count": "int64",
    "satisfaction": "object",
}
"""Columns :func:`unit_metrics` reads when present (absent: never paused, reopened, urged or
rated): their dtypes.  ``satisfaction`` is the latest verdict, ``None`` when there is none."""
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
DESK_COUNT_COLUMNS: tuple[str, ...] = (
    "urged",
    "urgings",
    "rated",
    "satisfied",
    "basically_satisfied",
    "unsatisfied",
)
"""Counts of the desk's workflow: urging (催办) and the residents' verdicts (回访)."""
SATISFACTION_COLUMNS: tuple[str, ...] = ("satisfaction_rate", "satisfaction_score", "rating_score")
HOURS_COLUMNS: tuple[str, ...] = ("median_handling_hours", "median_handling_hours_wall")
METRIC_COLUMNS: tuple[str, ...] = (
    "unit_key",
    "unit_name",
    *COUNT_COLUMNS,
    *RATE_COLUMNS,
    *HOURS_COLUMNS,
    "rating",
    "rating_zh",
    *DESK_COUNT_COLUMNS,
    *SATISFACTION_COLUMNS,
)
"""Columns of :func:`unit_metrics` by unit; by team the first two are replaced by ``team``.  The
columns of the desk's workflow come last, so that files read by position keep their columns."""

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
    "urged": "被催办数",
    "urgings": "催办次数",
    "rated": "回访数",
    "satisfied": "满意数",
    "basically_satisfied": "基本满意数",
    "unsatisfied": "不满意数",
    "closure_rate": "结案率",
    "on_time_closure_rate": "按期结案率",
    "on_time_handling_rate": "按期处置率",
    "rework_rate": "返工率",
    "satisfaction_rate": "满意率",
    "satisfaction_score": "满意度得分",
    "rating_score": "评分",
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

_SHOWN = 5  # how many bad values / report ids an error message lists


# --------------------------------------------------------------------------- input checks
def _instant(value: object, name: str) -> pd.Timestamp:
    return pd.Timestamp(aware_utc(value, name))


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
        empty = pd.NaT if kind.startswith("datetime") else (None if kind == "object" else 0)
        absent = pd.Series(empty, index=frame.index, dtype=kind)
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
    frame["urge_count"] = pd.to_numeric(frame["urge_count"]).fillna(0).astype("int64")
    verdict = frame["satisfaction"]
    bad_verdict = verdict.notna() & ~verdict.isin(list(SATISFACTION))
    if bad_verdict.any():
        unknown = sorted({repr(value) for value in verdict[bad_verdict]})
        raise InvalidInputError(
            f"column 'satisfaction' has unknown value(s) {', '.join(unknown[:_SHOWN])} (report_id "
            f"{_ids(frame, bad_verdict)}); allowed: {', '.join(SATISFACTION)} or empty (no verdict)",
            field="satisfaction",
            allowed=list(SATISFACTION),
        )
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

    state, due_at, verdict = frame["state"], frame["due_at"], frame["satisfaction"]
    handled_at, closed_at = frame["handled_at"], frame["closed_at"]
    # a case deferred before its clock started has no due time: it counts when it was deferred
    anchor = due_at.where(due_at.notna(), frame["paused_at"])
    in_period = anchor.notna() & (anchor >= lo) & (anchor < hi) & ~state.isin(("invalid", "merged"))
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
            "urged": due & (frame["urge_count"] > 0),
            "urgings": frame["urge_count"].where(due, 0),
            "rated": due & verdict.notna(),
            **{name: due & (verdict == name) for name in SATISFACTION},
            "handled_once": (due & was_handled) | reworked,
            "score_sum": verdict.map(limits.scores).fillna(0.0).where(due, 0.0),
        },
        index=frame.index,
    )
    counts = flags.groupby(key, sort=True).sum()
    scores = counts.pop("score_sum").astype("float64")
    counts = counts.astype("int64")
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
    rated = counts["rated"].astype("float64")
    satisfaction_score = scores / rated.where(rated > 0)
    rating_score = rating_scores(
        out["on_time_closure_rate"].to_numpy(dtype="float64"),
        satisfaction_score.to_numpy(dtype="float64"),
        rated.to_numpy(),
        limits,
    )
    codes = rating_codes(
        out["due"].to_numpy(dtype="float64"),
        rating_score,
        out["rework_rate"].to_numpy(dtype="float64"),
        limits,
    )
    ratings = pd.Series(codes, index=out.index).astype(str)
    out["rating"] = ratings
    out["rating_zh"] = ratings.map(RATINGS).astype(str)
    for name in DESK_COUNT_COLUMNS:
        out[name] = counts[name]
    out["satisfaction_rate"] = (counts["satisfied"] + counts["basically_satisfied"]) / rated.where(rated > 0)
    out["satisfaction_score"] = satisfaction_score
    out["rating_score"] = rating_score
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
    for name in (*RATE_COLUMNS, *SATISFACTION_COLUMNS):
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
