"""BoundaryService: the active generation as lookups see it."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import Engine

import boundaries.bundled as bundled_module
import boundaries.service as service_module
from boundaries.bundled import IndexCheckError, checked_index
from boundaries.service import BoundaryService
from geo.errors import NotFoundError
from geo.index import OK
from store.engine import make_engine, upgrade
from store.generations import GenerationInfo, generation_at, import_generation
from tests.common import C111, lonlat
from tests.conftest import units_frame, wait_for

IN_C111 = lonlat(1, 1)


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BoundaryService]:
    """The toy set, with the active generation remembered for no time at all: every
    cached_index() finds it due to be read again."""
    monkeypatch.setattr(service_module, "ACTIVE_TTL_S", 0.0)
    engine = make_engine(f"sqlite:///{tmp_path / 'siji.db'}")
    upgrade(engine)
    import_generation(engine, units_frame(), name="toy", valid_from=dt.date(2024, 1, 1))
    boundaries = BoundaryService(engine)
    boundaries.index()  # remembers "toy" as active and builds its index
    yield boundaries
    wait_for(boundaries._rereading.locked, False)
    engine.dispose()


def _active_name(boundaries: BoundaryService) -> str | None:
    ready = boundaries.cached_index()
    return None if ready is None else ready[0].name


def test_a_new_generation_answers_once_its_index_is_built(service: BoundaryService) -> None:
    renamed = units_frame()
    renamed.loc[renamed["code"] == C111, "name"] = "新名社区"
    import_generation(service.engine, renamed, name="renamed", valid_from=dt.date(2025, 1, 1))
    # The lookup that finds the generation due is answered at once, from the one in memory.
    assert _active_name(service) == "toy"
    wait_for(partial(_active_name, service), "renamed")
    ready = service.cached_index()
    assert ready is not None
    generation, index = ready
    found = index.resolve_one(*IN_C111)
    assert found is not None
    assert index.units.answer(found[0], OK)["community"] == {"code": C111, "name": "新名社区"}
    assert generation.id in service._indexes


def test_one_thread_reads_the_generation_however_many_lookups_find_it_due(
    service: BoundaryService, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    calls: list[dt.date | None] = []

    def slow_generation_at(engine: Engine, at: dt.date | None = None) -> GenerationInfo:
        # The patch is module-wide: a watcher another test left running reads its own
        # database through it too, and is not counted.
        if engine is service.engine:
            calls.append(at)
            release.wait(30)
        return generation_at(engine, at)

    monkeypatch.setattr(service_module, "generation_at", slow_generation_at)
    names = {_active_name(service) for _ in range(200)}
    release.set()
    assert names == {"toy"}  # nobody waited for the database
    assert len(calls) == 1


def test_an_unreachable_database_leaves_lookups_on_the_index_in_memory(
    service: BoundaryService, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def failing_generation_at(engine: object, at: dt.date | None = None) -> GenerationInfo:
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(service_module, "generation_at", failing_generation_at)
    with caplog.at_level(logging.WARNING, logger="siji.boundaries"):
        assert _active_name(service) == "toy"
        wait_for(service._rereading.locked, False)
    assert _active_name(service) == "toy"
    assert "re-reading the active boundary generation failed" in caplog.text


def test_no_valid_generation_sends_lookups_to_the_path_that_says_so(
    service: BoundaryService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_generation(engine: object, at: dt.date | None = None) -> GenerationInfo:
        raise NotFoundError("no boundary generation is valid on 2026-01-01", at="2026-01-01")

    monkeypatch.setattr(service_module, "generation_at", no_generation)
    assert _active_name(service) == "toy"
    wait_for(service.cached_index, None)
    with pytest.raises(NotFoundError, match="no boundary generation is valid"):
        service.index()


def _renamed(name: str = "新名社区"):  # type: ignore[no-untyped-def]
    frame = units_frame()
    frame.loc[frame["code"] == C111, "name"] = name
    return frame


def test_listeners_hear_of_each_switch_once(service: BoundaryService) -> None:
    heard: list[tuple[str | None, str]] = []
    service.listeners.append(lambda old, new, _index: heard.append((old and old.name, new.name)))
    import_generation(service.engine, _renamed(), name="renamed", valid_from=dt.date(2025, 1, 1))
    service.refresh()
    service.refresh()
    assert heard == [("toy", "renamed")]


def test_a_failing_build_keeps_the_last_good_generation_and_says_why(
    service: BoundaryService, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_generation(service.engine, _renamed(), name="renamed", valid_from=dt.date(2025, 1, 1))
    calls: list[int] = []

    def failing(frame, snap_distance_m):  # type: ignore[no-untyped-def]
        calls.append(len(frame))
        raise IndexCheckError("the index answers wrongly for 1 of 10 units")

    monkeypatch.setattr(bundled_module, "checked_index", failing)
    service.refresh()
    service.refresh()  # within REBUILD_AFTER_S: not tried again
    assert _active_name(service) == "toy"
    assert len(calls) == 1
    detail = service.readiness_detail()
    assert detail["serving"]["name"] == "toy"
    assert detail["failed"]["name"] == "renamed"
    assert "cannot be used: the index answers wrongly" in detail["failed"]["reason"]


def test_at_start_a_failing_generation_falls_back_to_the_one_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'siji.db'}")
    upgrade(engine)
    import_generation(engine, units_frame(), name="toy", valid_from=dt.date(2024, 1, 1))
    import_generation(engine, _renamed(), name="renamed", valid_from=dt.date(2025, 1, 1))

    def failing_for_renamed(frame, snap_distance_m):  # type: ignore[no-untyped-def]
        if "新名社区" in set(frame["name"]):
            raise IndexCheckError("the index answers wrongly for 1 of 10 units")
        return checked_index(frame, snap_distance_m)

    monkeypatch.setattr(bundled_module, "checked_index", failing_for_renamed)
    boundaries = BoundaryService(engine)
    generation, _ = boundaries.index()
    assert generation.name == "toy"
    assert boundaries.failure is not None
    assert boundaries.failure.generation.name == "renamed"
    engine.dispose()


def test_concurrent_callers_share_one_build(
    service: BoundaryService, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_generation(service.engine, _renamed(), name="renamed", valid_from=dt.date(2025, 1, 1))
    generation = generation_at(service.engine, dt.date(2025, 6, 1))
    builds: list[int] = []

    def counted(frame, snap_distance_m):  # type: ignore[no-untyped-def]
        builds.append(1)
        return checked_index(frame, snap_distance_m)

    monkeypatch.setattr(bundled_module, "checked_index", counted)
    threads = [threading.Thread(target=service.index_of, args=(generation,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1


def test_the_served_index_is_never_evicted(service: BoundaryService) -> None:
    service.cache_size = 1
    for year in (2021, 2022, 2023):
        import_generation(service.engine, units_frame(), name=f"old-{year}", valid_from=dt.date(year, 1, 1))
        service.index(dt.date(year, 6, 1))
    assert service.cached_index() is not None
