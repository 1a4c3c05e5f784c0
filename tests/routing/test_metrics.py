"""Unit and team performance: counts, rates, handling times, ratings, thresholds and CSV."""

from __future__ import annotations

import io
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from geo.errors import InvalidInputError
from routing.calendar import WorkCalendar, default_calendar
from routing.errors import NaiveDatetimeError
from routing.metrics import (
    CHINESE_HEADERS,
    METRIC_COLUMNS,
    STATES,
    to_csv,
    unit_metrics,
)
from tests.routing.metric_cases import CITY, END, KNOWN, LOW, START, TZ, UNIT, at, case, frame, one

# --------------------------------------------------------------------------- known answers
# Unit UNIT in September 2025; all dispatched Monday 2025-09-08 09:00, due Wednesday 17:30.
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
