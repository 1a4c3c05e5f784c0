"""The audit log: what is recorded, who may read it, and what each reader sees (SQLite and PostGIS)."""

from __future__ import annotations

import datetime as dt

import pytest

from geo.errors import InvalidInputError
from routing import audit, staff
from routing.audit import AuditQuery
from routing.service import ReportService
from routing.workflow import ForbiddenError
from tests.common import C111, C121, CITY, D1, S11, S12
from tests.routing.conftest import Clock
from tests.routing.test_service import IN_C111, report
from tests.routing.test_service import staff as principal


@pytest.fixture
def story(service: ReportService) -> dict[str, int]:
    """Two cases in sibling subdistricts, one step each, a refused step, a token issued."""
    r1 = service.submit(report()).report["id"]  # 暴露垃圾 in C121: owned by S12
    r2 = service.submit(report("S-04-04", where=IN_C111)).report["id"]  # 乱堆物料 in C111: owned by C111
    service.act(r1, "verify", principal(S12, "dispatcher"))
    service.act(r2, "verify", principal(C111, "dispatcher"))
    with pytest.raises(ForbiddenError):
        service.act(r1, "verify", principal(C111, "dispatcher"))  # out of scope: refused
    chain = audit.unit_chain(service.boundaries.index()[1], C121)
    _, token_id = staff.issue(
        service.engine, name="新网格员", unit_key=C121, role="handler", unit_chain=chain
    )
    return {"r1": r1, "r2": r2, "token": token_id}


def _seen(service: ReportService, reader: str, **filters: object) -> list[tuple[str, int | None, str]]:
    _, entries = service.audit_log(principal(reader, "supervisor"), AuditQuery(**filters))  # type: ignore[arg-type]
    return sorted((e["action"], e["report_id"], e["outcome"]) for e in entries if e["action"] != "audit.read")


def test_unit_chain_and_scope(service: ReportService) -> None:
    index = service.boundaries.index()[1]
    assert audit.unit_chain(index, C121) == [C121, S12, D1, CITY]
    assert audit.unit_chain(index, "city:园林局") == ["city:园林局", CITY]
    assert audit.unit_chain(index, "nowhere") == ["nowhere"]
    assert audit.scope_of([C121, S12, None, S12]) == f"/{C121}/{S12}/"


@pytest.mark.parametrize(
    ("reader", "expected"),
    [
        # the owner's supervisors see a refused step on their case too
        (
            S12,
            {
                ("report.verify", "r1", "ok"),
                ("report.verify", "r1", "refused:forbidden"),
                ("token.issue", None, "ok"),
            },
        ),
        (S11, {("report.verify", "r2", "ok"), ("report.verify", "r1", "refused:forbidden")}),
        (
            D1,
            {
                ("report.verify", "r1", "ok"),
                ("report.verify", "r2", "ok"),
                ("report.verify", "r1", "refused:forbidden"),
                ("token.issue", None, "ok"),
            },
        ),
        ("city:园林局", set()),  # a city department sees its own cases only
    ],
)
def test_supervisors_see_their_units_and_below(
    service: ReportService,
    story: dict[str, int],
    reader: str,
    expected: set[tuple[str, str | None, str]],
) -> None:
    want = sorted((a, None if r is None else story[r], o) for a, r, o in expected)
    assert _seen(service, reader) == want


def test_the_city_sees_everything_and_operators_too(service: ReportService, story: dict[str, int]) -> None:
    city = _seen(service, CITY)
    assert len(city) == 4
    _, entries = service.audit_log(audit.operator("tester"), AuditQuery())
    assert {e["action"] for e in entries} >= {"report.verify", "token.issue", "audit.read"}
    issued = next(e for e in entries if e["action"] == "token.issue")
    assert issued["actor"] == audit.operator().name  # issued at the "command line": the OS user
    assert issued["client"].startswith(audit.operator().name + "@")
    assert issued["target"] == f"token:{story['token']}"
    assert issued["detail"]["role"] == "handler"


@pytest.mark.parametrize(
    ("who", "fragment"),
    [
        (principal(D1, "dispatcher"), "readable by supervisor tokens"),
        (principal(C121, "supervisor"), "at level 'community'"),
        (principal("370999999999", "supervisor"), "at level None"),
        (
            __import__("routing.access", fromlist=["Principal"]).Principal("reporter", token_hash="x"),
            "supervisor",
        ),
    ],
)
def test_others_may_not_read_the_log(service: ReportService, who, fragment: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ForbiddenError, match=fragment):
        service.audit_log(who, AuditQuery())


