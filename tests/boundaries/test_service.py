"""BoundaryService: the active generation as lookups see it."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

import boundaries.service as service_module
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

    def slow_generation_at(engine: object, at: dt.date | None = None) -> GenerationInfo:
        calls.append(at)
        release.wait(30)
        return generation_at(service.engine, at)

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
