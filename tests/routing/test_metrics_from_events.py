"""Every figure of the metrics is reproducible from the case histories (a property over random histories).

Hypothesis walks a few cases through random steps of the loop, taken by whoever may
take them (escalations, deferrals, extensions, transfers, reroutes, reworks and
reopenings included, and the desk's steps: urging, recategorising, merging, recalling
and the reporters' verdicts, an unsatisfied one reopening its case) with the clock
moving between steps.  The metrics the service
computes (:func:`routing.metrics.unit_metrics` over :meth:`ReportService.cases_frame`,
what ``GET /v1/metrics`` answers) must equal an independent recomputation that reads
only the events (:func:`recompute`), in any period.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from boundaries.service import BoundaryService
from geo.errors import SijiError
from routing import metrics, steps
from routing.access import Principal, hash_token
from routing.calendar import WorkCalendar
from routing.metrics import RatingThresholds
from routing.service import ReportService
from store.engine import make_engine, upgrade
from store.generations import import_generation
from store.models import AuditEntry, Report, ReportEvent
from tests.common import C111, C112, C121, C122, C123, CITY, D1, D2, S11, S12, S21
from tests.conftest import TOY_VALID_FROM, units_frame
from tests.routing.conftest import SHANGHAI, Clock
from tests.routing.test_service import IN_C111, IN_C121, report

DESKS = (CITY, D1, D2, S11, S12, S21, C111, C112, C121, C122, C123, f"{D1}:城管局", "city:园林局")
CATEGORIES = ("S-01-01", "S-04-04", "B-01-01", "B-04-05")  # subdistrict, community, department, city dept
ROLES = ("dispatcher", "handler", "supervisor")
WEIGHTS = {
    **dict.fromkeys(
        ("verify", "file", "dispatch", "start", "handle", "check", "close", "resume", "reopen"), 12
    ),
    **dict.fromkeys(("approve_extension", "refuse_extension", "accept_transfer", "refuse_transfer"), 4),
    **dict.fromkeys(("verdict", "urge"), 6),
}
"""How often each step is drawn against 1 for the others: the main line most, so that histories reach
their end (and beyond), and decisions of pending requests more than new requests."""
THRESHOLDS = RatingThresholds(2, 0.9, 0.05, 0.7, 0.2, satisfaction_weight=0.5, min_verdicts=1)
"""Few cases and one verdict rate, so the ratings and the weight of satisfaction are checked too."""
SATISFACTION = ("satisfied", "basically_satisfied", "unsatisfied")
START = dt.datetime(2025, 3, 3, 9, 0, tzinfo=SHANGHAI)  # a Monday morning


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def world(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[ReportService, Clock]]:
    """One database per backend for all the examples; each example starts from no reports."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/histories.db"
    else:
        from tests.conftest import fresh_postgis_database

        url = fresh_postgis_database(request.getfixturevalue("postgis_server"))
    engine = make_engine(url)
    upgrade(engine)
    import_generation(engine, units_frame(), name="toy", valid_from=TOY_VALID_FROM)
    clock = Clock(START)
    yield (
        ReportService(engine, BoundaryService(engine), secret="histories-secret-0123456789", clock=clock),
        clock,
    )
    engine.dispose()


def _reset(service: ReportService, clock: Clock) -> None:
    clock.now = START
    with Session(service.engine) as session, session.begin():
        session.execute(delete(ReportEvent))
        session.execute(delete(AuditEntry))
        session.execute(update(Report).values(duplicate_of=None))
        session.execute(delete(Report))  # and its scope rows (ON DELETE CASCADE)


def _staff(unit: str, role: str) -> Principal:
    return Principal("staff", name=f"{role}@{unit}", role=role, unit_key=unit)


def _options(service: ReportService, rid: int, tokens: list[str]) -> list[tuple[str, Principal]]:
    """Every (action, caller) that the rules allow on the case now: staff of its chains, and the
    reporters (of any case: the rules find the case's own and its followers)."""
    desks = service.desks()
    with Session(service.engine) as session:
        row = session.get(Report, rid)
        assert row is not None
        callers = [*row.owner_chain, *([row.transfer_to] if row.transfer_to else [])]
        found = []
        for unit in dict.fromkeys(callers):
            for role in ROLES:
                caller = _staff(unit, role)
                found += [(action, caller) for action in steps.allowed_for(row, caller, desks)]
        for token in tokens:
            reporter = Principal("reporter", name="reporter", token_hash=hash_token(token))
            found += [(action, reporter) for action in steps.allowed_for(row, reporter, desks)]
        return found


