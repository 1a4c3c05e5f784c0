"""The green-space register on SQLite and PostGIS: import, replace, read back, remove, migrate."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import shapely

from geo.errors import InvalidInputError
from greenspace.read import read_green_spaces
from store.engine import make_engine, upgrade
from store.greenspace import (
    import_green_spaces,
    load_green_spaces,
    plan_import,
    register_counts,
    remove_source,
)
from tests.common import green_spaces


@pytest.fixture
def engine(database_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def register(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "parks.gpkg"
    green_spaces().assign(管理单位="园林局").to_file(path)
    return read_green_spaces(path)


def test_round_trip_keeps_every_coordinate_and_field(engine, register) -> None:
    plan = import_green_spaces(engine, register, source="园林局台账")
    assert (plan.added, plan.replaced, plan.register_before, plan.register_after) == (4, 0, 0, 4)
    assert plan.by_kind == {"park": 1, "square": 1, "pocket_park": 2}
    total, stored = load_green_spaces(engine)
    assert total == 4
    assert stored["name"].tolist() == register["name"].tolist()
    assert stored["kind"].tolist() == register["kind"].tolist()
    assert stored["code"].tolist() == ["P001", "P002", "P003", "P004"]
    assert stored["opened_on"].tolist() == register["opened_on"].tolist()
    assert np.allclose(stored["area_m2"].to_numpy(), register["area_m2"].to_numpy(), equal_nan=True)
    assert set(stored["source"]) == {"园林局台账"}
    assert stored["properties"].iloc[0] == {"管理单位": "园林局"}
    assert stored.crs.to_epsg() == 4326
    for mine, theirs in zip(stored.geometry, register.geometry, strict=True):
        assert np.array_equal(shapely.get_coordinates(mine), shapely.get_coordinates(theirs))
        assert mine.geom_type == theirs.geom_type


def test_a_source_is_imported_once_then_replaced_as_a_whole(engine, register) -> None:
    import_green_spaces(engine, register, source="a")
    import_green_spaces(engine, register.iloc[:1], source="b")
    refused = r"already holds 4 green space\(s\) from source 'a'; import with "
    with pytest.raises(InvalidInputError, match=refused):
        import_green_spaces(engine, register, source="a")
    assert load_green_spaces(engine)[0] == 5  # the refused import stored nothing
    plan = import_green_spaces(engine, register.iloc[:2], source="a", replace=True)
    assert (plan.replaced, plan.added, plan.register_after) == (4, 2, 3)
    assert register_counts(engine) == {"a": {"park": 1, "square": 1}, "b": {"park": 1}}


def test_the_same_place_twice_is_pointed_out(engine, register) -> None:
    import_green_spaces(engine, register, source="a")
    plan = plan_import(engine, register.iloc[[0, 2]], source="b")
    assert plan.already_registered == ["泰山公园", "青年路口袋公园"]
    assert plan_import(engine, register, source="a", replace=True).already_registered == []


def test_filters_pages_and_what_is_open_on_a_date(engine, register) -> None:
    import_green_spaces(engine, register, source="a")
    pocket = load_green_spaces(engine, kinds=["pocket_park"])[1]
    assert pocket["name"].tolist() == ["青年路口袋公园", "新建口袋公园"]
    assert load_green_spaces(engine, name_prefix="泰山")[1]["name"].tolist() == ["泰山公园"]
    assert load_green_spaces(engine, name_prefix="%")[0] == 0  # LIKE wildcards are text
    total, page = load_green_spaces(engine, limit=2, offset=1)
    assert (total, page["name"].tolist()) == (4, ["岱庙广场", "青年路口袋公园"])
    open_today = load_green_spaces(engine, open_on=dt.date(2026, 1, 1))[1]
    assert "新建口袋公园" not in open_today["name"].tolist()  # opens in 2099
    assert load_green_spaces(engine, source="nope")[0] == 0
    empty = load_green_spaces(engine, kinds=[])[1]
    assert empty.empty
    assert empty.crs.to_epsg() == 4326


def test_removing_a_source_is_a_dry_run_by_default(engine, register) -> None:
    import_green_spaces(engine, register, source="a")
    assert remove_source(engine, "a") == 4
    assert load_green_spaces(engine)[0] == 4
    assert remove_source(engine, "a", dry_run=False) == 4
    assert load_green_spaces(engine)[0] == 0
    with pytest.raises(InvalidInputError, match=r"the register has no source 'a'; allowed: none yet"):
        remove_source(engine, "a")


@pytest.mark.parametrize("source", ["", " ", "x" * 201])
def test_bad_source_names(engine, register, source: str) -> None:
    with pytest.raises(InvalidInputError, match=r"allowed: a name of 1 to 200 characters"):
        plan_import(engine, register, source=source)


def test_0007_upgrades_a_database_with_data_and_downgrades(database_url: str, register) -> None:
    from sqlalchemy import inspect, text

    from store.engine import migrate

    engine = make_engine(database_url)
    try:
        migrate(engine, "upgrade", "0003")
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO generations (id, name, valid_from, source, unit_count, notes) "
                     "VALUES (1, 'g', '2024-01-01', '', 0, '{}')")
            )  # fmt: skip
        migrate(engine, "upgrade", "head")
        assert "green_spaces" in inspect(engine).get_table_names()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT name FROM generations")).scalar() == "g"  # kept
        import_green_spaces(engine, register, source="a")
        migrate(engine, "downgrade", "0003")
        assert "green_spaces" not in inspect(engine).get_table_names()
        migrate(engine, "upgrade", "head")
        assert load_green_spaces(engine)[0] == 0
    finally:
        engine.dispose()
