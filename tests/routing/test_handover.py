"""Open cases and staff tokens across a boundary release, on SQLite and PostGIS."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pandas as pd
import pytest
import shapely

from boundaries.release import geometry_linker
from boundaries.service import BoundaryService
from routing.access import Principal
from routing.audit import operator
from routing.handover import UnitVanishedError, check_token_unit, hand_over_open_cases, stale_tokens
from routing.intake import ReportIn
from routing.service import ReportService
from routing.staff import issue
from store.engine import make_engine, upgrade
from store.generations import import_generation
from tests.common import C121, C122, C213, D1, S12, lonlat
from tests.conftest import units_frame

IN_C121 = lonlat(0.25, 3)
IN_C213 = lonlat(7, 1.5)
MERGED = "370902002099"
NEW_D1 = "370999000000"


def _release():  # type: ignore[no-untyped-def]
    """C121 and C122 merged into a new code; C213 dropped (a gap now); 泰山区 re-coded
    alone (its subdistricts and communities keep their codes)."""
    frame = units_frame()
    merged = shapely.union_all(frame.geometry[frame["code"].isin([C121, C122])].to_numpy())
    row = frame[frame["code"] == C121].assign(code=MERGED, name="环湖东北社区")
    row = row.set_geometry([merged], crs=4326)
    frame = pd.concat([frame[~frame["code"].isin([C121, C122, C213])], row], ignore_index=True)
    frame["code"] = frame["code"].replace({D1: NEW_D1})
    frame["parent_code"] = frame["parent_code"].replace({D1: NEW_D1})
    return frame


@pytest.fixture
def service(database_url: str) -> Iterator[ReportService]:
    engine = make_engine(database_url)
    upgrade(engine)
    import_generation(engine, units_frame(), name="toy", valid_from=dt.date(2024, 1, 1))
    yield ReportService(engine, BoundaryService(engine), secret="test-secret-0123456789")
    engine.dispose()


def _submit(service: ReportService, where: tuple[float, float], category: str) -> int:
    report = ReportIn(x=where[0], y=where[1], category=category, description="测试", channel="app")  # type: ignore[arg-type]
    return int(service.submit(report).report["id"])


def test_open_cases_move_with_a_history_step_and_tokens_name_their_successor(service: ReportService) -> None:
    community_case = _submit(service, IN_C121, "S-04-04")  # owned by C121
    subdistrict_case = _submit(service, IN_C121, "S-01-01")  # owned by S12, under 泰山区
    gap_case = _submit(service, IN_C213, "S-04-04")  # owned by C213, which the release drops
    engine = service.engine
    old_token, _ = issue(engine, name="环湖 dispatcher", unit_key=C121, role="dispatcher")
    new = import_generation(
        engine, _release(), name="release", valid_from=dt.date(2025, 1, 1), linker=geometry_linker
    )
    service.boundaries.refresh()  # what the service's watcher does every ACTIVE_TTL_S
    generation, index = service.boundaries.index()
    assert generation.id == new.id

    moved = hand_over_open_cases(engine, generation, index, actor=operator("tester"))
    assert [(m.report_id, m.from_key, m.to_key, m.how) for m in moved] == [
        (community_case, C121, MERGED, "covers the point"),
        (subdistrict_case, S12, S12, "parents re-coded"),
    ]
    city = Principal("staff", name="city", role="supervisor", unit_key="370900000000")
    view = service.get(community_case, city)
    assert (view["owner"]["key"], view["jurisdiction"]["district_code"]) == (MERGED, NEW_D1)
    step = view["events"][-1]
    assert (step["action"], step["actor"], step["from_state"], step["to_state"]) == (
        "handover", "cli:tester", "reported", "reported",
    )  # fmt: skip
    assert step["data"]["from"]["owner_key"] == C121
    assert step["data"]["generation"] == {"id": new.id, "name": "release"}
    rechained = service.get(subdistrict_case, city)
    assert (rechained["owner"]["key"], rechained["jurisdiction"]["district_code"]) == (S12, NEW_D1)
    new_district = Principal("staff", name="d", role="supervisor", unit_key=NEW_D1)
    assert {community_case, subdistrict_case} <= {r["id"] for r in service.list_reports(new_district)[1]}
    # Nothing of the release covers C213's place and nothing continues it: its owner keeps it.
    assert service.get(gap_case, city)["owner"]["key"] == C213
    assert hand_over_open_cases(engine, generation, index) == []

    [stale] = stale_tokens(engine, index.units.row_of_code)
    assert (stale["unit_key"], [s.code for s in stale["successors"]]) == (C121, [MERGED])
    holder = Principal("staff", name="环湖 dispatcher", role="dispatcher", unit_key=C121, token_id=1)
    with pytest.raises(UnitVanishedError, match=f"its successor is {MERGED} 环湖东北社区 \\(merged\\)"):
        check_token_unit(service.boundaries, holder)
    assert old_token.startswith("sj_")


def test_closed_cases_never_move(service: ReportService) -> None:
    case = _submit(service, IN_C121, "S-04-04")
    admin = Principal("staff", name="c", role="supervisor", unit_key=C121)
    service.act(case, "invalidate", admin, note="重复")
    import_generation(service.engine, _release(), name="release", valid_from=dt.date(2025, 1, 1))
    service.boundaries.refresh()
    generation, index = service.boundaries.index()
    assert generation.name == "release"
    assert hand_over_open_cases(service.engine, generation, index) == []
