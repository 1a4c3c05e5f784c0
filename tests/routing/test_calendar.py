"""Working-time calendar: official holidays, make-up workdays, deadline arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.errors import InvalidInputError
from routing.calendar import (
    MAX_AMOUNT,
    TIME_UNITS,
    Holiday,
    Season,
    WorkCalendar,
    WorkingHours,
    check_amount,
    default_calendar,
    parse_unit,
)
from routing.errors import (
    CalendarDataError,
    InvalidAmountError,
    NaiveDatetimeError,
    UnknownTimeUnitError,
)

TZ = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar.load()
DAY_HOURS = 7.5  # default office hours: 08:30-12:00 and 13:30-17:30


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """An instant in Tai'an local time."""
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


# --------------------------------------------------------------------------- official data
# The notices, re-typed independently of calendar.toml: (days off, make-up workdays).
OFFICIAL = {
    2024: (
        [
            date(2024, 1, 1),
            *days(date(2024, 2, 10), date(2024, 2, 17)),
            *days(date(2024, 4, 4), date(2024, 4, 6)),
            *days(date(2024, 5, 1), date(2024, 5, 5)),
            *days(date(2024, 6, 8), date(2024, 6, 10)),
            *days(date(2024, 9, 15), date(2024, 9, 17)),
            *days(date(2024, 10, 1), date(2024, 10, 7)),
        ],
        [
            *(date(2024, 2, 4), date(2024, 2, 18), date(2024, 4, 7), date(2024, 4, 28)),
            *(date(2024, 5, 11), date(2024, 9, 14), date(2024, 9, 29), date(2024, 10, 12)),
        ],
    ),
    2025: (
        [
            date(2025, 1, 1),
            *days(date(2025, 1, 28), date(2025, 2, 4)),
            *days(date(2025, 4, 4), date(2025, 4, 6)),
            *days(date(2025, 5, 1), date(2025, 5, 5)),
            *days(date(2025, 5, 31), date(2025, 6, 2)),
            *days(date(2025, 10, 1), date(2025, 10, 8)),
        ],
        [date(2025, 1, 26), date(2025, 2, 8), date(2025, 4, 27), date(2025, 9, 28), date(2025, 10, 11)],
    ),
    2026: (
        [
            *days(date(2026, 1, 1), date(2026, 1, 3)),
            *days(date(2026, 2, 15), date(2026, 2, 23)),
            *days(date(2026, 4, 4), date(2026, 4, 6)),
            *days(date(2026, 5, 1), date(2026, 5, 5)),
            *days(date(2026, 6, 19), date(2026, 6, 21)),
            *days(date(2026, 9, 25), date(2026, 9, 27)),
            *days(date(2026, 10, 1), date(2026, 10, 7)),
        ],
        [
            *(date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28)),
            *(date(2026, 5, 9), date(2026, 9, 20), date(2026, 10, 10)),
        ],
    ),
}


@pytest.mark.parametrize("year", sorted(OFFICIAL))
def test_every_day_of_the_year_matches_the_notice(year):
    off, makeup = OFFICIAL[year]
    for day in days(date(year, 1, 1), date(year, 12, 31)):
        expected = day in makeup or (day.weekday() < 5 and day not in off)
        assert CAL.is_workday(day) is expected, day
        assert CAL.is_makeup_workday(day) is (day in makeup), day
        assert (CAL.holiday_name(day) is not None) is (day in off), day


@pytest.mark.parametrize(("year", "statutory_days"), [(2024, 11), (2025, 13), (2026, 13)])
def test_workdays_lost_equal_the_statutory_holiday_days(year, statutory_days):
    # An independent check of the data: weekend days taken for holidays are always paid
    # back by 调休, so a year loses exactly its statutory days (11, 13 from 2025 on).
    year_days = days(date(year, 1, 1), date(year, 12, 31))
    weekdays = sum(d.weekday() < 5 for d in year_days)
    workdays = sum(CAL.is_workday(d) for d in year_days)
    assert weekdays - workdays == statutory_days


