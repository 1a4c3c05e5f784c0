"""A fresh process's lookup from the index cache (boundaries/cached_start.py): the
service's answer from the same generation, and None (the service's path) whenever
anything is not plain."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from boundaries.cached_start import cached_answer
from boundaries.index_cache import IndexCache
from boundaries.service import BoundaryService
from geo.errors import SijiError
from store.engine import make_engine, upgrade
from store.generations import import_generation
from tests.common import C111, CASES, SNAP_M
from tests.conftest import units_frame

TODAY = dt.date.today()
OUTSIDE = (117.1, 37.9)
REJECTED = {"swapped": (36.17, 117.07), "not a number": (float("nan"), 36.2), "out of range": (117.07, 95.0)}


@pytest.fixture
def setup(tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'siji.db'}"
    engine = make_engine(url)
    upgrade(engine)
    import_generation(engine, units_frame(), name="toy", valid_from=dt.date(2024, 1, 1))
    cache = IndexCache(tmp_path / "cache")
    service = BoundaryService(engine, SNAP_M, index_cache=cache)
    service.index()  # stores the checked index, as a first siji lookup does
    yield url, cache, service, engine
    engine.dispose()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_same_answer_as_the_service(setup, case) -> None:  # type: ignore[no-untyped-def]
    url, cache, service, _ = setup
    answer = cached_answer(url, cache.root, SNAP_M, case.lon, case.lat, "wgs84")
    assert answer == service.lookup_point(case.lon, case.lat, "wgs84")
    assert answer is not None
    assert answer["status"] == case.status


def test_a_point_far_outside(setup) -> None:  # type: ignore[no-untyped-def]
    url, cache, service, _ = setup
    answer = cached_answer(url, cache.root, SNAP_M, *OUTSIDE)
    assert answer == service.lookup_point(*OUTSIDE)
    assert answer is not None
    assert answer["status"] == "outside"


@pytest.mark.parametrize("point", REJECTED.values(), ids=list(REJECTED))
def test_points_the_service_rejects_take_its_path(setup, point: tuple[float, float]) -> None:  # type: ignore[no-untyped-def]
    url, cache, service, _ = setup
    assert cached_answer(url, cache.root, SNAP_M, *point) is None
    with pytest.raises(SijiError):  # there, the error that names the value
        service.lookup_point(*point)


def test_the_generation_answering_today(setup) -> None:  # type: ignore[no-untyped-def]
    url, cache, _service, engine = setup
    later = units_frame()
    later.loc[later["code"] == C111, "name"] = "新名社区"
    import_generation(engine, later, name="today", valid_from=TODAY)
    import_generation(engine, units_frame(), name="tomorrow", valid_from=TODAY + dt.timedelta(days=1))
    case = next(c for c in CASES if c.owner == C111 and c.status == "ok")
    assert cached_answer(url, cache.root, SNAP_M, case.lon, case.lat) is None  # not cached yet
    fresh = BoundaryService(engine, SNAP_M, index_cache=cache)
    expected = fresh.lookup_point(case.lon, case.lat)
    assert expected["generation"]["name"] == "today"
    assert expected["community"]["name"] == "新名社区"
    assert cached_answer(url, cache.root, SNAP_M, case.lon, case.lat) == expected


def _point() -> tuple[float, float]:
    return CASES[0].lon, CASES[0].lat


def test_another_snap_distance_is_another_entry(setup) -> None:  # type: ignore[no-untyped-def]
    url, cache, *_ = setup
    assert cached_answer(url, cache.root, SNAP_M + 1, *_point()) is None


def test_a_schema_behind_the_head_takes_the_service_path(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, cache, *_ = setup
    with sqlite3.connect(tmp_path / "siji.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0001'")
    assert cached_answer(url, cache.root, SNAP_M, *_point()) is None


def test_a_missing_cache_or_database_takes_the_service_path(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, cache, *_ = setup
    assert cached_answer(url, None, SNAP_M, *_point()) is None
    assert cached_answer(url, tmp_path / "elsewhere", SNAP_M, *_point()) is None
    missing = tmp_path / "missing.db"
    assert cached_answer(f"sqlite:///{missing}", cache.root, SNAP_M, *_point()) is None
    assert not missing.exists()  # never created here


@pytest.mark.parametrize(
    "url",
    ["postgresql://siji@localhost/siji", "sqlite://", "sqlite:///:memory:", "sqlite:///x.db?mode=ro"],
)
def test_other_databases_take_the_service_path(setup, url: str) -> None:  # type: ignore[no-untyped-def]
    _, cache, *_ = setup
    assert cached_answer(url, cache.root, SNAP_M, *_point()) is None


def test_no_generation_valid_today_takes_the_service_path(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'siji.db'}"
    engine = make_engine(url)
    upgrade(engine)
    cache = IndexCache(tmp_path / "cache")
    assert cached_answer(url, cache.root, SNAP_M, *_point()) is None  # none imported
    import_generation(engine, units_frame(), name="future", valid_from=TODAY + dt.timedelta(days=30))
    assert cached_answer(url, cache.root, SNAP_M, *_point()) is None
    engine.dispose()


def test_a_damaged_entry_takes_the_service_path_which_builds_it_again(setup) -> None:  # type: ignore[no-untyped-def]
    url, cache, _, engine = setup
    (entry,) = [p for p in cache.root.iterdir() if not p.name.startswith(".")]
    (entry / "codes.npy").write_bytes(b"garbage")
    assert cached_answer(url, cache.root, SNAP_M, *_point()) is None
    expected = BoundaryService(engine, SNAP_M, index_cache=cache).lookup_point(*_point())
    assert cached_answer(url, cache.root, SNAP_M, *_point()) == expected
