"""The on-disk index cache: keyed by content, loaded memory-mapped with the same
answers, written whole or not at all, and built again (with a warning) when an entry
is damaged or stale."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from boundaries.index_cache import FORMAT, IndexCache, cache_key
from boundaries.service import BoundaryService
from store.content import content_digest
from store.engine import make_engine, upgrade
from store.generations import import_generation
from tests.common import C111, CASES, UNITS, build_index, case_arrays
from tests.conftest import units_frame


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'siji.db'}")
    upgrade(engine)
    import_generation(engine, units_frame(), name="toy", valid_from=dt.date(2024, 1, 1))
    yield engine
    engine.dispose()


def _columns(result):  # type: ignore[no-untyped-def]
    return {k: np.asarray(v).astype(str).tolist() for k, v in result.columns().items()}


def test_a_loaded_index_answers_as_the_built_one(tmp_path: Path) -> None:
    built = build_index(UNITS)
    cache = IndexCache(tmp_path / "cache")
    cache.save("entry", built)
    loaded = cache.load("entry")
    assert loaded is not None
    assert isinstance(loaded.grids[3].cells.base, np.memmap) or isinstance(loaded.grids[3].cells, np.memmap)
    lon, lat = case_arrays(CASES)
    lon = np.concatenate([lon, lon + 0.2, [200.0]])  # and outside: the raster and the snapper
    lat = np.concatenate([lat, lat, [0.0]])
    assert _columns(loaded.lookup(lon, lat)) == _columns(built.lookup(lon, lat))
    for x, y in zip(lon.tolist(), lat.tolist(), strict=True):  # the single-point path too
        assert loaded.resolve_one(x, y) == built.resolve_one(x, y)


def test_the_key_follows_content_and_snap_distance(engine) -> None:  # type: ignore[no-untyped-def]
    renamed = units_frame()
    renamed.loc[renamed["code"] == C111, "name"] = "新名社区"
    same = import_generation(engine, units_frame(), name="same", valid_from=dt.date(2025, 1, 1))
    other = import_generation(engine, renamed, name="renamed", valid_from=dt.date(2026, 1, 1))
    first = content_digest(engine, 1)
    assert content_digest(engine, same.id) == first
    assert content_digest(engine, other.id) != first
    assert cache_key(first, 50.0) != cache_key(first, 30.0)


def test_the_service_loads_what_it_stored(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cache = IndexCache(tmp_path / "cache")
    BoundaryService(engine, index_cache=cache).index()
    entries = [p for p in cache.root.iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1
    # A fresh service (a fresh process) loads it instead of building.
    fresh = BoundaryService(engine, index_cache=cache)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("boundaries.bundled.index_from_frame", _must_not_build)
        _, index = fresh.index()
    assert index.lookup(*case_arrays(CASES)).status_names().tolist() == [c.status for c in CASES]


@pytest.mark.parametrize(
    "damage",
    ["truncate an array", "delete an array", "garble the manifest", "an older format"],
)
def test_a_damaged_or_stale_entry_is_built_again_with_a_warning(
    engine, tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:  # type: ignore[no-untyped-def]
    cache = IndexCache(tmp_path / "cache")
    BoundaryService(engine, index_cache=cache).index()
    (entry,) = [p for p in cache.root.iterdir() if not p.name.startswith(".")]
    if damage == "truncate an array":
        path = entry / "grid3_bordered.npy"
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "delete an array":
        (entry / "codes.npy").unlink()
    elif damage == "garble the manifest":
        (entry / "manifest.json").write_text("{not json")
    else:
        manifest = json.loads((entry / "manifest.json").read_text())
        manifest["format"] = FORMAT - 1
        (entry / "manifest.json").write_text(json.dumps(manifest))
    with caplog.at_level(logging.WARNING, logger="siji.boundaries"):
        _, index = BoundaryService(engine, index_cache=cache).index()
    assert "unreadable" in caplog.text
    assert str(entry) in caplog.text
    assert index.lookup(*case_arrays(CASES)).status_names().tolist() == [c.status for c in CASES]
    # ... and stored again, whole.
    assert cache.load(entry.name) is not None


def test_an_unwritable_cache_is_a_warning_not_a_failure(
    engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with caplog.at_level(logging.WARNING, logger="siji.boundaries"):
        _, index = BoundaryService(engine, index_cache=IndexCache(blocked / "cache")).index()
    assert "cannot write the index cache" in caplog.text
    assert index.lookup(*case_arrays(CASES[:3])).status_names().tolist() == [c.status for c in CASES[:3]]


def _must_not_build(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("the index was built although the cache holds it")
