"""Boundary releases on SQLite and PostGIS: checked against the generation they follow,
refused when they would break the service, stored with complete lineage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

import boundaries.release as release_module
from boundaries.bundled import IndexCheckError, checked_index, load_taian
from boundaries.read import read_boundaries
from boundaries.release import ReleaseRefusedError, commit_release, plan_release
from boundaries.validate import validate
from geo.errors import BoundaryDataError
from geo.locate import locate_point
from store.engine import make_engine, upgrade
from store.generations import generation_at, import_generation, list_generations, load_frame
from store.lineage import links_between
from store.models import UnitLineage
from tests.common import C213, UNITS
from tests.conftest import units_frame
from tests.releases import MERGED, MERGED_INTO, NINGYANG, NINGYANG_NEW, SPLIT_NEW, STRIP_TO, ReleaseFiles

D = dt.date


@pytest.fixture
def engine(database_url: str) -> Iterator:  # type: ignore[type-arg]
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _plan(engine, frame, valid_from: dt.date):  # type: ignore[no-untyped-def]
    return plan_release(engine, frame, valid_from, validate(frame))


def test_the_issue_release_on_both_databases(engine, release_files: ReleaseFiles) -> None:
    """The broken and wrong-CRS releases are refused; the real one is stored with its
    lineage and answers; back-dated, it is compared with what it replaces and re-links
    what follows it."""
    bundled = import_generation(engine, load_taian(), name="taian-2023", valid_from=D(2023, 1, 1))
    broken = _plan(engine, read_boundaries(release_files.broken), D(2025, 1, 1))
    with pytest.raises(
        ReleaseRefusedError, match=r"1 structural problem \(parents\), which no option accepts"
    ):
        commit_release(engine, broken, name="broken", accept_problems=True, accept_change="anyway")
    with pytest.raises(BoundaryDataError, match="the coordinates look like degrees"):
        read_boundaries(release_files.release, crs="EPSG:4548")
    assert [g.name for g in list_generations(engine, staging=True)] == ["taian-2023"]

    frame = read_boundaries(release_files.release)
    plan = _plan(engine, frame, D(2025, 1, 1))
    assert plan.before is not None
    assert (plan.before.id, plan.after) == (bundled.id, None)
    assert plan.change_counts() == {
        "new": 0, "gone": 0, "renamed": 1, "re-coded": 595, "merged": 1, "split": 1, "reshaped": 2,
    }  # fmt: skip
    assert plan.refusals(accept_problems=False, accept_change=None) == []
    info = commit_release(engine, plan, name="release-2025")
    assert info.active
    index = checked_index(load_frame(engine, info.id))
    facts = release_files.facts
    for point, code in [
        (facts.in_merged, MERGED_INTO),
        (facts.in_strip, STRIP_TO),
        (facts.in_split_west, SPLIT_NEW[0]),
        (facts.in_split_east, SPLIT_NEW[1]),
    ]:
        assert locate_point(index, *point)["community"]["code"] == code
    assert locate_point(index, *facts.in_ningyang)["district"]["code"] == NINGYANG_NEW
    stored = links_between(engine, bundled.id, info.id)
    assert {k["predecessor_code"] for k in stored} >= {*MERGED, NINGYANG}
    assert {(k["predecessor_code"], k["kind"]) for k in stored if k["successor_code"] == MERGED_INTO} == {
        (MERGED[0], "merged"),
        (MERGED[1], "merged"),
    }

    # Back-dated to 2024: it replaces taian-2023 for 2024, and the 2025 generation now follows it.
    backdated = _plan(engine, frame, D(2024, 1, 1))
    assert (backdated.before.id, backdated.after.id) == (bundled.id, info.id)  # type: ignore[union-attr]
    assert backdated.change_counts()["re-coded"] == 595
    assert {k.kind for k in backdated.relinks} == {"same"}
    middle = commit_release(engine, backdated, name="release-2024")
    with Session(engine) as session:
        pairs = set(session.execute(select(UnitLineage.predecessor_generation_id, UnitLineage.generation_id)))
    assert pairs == {(bundled.id, middle.id), (middle.id, info.id)}
    assert generation_at(engine, D(2024, 6, 1)).id == middle.id
    assert generation_at(engine, D(2023, 6, 1)).id == bundled.id


def _toy_plan(engine, frame, valid_from=D(2025, 1, 1)):  # type: ignore[no-untyped-def]
    import_generation(engine, units_frame(), name="toy", valid_from=D(2024, 1, 1))
    return _plan(engine, frame, valid_from)


def _with_gap(width_units: float):  # type: ignore[no-untyped-def]
    """C213 pulled back from its western edge by ``width_units`` plan units."""
    from tests.common import lonlat

    frame = units_frame()
    rows = frame["code"] == C213
    frame.loc[rows, "geometry"] = shapely.box(*lonlat(6 + width_units, 1), *lonlat(8, 2))
    return frame


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_small_gaps_are_accepted_with_their_figures_large_ones_never(engine) -> None:
    small = _toy_plan(engine, _with_gap(0.0005))  # about 1 m wide: a sliver of about 1,700 m²
    [reason] = small.refusals(accept_problems=False, accept_change=None)
    assert "1 problem (tiling: 1 problem (1," in reason
    assert "pass --accept-problems" in reason
    info = commit_release(engine, small, name="sliver", accept_problems=True)
    accepted = info.notes["accepted_problems"]
    assert accepted["summary"].startswith("tiling: 1 problem (1,")
    assert accepted["problems"][0]["lon"] is not None
    large = _plan(engine, _with_gap(0.2), D(2026, 1, 1))
    with pytest.raises(
        ReleaseRefusedError, match="1 gap or overlap over 10,000 m² each, too large to accept"
    ):
        commit_release(engine, large, name="gap", accept_problems=True)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_moved_city_needs_an_accepted_change_which_is_recorded(engine) -> None:
    moved = units_frame()
    moved["geometry"] = moved.geometry.translate(0.2, 0)  # no unit overlaps its old self
    plan = _toy_plan(engine, moved)
    checks = " ".join(plan.change_problems)
    assert "the top unit changes by 200.0% of its area" in checks
    assert f"{len(UNITS)} codes vanish with no new unit overlapping them" in checks
    with pytest.raises(ReleaseRefusedError, match="need --accept-change REASON"):
        commit_release(engine, plan, name="moved")
    info = commit_release(engine, plan, name="moved", accept_change="the survey moved the city")
    assert info.notes["accepted_change"]["reason"] == "the survey moved the city"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_unknown_declared_predecessor_is_a_release_check(engine) -> None:
    frame = units_frame()
    frame["predecessors"] = [None] * (len(frame) - 1) + ["370999999999"]
    plan = _toy_plan(engine, frame)
    last = frame["code"].iloc[-1]
    assert plan.change_problems == [
        f"unit {last} declares predecessor 370999999999, which the generation before does not have"
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_set_whose_index_fails_its_check_is_not_stored_when_asked(
    engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _toy_plan(engine, units_frame())

    def failing(frame, snap_distance_m):  # type: ignore[no-untyped-def]
        raise IndexCheckError("the index answers wrongly for 1 of 10 units")

    monkeypatch.setattr(release_module, "checked_index", failing)
    with pytest.raises(IndexCheckError, match="answers wrongly"):
        commit_release(engine, plan, name="never", check_index=True)
    assert [g.name for g in list_generations(engine, staging=True)] == ["toy"]
