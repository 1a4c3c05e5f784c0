"""Unit and team performance: counts, rates, handling times, ratings, thresholds and CSV."""

from __future__ import annotations

import io
import math
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from geo.errors import InvalidInputError
from routing.calendar import WorkCalendar, default_calendar
from routing.errors import NaiveDatetimeError
from routing.metrics import (
    CHINESE_HEADERS,
    METRIC_COLUMNS,
    RATINGS,
    REQUIRED_COLUMNS,
    STATES,
    RatingsDataError,
    RatingThresholds,
    default_thresholds,
    load_thresholds,
    rate,
    to_csv,
    unit_metrics,
)

TZ = ZoneInfo("Asia/Shanghai")
UNIT = "370902002001"
CITY = "city:园林局"
LOW = RatingThresholds(3, 0.90, 0.05, 0.70, 0.20)  # rate hand-built units of a few cases


def at(text: str | None) -> Any:
    """An instant given in Tai'an local time, as the UTC timestamp the cases table holds."""
    if text is None:
        return pd.NaT
    return pd.Timestamp(text, tz=TZ).tz_convert("UTC")


START, END = at("2025-09-01 00:00"), at("2025-10-01 00:00")


def case(
    report_id: int,
    unit: str = UNIT,
    *,
    name: str | None = None,
    team: str | None = None,
    created: str | None = "2025-09-08 08:00",
    dispatched: str | None = "2025-09-08 09:00",
    due: str | None = "2025-09-10 17:30",
    handled: str | None = None,
    closed: str | None = None,
    state: str = "in_progress",
    rework: int = 0,
) -> dict[str, Any]:
    return {
        "report_id": report_id,
        "unit_key": unit,
        "unit_name": name or {UNIT: "岱庙社区", CITY: "市园林局"}.get(unit, unit),
        "team": team,
        "created_at": at(created),
        "dispatched_at": at(dispatched),
        "due_at": at(due),
        "handled_at": at(handled),
        "closed_at": at(closed),
        "state": state,
        "rework_count": rework,
    }


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The cases table, every timestamp column tz-aware UTC (also when it is all NaT)."""
    cases = pd.DataFrame(rows, columns=[*REQUIRED_COLUMNS, "team"])
    for name in ("created_at", "dispatched_at", "due_at", "handled_at", "closed_at"):
        cases[name] = pd.to_datetime(cases[name], utc=True)
    cases["rework_count"] = cases["rework_count"].astype("int64")
    return cases


def one(metrics: pd.DataFrame, key: str, by: str = "unit_key") -> pd.Series:
    rows = metrics[metrics[by] == key]
    assert len(rows) == 1
    return rows.iloc[0]


# --------------------------------------------------------------------------- known answers
# Unit UNIT in September 2025; all dispatched Monday 2025-09-08 09:00, due Wednesday 17:30.
KNOWN = [
    # closed and handled on time
    case(1, handled="2025-09-08 10:00", closed="2025-09-08 16:00", state="closed"),
    # reworked once, still handled and closed on time
    case(2, handled="2025-09-08 14:30", closed="2025-09-10 10:00", state="closed", rework=1),
    # handled on time, closed late
    case(3, handled="2025-09-09 09:00", closed="2025-09-11 10:00", state="closed"),
    # handled late after two reworks, closed late
    case(4, handled="2025-09-11 09:00", closed="2025-09-12 10:00", state="closed", rework=2),
    # handled on time, check pending
    case(5, handled="2025-09-10 09:00", state="handled"),
    # never handled
    case(6, state="in_progress"),
    # handled late, closed after the period: not closed in September
    case(7, handled="2025-09-12 09:00", closed="2025-10-02 10:00", state="closed"),
    # deferred (挂账) and invalid: not due; deferred counted apart
    case(8, state="deferred"),
    case(9, handled="2025-09-08 10:00", closed="2025-09-08 11:00", state="invalid"),
    # due outside the period
    case(10, due="2025-10-05 17:30", handled="2025-09-08 10:00", closed="2025-09-08 11:00", state="closed"),
    case(11, due="2025-08-29 17:30", state="in_progress"),
    # not dispatched yet, no due time
    case(12, dispatched=None, due=None, state="filed"),
]
# working hours from Monday 09:00: 1, 4, 7.5, 22.5, 15, 30 -> median (7.5 + 15) / 2
# wall-clock hours:                1, 5.5, 24, 72, 48, 96  -> median (24 + 48) / 2
EXPECTED = {
    "unit_key": UNIT,
    "unit_name": "岱庙社区",
    "due": 7,
    "closed": 4,
    "closed_on_time": 2,
    "handled_on_time": 4,
    "deferred": 1,
    "reworked": 2,
    "closure_rate": 4 / 7,
    "on_time_closure_rate": 2 / 7,
    "on_time_handling_rate": 4 / 7,
    "rework_rate": 2 / 6,
    "median_handling_hours": 11.25,
    "median_handling_hours_wall": 36.0,
    "rating": "slow",
    "rating_zh": "蜗牛",
}


@pytest.fixture(scope="module")
def known() -> pd.Series:
    return one(unit_metrics(frame(KNOWN), START, END, thresholds=LOW), UNIT)


@pytest.mark.parametrize(("column", "expected"), EXPECTED.items())
def test_known_answers(known: pd.Series, column: str, expected: object):
    if isinstance(expected, float):
        assert known[column] == pytest.approx(expected)
    else:
        assert known[column] == expected


def test_output_columns_types_and_order():
    rows = [*KNOWN, case(50, CITY), case(51, "370902001001")]
    metrics = unit_metrics(frame(rows), START, END)
    assert tuple(metrics.columns) == METRIC_COLUMNS
    assert list(metrics["unit_key"]) == sorted([UNIT, CITY, "370902001001"])
    assert list(metrics.index) == [0, 1, 2]
    for name in ("due", "closed", "closed_on_time", "handled_on_time", "deferred", "reworked", "reopened"):
        assert metrics[name].dtype == np.int64, name
    for name in METRIC_COLUMNS[9:15]:
        assert metrics[name].dtype == np.float64, name
    assert set(CHINESE_HEADERS) >= set(METRIC_COLUMNS) | {"team"}
    assert CHINESE_HEADERS["closure_rate"] == "结案率"
    assert CHINESE_HEADERS["on_time_closure_rate"] == "按期结案率"
    assert CHINESE_HEADERS["on_time_handling_rate"] == "按期处置率"
    assert CHINESE_HEADERS["rework_rate"] == "返工率"


def test_timestamps_in_any_time_zone_give_the_same_answer():
    cases = frame(KNOWN)
    local = cases.copy()
    for name in ("created_at", "dispatched_at", "due_at", "handled_at", "closed_at"):
        local[name] = local[name].dt.tz_convert(TZ)
    pd.testing.assert_frame_equal(
        unit_metrics(local, START.tz_convert(TZ), END.tz_convert(TZ)), unit_metrics(cases, START, END)
    )
    plain = unit_metrics(cases, datetime(2025, 9, 1, tzinfo=TZ), datetime(2025, 10, 1, tzinfo=TZ))
    pd.testing.assert_frame_equal(plain, unit_metrics(cases, START, END))


# --------------------------------------------------------------------------- edge cases
def test_unit_with_nothing_due_has_nan_rates_and_is_unrated():
    rows = [
        case(1, CITY, state="invalid"),
        case(2, CITY, state="deferred"),
        case(3, CITY, due="2025-11-03 17:30"),
    ]
    row = one(unit_metrics(frame(rows), START, END), CITY)
    assert (row["due"], row["closed"], row["deferred"], row["reworked"]) == (0, 0, 1, 0)
    for name in ("closure_rate", "on_time_closure_rate", "on_time_handling_rate", "rework_rate"):
        assert math.isnan(row[name]), name
    assert math.isnan(row["median_handling_hours"])
    assert math.isnan(row["median_handling_hours_wall"])
    assert (row["rating"], row["rating_zh"]) == ("unrated", "待评")


def test_empty_cases_give_an_empty_table():
    metrics = unit_metrics(frame([]), START, END)
    assert metrics.empty
    assert tuple(metrics.columns) == METRIC_COLUMNS
    teams = unit_metrics(frame([]), START, END, by="team")
    assert list(teams.columns) == ["team", *METRIC_COLUMNS[2:]]


@pytest.mark.parametrize(
    ("state", "due", "deferred"),
    [
        ("deferred", 0, 1),
        ("invalid", 0, 0),
        ("reopened", 1, 0),
        ("rework", 1, 0),
        ("returned", 1, 0),
        ("closed", 1, 0),
    ],
)
def test_deferred_and_invalid_are_not_due(state: str, due: int, deferred: int):
    rows = [case(1, handled="2025-09-09 10:00", closed="2025-09-09 11:00", state=state, rework=1)]
    row = one(unit_metrics(frame(rows), START, END), UNIT)
    assert (row["due"], row["deferred"]) == (due, deferred)
    assert row["closed"] == row["closed_on_time"] == row["reworked"] == due


@pytest.mark.parametrize(
    ("due", "counted"),
    [
        ("2025-09-01 00:00", True),  # at start: in [start, end)
        ("2025-08-31 23:59", False),
        ("2025-09-30 23:59", True),
        ("2025-10-01 00:00", False),  # at end: next period
    ],
)
def test_period_is_half_open_on_due_at(due: str, counted: bool):
    rows = [case(1, dispatched="2025-08-25 09:00", due=due, state="dispatched")]
    assert one(unit_metrics(frame(rows), START, END), UNIT)["due"] == int(counted)


@pytest.mark.parametrize(
    ("closed", "is_closed", "on_time"),
    [
        ("2025-09-30 17:00", True, False),
        ("2025-09-30 23:59:59", True, False),
        ("2025-10-01 00:00", False, False),  # closed at the end of the period: not in it
        ("2025-10-08 10:00", False, False),  # closed after the period
        ("2025-09-29 17:30", True, True),  # exactly at the deadline is on time
        ("2025-09-29 17:30:01", True, False),
    ],
)
def test_closed_after_the_period_end_is_not_closed_in_it(closed: str, is_closed: bool, on_time: bool):
    rows = [case(1, due="2025-09-29 17:30", handled="2025-09-29 17:00", closed=closed, state="closed")]
    row = one(unit_metrics(frame(rows), START, END), UNIT)
    assert (row["closed"], row["closed_on_time"]) == (int(is_closed), int(on_time))
    assert row["handled_on_time"] == 1


@pytest.mark.parametrize(
    ("handled", "on_time"),
    [("2025-09-10 17:30", True), ("2025-09-10 17:31", False), (None, False)],
)
def test_handled_on_time_is_at_or_before_due(handled: str | None, on_time: bool):
    row = one(unit_metrics(frame([case(1, handled=handled, state="handled")]), START, END), UNIT)
    assert row["handled_on_time"] == int(on_time)
    assert row["on_time_handling_rate"] == float(on_time)


@pytest.mark.parametrize(
    ("reworks", "handled", "reworked", "rate_"),
    [
        ([0, 0, 0, 0], [True] * 4, 0, 0.0),
        ([1, 0, 0, 0], [True] * 4, 1, 0.25),
        ([3, 1, 0, 0], [True, True, True, False], 2, 2 / 3),  # unhandled case is not in the denominator
        ([0, 0], [False, False], 0, math.nan),  # nothing handled: no rate
        # sent back after a failed check and not handled again (handled_at cleared): still handled once
        ([1, 0], [False, True], 1, 0.5),
    ],
)
def test_rework_rate(reworks: list[int], handled: list[bool], reworked: int, rate_: float):
    rows = [
        case(i, handled="2025-09-09 10:00" if done else None, state="rework" if n else "handled", rework=n)
        for i, (n, done) in enumerate(zip(reworks, handled, strict=True))
    ]
    row = one(unit_metrics(frame(rows), START, END), UNIT)
    assert row["reworked"] == reworked
    if math.isnan(rate_):
        assert math.isnan(row["rework_rate"])
    else:
        assert row["rework_rate"] == pytest.approx(rate_)


def test_cases_of_other_periods_do_not_count_for_rates_or_times():
    rows = [
        case(1, handled="2025-09-08 10:00", closed="2025-09-08 11:00", state="closed"),
        case(2, due="2025-10-10 17:30", handled="2025-09-20 10:00", state="handled", rework=4),
    ]
    row = one(unit_metrics(frame(rows), START, END), UNIT)
    assert (row["due"], row["reworked"], row["rework_rate"]) == (1, 0, 0.0)
    assert row["median_handling_hours"] == 1.0


def test_unit_name_is_the_most_recent():
    rows = [
        case(1, name="岱庙街道新社区", created="2025-09-09 08:00"),
        case(2, name="岱庙社区", created="2025-09-01 08:00"),
        case(3, name="岱庙社区（旧）", created=None),
    ]
    assert one(unit_metrics(frame(rows), START, END), UNIT)["unit_name"] == "岱庙街道新社区"


# --------------------------------------------------------------------------- handling time
@pytest.mark.parametrize(
    ("dispatched", "handled", "working", "wall"),
    [
        # Friday 16:00 -> Monday 09:30 across the National Day weekend: Saturday 27th is off but
        # Sunday 28th is a make-up workday (调休上班): 1.5 + 7.5 + 1 working hours
        ("2025-09-26 16:00", "2025-09-29 09:30", 10.0, 65.5),
        # across the National Day / Mid-Autumn holiday (10-01..10-08): 1.5 + 1 working hours
        ("2025-09-30 16:00", "2025-10-09 09:30", 2.5, 209.5),
        # an ordinary weekend: Friday 16:00 -> Monday 09:00
        ("2025-03-07 16:00", "2025-03-10 09:00", 2.0, 65.0),
        # lunch break and evening do not count
        ("2025-09-08 11:00", "2025-09-08 19:00", 5.0, 8.0),
        # dispatched on a Saturday night, handled on Sunday: no working time
        ("2025-03-08 20:00", "2025-03-09 10:00", 0.0, 14.0),
    ],
)
def test_handling_hours_use_the_work_calendar(dispatched: str, handled: str, working: float, wall: float):
    rows = [case(1, dispatched=dispatched, due="2025-10-31 17:30", handled=handled, state="handled")]
    period = at("2025-10-01"), at("2025-11-01")
    row = one(unit_metrics(frame(rows), *period), UNIT)
    assert row["median_handling_hours"] == pytest.approx(working)
    assert row["median_handling_hours_wall"] == pytest.approx(wall)
    expected = default_calendar().working_seconds_between(at(dispatched), at(handled)) / 3600
    assert row["median_handling_hours"] == pytest.approx(expected)


def test_handling_hours_follow_the_given_calendar():
    # without the 2025 schedule Sunday 28th is a day off: 1.5 + 1 working hours
    rows = [case(1, dispatched="2025-09-26 16:00", due="2025-09-30 17:30", handled="2025-09-29 09:30")]
    row = one(unit_metrics(frame(rows), START, END, calendar=WorkCalendar()), UNIT)
    assert row["median_handling_hours"] == pytest.approx(2.5)
    assert row["median_handling_hours_wall"] == pytest.approx(65.5)


def test_median_of_odd_count_and_cases_without_dispatch_time():
    rows = [
        case(1, handled="2025-09-08 10:00"),  # 1 h
        case(2, handled="2025-09-09 09:00"),  # 7.5 h
        case(3, handled="2025-09-10 17:30"),  # 19.5 h
        case(4, dispatched=None, handled="2025-09-09 10:00"),  # no dispatch time: not timed
    ]
    row = one(unit_metrics(frame(rows), START, END), UNIT)
    assert row["median_handling_hours"] == pytest.approx(7.5)
    assert row["median_handling_hours_wall"] == pytest.approx(24.0)
    assert row["handled_on_time"] == 4


# --------------------------------------------------------------------------- by team
def test_by_team():
    rows = [
        case(1, UNIT, team="一中队", handled="2025-09-08 10:00", closed="2025-09-08 11:00", state="closed"),
        case(2, CITY, team="一中队", handled="2025-09-11 10:00", closed="2025-09-11 11:00", state="closed"),
        case(3, UNIT, team="二中队", handled="2025-09-09 09:00", state="handled", rework=1),
        case(4, UNIT, team=None, handled="2025-09-08 10:00", closed="2025-09-08 11:00", state="closed"),
        case(5, CITY, team="三中队", state="invalid"),
    ]
    metrics = unit_metrics(frame(rows), START, END, by="team")
    assert list(metrics.columns) == ["team", *METRIC_COLUMNS[2:]]
    assert list(metrics["team"]) == sorted(["一中队", "二中队", "三中队"])
    first = one(metrics, "一中队", "team")
    assert (first["due"], first["closed"], first["closed_on_time"]) == (2, 2, 1)
    assert first["on_time_closure_rate"] == 0.5
    assert first["median_handling_hours"] == pytest.approx((1 + 23.5) / 2)  # Monday 09:00 -> Thursday 10:00
    second = one(metrics, "二中队", "team")
    assert (second["due"], second["reworked"], second["rework_rate"]) == (1, 1, 1.0)
    third = one(metrics, "三中队", "team")
    assert third["due"] == 0
    assert third["rating"] == "unrated"
    assert metrics["due"].sum() == 3  # the case without a team is not in any team
    # by unit the same cases
    units = unit_metrics(frame(rows), START, END)
    assert one(units, UNIT)["due"] == 3


def test_team_column_is_optional_by_unit():
    cases = frame(KNOWN).drop(columns="team")
    assert one(unit_metrics(cases, START, END), UNIT)["due"] == 7


# --------------------------------------------------------------------------- ratings
def bulk(unit: str, n: int, on_time: int, reworked: int, start_id: int) -> list[dict[str, Any]]:
    """n due cases: the first on_time closed on time, the rest closed late; reworked of them reworked."""
    return [
        case(
            start_id + i,
            unit,
            handled="2025-09-09 10:00",
            closed="2025-09-10 10:00" if i < on_time else "2025-09-12 10:00",
            state="closed",
            rework=int(i < reworked),
        )
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("n", "on_time", "reworked", "rating"),
    [
        (20, 20, 0, ("fast", "骏马")),
        (20, 18, 1, ("fast", "骏马")),  # exactly 90% and exactly 5%
        (20, 17, 0, ("steady", "黄牛")),  # 85%
        (20, 20, 2, ("steady", "黄牛")),  # 10% rework
        (20, 14, 4, ("steady", "黄牛")),  # exactly 70% and exactly 20%
        (20, 13, 0, ("slow", "蜗牛")),  # 65%
        (20, 20, 5, ("slow", "蜗牛")),  # 25% rework beats a perfect on-time rate
        (10, 10, 0, ("fast", "骏马")),  # exactly min_cases
        (9, 9, 0, ("unrated", "待评")),  # one short of min_cases
        (9, 0, 9, ("unrated", "待评")),  # even when everything is wrong
    ],
)
def test_ratings_with_the_default_thresholds(n: int, on_time: int, reworked: int, rating: tuple[str, str]):
    row = one(unit_metrics(frame(bulk(CITY, n, on_time, reworked, 1)), START, END), CITY)
    assert (row["rating"], row["rating_zh"]) == rating
    assert rate(row) == rating
    assert rate(row, default_thresholds()) == rating


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"due": 10, "on_time_closure_rate": 0.9, "rework_rate": 0.05}, "fast"),
        ({"due": 10, "on_time_closure_rate": 0.95, "rework_rate": math.nan}, "fast"),  # nothing handled
        ({"due": 10, "on_time_closure_rate": 0.8999, "rework_rate": 0.0}, "steady"),
        ({"due": 10, "on_time_closure_rate": 0.7, "rework_rate": 0.2}, "steady"),
        ({"due": 10, "on_time_closure_rate": 0.6999, "rework_rate": 0.0}, "slow"),
        ({"due": 10, "on_time_closure_rate": 1.0, "rework_rate": 0.2001}, "slow"),
        ({"due": 9, "on_time_closure_rate": 0.0, "rework_rate": 1.0}, "unrated"),
        ({"due": 0, "on_time_closure_rate": math.nan, "rework_rate": math.nan}, "unrated"),
        ({"due": np.int64(12), "on_time_closure_rate": np.float64(0.5), "rework_rate": 0}, "slow"),
    ],
)
def test_rate(values: dict[str, Any], expected: str):
    assert rate(values, load_thresholds()) == (expected, RATINGS[expected])
    assert rate(pd.Series(values)) == (expected, RATINGS[expected])


def test_rate_needs_the_fields():
    with pytest.raises(
        InvalidInputError, match="row has no 'rework_rate'; required: due, on_time_closure_rate"
    ):
        rate({"due": 10, "on_time_closure_rate": 0.9})
    with pytest.raises(InvalidInputError, match=r"row\['due'\]='ten' is not a number"):
        rate({"due": "ten", "on_time_closure_rate": 0.9, "rework_rate": 0.0})


def test_vectorized_ratings_agree_with_rate():
    rows = [*KNOWN]
    for index, (on_time, reworked) in enumerate([(12, 0), (11, 1), (9, 0), (6, 0), (12, 3), (5, 5)]):
        rows += bulk(f"3709020030{index:02d}", 12, on_time, reworked, 100 + 20 * index)
    for thresholds in (LOW, default_thresholds()):
        metrics = unit_metrics(frame(rows), START, END, thresholds=thresholds)
        assert len(set(metrics["rating"])) >= 3
        for _, row in metrics.iterrows():
            assert rate(row, thresholds) == (row["rating"], row["rating_zh"])


def test_custom_thresholds_change_the_rating():
    rows = bulk(CITY, 4, 4, 0, 1)
    assert one(unit_metrics(frame(rows), START, END), CITY)["rating"] == "unrated"
    assert one(unit_metrics(frame(rows), START, END, thresholds=LOW), CITY)["rating"] == "fast"
    strict = RatingThresholds(1, 1.0, 0.0, 1.0, 0.0)  # no 黄牛 band at all
    assert (
        one(unit_metrics(frame(bulk(CITY, 4, 3, 0, 1)), START, END, thresholds=strict), CITY)["rating"]
        == "slow"
    )


# --------------------------------------------------------------------------- thresholds file
def test_default_thresholds_file():
    thresholds = load_thresholds()
    assert thresholds == default_thresholds()
    assert default_thresholds() is default_thresholds()
    assert thresholds.source == "routing/ratings.toml"
    assert (
        thresholds.min_cases,
        thresholds.fast_min_on_time_closure_rate,
        thresholds.fast_max_rework_rate,
        thresholds.slow_on_time_closure_rate_below,
        thresholds.slow_rework_rate_above,
    ) == (10, 0.90, 0.05, 0.70, 0.20)
    assert (thresholds.satisfaction_weight, thresholds.min_verdicts, thresholds.scores) == (
        0.2, 5, {"satisfied": 1.0, "basically_satisfied": 0.8, "unsatisfied": 0.0},
    )  # fmt: skip
    assert RatingThresholds.from_dict(thresholds.to_dict(), source="x") == RatingThresholds(
        10, 0.9, 0.05, 0.7, 0.2, source="x", satisfaction_weight=0.2, min_verdicts=5
    )


GOOD = """\
schema = 1
min_cases = {min_cases}

