"""Two staff members taking a step on the same case at the same moment: one wins, one gets 409.

Both requests read the case before either writes (forced here with a barrier in
front of the transition check, where the race window is in production: two
dispatchers, or two ``siji serve`` workers, or two threads of one worker).  The
case must then take the step once; the loser must be told the case changed.

Found by this test on SQLite: ``with_for_update=True`` is a no-op there and pysqlite
begins the transaction only at the first UPDATE, so both steps committed (two
``verify`` events from ``reported``, version 2 after three events).  Fixed by
optimistic locking on ``reports.version`` (the mapper's ``version_id_col``), which a
losing UPDATE turns into the 409 "changed since you read it".
"""

from __future__ import annotations

import threading

import pytest

from benchmarks.load import CITY, load_reports
from routing.access import Principal
from routing.intake import ReportIn
from routing.workflow import IllegalTransitionError


def test_simultaneous_steps_on_one_case_take_it_once_on_sqlite(
    sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import routing.steps as service_module
    from boundaries.service import BoundaryService
    from routing.service import ReportService
    from store.engine import make_engine

    engine = make_engine(sqlite_database_url)
    reports = ReportService(engine, BoundaryService(engine, 50.0), secret="race-test-secret-0123456789")
    submitted = reports.submit(
        ReportIn(x=117.13, y=36.19, category="S-01-01", description="暴露垃圾", channel="app"), "race-0000001"
    )
    report_id = submitted.report["id"]

    both_read = threading.Barrier(2, timeout=30)
    check_transition = service_module.transition

    def after_both_read(*args: object, **kwargs: object) -> object:
        both_read.wait()
        return check_transition(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service_module, "transition", after_both_read)
    outcomes: list[str] = []

    def verify(name: str) -> None:
        dispatcher = Principal("staff", name=name, role="dispatcher", unit_key=CITY)
        try:
            reports.act(report_id, "verify", dispatcher, expected_version=1)
            outcomes.append("taken")
        except IllegalTransitionError:
            outcomes.append("409")

    threads = [threading.Thread(target=verify, args=(f"dispatcher-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    engine.dispose()

    stored = load_reports(sqlite_database_url, "race-")[report_id]
    assert [action for action, _, _ in stored.events] == ["report", "verify"]
    assert sorted(outcomes) == ["409", "taken"]
    assert stored.version == 2
