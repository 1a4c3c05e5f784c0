"""Reports through the closed loop, on SQLite and PostGIS, with a clock we control."""

from __future__ import annotations

import datetime as dt

import pytest

from boundaries.service import BoundaryService
from geo.errors import InvalidInputError
from routing.access import Principal
from routing.errors import UnknownActionError
from routing.intake import ReportIn
from routing.service import ReportService
from routing.workflow import ForbiddenError, IllegalTransitionError
from store.engine import make_engine, upgrade
from store.generations import import_generation
from tests.common import C111, C121, C123, CITY, D1, S11, S12, S21, lonlat
from tests.conftest import units_frame
from tests.routing.conftest import Clock

IN_C121 = lonlat(0.25, 3)
IN_C111 = lonlat(1, 1)


def staff(unit: str, role: str) -> Principal:
    return Principal("staff", name=f"{role}@{unit}", role=role, unit_key=unit)


def report(category: str = "S-01-01", where: tuple[float, float] = IN_C121, **kw: object) -> ReportIn:
    return ReportIn(
        x=where[0], y=where[1], category=category, description="路边有暴露垃圾", channel="app", **kw
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("category", "owner_key", "owner_level", "owner_name"),
    [
        ("S-01-01", S12, "subdistrict", "财源街道"),  # 暴露垃圾: subdistrict
        ("S-04-04", C121, "community", "环湖社区"),  # 乱堆物料: community
        ("B-01-01", f"{D1}:城管局", "district", "泰山区城管局"),  # 井盖缺失: the district's department
        ("B-04-05", "city:园林局", "city", "园林局"),  # 绿地缺失: a city department
    ],
)
def test_routed_to_the_owning_desk_by_category(service, category, owner_key, owner_level, owner_name) -> None:  # type: ignore[no-untyped-def]
    view = service.submit(report(category)).report
    assert view["owner"] == {"key": owner_key, "level": owner_level, "name": owner_name}
    assert view["jurisdiction"]["community_code"] == C121
    assert view["state"] == "reported"


def test_the_whole_loop_with_deadline_escalation_and_rework(service: ReportService, clock: Clock) -> None:
    submitted = service.submit(report("S-01-01"))
    rid = submitted.report["id"]
    dispatcher, handler = staff(S12, "dispatcher"), staff(S12, "handler")
    for action in ("verify", "file", "dispatch"):
        view = service.act(rid, action, dispatcher)
    # 暴露垃圾: 4 working hours from Monday 09:00 → 14:30 (lunch 12:00-13:30 does not count)
    assert view["due_at"] == "2025-03-03T06:30:00+00:00"
    clock.advance(hours=6)
    escalated = service.escalate_overdue()
    assert escalated == [{"id": rid, "supervisor": D1, "level": 1}]
    view = service.get(rid, dispatcher)
    assert view["supervised"] is True
    assert view["supervisor"] == D1
    assert view["overdue"] is True  # escalation supervises; it never moves the due time
    assert view["due_at"] == "2025-03-03T06:30:00+00:00"
    assert view["supervision_due_at"] == "2025-03-04T02:00:00+00:00"  # 4 working hours from 15:00
    assert service.escalate_overdue() == []  # the supervision deadline has not passed yet
    service.act(rid, "start", handler)
    service.act(rid, "handle", handler, note="已清运")
    service.act(rid, "fail_check", dispatcher, note="现场仍有垃圾")
    service.act(rid, "start", handler)
    service.act(rid, "handle", handler, note="已彻底清理")
    service.act(rid, "check", dispatcher)
    final = service.act(rid, "close", dispatcher)
    assert final["state"] == "closed"
    assert final["rework_count"] == 1
    events = service.get(rid, dispatcher)["events"]
    assert [e["action"] for e in events] == [
        "report", "verify", "file", "dispatch", "escalate", "start", "handle",
        "fail_check", "start", "handle", "check", "close",
    ]  # fmt: skip
    assert events[4]["actor"] == "system:escalation"
    assert events[7]["note"] == "现场仍有垃圾"
    assert all(e["at"] for e in events)


