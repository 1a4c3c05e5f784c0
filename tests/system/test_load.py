"""The load test (``benchmarks/load.py``), bounded for CI, and the checks it relies on.

CI drives the default mix (lookups, intake, steps of the loop, district maps) with 24
locust users for 8 s against ``siji serve --workers 2`` on SQLite, then checks the
database.  The long version prints the full table::

    .venv/bin/python -m benchmarks.load --seconds 300
    .venv/bin/python -m benchmarks.load --seconds 300 --postgis   # a throwaway PostGIS server
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import benchmarks.load as load
from benchmarks.load import KINDS, StoredReport, check_histories, load_test, verify_run

LOAD_SECONDS = 8
USERS = 24

INTAKE = ("report", None, "reported")
VERIFY = ("verify", "reported", "verified")
FILE = ("file", "verified", "filed")


def test_mix_under_load_fails_nothing_and_stores_every_accepted_report_once(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    run = load_test(
        sqlite_database_url, tmp_path, seconds=LOAD_SECONDS, users=USERS, workers=2, prepared=True
    )
    figures = ", ".join(
        f"{kind} {s.rps:.0f} req/s p50 {s.p50_ms:.0f} ms p99 {s.p99_ms:.0f} ms "
        f"({s.requests} req, {s.failures} failed)"
        for kind, s in run.stats.items()
    )
    print(f"\nserver ready in {run.startup_s:.1f} s; {figures}")
    assert run.failures == [], run.failures[:10]
    assert run.locust_exit_code == 0, (tmp_path / "locust.log").read_text()[-3000:]
    for kind in KINDS:
        assert run.stats[kind].requests > 0, f"no {kind} request in {LOAD_SECONDS} s"
        assert run.stats[kind].failures == 0
    check = run.verification
    assert check.ok, check.summary()
    assert check.sent == check.accepted == check.stored > 0
    assert check.actions_answered > 0


@pytest.mark.parametrize(
    ("report", "problem"),
    [
        (StoredReport(1, "k", "filed", 3, [INTAKE, VERIFY, FILE]), None),
        (StoredReport(1, "k", "reported", 1, [INTAKE]), None),
        (
            StoredReport(1, "k", "filed", 3, [INTAKE, VERIFY, ("file", "reported", "filed")]),
            "starts in 'reported'",
        ),
        (
            StoredReport(1, "k", "filed", 2, [INTAKE, VERIFY]),
            "state 'filed' but its last step ends in 'verified'",
        ),
        (StoredReport(1, "k", "verified", 3, [INTAKE, VERIFY]), "version 3 but 2 steps"),
        (StoredReport(1, "k", "verified", 1, [VERIFY]), "does not start with the intake"),
        (StoredReport(1, "k", "reported", 0, []), "does not start with the intake"),
        (StoredReport(1, "k", "verified", 3, [INTAKE, VERIFY, VERIFY]), "starts in 'reported'"),
    ],
)
def test_check_histories_finds_half_transitions(report: StoredReport, problem: str | None) -> None:
    problems = check_histories([report])
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1
        assert problem in problems[0]


def _write_record(path: Path, *items: dict[str, object]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ({}, {"missing": ["p-a"], "actions_missing": ["report 1: answered ['verify'], stored []"]}),
        (
            {7: StoredReport(7, "p-a", "verified", 2, [INTAKE, VERIFY])},
            {
                "wrong_id": ["p-a: answered id 1, stored as [7]"],
                "actions_missing": ["report 1: answered ['verify'], stored []"],
            },
        ),
        (
            {
                1: StoredReport(1, "p-a", "verified", 2, [INTAKE, VERIFY]),
                2: StoredReport(2, "p-z", "reported", 1, [INTAKE]),
            },
            {"unexpected": ["p-z"]},
        ),
        (
            {
                1: StoredReport(1, "p-a", "verified", 2, [INTAKE, VERIFY]),
                2: StoredReport(2, "p-a", "reported", 1, [INTAKE]),
            },
            {"duplicated": ["p-a"]},
        ),
        (
            {1: StoredReport(1, "p-a", "reported", 1, [INTAKE])},
            {"actions_missing": ["report 1: answered ['verify'], stored []"]},
        ),
        (
            {1: StoredReport(1, "p-a", "filed", 2, [INTAKE, VERIFY])},
            {"inconsistent": ["report 1: state 'filed' but its last step ends in 'verified'"]},
        ),
    ],
)
def test_verify_run_holds_the_database_to_the_record(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    stored: dict[int, StoredReport],
    expected: dict[str, list[str]],
) -> None:
    record = _write_record(
        tmp_path / "record.jsonl",
        {"sent": "p-a"},
        {"accepted": "p-a", "id": 1},
        {"action": "verify", "id": 1, "version": 2},
        {"sent": "p-b"},  # sent, never answered (and not stored): allowed
    )
    monkeypatch.setattr(load, "load_reports", lambda _url, _prefix: stored)
    result = verify_run("sqlite://", record, "p-")
    found = {
        name: getattr(result, name)
        for name in ("missing", "wrong_id", "duplicated", "unexpected", "actions_missing", "inconsistent")
        if getattr(result, name)
    }
    assert found == expected
    assert not result.ok


def test_verify_run_accepts_a_consistent_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    record = _write_record(
        tmp_path / "record.jsonl",
        {"sent": "p-a"},
        {"accepted": "p-a", "id": 1},
        {"action": "verify", "id": 1, "version": 2},
    )
    stored = {1: StoredReport(1, "p-a", "verified", 2, [INTAKE, VERIFY])}
    monkeypatch.setattr(load, "load_reports", lambda _url, _prefix: stored)
    result = verify_run("sqlite://", record, "p-")
    assert result.ok, result.summary()
    assert (result.sent, result.accepted, result.stored, result.actions_answered) == (1, 1, 1, 1)
