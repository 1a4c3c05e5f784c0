"""Boundary generations on SQLite and PostGIS: storing, validity by date (withdrawals
included), lineage of adjacent generations, the 0004 upgrade of a database with data."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import shapely
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from boundaries.release import geometry_linker
from geo.errors import InvalidInputError, NotFoundError
from store.engine import make_engine, migrate, upgrade
from store.generations import (
    generation_at,
    get_generation,
    import_generation,
    list_generations,
    load_frame,
    stage_generation,
    timeline,
    withdraw_generation,
)
from store.lineage import explain_absence, lineage, links_between
from store.models import Unit, UnitLineage
from store.timeline import Period
from tests.common import C111, D2, UNITS
from tests.conftest import TOY_VALID_FROM, units_frame

D = dt.date


@pytest.fixture
def engine(database_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def test_round_trip_keeps_every_coordinate_bit_for_bit(engine) -> None:
    info = import_generation(engine, units_frame(), name="toy", valid_from=TOY_VALID_FROM)
    frame = load_frame(engine, info.id).set_index("code")
    for unit in UNITS:
        stored = frame.loc[unit.code, "geometry"]
        assert np.array_equal(shapely.get_coordinates(stored), shapely.get_coordinates(unit.geometry))
        assert frame.loc[unit.code, "parent_code"] == unit.parent
    assert info.unit_count == len(UNITS)
    assert info.active
    assert info.state == "published"


def test_generation_valid_on_a_date(engine) -> None:
    first = import_generation(engine, units_frame(), name="2024", valid_from=D(2024, 1, 1))
    second = import_generation(engine, units_frame(), name="2025", valid_from=D(2025, 1, 1))
    assert generation_at(engine, D(2024, 6, 1)).id == first.id
    assert generation_at(engine, D(2025, 1, 1)).id == second.id
    assert generation_at(engine).id == second.id
    listed = list_generations(engine)
    assert [(g.name, g.valid_to, g.active) for g in listed] == [
        ("2024", D(2025, 1, 1), False),
        ("2025", None, True),
    ]
    with pytest.raises(
        NotFoundError,
        match=r"no boundary generation is valid on 2023-12-31; the earliest is valid from 2024-01-01",
    ):
        generation_at(engine, D(2023, 12, 31))


@pytest.mark.parametrize(
    ("other", "message"),
    [
        ({"name": "b", "valid_from": TOY_VALID_FROM}, "generation 1 'a' is already valid from 2024-01-01"),
        (
            {"name": "a", "valid_from": D(2025, 1, 1)},
            "generation 1 is already named 'a'; pick another --name",
        ),
    ],
)
def test_a_taken_date_or_name_is_refused_and_nothing_is_stored(engine, other: dict, message: str) -> None:
    import_generation(engine, units_frame(), name="a", valid_from=TOY_VALID_FROM)
    with pytest.raises(InvalidInputError, match=message):
        import_generation(engine, units_frame(), **other)
    assert [g.name for g in list_generations(engine, staging=True)] == ["a"]
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Unit)) == len(UNITS)


def test_a_staged_generation_answers_nothing_until_published(engine) -> None:
    first = import_generation(engine, units_frame(), name="first", valid_from=D(2024, 1, 1))
    staged = stage_generation(engine, units_frame(), name="staged", valid_from=D(2025, 1, 1))
    assert generation_at(engine).id == first.id
    assert [g.name for g in list_generations(engine)] == ["first"]
    assert [(g.name, g.state) for g in list_generations(engine, staging=True)] == [
        ("first", "published"),
        ("staged", "staging"),
    ]
    with pytest.raises(NotFoundError):
        get_generation(engine, staged)


def test_the_timeline_rule() -> None:
    rows = [(1, D(2023, 1, 1), None), (2, D(2025, 1, 1), D(2025, 6, 1)), (3, D(2024, 1, 1), D(2024, 1, 1))]
    assert timeline(rows) == [
        Period(1, D(2023, 1, 1), D(2025, 1, 1)),
        Period(2, D(2025, 1, 1), D(2025, 6, 1)),
        Period(1, D(2025, 6, 1), None),
    ]


def test_a_withdrawn_generation_hands_its_days_back_and_keeps_everything(engine) -> None:
    first = import_generation(engine, units_frame(), name="2024", valid_from=D(2024, 1, 1))
    second = import_generation(engine, units_frame(), name="2025", valid_from=D(2025, 1, 1))
    withdrawn = withdraw_generation(engine, second.id, D(2025, 3, 1), reason="wrong release", by="cli:test")
    assert withdrawn.withdrawn_from == D(2025, 3, 1)
    assert generation_at(engine, D(2025, 2, 1)).id == second.id
    assert generation_at(engine, D(2025, 3, 1)).id == first.id
    assert generation_at(engine).id == first.id
    assert [p.start for p in get_generation(engine, "2024").periods] == [D(2024, 1, 1), D(2025, 3, 1)]
    assert get_generation(engine, str(second.id)).notes["withdrawals"][0]["reason"] == "wrong release"
    assert len(load_frame(engine, second.id)) == len(UNITS)  # nothing deleted
    with pytest.raises(InvalidInputError, match="it can be withdrawn from that day or later"):
        withdraw_generation(engine, second.id, D(2024, 12, 31), reason="x", by="cli:test")
    withdraw_generation(engine, second.id, D(2025, 1, 1), reason="entirely", by="cli:test")
    withdraw_generation(engine, first.id, D(2024, 1, 1), reason="all", by="cli:test")
    with pytest.raises(NotFoundError, match="every generation valid then was withdrawn"):
        generation_at(engine, D(2025, 1, 1))


def _recoded_d2(code: str = "370903000000"):  # type: ignore[no-untyped-def]
    frame = units_frame()
    frame["code"] = frame["code"].str.replace(D2[:6], code[:6])
    frame["parent_code"] = frame["parent_code"].str.replace(D2[:6], code[:6])
    return frame


def test_a_code_change_is_recorded_as_lineage(engine) -> None:
    """岱岳区 was 370903 before it became 370911."""
    first = import_generation(
        engine, _recoded_d2(), name="old", valid_from=D(2000, 1, 1), linker=geometry_linker
    )
    second = import_generation(
        engine, units_frame(), name="new", valid_from=D(2024, 1, 1), linker=geometry_linker
    )
    links = lineage(engine, D2)
    assert links == [
        {
            "predecessor_code": "370903000000",
            "successor_code": D2,
            "generation_id": second.id,
            "predecessor_generation_id": first.id,
            "level": "district",
            "how": "geometry",
            "kind": "re-coded",
            "predecessor_share": 1.0,
            "successor_share": 1.0,
        }
    ]
    assert lineage(engine, "370903000000") == links
    # Every old unit leads somewhere: the re-coded ones and the ones that stayed.
    table = links_between(engine, first.id, second.id)
    assert len(table) == len(UNITS)
    assert {row["kind"] for row in table} == {"same", "re-coded"}


def test_a_back_dated_generation_re_links_the_one_after_it(engine) -> None:
    first = import_generation(
        engine, units_frame(), name="2023", valid_from=D(2023, 1, 1), linker=geometry_linker
    )
    third = import_generation(
        engine, _recoded_d2("370912000000"), name="2025", valid_from=D(2025, 1, 1), linker=geometry_linker
    )
    assert {(k["predecessor_generation_id"], k["generation_id"]) for k in lineage(engine, D2)} == {
        (first.id, third.id)
    }
    second = import_generation(
        engine, _recoded_d2("370999000000"), name="2024", valid_from=D(2024, 1, 1), linker=geometry_linker
    )
    with Session(engine) as session:
        pairs = set(session.execute(select(UnitLineage.predecessor_generation_id, UnitLineage.generation_id)))
    assert pairs == {(first.id, second.id), (second.id, third.id)}
    absence = explain_absence(engine, D2, D(2025, 6, 1))
    assert absence is not None
    assert [(s.code, s.kind) for s in absence.successors] == [("370912000000", "re-coded")]
    assert [g.name for g in absence.valid_in] == ["2023"]
    assert absence.at == D(2023, 12, 31)


def test_a_code_of_the_future_points_to_its_first_day(engine) -> None:
    import_generation(engine, units_frame(), name="2024", valid_from=D(2024, 1, 1), linker=geometry_linker)
    import_generation(
        engine, _recoded_d2("370912000000"), name="2030", valid_from=D(2030, 1, 1), linker=geometry_linker
    )
    absence = explain_absence(engine, "370912000000", D(2025, 1, 1))
    assert absence is not None
    assert absence.successors == []
    assert absence.at == D(2030, 1, 1)
    assert explain_absence(engine, "999999999999", D(2025, 1, 1)) is None


def test_upgrade_to_0004_keeps_generations_units_and_lineage(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine, "upgrade", "0003")
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO generations (id, name, valid_from, source, unit_count, notes) VALUES "
                     "(1, 'old', '2023-01-01', '', 1, '{}'), (2, 'new', '2024-01-01', '', 1, '{}')")
            )  # fmt: skip
            connection.execute(
                text("INSERT INTO units (id, generation_id, code, name, level, parent_code, properties) "
                     "VALUES (1, 1, '370903000000', '岱岳区', 'district', NULL, '{}')")
            )  # fmt: skip
            connection.execute(
                text("INSERT INTO unit_lineage (generation_id, predecessor_generation_id, predecessor_code, "
                     "successor_code, level, how) "
                     "VALUES (2, 1, '370903000000', :new, 'district', 'same-area')"),
                {"new": D2},
            )  # fmt: skip
        upgrade(engine)
        assert [(g.name, g.state, g.withdrawn_from) for g in list_generations(engine)] == [
            ("old", "published", None),
            ("new", "published", None),
        ]
        [link] = lineage(engine, D2)
        assert (link["kind"], link["how"], link["predecessor_share"]) == ("re-coded", "same-area", None)
        with Session(engine) as session:
            assert session.scalar(select(Unit.name)) == "岱岳区"
        migrate(engine, "downgrade", "0003")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM units")).scalar() == 1  # nothing cascaded
            assert connection.execute(text("SELECT count(*) FROM unit_lineage")).scalar() == 1
        upgrade(engine)
    finally:
        engine.dispose()


def test_load_frame_hands_back_declared_predecessors(engine) -> None:
    frame = units_frame()
    frame["predecessors"] = [None] * (len(frame) - 1) + ["370902001003;370902001004"]
    info = import_generation(engine, frame, name="toy", valid_from=TOY_VALID_FROM)
    loaded = load_frame(engine, info.id)
    assert loaded["predecessors"].tolist()[-1] == "370902001003;370902001004"
    assert loaded.set_index("code").loc[C111, "predecessors"] is None


def test_a_fixed_set_takes_the_date_of_one_withdrawn_entirely(engine) -> None:
    import_generation(engine, units_frame(), name="2024", valid_from=D(2024, 1, 1))
    wrong = import_generation(engine, units_frame(), name="2025-wrong", valid_from=D(2025, 1, 1))
    withdraw_generation(engine, wrong.id, D(2025, 1, 1), reason="wrong codes", by="cli:test")
    fixed = import_generation(engine, units_frame(), name="2025-fixed", valid_from=D(2025, 1, 1))
    assert generation_at(engine, D(2025, 6, 1)).id == fixed.id