def test_escalation_climbs_to_the_city_and_stops(service: ReportService, clock: Clock) -> None:
    rid = service.submit(report("S-04-04")).report["id"]  # community-owned
    for action in ("verify", "file", "dispatch"):
        service.act(rid, action, staff(C121, "dispatcher"))
    supervisors = []
    for _ in range(5):
        clock.advance(days=10)
        supervisors += [e["supervisor"] for e in service.escalate_overdue()]
    assert supervisors == [S12, D1, CITY]


def test_illegal_transition_names_the_allowed_ones(service: ReportService) -> None:
    rid = service.submit(report()).report["id"]
    with pytest.raises(IllegalTransitionError, match="allowed: verify, invalidate") as info:
        service.act(rid, "close", staff(S12, "dispatcher"))
    assert info.value.detail["allowed"] == [
        "verify",
        "invalidate",
        "request_transfer",
        "recategorise",
        "merge",
    ]
    with pytest.raises(UnknownActionError, match="unknown action 'teleport'; the actions are: verify, file"):
        service.act(rid, "teleport", staff(S12, "dispatcher"))
    assert service.get(rid, staff(S12, "dispatcher"))["state"] == "reported"  # nothing half-done


def test_return_needs_a_reason_and_reroutes(service: ReportService) -> None:
    rid = service.submit(report("S-04-04")).report["id"]
    dispatcher = staff(S12, "dispatcher")
    for action in ("verify", "file", "dispatch"):
        service.act(rid, action, dispatcher)
    with pytest.raises(InvalidInputError, match="needs a note"):
        service.act(rid, "return", staff(C121, "handler"))
    service.act(rid, "return", staff(C121, "handler"), note="不属于本社区")
    view = service.act(rid, "dispatch", dispatcher, reroute_to=C123, note="改派本街道另一社区")
    assert view["owner"]["key"] == C123
    assert view["state"] == "dispatched"


def test_a_reroute_out_of_scope_is_refused_and_a_transfer_is_accepted_by_the_receiver(
    service: ReportService,
) -> None:
    rid = service.submit(report("S-04-04")).report["id"]  # community C121, under S12
    dispatcher = staff(S12, "dispatcher")
    for action in ("verify", "file"):
        service.act(rid, action, dispatcher)
    with pytest.raises(ForbiddenError, match=f"reroute_to '{C111}' .* is outside your unit '{S12}'"):
        service.act(rid, "dispatch", dispatcher, reroute_to=C111)
    assert service.get(rid, dispatcher)["owner"]["key"] == C121  # nothing moved
    asked = service.act(rid, "request_transfer", dispatcher, transfer_to=C111, note="属西南社区")
    assert asked["pending"]["transfer_to"]["key"] == C111
    receiver = staff(C111, "dispatcher")
    assert service.get(rid, receiver)["allowed_actions"] == ["accept_transfer", "refuse_transfer"]
    with pytest.raises(IllegalTransitionError, match="a transfer request is pending"):
        service.act(rid, "dispatch", dispatcher)  # the sender waits for the decision
    with pytest.raises(ForbiddenError, match="accept_transfer is for the desk a transfer is asked of"):
        service.act(rid, "accept_transfer", staff(C121, "dispatcher"))
    taken = service.act(rid, "accept_transfer", receiver)
    assert (taken["owner"]["key"], taken["pending"]["transfer_to"]) == (C111, None)
    # the current owner's chain acts; the earlier owner reads and no longer counts it
    assert service.act(rid, "dispatch", staff(S11, "dispatcher"))["state"] == "dispatched"
    assert service.get(rid, staff(C121, "dispatcher"))["id"] == rid
    with pytest.raises(ForbiddenError):
        service.act(rid, "start", staff(C121, "handler"))
    assert [r["id"] for r in service.list_reports(staff(S12, "planner"))[1]] == [rid]  # reads it
    assert rid not in service.cases_frame(staff(S12, "planner"))["report_id"].tolist()  # not its figure
    assert rid in service.cases_frame(staff(S11, "planner"))["report_id"].tolist()


def test_idempotency_key_returns_the_first_report(service: ReportService) -> None:
    first = service.submit(report(), idempotency_key="client-retry-0001")
    again = service.submit(report(), idempotency_key="client-retry-0001")
    assert first.created
    assert not again.created
    assert again.report["id"] == first.report["id"]
    assert again.reporter_token == first.reporter_token


