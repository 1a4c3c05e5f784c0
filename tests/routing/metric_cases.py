"""Cases tables built by hand for the metrics and ratings tests: local-time instants,
one case per call, the frame the metrics read, and ratings.toml texts."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from routing.metrics import REQUIRED_COLUMNS, RatingThresholds

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