def _fields(
    service: ReportService, rid: int, action: str, caller: Principal, pick: Any, ids: list[int]
) -> dict[str, Any]:
    desks = service.desks()
    if action == "recategorise":
        current = service.get(rid, caller)["category"]["code"]
        return {"category": pick([c for c in CATEGORIES if c != current])}
    if action == "merge":  # into another case, or itself (refused): one case alone has no original
        return {"merge_into": pick([other for other in ids if other != rid] or [rid])}
    if action == "verdict":
        return {"satisfaction": pick(SATISFACTION)}
    if action == "dispatch":
        scope = [None, *(k for k in DESKS if caller.unit_key in desks.chain(k))]
        return {"reroute_to": pick(scope)}
    if action == "request_transfer":
        owner = service.get(rid, caller)["owner"]["key"]
        return {"transfer_to": pick([k for k in DESKS if k != owner])}
    if action == "request_extension":
        due = dt.datetime.fromisoformat(service.get(rid, caller)["due_at"])
        return {"extend_to": due + dt.timedelta(hours=pick([1, 5, 30, 200]))}
    return {}


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_metrics_are_recomputed_from_the_events(
    world: tuple[ReportService, Clock], data: st.DataObject
) -> None:
    service, clock = world
    _reset(service, clock)
    pick = lambda options: data.draw(st.sampled_from(options))  # noqa: E731
    submitted = [
        service.submit(report(pick(CATEGORIES), where=pick([IN_C121, IN_C111])))
        for _ in range(data.draw(st.integers(1, 3)))
    ]
    ids = [s.report["id"] for s in submitted]
    tokens = [s.reporter_token for s in submitted]
    for _ in range(data.draw(st.integers(0, 60))):
        clock.advance(minutes=pick([0, 0, 0, 5, 20, 90, 60 * 8, 60 * 30, 60 * 24 * 4]))
        if data.draw(st.integers(0, 5)) == 0:
            service.escalate_overdue()
            continue
        rid = pick(ids)
        options = _options(service, rid, tokens)
        if not options:
            continue
        names = list(dict.fromkeys(name for name, _ in options))
        action = pick([n for n in names for _ in range(WEIGHTS.get(n, 1))])
        caller = pick([who for name, who in options if name == action])
        event(action)
        with suppress(SijiError):  # a request field the effects refuse (e.g. an extension past a year)
            service.act(rid, action, caller, note="n", **_fields(service, rid, action, caller, pick, ids))
    begin = START + dt.timedelta(hours=data.draw(st.sampled_from([-24, 0, 20, 50])))
    end = begin + dt.timedelta(hours=data.draw(st.sampled_from([1, 24, 72, 24 * 60])))
    computed = metrics.unit_metrics(
        service.cases_frame(), begin, end, calendar=service.calendar, thresholds=THRESHOLDS
    )
    expected = recompute(service, begin, end)
    assert sorted(computed["unit_key"]) == sorted(expected)
    for row in computed.to_dict("records"):
        want = expected[row["unit_key"]]
        for name, value in want.items():
            got = row[name]
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(got), (row["unit_key"], name, got)
            elif isinstance(value, float):
                assert got == pytest.approx(value), (row["unit_key"], name, got, value)
            else:
                assert got == value, (row["unit_key"], name, got, value)


# --------------------------------------------------------------------------- the oracle
@dataclass
class History:
    """What the events of one case say, replayed in order."""

    owner: str = ""
    owner_name: str = ""
    created: dt.datetime | None = None
    state: str = "reported"
    dispatched: dt.datetime | None = None
    due: dt.datetime | None = None
    paused: dt.datetime | None = None
    handled: dt.datetime | None = None
    first_closed: dt.datetime | None = None
    reworks: int = 0
    reopenings: int = 0
    urgings: int = 0
    satisfaction: str | None = None
    extension_asked: list[str] = field(default_factory=list)


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def histories(service: ReportService) -> dict[int, History]:
    """Each case as its events tell it: no column of ``reports`` is read."""
    cases: dict[int, History] = defaultdict(History)
    with Session(service.engine) as session:
        for event in session.scalars(select(ReportEvent).order_by(ReportEvent.id)):
            case, at, data = cases[event.report_id], _utc(event.at), dict(event.data or {})
            if event.action == "report":
                case.created = at
            if "owner" in data:
                case.owner, case.owner_name = data["owner"]["key"], data["owner"]["name"]
            if "original_due_at" in data:
                case.dispatched = at
            if "due_at" in data:
                case.due = dt.datetime.fromisoformat(data["due_at"])
            if event.action == "defer":
                case.paused = at
            elif event.action in ("dispatch", "resume"):
                case.paused = None
            elif event.action == "handle":
                case.handled = at
            elif event.action == "fail_check":
                case.reworks, case.handled = case.reworks + 1, None
            elif event.action == "close" and case.first_closed is None:
                case.first_closed = at
            elif event.action == "urge":
                case.urgings += 1
            if event.action == "verdict":
                case.satisfaction = data["satisfaction"]
            if (event.from_state, event.to_state) == (
                "closed",
                "reopened",
            ):  # reopen, or an unsatisfied verdict
                case.reopenings, case.handled = case.reopenings + 1, None
            case.state = event.to_state
    return cases