def test_likely_duplicates_are_linked_not_dropped(service: ReportService) -> None:
    first = service.submit(report()).report
    near = service.submit(report(where=(IN_C121[0] + 0.0002, IN_C121[1]))).report  # ~18 m away
    other_category = service.submit(report("S-04-04")).report
    far = service.submit(report(where=IN_C111)).report
    assert near["duplicate_of"] == first["id"]
    assert other_category["duplicate_of"] is None
    assert far["duplicate_of"] is None


def test_outside_the_city_is_refused_with_the_reason(service: ReportService) -> None:
    with pytest.raises(InvalidInputError, match="outside the city's boundary set"):
        service.submit(report(where=(120.0, 30.0)))


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("channel", "pigeon", "unknown channel 'pigeon'"),
        ("description", "x" * 4001, "at most 4,000"),
        ("category", "Z-99-99", "unknown category code 'Z-99-99'"),
        ("photo_urls", ("ftp://x",), r"not an http\(s\) URL"),
    ],
)
def test_bad_intake_fields(service: ReportService, field: str, value: object, fragment: str) -> None:
    fields = {"x": IN_C121[0], "y": IN_C121[1], "category": "S-01-01", "description": "d", "channel": "app"}
    fields[field] = value
    with pytest.raises(InvalidInputError, match=fragment):
        service.submit(ReportIn(**fields))  # type: ignore[arg-type]


def test_reporters_read_only_their_own(service: ReportService) -> None:
    mine = service.submit(report())
    theirs = service.submit(report(where=IN_C111))
    from routing.access import hash_token

    me = Principal("reporter", token_hash=hash_token(mine.reporter_token))
    assert service.get(mine.report["id"], me)["id"] == mine.report["id"]
    with pytest.raises(ForbiddenError):
        service.get(theirs.report["id"], me)


# --- the access matrix: role x (own, child, sibling, parent) ------------------------------
# The case is owned by subdistrict S12 (暴露垃圾 at a point in C121).
RELATIONS = {"own": S12, "parent": D1, "grandparent": CITY, "child": C121, "sibling": S11, "cousin": S21}
MAY_READ = {"own", "parent", "grandparent"}


@pytest.mark.parametrize("role", ["dispatcher", "handler", "supervisor", "planner"])
@pytest.mark.parametrize("relation", list(RELATIONS))
def test_access_matrix(service: ReportService, role: str, relation: str) -> None:
    rid = service.submit(report("S-01-01")).report["id"]
    who = staff(RELATIONS[relation], role)
    if relation not in MAY_READ:
        with pytest.raises(ForbiddenError, match=f"report {rid} is not accessible"):
            service.get(rid, who)
        with pytest.raises(ForbiddenError, match=f"report {rid} is not accessible"):
            service.act(rid, "verify", who)
        assert service.list_reports(who)[0] == 0
        return
    assert service.get(rid, who)["id"] == rid
    assert service.list_reports(who)[0] == 1
    if role in ("dispatcher", "supervisor"):
        assert service.act(rid, "verify", who)["state"] == "verified"
    else:
        with pytest.raises(ForbiddenError, match="may not verify"):
            service.act(rid, "verify", who)


def test_unknown_report_looks_like_a_forbidden_one(service: ReportService) -> None:
    with pytest.raises(ForbiddenError, match="report 999 is not accessible"):
        service.get(999, staff(S12, "dispatcher"))


def test_a_boundary_change_does_not_move_a_routed_report(service: ReportService) -> None:
    rid = service.submit(report()).report["id"]
    moved = units_frame()
    # New generation: the two districts swap codes (a re-coding like 370903 → 370911).
    moved["code"] = moved["code"].replace({D1: "370999000000"})
    moved["parent_code"] = moved["parent_code"].replace({D1: "370999000000"})
    import_generation(service.engine, moved, name="recoded", valid_from=dt.date(2025, 1, 1))
    view = service.get(rid, staff(S12, "dispatcher"))
    assert view["jurisdiction"]["district_code"] == D1
    assert view["owner"]["key"] == S12
    assert view["jurisdiction"]["generation_id"] == 1


# --- idempotent actions and the audit entry of each step ----------------------------------
def _events(service: ReportService, rid: int, action: str) -> int:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from store.models import ReportEvent

    with Session(service.engine) as session:
        return (
            session.scalar(
                select(func.count()).where(ReportEvent.report_id == rid, ReportEvent.action == action)
            )
            or 0
        )


