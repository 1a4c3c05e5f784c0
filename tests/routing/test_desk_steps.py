"""The desk's housekeeping steps: urging, recategorising, merging, recalling, the verdict, after-photos.

Each step goes through the one engine (table, access, audit, idempotency, versions)
and writes its outbox event in its transaction; on SQLite and on PostGIS.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.errors import InvalidInputError
from routing import metrics
from routing.access import Principal, hash_token
from routing.errors import IdempotencyConflictError, PhotoError
from routing.service import ReportService
from routing.workflow import ForbiddenError, IllegalTransitionError
from store.models import AuditEntry, OutboxEvent, Photo
from tests.common import C111, C121, CITY, D1, S11, S12
from tests.images import TAIAN_GPS, jpeg_with_gps, png, png_bomb
from tests.routing.conftest import Clock
from tests.routing.test_accountability import walk
from tests.routing.test_service import IN_C111, report, staff


def reporter(token: str) -> Principal:
    return Principal("reporter", name="reporter", token_hash=hash_token(token))


def outbox_types(service: ReportService, rid: int) -> list[str]:
    with Session(service.engine) as session:
        return list(
            session.scalars(
                select(OutboxEvent.type).where(OutboxEvent.report_id == rid).order_by(OutboxEvent.id)
            )
        )


def closed_case(service: ReportService, category: str = "S-04-04") -> tuple[int, str]:
    submitted = service.submit(report(category))
    rid = submitted.report["id"]
    walk(service, rid, C121, "verify", "file", "dispatch", "start", "handle", "check", "close")
    return rid, submitted.reporter_token


# --- urging (催办) ------------------------------------------------------------------------
def test_a_supervisor_above_urges_with_a_note_and_the_owner_hears_of_it(service: ReportService) -> None:
    rid = service.submit(report("S-04-04")).report["id"]  # community C121
    walk(service, rid, C121, "verify", "file", "dispatch")
    with pytest.raises(InvalidInputError, match="needs a note"):
        service.act(rid, "urge", staff(S12, "supervisor"))
    with pytest.raises(ForbiddenError, match="urge is for a unit above the owning desk"):
        service.act(rid, "urge", staff(C121, "supervisor"), note="快点")  # the desk's own supervisor
    with pytest.raises(ForbiddenError, match="role 'dispatcher' may not urge"):
        service.act(rid, "urge", staff(S12, "dispatcher"), note="快点")
    version = service.get(rid, staff(C121, "dispatcher"))["version"]
    urged = service.act(rid, "urge", staff(S12, "supervisor"), note="居民多次来电，请今日处理")
    assert (urged["urge_count"], urged["state"], urged["version"]) == (1, "dispatched", version + 1)
    service.act(rid, "urge", staff(D1, "supervisor"), note="区里督促")
    assert service.get(rid, staff(C121, "dispatcher"))["urge_count"] == 2
    assert outbox_types(service, rid)[-2:] == ["urge", "urge"]
    events, _ = service.events(staff(C121, "dispatcher"))
    urge = next(e for e in events if e["type"] == "urge")
    assert urge["step"]["note"] == "居民多次来电，请今日处理"
    assert urge["report"]["urge_count"] == 1  # the case as it was after that step


def test_a_deferred_case_is_not_urged(service: ReportService) -> None:
    rid = service.submit(report("S-04-04")).report["id"]
    walk(service, rid, C121, "verify", "file", "dispatch")
    service.act(rid, "defer", staff(S12, "supervisor"), note="待拆迁")
    with pytest.raises(IllegalTransitionError, match="not allowed from state 'deferred'"):
        service.act(rid, "urge", staff(S12, "supervisor"), note="快点")


# --- recategorising (改类) -----------------------------------------------------------------
def test_recategorising_reroutes_by_the_new_categorys_level_and_is_recorded(service: ReportService) -> None:
    rid = service.submit(report("S-04-04")).report["id"]  # 乱堆物料: community C121
    dispatcher = staff(S12, "dispatcher")
    with pytest.raises(InvalidInputError, match="needs a note"):
        service.act(rid, "recategorise", dispatcher, category="S-01-01")
    with pytest.raises(InvalidInputError, match="unknown category code 'X-99-99'"):
        service.act(rid, "recategorise", dispatcher, category="X-99-99", note="x")
    with pytest.raises(InvalidInputError, match="already of category S-04-04"):
        service.act(rid, "recategorise", dispatcher, category="S-04-04", note="x")
    view = service.act(rid, "recategorise", dispatcher, category="S-01-01", note="实为暴露垃圾")
    assert view["category"]["code"] == "S-01-01"
    assert view["owner"]["key"] == S12  # 暴露垃圾 is a subdistrict's
    event = service.get(rid, dispatcher)["events"][-1]
    assert event["data"]["category_before"] == "S-04-04"
    assert event["data"]["owner_before"] == C121
    # the community that owned it reads it still but no longer acts on it
    assert service.get(rid, staff(C121, "dispatcher"))["allowed_actions"] == []


def test_recategorising_out_of_the_callers_scope_is_refused(service: ReportService) -> None:
    rid = service.submit(report("S-04-04")).report["id"]
    with pytest.raises(ForbiddenError, match=r"belongs to '370902000000:城管局'|belongs to .*:城管局"):
        service.act(rid, "recategorise", staff(C121, "dispatcher"), category="B-01-01", note="井盖")
    view = service.act(rid, "recategorise", staff(D1, "dispatcher"), category="B-01-01", note="井盖")
    assert view["owner"]["key"] == f"{D1}:城管局"
    walk(service, rid, f"{D1}:城管局", "verify", "file", "dispatch")
    with pytest.raises(IllegalTransitionError, match="not allowed from state 'dispatched'"):
        service.act(rid, "recategorise", staff(D1, "dispatcher"), category="S-04-04", note="x")


# --- merging (合并) ------------------------------------------------------------------------
def test_a_duplicate_merges_into_its_original_and_its_reporter_follows(service: ReportService) -> None:
    first = service.submit(report("S-04-04"))
    second = service.submit(report("S-04-04"))
    original, duplicate = first.report["id"], second.report["id"]
    assert second.report["duplicate_of"] == original
    dispatcher = staff(S12, "dispatcher")
    with pytest.raises(InvalidInputError, match="merge needs merge_into"):
        service.act(duplicate, "merge", dispatcher)
    with pytest.raises(InvalidInputError, match="cannot be merged into itself"):
        service.act(duplicate, "merge", dispatcher, merge_into=duplicate)
    with pytest.raises(ForbiddenError, match="merge_into: report 999 is not accessible"):
        service.act(duplicate, "merge", dispatcher, merge_into=999)
    merged = service.act(duplicate, "merge", dispatcher, merge_into=original, note="同一堆物料")
    assert (merged["state"], merged["merged_into"]) == ("merged", original)
    with pytest.raises(IllegalTransitionError, match="the case is final"):
        service.act(duplicate, "verify", dispatcher)
    # the duplicate's reporter follows the original: reads it, and gives its verdict
    follower = reporter(second.reporter_token)
    assert service.get(original, follower)["id"] == original
    walk(service, original, C121, "verify", "file", "dispatch", "start", "handle", "check", "close")
    rated = service.act(original, "verdict", follower, satisfaction="satisfied", note="处理得好")
    assert rated["verdict"]["satisfaction"] == "satisfied"
    # a third reporter's case cannot merge into a closed original, nor into a merged one
    third = service.submit(report("S-04-04")).report["id"]
    with pytest.raises(InvalidInputError, match=f"report {original} is closed"):
        service.act(third, "merge", dispatcher, merge_into=original)
    with pytest.raises(InvalidInputError, match=f"was itself merged into report {original}"):
        service.act(third, "merge", dispatcher, merge_into=duplicate)


def test_a_merge_into_a_case_out_of_scope_is_refused_and_merged_cases_count_nowhere(
    service: ReportService, clock: Clock
) -> None:
    elsewhere = service.submit(report("S-04-04", where=IN_C111)).report["id"]  # C111, under S11
    rid = service.submit(report("S-04-04")).report["id"]  # C121, under S12
    with pytest.raises(ForbiddenError, match=f"merge_into: report {elsewhere} is not accessible"):
        service.act(rid, "merge", staff(S12, "dispatcher"), merge_into=elsewhere)
    assert service.act(rid, "merge", staff(D1, "dispatcher"), merge_into=elsewhere)["state"] == "merged"
    table = metrics.unit_metrics(
        service.cases_frame(), clock.now - dt.timedelta(days=1), clock.now + dt.timedelta(days=60)
    )
    assert int(table["due"].sum()) == 0  # neither was dispatched; the merged one never will be


# --- recalling (撤回) ----------------------------------------------------------------------
def test_a_recalled_case_goes_back_to_filed_and_its_clock_keeps_running(
    service: ReportService, clock: Clock
) -> None:
    rid = service.submit(report("S-04-04")).report["id"]
    dispatched = walk(service, rid, C121, "verify", "file", "dispatch")
    due = dispatched["due_at"]
    with pytest.raises(ForbiddenError, match="role 'handler' may not recall"):
        service.act(rid, "recall", staff(C121, "handler"), note="派错了")
    recalled = service.act(rid, "recall", staff(S12, "dispatcher"), note="派错了，重新派遣")
    assert (recalled["state"], recalled["due_at"]) == ("filed", due)
    clock.advance(days=3)
    assert service.get(rid, staff(S12, "dispatcher"))["overdue"] is True  # a recall hides nothing
    assert [e["id"] for e in service.escalate_overdue()] == [rid]
    again = service.act(rid, "dispatch", staff(S12, "dispatcher"), reroute_to=C121)
    assert again["due_at"] == due  # the clock of the first dispatch
    service.act(rid, "start", staff(C121, "handler"))
    with pytest.raises(IllegalTransitionError, match="not allowed from state 'in_progress'"):
        service.act(rid, "recall", staff(S12, "dispatcher"), note="x")  # work has started


# --- the verdict (回访) --------------------------------------------------------------------
def test_the_reporter_rates_a_closed_case_once_per_closure_within_the_window(
    service: ReportService, clock: Clock
) -> None:
    rid, token = closed_case(service)
    me = reporter(token)
    assert service.get(rid, me)["allowed_actions"] == ["verdict"]
    with pytest.raises(ForbiddenError, match="role 'dispatcher' may not verdict"):
        service.act(rid, "verdict", staff(C121, "dispatcher"), satisfaction="satisfied")
    with pytest.raises(ForbiddenError, match="is not accessible"):
        service.act(rid, "verdict", reporter("rp_someone-else"), satisfaction="satisfied")
    with pytest.raises(InvalidInputError, match="satisfaction 'great' is not allowed; allowed: satisfied"):
        service.act(rid, "verdict", me, satisfaction="great")
    with pytest.raises(InvalidInputError, match="reroute_to is not a field of action 'verdict'"):
        service.act(rid, "verdict", me, satisfaction="satisfied", reroute_to=C121)
    rated = service.act(rid, "verdict", me, satisfaction="basically_satisfied", note="基本解决")
    assert rated["verdict"]["satisfaction_zh"] == "基本满意"
    assert rated["state"] == "closed"
    with pytest.raises(IllegalTransitionError, match="one verdict per closure"):
        service.act(rid, "verdict", me, satisfaction="unsatisfied")
    # the reporter's view of the history: their comment, no staff names
    events = service.get(rid, me)["events"]
    assert events[-1]["note"] == "基本解决"
    assert all(not e["actor"].startswith("dispatcher@") for e in events)
    late, late_token = closed_case(service)
    clock.advance(days=8)
    with pytest.raises(IllegalTransitionError, match="was open for 7 days after its closure"):
        service.act(late, "verdict", reporter(late_token), satisfaction="satisfied")


def test_an_unsatisfied_verdict_reopens_the_case_for_a_check(service: ReportService, clock: Clock) -> None:
    rid, token = closed_case(service)
    clock.advance(hours=1)
    reopened = service.act(rid, "verdict", reporter(token), satisfaction="unsatisfied", note="垃圾还在")
    assert (reopened["state"], reopened["reopen_count"], reopened["closed_at"]) == ("reopened", 1, None)
    assert reopened["first_closed_at"] is not None  # the closure stays counted
    assert outbox_types(service, rid)[-1] == "verdict"
    clock.advance(hours=1)
    walk(service, rid, C121, "dispatch", "start", "handle", "check", "close")
    again = service.act(rid, "verdict", reporter(token), satisfaction="satisfied")
    assert (again["state"], again["verdict"]["satisfaction"]) == ("closed", "satisfied")


def test_a_verdict_is_idempotent_with_its_key(service: ReportService) -> None:
    rid, token = closed_case(service)
    first = service.act_once(
        rid, "verdict", reporter(token), satisfaction="satisfied", idempotency_key="verdict-0001"
    )
    retry = service.act_once(
        rid, "verdict", reporter(token), satisfaction="satisfied", idempotency_key="verdict-0001"
    )
    assert (first.replayed, retry.replayed) == (False, True)
    with pytest.raises(IdempotencyConflictError):
        service.act_once(
            rid, "verdict", reporter(token), satisfaction="unsatisfied", idempotency_key="verdict-0001"
        )


# --- after-photos with the handle step ----------------------------------------------------
def test_the_handler_attaches_after_photos_and_staff_read_their_position(service: ReportService) -> None:
    rid = service.submit(report("S-04-04")).report["id"]
    walk(service, rid, C121, "verify", "file", "dispatch", "start")
    photo = service.prepare_photo(jpeg_with_gps())
    with pytest.raises(InvalidInputError, match="photos is not a field of action 'urge'"):
        service.act(rid, "urge", staff(S12, "supervisor"), photos=(photo,), note="快")
    handled = service.act(rid, "handle", staff(C121, "handler"), photos=(photo,), note="已清理")
    [ref] = handled["photos"]
    assert ref["kind"] == "handled"
    assert ref["taken_at"] == {"lon": TAIAN_GPS[0], "lat": TAIAN_GPS[1]}
    assert service.get(rid, staff(C121, "dispatcher"))["events"][-1]["data"]["photos"] == [photo.name]
    path, media_type = service.photo_file(ref["id"], staff(S12, "supervisor"))
    assert (path.read_bytes(), media_type) == (photo.data, "image/jpeg")
    with pytest.raises(ForbiddenError, match=f"photo {ref['id']} is not accessible"):
        service.photo_file(ref["id"], staff(C111, "dispatcher"))


def test_a_refused_step_leaves_no_photo_file_and_no_row(service: ReportService) -> None:
    rid = service.submit(report("S-04-04")).report["id"]
    walk(service, rid, C121, "verify", "file", "dispatch")  # not started: handle is refused
    photo = service.prepare_photo(png())
    with pytest.raises(IllegalTransitionError):
        service.act(rid, "handle", staff(C121, "handler"), photos=(photo,))
    with pytest.raises(PhotoError, match="declares more pixels than allowed"):
        service.prepare_photo(png_bomb())
    assert service.media.files() == []
    with Session(service.engine) as session:
        assert session.scalar(select(func.count()).select_from(Photo)) == 0


def test_intake_photos_are_stored_with_the_report(service: ReportService) -> None:
    photos = (service.prepare_photo(jpeg_with_gps()), service.prepare_photo(png()))
    submitted = service.submit(report("S-04-04", photos=photos))
    refs = submitted.report["photos"]
    assert [r["kind"] for r in refs] == ["report", "report"]
    assert all(r["taken_at"] is None for r in refs)  # the reporter's view: no positions
    staff_view = service.get(submitted.report["id"], staff(C121, "dispatcher"))
    assert staff_view["photos"][0]["taken_at"] == {"lon": TAIAN_GPS[0], "lat": TAIAN_GPS[1]}
    assert len(service.media.files()) == 4  # two photos and their thumbnails


# --- the outbox ---------------------------------------------------------------------------
def test_every_step_writes_one_event_and_a_refused_step_none(service: ReportService) -> None:
    rid = service.submit(report("S-04-04")).report["id"]
    walk(service, rid, C121, "verify", "file")
    with pytest.raises(IllegalTransitionError):
        service.act(rid, "close", staff(C121, "dispatcher"))
    assert outbox_types(service, rid) == ["report", "verify", "file"]


def test_the_feed_is_scoped_to_the_units_that_hear_of_each_event(service: ReportService) -> None:
    here = service.submit(report("S-04-04")).report["id"]  # C121 < S12 < D1
    there = service.submit(report("S-04-04", where=IN_C111)).report["id"]  # C111 < S11 < D1
    walk(service, here, C121, "verify", "file")
    seen = {
        unit: {e["report"]["id"] for e in service.events(staff(unit, "planner"), limit=500)[0]}
        for unit in (C121, S12, S11, D1, CITY)
    }
    assert seen == {C121: {here}, S12: {here}, S11: {there}, D1: {here, there}, CITY: {here, there}}
    # a transfer: the receiving desk hears of the request, the old owner of the move
    service.act(here, "request_transfer", staff(C121, "dispatcher"), transfer_to=C111, note="属西南社区")
    first, cursor = service.events(staff(C111, "dispatcher"), after=0)
    assert [e["type"] for e in first if e["report"]["id"] == here] == ["request_transfer"]
    service.act(here, "accept_transfer", staff(C111, "dispatcher"))
    later, _ = service.events(staff(C111, "dispatcher"), after=cursor)
    assert [e["type"] for e in later] == ["accept_transfer"]
    assert service.events(staff(C121, "dispatcher"), after=cursor)[0][0]["type"] == "accept_transfer"
    with pytest.raises(ForbiddenError):
        service.events(reporter("rp_x"))


def test_due_soon_is_sent_once_per_due_time(service: ReportService, clock: Clock) -> None:
    from routing.outbox import warn_due_soon

    rid = service.submit(report("S-04-04")).report["id"]
    walk(service, rid, C121, "verify", "file", "dispatch")  # due in one working day
    assert warn_due_soon(service, dt.timedelta(hours=2)) == 0
    clock.advance(hours=23)
    assert warn_due_soon(service, dt.timedelta(hours=2)) == 1
    assert warn_due_soon(service, dt.timedelta(hours=2)) == 0  # once
    assert outbox_types(service, rid)[-1] == "due_soon"
    with Session(service.engine) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.report_id == rid))
    assert service.get(rid, staff(C121, "dispatcher"))["version"] == 4  # not a step: no version moved
