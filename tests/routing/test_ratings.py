"""The residents' verdicts and urgings in the figures, and their weight in 骏马/黄牛/蜗牛 (ratings.toml)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from geo.errors import InvalidInputError
from routing.metrics import unit_metrics
from routing.ratings import RatingsDataError, RatingThresholds, load_thresholds
from tests.routing.test_metrics import END, GOOD, GOOD_VALUES, START, case, frame, one, write

UNIT = "370902002001"
WEIGHED = RatingThresholds(4, 0.9, 0.05, 0.7, 0.2, satisfaction_weight=0.5, min_verdicts=3)


def closed_on_time(report_id: int, satisfaction: str | None = None, urges: int = 0) -> dict:
    row = case(report_id, handled="2025-09-08 10:00", closed="2025-09-08 16:00", state="closed")
    return {**row, "satisfaction": satisfaction, "urge_count": urges}


def table(rows: list[dict], thresholds: RatingThresholds = WEIGHED):  # type: ignore[no-untyped-def]
    cases = frame(rows)
    for column in ("satisfaction", "urge_count"):
        cases[column] = [row.get(column) for row in rows]
    cases["urge_count"] = cases["urge_count"].fillna(0).astype("int64")
    return unit_metrics(cases, START, END, thresholds=thresholds)


def test_unsatisfied_residents_pull_a_fast_unit_down() -> None:
    happy = table([closed_on_time(n, "satisfied") for n in range(1, 5)])
    row = one(happy, UNIT)
    assert (row["on_time_closure_rate"], row["satisfaction_score"], row["rating_score"], row["rating"]) == (
        1.0, 1.0, 1.0, "fast",
    )  # fmt: skip
    unhappy = one(table([closed_on_time(n, "unsatisfied") for n in range(1, 5)]), UNIT)
    # all on time, all unsatisfied: (1 - 0.5) × 1.0 + 0.5 × 0.0 = 0.5, under 0.7
    assert (unhappy["satisfaction_rate"], unhappy["rating_score"], unhappy["rating_zh"]) == (0.0, 0.5, "蜗牛")


def test_satisfaction_weighs_in_only_from_min_verdicts() -> None:
    rows = [
        closed_on_time(1, "unsatisfied"),
        closed_on_time(2, "unsatisfied"),
        *(closed_on_time(n) for n in (3, 4)),
    ]
    row = one(table(rows), UNIT)
    assert (row["rated"], row["unsatisfied"], row["rating_score"], row["rating"]) == (2, 2, 1.0, "fast")


def test_urgings_and_verdicts_are_counted_over_the_due_cases() -> None:
    rows = [
        closed_on_time(1, "satisfied", urges=2),
        closed_on_time(2, "basically_satisfied", urges=1),
        closed_on_time(3, "unsatisfied"),
        closed_on_time(4),
        {**closed_on_time(5, "satisfied", urges=5), "state": "merged"},  # counted nowhere
        {**closed_on_time(6, "satisfied", urges=5), "due_at": None},  # not in the period
    ]
    row = one(table(rows), UNIT)
    assert (row["urged"], row["urgings"], row["rated"]) == (2, 3, 3)
    assert (row["satisfied"], row["basically_satisfied"], row["unsatisfied"]) == (1, 1, 1)
    assert row["satisfaction_rate"] == pytest.approx(2 / 3)
    assert row["satisfaction_score"] == pytest.approx((1.0 + 0.8 + 0.0) / 3)
    assert row["rating_score"] == pytest.approx(0.5 * 1.0 + 0.5 * (1.8 / 3))


def test_no_verdict_is_an_empty_rate_not_a_zero() -> None:
    row = one(table([closed_on_time(1)]), UNIT)
    assert math.isnan(row["satisfaction_rate"]) and math.isnan(row["satisfaction_score"])  # noqa: PT018
    assert row["rating_score"] == 1.0


def test_an_unknown_verdict_is_named() -> None:
    with pytest.raises(
        InvalidInputError, match=r"column 'satisfaction' has unknown value\(s\) 'great' \(report_id 1\)"
    ):
        table([closed_on_time(1, "great")])


SATISFACTION = """
[satisfaction]
weight = {weight}
min_verdicts = {min_verdicts}
satisfied = {satisfied}
basically_satisfied = {basic}
unsatisfied = 0.0
"""
VALUES = {"weight": "0.2", "min_verdicts": "5", "satisfied": "1.0", "basic": "0.8"}


def test_a_ratings_file_with_satisfaction_loads(tmp_path: Path) -> None:
    text = GOOD.format(**GOOD_VALUES) + SATISFACTION.format(**{**VALUES, "weight": "0.4", "basic": "0.6"})
    thresholds = load_thresholds(write(tmp_path, text))
    assert (thresholds.satisfaction_weight, thresholds.scores["basically_satisfied"]) == (0.4, 0.6)
    plain = load_thresholds(write(tmp_path, GOOD.format(**GOOD_VALUES)))
    assert plain.satisfaction_weight == 0.0  # no [satisfaction]: the 按期结案率 alone


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"weight": "1.5"},
            r"field 'satisfaction\.weight': 1\.5 is not allowed; allowed: a number from 0 to 1",
        ),
        (
            {"min_verdicts": "0"},
            r"field 'satisfaction\.min_verdicts': 0 is not allowed; allowed: an integer from 1",
        ),
        ({"basic": "1.2"}, r"field 'satisfaction\.basically_satisfied': 1\.2 is not allowed"),
        (
            {"satisfied": "0.5"},
            r"'satisfaction\.basically_satisfied': 0\.8 is not allowed; allowed: between unsatisfied",
        ),
    ],
)
def test_bad_satisfaction_values_are_named(tmp_path: Path, change: dict[str, str], message: str) -> None:
    path = write(tmp_path, GOOD.format(**GOOD_VALUES) + SATISFACTION.format(**{**VALUES, **change}))
    with pytest.raises(RatingsDataError, match=message):
        load_thresholds(path)


def test_a_partial_satisfaction_table_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.format(**GOOD_VALUES) + "\n[satisfaction]\nweight = 0.2\n")
    with pytest.raises(
        RatingsDataError, match=r"field 'satisfaction\.basically_satisfied' is missing; required:"
    ):
        load_thresholds(path)