def _audit_rows(service: ReportService, **where: object) -> list[tuple[str, str, int | None]]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from store.models import AuditEntry

    query = select(AuditEntry.action, AuditEntry.outcome, AuditEntry.report_id).order_by(AuditEntry.id)
    for name, value in where.items():
        query = query.where(getattr(AuditEntry, name) == value)
    with Session(service.engine) as session:
        return [tuple(r) for r in session.execute(query)]  # type: ignore[misc]


def test_a_retried_action_with_its_key_takes_one_step(service: ReportService) -> None:
    rid = service.submit(report()).report["id"]
    dispatcher = staff(S12, "dispatcher")
    first = service.act_once(rid, "verify", dispatcher, idempotency_key="verify-retry-0001")
    again = service.act_once(rid, "verify", dispatcher, idempotency_key="verify-retry-0001")
    assert (first.replayed, again.replayed) == (False, True)
    assert again.report["state"] == first.report["state"] == "verified"
    assert again.report["version"] == first.report["version"] == 2
    assert _events(service, rid, "verify") == 1
    assert _audit_rows(service, report_id=rid, action="report.verify") == [("report.verify", "ok", rid)]
    # without the key the same retry is an illegal second step
    with pytest.raises(IllegalTransitionError, match="not allowed from state 'verified'"):
        service.act(rid, "verify", dispatcher)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ("action", "was already used to verify report"),
        ("report", "was already used to verify report"),
        ("token", "already used by another token"),
    ],
)
def test_a_key_reused_for_another_request_is_a_conflict(
    service: ReportService, change: str, fragment: str
) -> None:
    from routing.workflow import IdempotencyConflictError

    rid = service.submit(report()).report["id"]  # owned by S12
    other = service.submit(report(where=IN_C111)).report["id"]  # owned by S11
    district = staff(D1, "dispatcher")  # may act on both
    service.act(rid, "verify", district, idempotency_key="reused-key-0001")
    target, action, who = {
        "action": (rid, "invalidate", district),
        "report": (other, "verify", district),
        "token": (rid, "verify", staff(D1, "supervisor")),
    }[change]
    with pytest.raises(IdempotencyConflictError, match=fragment) as info:
        service.act(target, action, who, note="重复", idempotency_key="reused-key-0001")
    assert info.value.code == "idempotency_key_reused"
    assert _events(service, rid, "verify") == 1
    assert [service.get(r, district)["state"] for r in (rid, other)] == ["verified", "reported"]


@pytest.mark.parametrize("key", ["short", "k" * 129])
def test_idempotency_keys_are_8_to_128_characters(service: ReportService, key: str) -> None:
    rid = service.submit(report()).report["id"]
    with pytest.raises(InvalidInputError, match=f"8 to 128 characters \\(got {len(key)}\\)"):
        service.act(rid, "verify", staff(S12, "dispatcher"), idempotency_key=key)