def test_shipped_calendar_covers_2024_to_2026_only():
    assert CAL.years == {2024, 2025, 2026}
    assert CAL.covers(date(2024, 1, 1))
    assert CAL.covers(at(2026, 12, 31, 23, 59))
    assert not CAL.covers(date(2023, 12, 31))
    assert not CAL.covers(date(2027, 1, 1))
    # uncovered years fall back to Monday..Friday
    assert CAL.is_workday(date(2027, 1, 1))  # a Friday, 元旦 in reality: not in the data yet
    assert not CAL.is_workday(date(2027, 1, 2))


def test_every_makeup_day_is_a_weekend_day_and_a_workday():
    makeups = [d for h in CAL.holidays for d in h.makeup_workdays]
    assert len(makeups) == 19
    for day in makeups:
        assert day.weekday() >= 5
        assert CAL.is_workday(day)
        assert CAL.working_seconds_between(at(day.year, day.month, day.day), at(*_next(day))) == 7.5 * 3600


def _next(day: date) -> tuple[int, int, int]:
    after = day + timedelta(days=1)
    return after.year, after.month, after.day


# --------------------------------------------------------------------------- National Day 2025
@pytest.mark.parametrize(
    ("day", "workday"),
    [
        (date(2025, 9, 27), False),  # Saturday
        (date(2025, 9, 28), True),  # Sunday, make-up workday
        (date(2025, 9, 30), True),
        *[(date(2025, 10, d), False) for d in range(1, 9)],  # 国庆节、中秋节 Oct 1..8
        (date(2025, 10, 9), True),
        (date(2025, 10, 10), True),
        (date(2025, 10, 11), True),  # Saturday, make-up workday
        (date(2025, 10, 12), False),
    ],
)
def test_national_day_2025(day, workday):
    assert CAL.is_workday(day) is workday


@pytest.mark.parametrize(
    ("start", "amount", "unit", "due"),
    [
        # the day before the holiday, 16:00: one working day later skips Oct 1..8
        (at(2025, 9, 30, 16), 1, "working_days", at(2025, 10, 9, 16)),
        # reported on the holiday: counting starts at the next opening, Oct 9 08:30
        (at(2025, 10, 3, 10), 4, "working_hours", at(2025, 10, 9, 14)),
        (at(2025, 10, 3, 10), 1, "working_days", at(2025, 10, 9, 17, 30)),
        # the make-up Sunday counts like any workday
        (at(2025, 9, 28, 10), 1, "working_hours", at(2025, 9, 28, 11)),
        (at(2025, 9, 26, 16), 1, "working_days", at(2025, 9, 28, 16)),
        # Friday Oct 10 16:00 + 1 working day is the make-up Saturday Oct 11
        (at(2025, 10, 10, 16), 1, "working_days", at(2025, 10, 11, 16)),
        (at(2025, 10, 10, 16), 2, "working_days", at(2025, 10, 13, 16)),
        # wall-clock units ignore the holiday
        (at(2025, 9, 30, 16), 2, "hours", at(2025, 9, 30, 18)),
        (at(2025, 9, 30, 16), 3, "calendar_days", at(2025, 10, 3, 16)),
    ],
)
def test_deadlines_around_national_day_2025(start, amount, unit, due):
    assert CAL.add(start, amount, unit) == due


def test_no_working_time_during_national_day_2025():
    assert CAL.working_seconds_between(at(2025, 9, 30, 17, 30), at(2025, 10, 9, 8, 30)) == 0
    assert CAL.working_seconds_between(at(2025, 9, 30, 17), at(2025, 10, 9, 9)) == 3600


