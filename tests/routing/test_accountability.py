"""Accountability that cannot be bent: one deadline, one desk, departments, counts, audit, calendar.

Each test reproduces a way the figures could be bent (issue 17) on SQLite and on
PostGIS, with a clock the test controls.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from geo.errors import InvalidInputError
from routing import metrics
from routing.access import Principal, hash_token
from routing.audit import AuditQuery
from routing.catalog import Catalog
from routing.desks import Departments
from routing.errors import DepartmentsDataError, IdempotencyConflictError, UnknownDeskError
from routing.service import ReportService
from routing.workflow import ForbiddenError, IllegalTransitionError
from tests.common import C111, C121, CITY, D1, D2, S11, S12
from tests.routing.conftest import SHANGHAI, Clock
from tests.routing.test_service import report, staff

DEPARTMENT = f"{D1}:城管局"  # 泰山区城管局
OTHER_DEPARTMENT = f"{D1}:教育和体育局"


def local(day: int, hour: float, month: int = 3, year: int = 2025) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=SHANGHAI) + dt.timedelta(hours=hour)


def walk(service: ReportService, rid: int, desk: str, *actions: str) -> dict:
    """Take ``actions`` with the dispatcher (or handler) of ``desk``."""
    view: dict = {}
    for action in actions:
        role = "handler" if action in ("start", "handle", "return") else "dispatcher"
        view = service.act(rid, action, staff(desk, role))
    return view


def period_metrics(service: ReportService, unit: str, start: dt.datetime, end: dt.datetime) -> pd.Series:
    table = metrics.unit_metrics(service.cases_frame(), start, end, calendar=service.calendar)
    return table.set_index("unit_key").loc[unit]


# --- 1. one deadline that counts ---------------------------------------------------------
def test_an_escalated_then_late_case_is_late_in_metrics_and_ratings(
    service: ReportService, clock: Clock
) -> None:
    """The regression of issue 17: 9 on time, 1 escalated then closed late, 1 open -> 9/11 = 81.8 %
    (黄牛), not 10/11 = 90.9 % (骏马) as when escalation handed out a fresh due time."""
    ids = [service.submit(report("S-04-04")).report["id"] for _ in range(11)]  # community C121, 1 working day
    for rid in ids:
        walk(service, rid, C121, "verify", "file", "dispatch")  # Monday 09:00: due Tuesday 09:00
    clock.advance(hours=2)
    for rid in ids[:9]:
        walk(service, rid, C121, "start", "handle", "check", "close")
    clock.now = local(4, 10)  # Tuesday 10:00: an hour late
    assert [e["id"] for e in service.escalate_overdue()] == ids[9:]
    escalated = service.get(ids[9], staff(C121, "dispatcher"))
    assert escalated["due_at"] == escalated["original_due_at"] == "2025-03-04T01:00:00+00:00"
    assert escalated["overdue"] is True
    assert escalated["supervisor"] == S12
    clock.advance(minutes=5)
    closed = walk(service, ids[9], C121, "start", "handle", "check", "close")
    assert closed["closed_at"] > closed["due_at"]
    row = period_metrics(service, C121, local(1, 0), local(1, 0, month=4))
    assert (row.due, row.closed, row.closed_on_time) == (11, 10, 9)
    assert row.on_time_closure_rate == pytest.approx(9 / 11)
    assert (row.rating, row.rating_zh) == ("steady", "黄牛")


def test_supervision_climbs_on_its_own_deadline_and_never_moves_the_due_time(
    service: ReportService, clock: Clock
) -> None:
    rid = service.submit(report("S-04-04")).report["id"]
    walk(service, rid, C121, "verify", "file", "dispatch")
    due = service.get(rid, staff(C121, "dispatcher"))["due_at"]
    supervisors = []
    for _ in range(4):
        clock.advance(days=3)
        supervisors += [e["supervisor"] for e in service.escalate_overdue()]
        view = service.get(rid, staff(C121, "dispatcher"))
        assert (view["due_at"], view["overdue"]) == (due, True)
    assert supervisors == [S12, D1, CITY]


def test_a_deferred_and_resumed_case_keeps_its_remaining_time(service: ReportService, clock: Clock) -> None:
    rid = service.submit(report("S-01-01")).report["id"]  # 4 working hours, subdistrict S12
    view = walk(service, rid, S12, "verify", "file", "dispatch")
    assert view["due_at"] == local(3, 14.5).astimezone(dt.UTC).isoformat()  # Monday 14:30
    clock.now = local(3, 10)  # 3 working hours left (10-12, 13:30-14:30)
    supervisor = staff(S12, "supervisor")
    deferred = service.act(rid, "defer", supervisor, note="等待配合单位")
    assert deferred["paused_at"] == local(3, 10).astimezone(dt.UTC).isoformat()
    assert deferred["overdue"] is False
    clock.now = local(5, 9)  # Wednesday 09:00: the pause does not count
    assert service.escalate_overdue() == []
    resumed = service.act(rid, "resume", supervisor)
    assert resumed["due_at"] == local(5, 12).astimezone(dt.UTC).isoformat()  # 09:00 + 3 working hours
    assert resumed["original_due_at"] == view["due_at"]
    assert resumed["paused_at"] is None


def test_a_case_late_when_deferred_stays_late(service: ReportService, clock: Clock) -> None:
    rid = service.submit(report("S-01-01")).report["id"]
    due = walk(service, rid, S12, "verify", "file", "dispatch")["due_at"]
    clock.now = local(3, 16)  # past 14:30
    service.act(rid, "defer", staff(S12, "supervisor"), note="挂账")
    clock.now = local(10, 9)
    assert service.act(rid, "resume", staff(S12, "supervisor"))["due_at"] == due


def test_an_extension_is_the_one_way_to_move_the_due_time(service: ReportService, clock: Clock) -> None:
    rid = service.submit(report("S-04-04")).report["id"]  # community C121
    due = walk(service, rid, C121, "verify", "file", "dispatch")["due_at"]
    wanted = local(6, 17.5)
    with pytest.raises(InvalidInputError, match="needs a note"):
        service.act(rid, "request_extension", staff(C121, "handler"), extend_to=wanted)
    with pytest.raises(InvalidInputError, match=r"extend_to=.* is not allowed; allowed: after the due time"):
        service.act(rid, "request_extension", staff(C121, "handler"), extend_to=local(3, 10), note="x")
    with pytest.raises(ForbiddenError, match="request_extension is for the owning desk itself"):
        service.act(rid, "request_extension", staff(S12, "dispatcher"), extend_to=wanted, note="x")
    with pytest.raises(InvalidInputError, match="extend_to is not a field of action 'start'"):
        service.act(rid, "start", staff(C121, "handler"), extend_to=wanted)
    asked = service.act(rid, "request_extension", staff(C121, "handler"), extend_to=wanted, note="需要吊车")
    assert (asked["due_at"], asked["pending"]["extension_to"]) == (due, wanted.astimezone(dt.UTC).isoformat())
    with pytest.raises(IllegalTransitionError, match="an extension request is already pending"):
        service.act(rid, "request_extension", staff(C121, "handler"), extend_to=wanted, note="再次")
    with pytest.raises(ForbiddenError, match="approve_extension is for a unit above the owning desk"):
        service.act(rid, "approve_extension", staff(C121, "supervisor"))  # not its own desk's supervisor
    assert service.get(rid, staff(S12, "supervisor"))["allowed_actions"] == [
        "defer", "approve_extension", "refuse_extension", "request_transfer", "urge", "recall",
    ]  # fmt: skip
    granted = service.act(rid, "approve_extension", staff(S12, "supervisor"))
    assert (granted["due_at"], granted["original_due_at"]) == (wanted.astimezone(dt.UTC).isoformat(), due)
    assert granted["pending"]["extension_to"] is None
    event = service.get(rid, staff(S12, "supervisor"))["events"][-1]
    assert (event["action"], event["data"]["due_at_before"]) == ("approve_extension", due)
    # a refused one changes nothing but the record
    service.act(rid, "request_extension", staff(C121, "dispatcher"), extend_to=local(7, 17.5), note="再延")
    refused = service.act(rid, "refuse_extension", staff(D1, "supervisor"), note="理由不足")
    assert (refused["due_at"], refused["pending"]["extension_to"]) == (granted["due_at"], None)


# --- 2. one accountable desk, moved only within scope --------------------------------------
def test_a_refused_transfer_leaves_the_case_and_the_common_superior_may_decide(
    service: ReportService,
) -> None:
    rid = service.submit(report("S-04-04")).report["id"]  # C121 under S12 under D1
    walk(service, rid, C121, "verify")
    service.act(rid, "request_transfer", staff(S12, "dispatcher"), transfer_to=C111, note="不在本街道")
    assert service.list_reports(staff(C111, "dispatcher"), pending="transfer")[0] == 1  # asked: it reads
    with pytest.raises(ForbiddenError, match="accept_transfer is for the desk a transfer is asked of"):
        service.act(rid, "accept_transfer", staff(C121, "supervisor"))  # the sender's side
    refused = service.act(rid, "refuse_transfer", staff(S11, "dispatcher"), note="属环湖社区")  # above C111
    assert (refused["owner"]["key"], refused["pending"]["transfer_to"]) == (C121, None)
    with pytest.raises(ForbiddenError, match="not accessible"):
        service.get(rid, staff(C111, "dispatcher"))  # no longer asked: no longer read
    service.act(rid, "request_transfer", staff(C121, "dispatcher"), transfer_to=C111, note="再议")
    decided = service.act(rid, "accept_transfer", staff(D1, "supervisor"))  # the nearest common superior
    assert decided["owner"]["key"] == C111


def test_transfer_to_another_district_and_to_a_department(service: ReportService) -> None:
    rid = service.submit(report("S-01-01")).report["id"]  # S12
    walk(service, rid, S12, "verify", "file")
    with pytest.raises(ForbiddenError, match="outside your unit"):
        service.act(rid, "dispatch", staff(S12, "dispatcher"), reroute_to=D2)
    with pytest.raises(UnknownDeskError, match="'不存在局' is not a city department; known: city:城管局"):
        service.act(rid, "request_transfer", staff(S12, "dispatcher"), transfer_to="city:不存在局", note="x")
    service.act(rid, "request_transfer", staff(S12, "dispatcher"), transfer_to=DEPARTMENT, note="井盖")
    taken = service.act(rid, "accept_transfer", staff(DEPARTMENT, "dispatcher"))
    assert taken["owner"] == {"key": DEPARTMENT, "level": "district", "name": "泰山区城管局"}
    assert service.act(rid, "dispatch", staff(DEPARTMENT, "dispatcher"))["state"] == "dispatched"
    assert service.act(rid, "start", staff(DEPARTMENT, "handler"))["state"] == "in_progress"


# --- 3. departments are units ----------------------------------------------------------------
def test_two_departments_of_one_district_have_their_own_cases_tokens_and_metrics(
    service: ReportService,
) -> None:
    manhole = service.submit(report("B-01-01")).report["id"]  # 井盖缺失: district:城管局
    school = service.submit(report("B-04-04")).report["id"]  # district:教育和体育局
    assert service.get(manhole, staff(D1, "planner"))["owner"]["key"] == DEPARTMENT
    assert service.get(school, staff(D1, "planner"))["owner"]["key"] == OTHER_DEPARTMENT
    for rid, desk in ((manhole, DEPARTMENT), (school, OTHER_DEPARTMENT)):
        walk(service, rid, desk, "verify", "file", "dispatch", "start")
    with pytest.raises(ForbiddenError, match="not accessible"):
        service.get(school, staff(DEPARTMENT, "dispatcher"))
    assert service.list_reports(staff(DEPARTMENT, "planner"))[0] == 1
    frame = service.cases_frame(staff(D1, "planner"))
    table = metrics.unit_metrics(frame, local(1, 0), local(1, 0, month=4))
    assert sorted(table["unit_key"]) == [DEPARTMENT, OTHER_DEPARTMENT]
    assert set(table["unit_name"]) == {"泰山区城管局", "泰山区教育和体育局"}


def test_departments_are_data_checked_against_the_catalog(service: ReportService) -> None:
    few = Departments.from_dict(
        {"city": {"departments": ["园林局"]}, "district": {"departments": ["城管局"]}}
    )
    with pytest.raises(
        DepartmentsDataError, match=r"owned by 'city:城管局'.* no city department '城管局'; known: 园林局"
    ):
        ReportService(service.engine, service.boundaries, secret="x" * 20, departments=few)
    with pytest.raises(UnknownDeskError, match=r"known: city:城管局, city:园林局, city:住建局"):
        service.desks().get("city:不存在局")
    with pytest.raises(UnknownDeskError, match=f"keyed by its district's code, e.g. {D1}:城管局"):
        service.desks().get("district:城管局")
    assert service.desks().get(DEPARTMENT).chain == (DEPARTMENT, D1, CITY)
    catalog = Catalog.from_dict(
        {
            "major": [{"code": "S-04", "name_zh": "街面秩序", "name_en": "Street order"}],
            "category": [{
                "code": "S-04-01", "name_zh": "占道经营", "name_en": "Street vending",
                "owner": "district:市场监管局",
                "limit": 2, "limit_unit": "working_hours", "filing": "摆摊。", "closing": "已清理。"}],
        }
    )  # fmt: skip
    with pytest.raises(DepartmentsDataError, match="no district department '市场监管局'"):
        ReportService(service.engine, service.boundaries, secret="x" * 20, catalog=catalog)


# --- 6. counts that add up ---------------------------------------------------------------------
def test_a_reopened_case_stays_closed_in_its_period_and_counts_as_reopened(
    service: ReportService, clock: Clock
) -> None:
    rid = service.submit(report("S-04-04")).report["id"]
    walk(service, rid, C121, "verify", "file", "dispatch", "start", "handle", "check", "close")
    before = period_metrics(service, C121, local(1, 0), local(1, 0, month=4))
    clock.advance(hours=1)
    reopened = service.act(rid, "reopen", staff(C121, "dispatcher"), note="居民反映仍有堆物")
    assert reopened["closed_at"] is None
    assert reopened["first_closed_at"] is not None
    after = period_metrics(service, C121, local(1, 0), local(1, 0, month=4))
    assert (before.closed, after.closed, after.closed_on_time) == (1, 1, 1)
    assert (before.reopened, after.reopened) == (0, 1)
    clock.advance(days=3)  # handled and closed again, late: the first closure is the one that counts
    walk(service, rid, C121, "dispatch", "start", "handle", "check", "close")
    again = period_metrics(service, C121, local(1, 0), local(1, 0, month=4))
    assert (again.closed, again.closed_on_time, again.reopened) == (1, 1, 1)


def test_deferral_from_any_state_counts_in_the_deferred_figure(service: ReportService, clock: Clock) -> None:
    filed = service.submit(report("S-01-01")).report["id"]
    walk(service, filed, S12, "verify", "file")
    service.act(filed, "defer", staff(S12, "supervisor"), note="无法立即处置")  # no due time yet
    working = service.submit(report("S-01-01", where=(117.0675, 36.19))).report["id"]
    walk(service, working, S12, "verify", "file", "dispatch")
    service.act(working, "defer", staff(S12, "supervisor"), note="等待")
    row = period_metrics(service, S12, local(1, 0), local(1, 0, month=4))
    assert (row.deferred, row.due) == (2, 0)


# --- 7. audit complete -------------------------------------------------------------------------
def test_refused_reads_and_steps_are_recorded_for_the_owners_supervisors(service: ReportService) -> None:
    rid = service.submit(report()).report["id"]  # S12's
    sibling = staff(S11, "dispatcher")
    with pytest.raises(ForbiddenError):
        service.get(rid, sibling)
    with pytest.raises(ForbiddenError):
        service.act(rid, "verify", sibling)
    stranger = Principal("reporter", name="reporter", token_hash=hash_token("rp_not-the-reporter"))
    with pytest.raises(ForbiddenError):
        service.get(rid, stranger)
    _, entries = service.audit_log(staff(S12, "supervisor"), AuditQuery(report_id=rid))
    refused = [(e["action"], e["actor"], e["outcome"]) for e in entries if e["outcome"] != "ok"]
    assert sorted(refused) == [
        ("report.read", "dispatcher@" + S11, "refused:forbidden"),
        ("report.read", "reporter", "refused:forbidden"),
        ("report.verify", "dispatcher@" + S11, "refused:forbidden"),
    ]
    _, theirs = service.audit_log(staff(S11, "supervisor"), AuditQuery(report_id=rid))
    assert {e["outcome"] for e in theirs} == {"refused:forbidden"}  # the sibling's own chain sees its tries


# --- 8. a calendar that cannot run out silently -------------------------------------------------
def test_a_deadline_past_the_calendar_is_flagged_estimated(service: ReportService, clock: Clock) -> None:
    clock.now = local(7, 9, month=12, year=2026)
    rid = service.submit(report("B-04-05")).report["id"]  # 绿地缺失: 30 working days, city:园林局
    view = walk(service, rid, "city:园林局", "verify", "file", "dispatch")
    assert view["due_estimated"] is True
    assert view["due_at"].startswith("2027-01-18")  # 元旦 counted as a workday: an estimate
    near = service.submit(report("S-04-04")).report["id"]
    assert walk(service, near, C121, "verify", "file", "dispatch")["due_estimated"] is False


# --- 9. disclosure ---------------------------------------------------------------------------
def test_the_reporter_sees_public_replies_but_no_staff_names_or_internal_notes(
    service: ReportService,
) -> None:
    submitted = service.submit(report())
    rid = submitted.report["id"]
    service.act(rid, "verify", staff(S12, "dispatcher"), note="内部：疑似重复")
    service.act(rid, "file", staff(S12, "dispatcher"), note="已立案，今天处理", public=True)
    reporter = Principal("reporter", token_hash=hash_token(submitted.reporter_token))
    events = service.get(rid, reporter)["events"]
    assert [(e["action"], e["actor"], e["note"], e["data"]) for e in events[1:]] == [
        ("verify", "派遣员", "", {}),
        ("file", "派遣员", "已立案，今天处理", {}),
    ]
    staff_view = service.get(rid, staff(S12, "supervisor"))["events"]
    assert [e["actor"] for e in staff_view[1:]] == [f"dispatcher@{S12}"] * 2
    assert staff_view[1]["note"] == "内部：疑似重复"


# --- 4. idempotency by the book ----------------------------------------------------------------
def test_a_reused_key_with_another_payload_is_refused(service: ReportService) -> None:
    first = service.submit(report(), idempotency_key="intake-key-0001")
    assert service.submit(report(), idempotency_key="intake-key-0001").report["id"] == first.report["id"]
    with pytest.raises(IdempotencyConflictError, match="'intake-key-0001' was already used for report"):
        service.submit(report("S-04-04"), idempotency_key="intake-key-0001")
    rid = first.report["id"]
    service.act(rid, "verify", staff(S12, "dispatcher"), note="a", idempotency_key="step-key-0001")
    assert service.act_once(
        rid, "verify", staff(S12, "dispatcher"), note="a", idempotency_key="step-key-0001"
    ).replayed
    with pytest.raises(IdempotencyConflictError, match="was already used to verify report"):
        service.act(rid, "verify", staff(S12, "dispatcher"), note="b", idempotency_key="step-key-0001")