def test_a_step_without_its_audit_entry_is_not_taken(
    service: ReportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from routing import audit

    rid = service.submit(report()).report["id"]
    make_entry = audit.entry

    def unstorable(*args: object, **kwargs: object) -> object:
        row = make_entry(*args, **kwargs)  # type: ignore[arg-type]
        row.detail = {"unstorable": object()}  # the INSERT of the audit row fails
        return row

    monkeypatch.setattr(audit, "entry", unstorable)
    with pytest.raises(Exception, match="not JSON serializable"):
        service.act(rid, "verify", staff(S12, "dispatcher"), idempotency_key="crash-audit-0001")
    monkeypatch.undo()
    view = service.get(rid, staff(S12, "dispatcher"))
    assert (view["state"], view["version"]) == ("reported", 1)  # nothing half-transitioned
    assert _events(service, rid, "verify") == 0
    assert _audit_rows(service, action="report.verify") == []
    # the key was not spent: the retry takes the step
    assert not service.act_once(
        rid, "verify", staff(S12, "dispatcher"), idempotency_key="crash-audit-0001"
    ).replayed


def test_a_refused_step_is_audited_as_refused_and_changes_nothing(service: ReportService) -> None:
    rid = service.submit(report()).report["id"]
    with pytest.raises(IllegalTransitionError):
        service.act(rid, "close", staff(S12, "dispatcher"))
    with pytest.raises(ForbiddenError):
        service.act(rid, "verify", staff(S11, "dispatcher"))  # a sibling subdistrict
    assert _audit_rows(service, report_id=rid) == [
        ("report.close", "refused:illegal_transition", rid),
        ("report.verify", "refused:forbidden", rid),
    ]
    assert service.get(rid, staff(S12, "dispatcher"))["version"] == 1


def test_escalation_runs_are_audited(service: ReportService, clock: Clock) -> None:
    rid = service.submit(report()).report["id"]
    for action in ("verify", "file", "dispatch"):
        service.act(rid, action, staff(S12, "dispatcher"))
    assert service.escalate_overdue() == []
    assert _audit_rows(service, action="escalation.run") == []  # the schedule's empty runs are not noise
    clock.advance(days=3)
    service.escalate_overdue(actor=staff(D1, "supervisor"))
    assert _audit_rows(service, action="escalation.run") == [("escalation.run", "ok", None)]


# --- staff tokens at rest, and the secret -------------------------------------------------
def test_tokens_are_stored_only_as_hashes_and_compared_in_constant_time(
    service: ReportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib
    import hmac

    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from routing import access
    from routing import staff as tokens
    from store.models import StaffToken

    token, token_id = tokens.issue(service.engine, name="甲", unit_key=S12, role="dispatcher")
    with Session(service.engine) as session:
        row = session.scalars(select(StaffToken).where(StaffToken.id == token_id)).one()
        stored = [str(getattr(row, c.key)) for c in StaffToken.__table__.columns]
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert not any(token in value or token[3:] in value for value in stored)
    compared: list[tuple[bytes, bytes]] = []
    compare = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(access.hmac, "compare_digest", spy)
    assert tokens.resolve(service.engine, token).token_id == token_id
    assert compared == [(row.token_hash.encode(), row.token_hash.encode())]


@pytest.mark.parametrize(
    ("environment", "secret", "ok"),
    [
        ("development", None, True),
        ("test", None, True),
        ("production", None, False),
        ("production", "a-new-random-production-secret", True),
    ],
)
def test_the_default_secret_works_only_in_development(environment: str, secret: str | None, ok: bool) -> None:
    from pydantic import ValidationError

    from api.settings import Settings

    kwargs = {"environment": environment, **({"secret_key": secret} if secret else {})}
    if ok:
        Settings(**kwargs)  # type: ignore[arg-type]
        return
    with pytest.raises(ValidationError, match="SIJI_SECRET_KEY must be set to a new random value"):
        Settings(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("same_key", [True, False])
def test_two_steps_that_read_the_same_version_take_it_once(
    tmp_path, monkeypatch: pytest.MonkeyPatch, same_key: bool
) -> None:  # type: ignore[no-untyped-def]
    """Both requests read the case before either writes (SQLite: no row locks; the race of two
    workers).  With one Idempotency-Key the loser replays the winner's step; without, it gets 409."""
    import threading

    import routing.steps as service_module

    engine = make_engine(f"sqlite:///{tmp_path}/race.db")
    upgrade(engine)
    import_generation(engine, units_frame(), name="toy", valid_from=dt.date(2024, 1, 1))
    reports = ReportService(engine, BoundaryService(engine), secret="test-secret-0123456789")
    rid = reports.submit(report()).report["id"]
    both_read = threading.Barrier(2, timeout=30)
    check = service_module.transition

    def after_both_read(*args: object, **kwargs: object) -> object:
        both_read.wait()
        return check(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service_module, "transition", after_both_read)
    outcomes: list[str] = []

    def verify(n: int) -> None:
        key = "same-key-0001" if same_key else f"own-key-000{n}"
        try:
            acted = reports.act_once(rid, "verify", staff(S12, "dispatcher"), idempotency_key=key)
            outcomes.append("replayed" if acted.replayed else "taken")
        except IllegalTransitionError as error:
            outcomes.append("409" if "changed while this step was taken" in error.message else error.message)

    threads = [threading.Thread(target=verify, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    monkeypatch.undo()
    view = reports.get(rid, staff(S12, "dispatcher"))
    engine.dispose()
    assert sorted(outcomes) == (["replayed", "taken"] if same_key else ["409", "taken"])
    assert [e["action"] for e in view["events"]] == ["report", "verify"]
    assert view["version"] == 2