def test_filters_and_pages(service: ReportService, story: dict[str, int], clock: Clock) -> None:
    now = clock()
    assert _seen(service, D1, report_id=story["r2"]) == [("report.verify", story["r2"], "ok")]
    assert _seen(service, D1, actor=f"dispatcher@{C111}") == sorted(
        [("report.verify", story["r2"], "ok"), ("report.verify", story["r1"], "refused:forbidden")]
    )
    assert _seen(service, D1, action="token.issue", token_id=None) == [("token.issue", None, "ok")]
    # the steps happen at the service's clock (2025); the token was issued at the real time
    assert _seen(service, D1, since=now + dt.timedelta(minutes=1)) == [("token.issue", None, "ok")]
    assert len(_seen(service, D1, until=now + dt.timedelta(minutes=1))) == 3
    reader = principal(D1, "supervisor")
    total, page = service.audit_log(reader, AuditQuery(action="report.verify", limit=2, offset=0))
    _, rest = service.audit_log(reader, AuditQuery(action="report.verify", limit=2, offset=2))
    assert (total, len(page), len(rest)) == (3, 2, 1)
    assert [e["id"] for e in page] == sorted((e["id"] for e in page), reverse=True)  # newest first
    reads = service.audit_log(reader, AuditQuery(action="audit.read"))[1]
    assert reads[0]["detail"] == {"filters": {"action": "report.verify"}, "returned": 1}  # the last read
    assert reads[0]["actor"] == reader.name


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        (AuditQuery(since=dt.datetime(2025, 1, 1)), "has no UTC offset"),
        (
            AuditQuery(
                since=dt.datetime(2025, 2, 1, tzinfo=dt.UTC), until=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
            ),
            "must be before until",
        ),
        (AuditQuery(limit=0), "limit 0 is outside 1..1000"),
        (AuditQuery(offset=-1), "offset -1 is negative"),
    ],
)
def test_bad_filters_are_named(service: ReportService, query: AuditQuery, fragment: str) -> None:
    with pytest.raises(InvalidInputError, match=fragment):
        service.audit_log(principal(CITY, "supervisor"), query)


def test_revoking_is_audited_in_the_same_transaction(service: ReportService) -> None:
    from geo.errors import NotFoundError

    _, token_id = staff.issue(service.engine, name="甲", unit_key=S12, role="dispatcher")
    staff.revoke(service.engine, token_id, actor=principal(CITY, "supervisor"))
    with pytest.raises(NotFoundError):
        staff.revoke(service.engine, 999_999)
    _, entries = service.audit_log(audit.operator("tester"), AuditQuery())
    assert [(e["action"], e["target"], e["actor"]) for e in entries if e["action"].startswith("token.")] == [
        ("token.revoke", f"token:{token_id}", f"supervisor@{CITY}"),
        ("token.issue", f"token:{token_id}", audit.operator().name),
    ]


def test_0003_upgrades_a_database_at_0002_with_cases_in_it(database_url: str) -> None:
    from sqlalchemy import inspect, text
    from sqlalchemy.exc import IntegrityError

    from store.engine import make_engine, migrate

    engine = make_engine(database_url)
    try:
        migrate(engine, "upgrade", "0002")
        now = dt.datetime(2025, 3, 3, tzinfo=dt.UTC)
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO generations (id, name, valid_from, source, unit_count, notes) "
                     "VALUES (1, 'g', '2024-01-01', '', 0, '{}')")
            )  # fmt: skip
            connection.execute(
                text(
                    "INSERT INTO reports (id, created_at, category_code, description, photo_urls, address, "
                    "reporter_contact, reporter_token_hash, channel, x, y, crs, lon, lat, generation_id, "
                    "lookup_status, lookup_candidates, owner_key, owner_level, owner_name, state) VALUES "
                    "(1, :now, 'S-01-01', 'd', '[]', '', '', 'h', 'app', 1, 1, 'wgs84', 1, 1, 1, 'ok', '[]', "
                    "'k', 'subdistrict', 'n', 'reported')"
                ),
                {"now": now},
            )
            connection.execute(
                text("INSERT INTO report_events (report_id, at, action, to_state, actor, actor_role, note, "
                     "data) VALUES (1, :now, 'report', 'reported', 'app', 'anonymous', '', '{}')"),
                {"now": now},
            )  # fmt: skip
        migrate(engine, "upgrade", "head")
        tables = inspect(engine)
        assert "audit_log" in tables.get_table_names()
        assert "idempotency_key" in {c["name"] for c in tables.get_columns("report_events")}
        event = (
            "INSERT INTO report_events (report_id, at, action, to_state, actor, actor_role, note, data, "
            "idempotency_key) VALUES (1, :now, 'verify', 'verified', 'x', 'dispatcher', '', '{}', :key)"
        )
        with engine.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM report_events")).scalar() == 1  # kept
            connection.execute(text(event), {"now": now, "key": "key-0000001"})
            connection.execute(text(event), {"now": now, "key": None})
            connection.execute(text(event), {"now": now, "key": None})  # many steps have no key
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text(event), {"now": now, "key": "key-0000001"})
        migrate(engine, "downgrade", "0002")
        assert "audit_log" not in inspect(engine).get_table_names()
        migrate(engine, "upgrade", "head")
    finally:
        engine.dispose()