# --------------------------------------------------------------------------- Spring Festival 2024
def test_spring_festival_2024():
    assert [CAL.is_workday(d) for d in days(date(2024, 2, 9), date(2024, 2, 18))] == [
        True,  # Feb 9 除夕: only "encouraged" off, officially a workday
        *[False] * 8,  # Feb 10..17
        True,  # Feb 18, a Sunday, make-up workday
    ]
    assert CAL.is_workday(date(2024, 2, 4))  # Sunday before, make-up workday
    assert CAL.holiday_name(date(2024, 2, 12)) == "春节"
    # reported Thursday Feb 8 16:00: day 1 is Friday Feb 9, day 2 the make-up Sunday Feb 18
    assert CAL.add(at(2024, 2, 8, 16), 2, "working_days") == at(2024, 2, 18, 16)
    assert CAL.add(at(2024, 2, 9, 17), 1, "working_hours") == at(2024, 2, 18, 9)


def test_spring_festival_2026():
    assert not any(CAL.is_workday(d) for d in days(date(2026, 2, 15), date(2026, 2, 23)))
    assert CAL.is_workday(date(2026, 2, 14))  # Saturday, make-up
    assert CAL.is_workday(date(2026, 2, 28))  # Saturday, make-up
    assert CAL.add(at(2026, 2, 13, 16), 1, "working_days") == at(2026, 2, 14, 16)
    assert CAL.add(at(2026, 2, 14, 16), 1, "working_days") == at(2026, 2, 24, 16)


# --------------------------------------------------------------------------- ordinary weeks
FRIDAY = (2025, 3, 7)  # an ordinary Friday; Monday 2025-03-10 is a workday


@pytest.mark.parametrize(
    ("start", "amount", "unit", "due"),
    [
        # the brief's example: Friday 16:00 + 1 working day = Monday 16:00
        (at(*FRIDAY, 16), 1, "working_days", at(2025, 3, 10, 16)),
        # Friday evening: counting starts Monday 08:30, one working day ends Monday 17:30
        (at(*FRIDAY, 19), 1, "working_days", at(2025, 3, 10, 17, 30)),
        (at(*FRIDAY, 19), 2, "working_days", at(2025, 3, 11, 17, 30)),
        (at(*FRIDAY, 19), 2, "working_hours", at(2025, 3, 10, 10, 30)),
        (at(*FRIDAY, 19), 4, "working_hours", at(2025, 3, 10, 14)),
        (at(*FRIDAY, 19), 2, "hours", at(*FRIDAY, 21)),
        (at(*FRIDAY, 19), 1, "calendar_days", at(2025, 3, 8, 19)),
        (at(*FRIDAY, 16), 4, "working_hours", at(2025, 3, 10, 11)),
        # Saturday report, 5 working days = end of Friday
        (at(2025, 3, 8, 11), 5, "working_days", at(2025, 3, 14, 17, 30)),
        # a limit that runs out at a closing time is due then, not at the next opening
        (at(2025, 3, 10, 8, 30), 3.5, "working_hours", at(2025, 3, 10, 12)),
        (at(2025, 3, 10, 8, 30), 7.5, "working_hours", at(2025, 3, 10, 17, 30)),
        (at(2025, 3, 10, 8, 30), 1, "working_days", at(2025, 3, 10, 17, 30)),
        # lunch break: counting starts at 13:30
        (at(2025, 3, 10, 12, 30), 1, "working_hours", at(2025, 3, 10, 14, 30)),
        (at(2025, 3, 10, 12, 30), 1, "working_days", at(2025, 3, 11, 12)),
        # before opening
        (at(2025, 3, 10, 7), 0.5, "working_hours", at(2025, 3, 10, 9)),
        # fractions of a working day: 0.5 * 7.5 h from 08:30
        (at(2025, 3, 10, 8, 30), 0.5, "working_days", at(2025, 3, 10, 13, 45)),
        (at(2025, 3, 10, 16), Fraction(1, 5), "working_days", at(2025, 3, 10, 17, 30)),
        (at(2025, 3, 10, 16), Decimal("0.2"), "working_days", at(2025, 3, 10, 17, 30)),
        # 30 working days (缺少健身设施): six weeks, one more day for 清明 (Fri Apr 4)
        (at(2025, 3, 10, 10), 30, "working_days", at(2025, 4, 22, 10)),
    ],
)
def test_deadlines_in_ordinary_weeks(start, amount, unit, due):
    result = CAL.add(start, amount, unit)
    assert result == due
    assert result.tzinfo == TZ