[fast]
min_on_time_closure_rate = {fast_on_time}
max_rework_rate = {fast_rework}

[slow]
on_time_closure_rate_below = {slow_on_time}
rework_rate_above = {slow_rework}
"""
GOOD_VALUES = {
    "min_cases": "10",
    "fast_on_time": "0.9",
    "fast_rework": "0.05",
    "slow_on_time": "0.7",
    "slow_rework": "0.2",
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ratings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_custom_file_loads(tmp_path: Path):
    path = write(tmp_path, GOOD.format(**{**GOOD_VALUES, "min_cases": "5", "fast_on_time": "1"}))
    thresholds = load_thresholds(path)
    assert (thresholds.min_cases, thresholds.fast_min_on_time_closure_rate) == (5, 1)
    assert thresholds.source == str(path)
    # equal fast and slow thresholds are consistent (no 黄牛 band), not an error
    load_thresholds(write(tmp_path, GOOD.format(**{**GOOD_VALUES, "fast_rework": "0.2"})))


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"fast_on_time": "1.2"},
            "fast.min_on_time_closure_rate",
            r"1\.2 is not allowed; allowed: a number from 0 to 1",
        ),
        (
            {"fast_rework": "-0.05"},
            "fast.max_rework_rate",
            r"-0\.05 is not allowed; allowed: a number from 0 to 1",
        ),
        ({"slow_on_time": "nan"}, "slow.on_time_closure_rate_below", "nan is not allowed"),
        (
            {"slow_rework": "'20%'"},
            "slow.rework_rate_above",
            "'20%' is not allowed; allowed: a number from 0 to 1",
        ),
        ({"slow_rework": "true"}, "slow.rework_rate_above", "True is not allowed"),
        ({"min_cases": "0"}, "min_cases", "0 is not allowed; allowed: an integer from 1 to 1000000"),
        ({"min_cases": "2.5"}, "min_cases", r"2\.5 is not allowed; allowed: an integer from 1"),
        ({"min_cases": "false"}, "min_cases", "False is not allowed"),
        (
            {"fast_on_time": "0.6"},
            "fast.min_on_time_closure_rate",
            r"0\.6 is not allowed; allowed: at least slow.on_time_closure_rate_below \(0\.7\): fast \(骏马\) "
            r"must be at least as strict as slow \(蜗牛\)",
        ),
        (
            {"fast_rework": "0.3"},
            "fast.max_rework_rate",
            r"0\.3 is not allowed; allowed: at most slow.rework_rate_above \(0\.2\)",
        ),
    ],
)
def test_bad_values_are_named(tmp_path: Path, change: dict[str, str], field: str, message: str):
    path = write(tmp_path, GOOD.format(**{**GOOD_VALUES, **change}))
    with pytest.raises(RatingsDataError, match=message) as info:
        load_thresholds(path)
    assert str(info.value).startswith(f"{path}: field '{field}': ")
    assert info.value.detail["file"] == str(path)
    assert info.value.detail["field"] == field
    assert info.value.code == "invalid_ratings"
    assert isinstance(info.value, InvalidInputError)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD.replace("min_cases = {min_cases}", "min_case = 10"),
            "unknown field 'min_case'; allowed: fast, min_cases, satisfaction, schema, slow",
        ),
        (
            GOOD.replace("max_rework_rate", "max_rework"),
            "unknown field 'fast.max_rework'; allowed: fast.max_rework_rate, fast.min_on_time_closure_rate",
        ),
        (
            GOOD.replace("rework_rate_above = {slow_rework}\n", ""),
            "field 'slow.rework_rate_above' is missing; required: slow.on_time_closure_rate_below, "
            "slow.rework_rate_above",
        ),
        (GOOD.split("[fast]")[0], "field 'fast' is missing; required: fast, min_cases, slow"),
        (GOOD.replace("schema = 1", "schema = 2"), "field 'schema': 2 is not supported; allowed: 1"),
        (GOOD + "[other]\nx = 1\n", "unknown field 'other'"),
        ("min_cases = 10\nfast = 1\nslow = 2\n", "field 'fast': 1 is not allowed; allowed: a table with"),
        (GOOD.replace("min_cases = {min_cases}", "min_cases = = 10"), "malformed TOML at line 2"),
    ],
)
def test_bad_files_are_named(tmp_path: Path, text: str, message: str):
    path = write(tmp_path, text.format(**GOOD_VALUES))
    with pytest.raises(RatingsDataError, match=message) as info:
        load_thresholds(path)
    assert str(info.value).startswith(f"{path}: ")


def test_missing_file(tmp_path: Path):
    with pytest.raises(RatingsDataError, match="cannot read the ratings file"):
        load_thresholds(tmp_path / "nope.toml")


def test_thresholds_validate_on_construction():
    with pytest.raises(
        RatingsDataError, match=r"<RatingThresholds>: field 'slow\.rework_rate_above': 2 is not allowed"
    ):
        RatingThresholds(10, 0.9, 0.05, 0.7, 2)


# --------------------------------------------------------------------------- input checks
def drop(*names: str):
    return lambda cases: cases.drop(columns=list(names))


def set_column(name: str, value: Any):
    def change(cases: pd.DataFrame) -> pd.DataFrame:
        cases = cases.copy()
        cases[name] = value
        return cases

    return change


def set_cell(index: int, name: str, value: Any):
    def change(cases: pd.DataFrame) -> pd.DataFrame:
        cases = cases.copy()
        cases.loc[index, name] = value
        return cases

    return change


BASE = [
    case(1, handled="2025-09-08 10:00", closed="2025-09-08 11:00", state="closed"),
    case(2, handled="2025-09-09 10:00", state="handled"),
    case(3, state="dispatched"),
]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (
            drop("closed_at", "state"),
            InvalidInputError,
            "cases is missing column(s) 'closed_at', 'state'; required: report_id, unit_key, unit_name, "
            "created_at, dispatched_at, due_at, handled_at, closed_at, state, rework_count",
        ),
        (
            set_column("due_at", pd.to_datetime(["2025-09-10 17:30"] * 3)),
            NaiveDatetimeError,
            "column 'due_at' has naive timestamps (dtype datetime64[",
        ),
        (
            set_column("handled_at", ["2025-09-09 10:00", None, None]),
            InvalidInputError,
            "column 'handled_at' has dtype",
        ),
        (
            set_cell(1, "state", "done"),
            InvalidInputError,
            "column 'state' has unknown value(s) 'done' (report_id 2); allowed: reported, verified, filed",
        ),
        (
            set_column("state", [None, "closed", "Closed"]),
            InvalidInputError,
            "column 'state' has unknown value(s) 'Closed', nan (report_id 1, 3); allowed: reported",
        ),
        (set_cell(2, "report_id", 1), InvalidInputError, "column 'report_id' has duplicates: 1, 1"),
        (
            set_column("rework_count", [0, -1, 0]),
            InvalidInputError,
            "column 'rework_count' has value(s) [-1] (report_id 2); allowed: non-negative integers",
        ),
        (
            set_column("rework_count", [0.0, np.nan, 1.5]),
            InvalidInputError,
            "column 'rework_count' has value(s) [nan, 1.5] (report_id 2, 3)",
        ),
        (
            set_column("rework_count", ["0", "1", "0"]),
            InvalidInputError,
            "column 'rework_count' has dtype",
        ),
        (set_cell(0, "unit_key", None), InvalidInputError, "column 'unit_key' is empty for report_id 1"),
        (
            set_cell(1, "dispatched_at", at("2025-09-09 11:00")),
            InvalidInputError,
            "handled_at is before dispatched_at for report_id 2",
        ),
    ],
)
def test_bad_cases_are_named(change: Any, error: type[Exception], message: str):
    with pytest.raises(error) as info:
        unit_metrics(change(frame(BASE)), START, END)
    assert message in str(info.value)


def test_all_missing_timestamps_may_be_untyped():
    cases = frame(BASE)
    cases["closed_at"] = None
    row = one(unit_metrics(cases, START, END), UNIT)
    assert (row["due"], row["closed"]) == (3, 0)


@pytest.mark.parametrize(
    ("start", "end", "error", "message"),
    [
        (
            END,
            START,
            InvalidInputError,
            "start=2025-09-30T16:00:00+00:00 is not before end=2025-08-31T16:00:00",
        ),
        (START, START, InvalidInputError, "allowed: start < end (the period is [start, end))"),
        (datetime(2025, 9, 1), END, NaiveDatetimeError, "start=2025-09-01T00:00:00 has no time zone"),
        (START, pd.Timestamp("2025-10-01"), NaiveDatetimeError, "end=2025-10-01T00:00:00 has no time zone"),
        ("2025-09-01", END, InvalidInputError, "start='2025-09-01' is not a datetime"),
    ],
)
def test_bad_periods(start: Any, end: Any, error: type[Exception], message: str):
    with pytest.raises(error) as info:
        unit_metrics(frame(BASE), start, end)
    assert message in str(info.value)


def test_bad_by_and_missing_team():
    with pytest.raises(InvalidInputError, match="by='district' is not allowed; allowed: unit_key, team"):
        unit_metrics(frame(BASE), START, END, by="district")
    with pytest.raises(InvalidInputError, match=r"missing column\(s\) 'team'; .*team \(for by='team'\)"):
        unit_metrics(frame(BASE).drop(columns="team"), START, END, by="team")
    with pytest.raises(InvalidInputError, match=r"cases is a list; allowed: a pandas\.DataFrame"):
        unit_metrics(BASE, START, END)  # type: ignore[arg-type]


def test_states_are_the_closed_loop():
    assert len(STATES) == 14
    assert {"deferred", "invalid", "rework", "reopened", "merged"} <= set(STATES)


# --------------------------------------------------------------------------- CSV
@pytest.fixture(scope="module")
def metrics() -> pd.DataFrame:
    rows = [*KNOWN, case(60, CITY, state="invalid")]
    return unit_metrics(frame(rows), START, END, thresholds=LOW)


def test_csv_has_a_bom_and_chinese_headers(metrics: pd.DataFrame):
    buffer = io.BytesIO()
    to_csv(metrics, buffer)
    data = buffer.getvalue()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8").removeprefix("\ufeff").split("\n")
    assert lines[0].split(",") == [CHINESE_HEADERS[name] for name in METRIC_COLUMNS]
    assert lines[0].startswith(
        "单位编码,单位名称,应结案数,结案数,按期结案数,按期处置数,挂账数,返工数,重开数,结案率,按期结案率"
    )
    # rates as decimals with 4 digits, hours with 2, empty cells for NaN
    assert lines[1] == (
        "370902002001,岱庙社区,7,4,2,4,1,2,0,0.5714,0.2857,0.5714,0.3333,11.25,36.0,slow,蜗牛,"
        "0,0,0,0,0,0,,,0.2857"  # nobody urged or rated: the rating score is the 按期结案率
    )
    assert lines[2] == "city:园林局,市园林局,0,0,0,0,0,0,0,,,,,,,unrated,待评,0,0,0,0,0,0,,,"
    assert lines[3] == ""


def test_csv_reads_back(metrics: pd.DataFrame, tmp_path: Path):
    path = tmp_path / "metrics.csv"
    to_csv(metrics, path)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(path, encoding="utf-8-sig", dtype={"单位编码": str})
    assert list(back.columns) == [CHINESE_HEADERS[name] for name in METRIC_COLUMNS]
    assert back["按期结案率"].tolist()[0] == 0.2857
    assert back["应结案数"].tolist() == [7, 0]
    to_csv(metrics, str(path), chinese_headers=False)
    english = pd.read_csv(path, encoding="utf-8-sig", dtype={"unit_key": str})
    assert tuple(english.columns) == METRIC_COLUMNS
    assert english["unit_key"].tolist() == [UNIT, CITY]
    assert math.isnan(english["rework_rate"].tolist()[1])


def test_csv_to_a_text_buffer(metrics: pd.DataFrame):
    buffer = io.StringIO()
    to_csv(metrics, buffer, chinese_headers=False)
    text = buffer.getvalue()
    assert text.startswith("\ufeffunit_key,unit_name,due,")
    assert text.count("\ufeff") == 1


def test_csv_of_teams_and_bad_targets():
    teams = unit_metrics(frame([case(1, team="一中队")]), START, END, by="team")
    buffer = io.BytesIO()
    to_csv(teams, buffer)
    assert buffer.getvalue().decode("utf-8-sig").startswith("服务队,应结案数,")
    with pytest.raises(InvalidInputError, match="path_or_buffer=42 is not allowed"):
        to_csv(teams, 42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="metrics is a dict"):
        to_csv({}, buffer)  # type: ignore[arg-type]
