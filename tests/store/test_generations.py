"""Boundary generations on SQLite and PostGIS: import, validity by date, lineage, round trip."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import shapely

from geo.errors import InvalidInputError, NotFoundError
from store.engine import make_engine, upgrade
from store.generations import generation_at, import_generation, lineage, list_generations, load_frame
from tests.common import D2, UNITS
from tests.conftest import TOY_VALID_FROM, units_frame


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


def test_generation_valid_on_a_date(engine) -> None:
    first = import_generation(engine, units_frame(), name="2024", valid_from=dt.date(2024, 1, 1))
    second = import_generation(engine, units_frame(), name="2025", valid_from=dt.date(2025, 1, 1))
    assert generation_at(engine, dt.date(2024, 6, 1)).id == first.id
    assert generation_at(engine, dt.date(2025, 1, 1)).id == second.id
    assert generation_at(engine).id == second.id
    listed = list_generations(engine)
    assert [(g.name, g.valid_to, g.active) for g in listed] == [
        ("2024", dt.date(2025, 1, 1), False),
        ("2025", None, True),
    ]
    with pytest.raises(
        NotFoundError,
        match=r"no boundary generation is valid on 2023-12-31; the earliest is valid from 2024-01-01",
    ):
        generation_at(engine, dt.date(2023, 12, 31))


def test_same_valid_from_twice_is_refused_and_nothing_is_stored(engine) -> None:
    import_generation(engine, units_frame(), name="a", valid_from=TOY_VALID_FROM)
    with pytest.raises(InvalidInputError, match="already valid from 2024-01-01"):
        import_generation(engine, units_frame(), name="b", valid_from=TOY_VALID_FROM)
    assert [g.name for g in list_generations(engine)] == ["a"]


def test_a_code_change_is_recorded_as_lineage(engine) -> None:
    """岱岳区 was 370903 before it became 370911."""
    old = units_frame()
    renamed = {D2: "370903000000"}
    old["code"] = old["code"].replace(renamed)
    old["parent_code"] = old["parent_code"].replace(renamed)
    first = import_generation(engine, old, name="old", valid_from=dt.date(2000, 1, 1))
    second = import_generation(engine, units_frame(), name="new", valid_from=dt.date(2024, 1, 1))
    links = lineage(engine, D2)
    assert links == [
        {
            "predecessor_code": "370903000000",
            "successor_code": D2,
            "generation_id": second.id,
            "predecessor_generation_id": first.id,
            "level": "district",
            "how": "same-area",
        }
    ]
    assert lineage(engine, "370903000000") == links
