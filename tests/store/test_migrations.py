"""Schema migrations on databases that already hold cases (SQLite and PostGIS): nothing is lost."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import inspect, text

from boundaries.service import BoundaryService
from routing.access import Principal
from routing.service import ReportService
from store.engine import make_engine, migrate
from store.generations import import_generation
from tests.common import C111, C121, CITY, D1, S11, S12
from tests.conftest import TOY_VALID_FROM, units_frame

T0 = dt.datetime(2025, 3, 3, 1, 0, tzinfo=dt.UTC)  # Monday 09:00 in Tai'an


def _at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


# id, owner key, level, name, state, community, due (hours after T0), escalation level, closed
CASES: list[tuple[Any, ...]] = [
    (1, D1, "district", "泰山区城管局", "dispatched", C121, 30, 0, None),  # a district department's
    (2, S12, "subdistrict", "财源街道", "in_progress", C121, 6, 1, None),  # escalated (due moved then)
    (3, C121, "community", "环湖社区", "reopened", C121, 20, 0, None),  # closed, then reopened
    (4, S12, "subdistrict", "财源街道", "deferred", C121, 8, 0, None),  # deferred
    (5, C111, "community", "西南社区", "dispatched", C121, 9, 0, None),  # rerouted from C121
    (6, "city:园林局", "city", "园林局", "closed", C121, 40, 0, _at(30)),  # a city department's, closed
]
EVENTS: list[tuple[int, str, float, dict[str, Any]]] = [
    (3, "close", 5, {}),
    (3, "reopen", 7, {}),
    (4, "defer", 2, {}),
    (5, "dispatch", 1, {"rerouted_from": C121, "rerouted_to": C111}),
    (6, "close", 30, {}),
]


def _database_at_0003_with_cases(url: str) -> Any:
    """At the revision before 0005 (0004, the boundary releases', which the store's
    generations need): the cases as 0003 left them."""
    engine = make_engine(url)
    migrate(engine, "upgrade", "0004")
    import_generation(engine, units_frame(), name="toy", valid_from=TOY_VALID_FROM)
    report = (
        "INSERT INTO reports (id, created_at, category_code, description, photo_urls, address, "
        "reporter_contact, reporter_token_hash, channel, x, y, crs, lon, lat, generation_id, lookup_status, "
        "lookup_candidates, city_code, district_code, subdistrict_code, community_code, owner_key, "
        "owner_level, owner_name, state, dispatched_at, due_at, closed_at, escalation_level, supervised) "
        "VALUES (:id, :t0, 'S-01-01', 'd', '[]', '', '', 'h', 'app', 1, 1, 'wgs84', 1, 1, 1, 'ok', '[]', "
        ":city, :district, :subdistrict, :community, :owner, :level, :name, :state, :t0, :due, :closed, "
        ":escalated, :supervised)"
    )
    event = (
        "INSERT INTO report_events (report_id, at, action, to_state, actor, actor_role, note, data) "
        "VALUES (:id, :at, :action, 'x', 'a', 'dispatcher', '', :data)"
    )
    with engine.begin() as connection:
        for rid, owner, level, name, state, community, due, escalated, closed in CASES:
            subdistrict = S12 if community == C121 else S11
            connection.execute(
                text(report),
                {
                    "id": rid, "t0": T0, "city": CITY, "district": D1, "subdistrict": subdistrict,
                    "community": community, "owner": owner, "level": level, "name": name, "state": state,
                    "due": _at(due), "closed": closed, "escalated": escalated, "supervised": escalated > 0,
                },
            )  # fmt: skip
        for rid, action, hours, data in EVENTS:
            connection.execute(
                text(event), {"id": rid, "at": _at(hours), "action": action, "data": json.dumps(data)}
            )
    return engine


def test_0005_upgrades_a_database_at_0003_with_cases_in_it(database_url: str) -> None:
    engine = _database_at_0003_with_cases(database_url)
    try:
        migrate(engine, "upgrade", "head")
        columns = (
            "id, owner_key, owner_chain, original_due_at, supervision_due_at, first_closed_at, reopen_count"
        )
        with engine.connect() as connection:
            rows = {r[0]: r for r in connection.execute(text(f"SELECT {columns} FROM reports ORDER BY id"))}
            scopes = {
                (rid, kind, key)
                for rid, kind, key in connection.execute(
                    text("SELECT report_id, kind, unit_key FROM report_scopes")
                )
            }
            events = connection.execute(text("SELECT count(*) FROM report_events")).scalar()
        assert events == len(EVENTS)  # kept
        assert rows[1][1] == f"{D1}:城管局"  # the department is a desk of its own now
        assert rows[2][4] is not None  # the escalated case's supervision deadline
        assert rows[3][5] is not None  # the closure counts again
        assert rows[3][6] == 1  # reopened once
        assert {(k, key) for r, k, key in scopes if r == 5} == {
            ("owner", C111), ("owner", S11), ("owner", D1), ("owner", CITY),
            ("earlier", C121), ("earlier", S12), ("earlier", D1), ("earlier", CITY),
        }  # fmt: skip
        assert {(k, key) for r, k, key in scopes if r == 6} == {("owner", "city:园林局"), ("owner", CITY)}

        # The service works on the upgraded cases as on new ones.
        service = ReportService(engine, BoundaryService(engine), secret="migration-test-secret-0123")
        department = Principal("staff", name="h", role="handler", unit_key=f"{D1}:城管局")
        assert service.act(1, "start", department)["state"] == "in_progress"
        district = Principal("staff", name="p", role="planner", unit_key=D1)
        cases = service.cases_frame(district).set_index("report_id")
        assert cases.loc[1, "unit_key"] == f"{D1}:城管局"
        assert cases.loc[3, "closed_at"] == _at(5)  # the first closure
        assert cases.loc[3, "reopen_count"] == 1
        assert cases.loc[4, "paused_at"] == _at(2)  # the last deferral
        earlier = Principal("staff", name="d", role="dispatcher", unit_key=C121)
        assert service.get(5, earlier)["owner"]["key"] == C111  # the earlier owner reads it
        assert service.get(2, Principal("staff", name="s", role="supervisor", unit_key=S12))["due_at"]

        migrate(engine, "downgrade", "0003")
        assert "report_scopes" not in inspect(engine).get_table_names()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT owner_key FROM reports WHERE id = 1")).scalar() == D1
            assert connection.execute(text("SELECT count(*) FROM reports")).scalar() == len(CASES)
        migrate(engine, "upgrade", "head")
    finally:
        engine.dispose()


def test_0008_upgrades_a_database_at_0005_with_cases_in_it(database_url: str) -> None:
    engine = _database_at_0003_with_cases(database_url)
    try:
        migrate(engine, "upgrade", "0005")
        migrate(engine, "upgrade", "head")
        with engine.connect() as connection:
            urged = connection.execute(text("SELECT count(*) FROM reports WHERE urge_count = 0")).scalar()
            lease = connection.execute(
                text("SELECT holder FROM leases WHERE name = 'webhook-delivery'")
            ).scalar()
            outbox = connection.execute(text("SELECT count(*) FROM outbox_events")).scalar()
        assert (urged, lease, outbox) == (len(CASES), "", 0)

        # The new steps work on the upgraded cases, and write their events.
        service = ReportService(engine, BoundaryService(engine), secret="migration-test-secret-0123")
        supervisor = Principal("staff", name="s", role="supervisor", unit_key=D1)
        assert service.act(1, "urge", supervisor, note="请尽快")["urge_count"] == 1
        district = Principal("staff", name="p", role="planner", unit_key=D1)
        assert [e["type"] for e in service.events(district)[0]] == ["urge"]
        assert service.cases_frame(district).set_index("report_id").loc[1, "urge_count"] == 1
        with engine.begin() as connection:
            connection.execute(text("UPDATE reports SET state = 'merged', merged_into = 2 WHERE id = 5"))

        migrate(engine, "downgrade", "0005")
        assert "outbox_events" not in inspect(engine).get_table_names()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT state FROM reports WHERE id = 5")).scalar() == "invalid"
            assert connection.execute(text("SELECT count(*) FROM reports")).scalar() == len(CASES)
        migrate(engine, "upgrade", "head")
    finally:
        engine.dispose()
