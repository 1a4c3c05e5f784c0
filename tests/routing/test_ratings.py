"""The residents' verdicts and urgings in the figures, and their weight in 骏马/黄牛/蜗牛 (ratings.toml)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from geo.errors import InvalidInputError
from routing.metrics import unit_metrics
from routing.ratings import (
    RATINGS,
    RatingsDataError,
    RatingThresholds,
    default_thresholds,
    load_thresholds,
    rate,
)
from tests.routing.metric_cases import (
    CITY,
    END,
    GOOD,
    GOOD_VALUES,
    KNOWN,
    LOW,
    START,
    bulk,
    case,
    frame,
    one,
    write,
)

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


# --------------------------------------------------------------------------- ratings


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