def test_thirty_working_days_use_the_makeup_sunday_before_labour_day_2025():
    # Mar 18..Apr 25 holds 28 workdays (清明 Apr 4 skipped); the 29th is Sunday Apr 27
    assert CAL.add(at(2025, 3, 17, 10), 29, "working_days") == at(2025, 4, 27, 10)
    assert CAL.add(at(2025, 3, 17, 10), 30, "working_days") == at(2025, 4, 28, 10)
    assert CAL.add(at(2025, 3, 17, 10), 31, "working_days") == at(2025, 4, 29, 10)
    assert CAL.add(at(2025, 3, 17, 10), 32, "working_days") == at(2025, 4, 30, 10)
    assert CAL.add(at(2025, 3, 17, 10), 33, "working_days") == at(2025, 5, 6, 10)


@pytest.mark.parametrize("unit", TIME_UNITS)
def test_zero_amount_returns_the_start(unit):
    start = at(2025, 10, 3, 10)  # even on a holiday
    assert CAL.add(start, 0, unit) == start


def test_other_time_zones_are_converted():
    utc_start = datetime(2025, 3, 10, 1, 0, tzinfo=UTC)  # 09:00 in Tai'an
    due = CAL.add(utc_start, 1, "working_hours")
    assert due == at(2025, 3, 10, 10)
    assert due.utcoffset() == timedelta(hours=8)
    fixed = datetime(2025, 3, 10, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    assert CAL.is_working_time(fixed)
    assert CAL.is_workday(datetime(2025, 3, 9, 17, 0, tzinfo=UTC))  # Monday 01:00 in Tai'an


def test_working_intervals_and_next_working_time():
    assert CAL.working_intervals(date(2025, 10, 1)) == []
    assert CAL.working_intervals(date(2025, 10, 11)) == [
        (at(2025, 10, 11, 8, 30), at(2025, 10, 11, 12)),
        (at(2025, 10, 11, 13, 30), at(2025, 10, 11, 17, 30)),
    ]
    assert CAL.next_working_time(at(2025, 3, 10, 9)) == at(2025, 3, 10, 9)
    assert CAL.next_working_time(at(2025, 3, 10, 12)) == at(2025, 3, 10, 13, 30)
    assert CAL.next_working_time(at(2025, 3, 10, 17, 30)) == at(2025, 3, 11, 8, 30)
    assert CAL.next_working_time(at(*FRIDAY, 19)) == at(2025, 3, 10, 8, 30)


def test_working_time_is_signed():
    a, b = at(2025, 3, 10, 9), at(2025, 3, 11, 9)
    assert CAL.working_seconds_between(a, b) == 7.5 * 3600
    assert CAL.working_seconds_between(b, a) == -7.5 * 3600
    assert CAL.working_time_between(a, a) == timedelta(0)


# --------------------------------------------------------------------------- bad arguments
def test_naive_datetimes_are_rejected_with_the_value_named():
    naive = datetime(2025, 10, 9, 9, 0)
    with pytest.raises(NaiveDatetimeError) as info:
        CAL.add(naive, 1, "working_hours")
    assert "start=2025-10-09T09:00:00" in info.value.message
    assert "timezone-aware" in info.value.message
    assert info.value.code == "naive_datetime"
    assert isinstance(info.value, InvalidInputError)
    with pytest.raises(NaiveDatetimeError, match="b=2025-10-09T09:00:00"):
        CAL.working_seconds_between(at(2025, 10, 9), naive)
    with pytest.raises(NaiveDatetimeError):
        CAL.is_workday(naive)
    with pytest.raises(NaiveDatetimeError):
        CAL.next_working_time(naive)


@pytest.mark.parametrize("bad", [date(2025, 10, 9), "2025-10-09T09:00+08:00", 1_700_000_000, None])
def test_non_datetimes_are_rejected(bad):
    with pytest.raises(InvalidInputError, match="is not a datetime"):
        CAL.add(bad, 1, "hours")


@pytest.mark.parametrize("unit", ["days", "workdays", "Hours", "", None, 3])
def test_unknown_units_name_the_allowed_ones(unit):
    with pytest.raises(UnknownTimeUnitError) as info:
        CAL.add(at(2025, 3, 10, 9), 1, unit)
    assert repr(unit) in info.value.message
    assert "allowed: hours, working_hours, working_days, calendar_days" in info.value.message
    assert info.value.detail["allowed"] == list(TIME_UNITS)


@pytest.mark.parametrize(
    ("amount", "named"),
    [
        (-1, "amount=-1"),
        (-0.5, "amount=-0.5"),
        (float("nan"), "amount=nan"),
        (float("inf"), "amount=inf"),
        (Decimal("NaN"), "amount=NaN"),
        (MAX_AMOUNT + 1, f"amount={MAX_AMOUNT + 1}"),
        (True, "amount=True"),
        ("2", "amount='2'"),
        (None, "amount=None"),
    ],
)
def test_bad_amounts_are_rejected(amount, named):
    with pytest.raises(InvalidAmountError) as info:
        CAL.add(at(2025, 3, 10, 9), amount, "working_hours")
    assert named in info.value.message
    assert f"allowed: a number from 0 to {MAX_AMOUNT}" in info.value.message


def test_checks_are_public():
    assert parse_unit("hours") == "hours"
    assert check_amount(Decimal("0.25")) == Fraction(1, 4)
    assert default_calendar() is default_calendar()


# --------------------------------------------------------------------------- calendar files
VALID = """\
schema = 1
timezone = "Asia/Shanghai"

[working_hours]
intervals = [["09:00", "12:00"], ["13:00", "17:00"]]

[[year]]
year = 2030

[[year.holiday]]
name = "测试节"
from = 2030-05-01
to = 2030-05-03
makeup_workdays = [2030-05-04]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "calendar.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_custom_file_loads(tmp_path):
    cal = WorkCalendar.load(write(tmp_path, VALID))
    assert cal.years == {2030}
    assert [cal.is_workday(date(2030, 5, d)) for d in range(1, 6)] == [False, False, False, True, False]
    assert cal.add(datetime(2030, 4, 30, 16, tzinfo=TZ), 2, "working_hours") == datetime(
        2030, 5, 4, 10, tzinfo=TZ
    )
    assert (
        cal.working_seconds_between(datetime(2030, 5, 6, tzinfo=TZ), datetime(2030, 5, 7, tzinfo=TZ))
        == 7 * 3600
    )


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ('timezone = "Asia/Shanghai"', 'timezone = "Asia/Taian"', "unknown time zone 'Asia/Taian'"),
        ('"09:00", "12:00"', '"9:00", "12:00"', "time '9:00' is not allowed; allowed: 'HH:MM'"),
        ('"09:00", "12:00"', '"12:00", "09:00"', "interval 12:00-09:00 does not end after it starts"),
        ('["13:00", "17:00"]', '["11:00", "17:00"]', "starts before the previous one ends"),
        ("intervals = [", "intervalz = [", "unknown field 'intervalz'"),
        ("to = 2030-05-03", "to = 2030-04-03", "range 2030-05-01..2030-04-03 is not allowed"),
        ("to = 2030-05-03", 'to = "2030-05-03"', "field 'to': '2030-05-03' is not allowed"),
        ("[2030-05-04]", "[2030-05-06]", "make-up workday 2030-05-06 is a Monday"),
        ("[2030-05-04]", "[2030-05-04, 2030-05-04]", "2030-05-04 is already listed"),
        ("year = 2030", "year = 20300", "field 'year': 20300 is not allowed"),
        ("from = 2030-05-01", "from = 2035-05-01", "date 2035-05-01 is not allowed in year 2030"),
        ('name = "测试节"', 'name = ""', "field 'name': '' is not allowed"),
        ("schema = 1", "schema = 2", "field 'schema': 2 is not supported"),
    ],
)
def test_bad_files_name_the_file_the_field_and_the_value(tmp_path, old, new, named):
    assert old in VALID
    path = write(tmp_path, VALID.replace(old, new, 1))
    with pytest.raises(CalendarDataError) as info:
        WorkCalendar.load(path)
    assert info.value.message.startswith(str(path))
    assert named in info.value.message
    assert "allowed" in info.value.message or "already" in info.value.message
    assert info.value.code == "invalid_calendar"


def test_overlapping_holidays_and_duplicate_years_are_rejected(tmp_path):
    overlap = VALID + '\n[[year.holiday]]\nname = "重叠"\nfrom = 2030-05-03\nto = 2030-05-03\n'
    with pytest.raises(CalendarDataError, match="2030-05-03 is already a day off of '测试节'"):
        WorkCalendar.load(write(tmp_path, overlap))
    twice = VALID + "\n[[year]]\nyear = 2030\n"
    with pytest.raises(CalendarDataError, match="year 2030 is listed twice"):
        WorkCalendar.load(write(tmp_path, twice))
    both = VALID + '\n[[year.holiday]]\nname = "又一个"\nfrom = 2030-05-04\nto = 2030-05-05\n'
    with pytest.raises(CalendarDataError, match="2030-05-04 is both a holiday"):
        WorkCalendar.load(write(tmp_path, both))


def test_malformed_toml_names_the_line(tmp_path):
    path = write(tmp_path, VALID.replace("[working_hours]", "[working_hours"))
    with pytest.raises(CalendarDataError) as info:
        WorkCalendar.load(path)
    assert str(path) in info.value.message
    assert "malformed TOML at line 4" in info.value.message
    assert info.value.detail["line"] == 4


def test_missing_file_is_named(tmp_path):
    with pytest.raises(CalendarDataError, match=r"nope\.toml: cannot read the calendar file"):
        WorkCalendar.load(tmp_path / "nope.toml")


def test_seasons_change_the_office_hours():
    summer = Season("summer", (5, 1), (9, 30), ((time(8), time(12)), (time(14), time(18))))
    cal = WorkCalendar(CAL.holidays, hours=WorkingHours(seasons=(summer,)), years=CAL.years)
    assert cal.add(at(2025, 6, 9, 12, 30), 1, "working_hours") == at(2025, 6, 9, 15)
    assert cal.add(at(2025, 3, 10, 12, 30), 1, "working_hours") == at(2025, 3, 10, 14, 30)
    assert cal.working_seconds_between(at(2025, 6, 9), at(2025, 6, 10)) == 8 * 3600
    # a working day keeps its position as a fraction of the day across day lengths:
    # Tuesday Sep 30 16:00 is 6 h into an 8 h summer day (0.75); the next workday,
    # Oct 9, has 7.5 h, and 0.75 of it is 5 h 37 min 30 s after 08:30 -> 15:37:30
    due = datetime(2025, 10, 9, 15, 37, 30, tzinfo=TZ)
    assert cal.add(at(2025, 9, 30, 16), 1, "working_days") == due
    winter = Season("winter", (11, 1), (2, 28), ((time(9), time(17)),))
    assert winter.contains(date(2025, 12, 31))
    assert winter.contains(date(2026, 1, 1))
    assert not winter.contains(date(2026, 3, 1))


def test_a_calendar_without_workdays_stops_with_a_clear_error():
    never = WorkCalendar(
        [
            Holiday("整月", 2030, date(2030, 1, 1), date(2030, 1, 31)),
            Holiday("又一月", 2030, date(2030, 2, 1), date(2030, 3, 3)),
        ],
    )
    with pytest.raises(CalendarDataError, match="no workday in the 60 days after"):
        never.add(datetime(2030, 1, 1, tzinfo=TZ), 1, "working_hours")


# --------------------------------------------------------------------------- properties
# Starts spread over the three official years; results may run into 2027 (fallback).
starts = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31, 23, 59), timezones=st.just(TZ)
)
working_amounts = st.one_of(
    st.integers(min_value=1, max_value=60),
    st.fractions(min_value=Fraction(1, 8), max_value=60, max_denominator=8),
    st.floats(min_value=0.01, max_value=60, allow_nan=False, allow_infinity=False),
)
PROPERTY = settings(max_examples=60, deadline=None)


@PROPERTY
@given(start=starts, a=working_amounts, b=working_amounts, unit=st.sampled_from(TIME_UNITS))
def test_add_is_monotonic_in_the_amount(start, a, b, unit):
    low, high = sorted([a, b])
    assert CAL.add(start, low, unit) <= CAL.add(start, high, unit)
    assert CAL.add(start, 0, unit) <= CAL.add(start, low, unit)


@PROPERTY
@given(start=starts, hours=working_amounts)
def test_working_seconds_invert_working_hours(start, hours):
    due = CAL.add(start, hours, "working_hours")
    assert CAL.working_seconds_between(start, due) == pytest.approx(float(hours) * 3600, abs=1e-6)


@PROPERTY
@given(start=starts, hours=st.integers(min_value=1, max_value=200))
def test_working_seconds_invert_whole_working_hours_exactly(start, hours):
    assert CAL.working_seconds_between(start, CAL.add(start, hours, "working_hours")) == hours * 3600


@PROPERTY
@given(start=starts, amount=working_amounts, unit=st.sampled_from(sorted({"working_hours", "working_days"})))
def test_working_deadlines_never_land_outside_office_hours(start, amount, unit):
    due = CAL.add(start, amount, unit)
    local = due.astimezone(TZ)
    assert CAL.is_workday(local.date())
    assert CAL.holiday_name(local.date()) is None or CAL.is_makeup_workday(local.date())
    assert any(a <= due <= b for a, b in CAL.working_intervals(local.date()))
    assert due > start


@PROPERTY
@given(start=starts, n=st.integers(min_value=1, max_value=40))
def test_whole_working_days_equal_their_working_hours(start, n):
    # one schedule all year: N working days are N * 7.5 working hours
    assert CAL.add(start, n, "working_days") == CAL.add(start, n * DAY_HOURS, "working_hours")


@PROPERTY
@given(a=starts, b=starts, c=starts)
def test_working_time_is_additive(a, b, c):
    ab, bc, ac = (CAL.working_time_between(x, y) for x, y in ((a, b), (b, c), (a, c)))
    assert ab + bc == ac
    assert CAL.working_time_between(b, a) == -ab


@PROPERTY
@given(saturday=st.sampled_from([d for h in CAL.holidays for d in h.makeup_workdays if d.weekday() == 5]))
def test_makeup_saturdays_count(saturday):
    friday = saturday - timedelta(days=1)
    start = datetime.combine(friday, time(16), tzinfo=TZ)
    if CAL.is_workday(friday):
        assert CAL.add(start, 1, "working_days") == datetime.combine(saturday, time(16), tzinfo=TZ)
    saturday_opening = datetime.combine(saturday, time(8, 30), tzinfo=TZ)
    assert CAL.next_working_time(datetime.combine(saturday, time(0), tzinfo=TZ)) == saturday_opening