def recompute(service: ReportService, start: dt.datetime, end: dt.datetime) -> dict[str, dict[str, Any]]:
    """The figures of each unit, by the definitions of :mod:`routing.metrics`, from the events alone."""
    calendar: WorkCalendar = service.calendar
    units: dict[str, dict[str, Any]] = {}
    hours: dict[str, list[tuple[float, float]]] = defaultdict(list)
    latest: dict[str, tuple[dt.datetime, str]] = {}
    for case in histories(service).values():
        unit = units.setdefault(
            case.owner, dict.fromkeys(("due", "closed", "closed_on_time", "handled_on_time", "deferred",
                                       "reworked", "reopened", "handled_once", "urged", "urgings", "rated",
                                       *SATISFACTION, "score_sum"), 0)
        )  # fmt: skip
        assert case.created is not None
        if case.owner not in latest or case.created >= latest[case.owner][0]:
            latest[case.owner] = (case.created, case.owner_name)
        anchor = case.due or case.paused
        if anchor is None or not start <= anchor < end or case.state in ("invalid", "merged"):
            continue
        if case.state == "deferred":
            unit["deferred"] += 1
            continue
        unit["due"] += 1
        assert case.due is not None
        closed = case.first_closed is not None and case.first_closed < end
        unit["closed"] += closed
        unit["closed_on_time"] += closed and case.first_closed is not None and case.first_closed <= case.due
        unit["handled_on_time"] += case.handled is not None and case.handled <= case.due
        unit["reworked"] += case.reworks > 0
        unit["reopened"] += case.reopenings > 0
        unit["handled_once"] += case.handled is not None or case.reworks > 0
        unit["urged"] += case.urgings > 0
        unit["urgings"] += case.urgings
        if case.satisfaction is not None:
            unit["rated"] += 1
            unit[case.satisfaction] += 1
            unit["score_sum"] += THRESHOLDS.scores[case.satisfaction]
        if case.handled is not None and case.dispatched is not None:
            wall = (case.handled - case.dispatched).total_seconds() / 3600
            hours[case.owner].append(
                (calendar.working_seconds_between(case.dispatched, case.handled) / 3600, wall)
            )
    for key, unit in units.items():
        due = unit["due"]
        unit["closure_rate"] = unit["closed"] / due if due else math.nan
        unit["on_time_closure_rate"] = unit["closed_on_time"] / due if due else math.nan
        unit["on_time_handling_rate"] = unit["handled_on_time"] / due if due else math.nan
        handled = unit.pop("handled_once")
        unit["rework_rate"] = unit["reworked"] / handled if handled else math.nan
        rated, score_sum = unit["rated"], unit.pop("score_sum")
        unit["satisfaction_rate"] = (
            (unit["satisfied"] + unit["basically_satisfied"]) / rated if rated else math.nan
        )
        unit["satisfaction_score"] = score_sum / rated if rated else math.nan
        weighed = rated >= THRESHOLDS.min_verdicts and due
        unit["rating_score"] = (
            (1 - THRESHOLDS.satisfaction_weight) * unit["on_time_closure_rate"]
            + THRESHOLDS.satisfaction_weight * unit["satisfaction_score"]
            if weighed
            else unit["on_time_closure_rate"]
        )
        timed = hours[key]
        unit["median_handling_hours"] = statistics.median(h for h, _ in timed) if timed else math.nan
        unit["median_handling_hours_wall"] = statistics.median(w for _, w in timed) if timed else math.nan
        unit["rating"] = metrics.rate(unit, THRESHOLDS)[0]
        unit["unit_name"] = latest[key][1]
    return units
