"""Reports through the closed loop, on SQLite and PostGIS, with a clock we control."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from boundaries.service import BoundaryService
from geo.errors import InvalidInputError
from routing.access import Principal
from routing.intake import ReportIn
from routing.service import ReportService
from routing.workflow import ForbiddenError, IllegalTransitionError
from store.engine import make_engine, upgrade
from store.generations import import_generation
from tests.common import C111, C121, CITY, D1, S11, S12, S21, lonlat
from tests.conftest import units_frame

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
IN_C121 = lonlat(0.25, 3)
IN_C111 = lonlat(1, 1)


@dataclass
class Clock:
    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2025, 3, 3, 9, 0, tzinfo=SHANGHAI))  # a Monday morning


@pytest.fixture
def service(database_url: str, clock: Clock) -> Iterator[ReportService]:
    engine = make_engine(database_url)
    upgrade(engine)
    import_generation(engine, units_frame(), name="toy", valid_from=dt.date(2024, 1, 1))
    yield ReportService(engine, BoundaryService(engine), secret="test-secret-0123456789", clock=clock)
    engine.dispose()


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
        ("B-01-01", D1, "district", "泰山区城管局"),  # 井盖缺失: the district's department
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
    assert view["overdue"] is False  # a new deadline runs after escalation
    assert service.escalate_overdue() == []  # not overdue again yet
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
    assert info.value.detail["allowed"] == ["verify", "invalidate"]
    with pytest.raises(IllegalTransitionError, match="unknown action 'teleport'"):
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
    view = service.act(rid, "dispatch", dispatcher, reroute_to=C111, note="改派西南社区")
    assert view["owner"]["key"] == C111
    assert view["state"] == "dispatched"


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
