"""Photo files written in two phases: nothing orphaned by a refused, rolled-back or killed request."""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from boundaries.service import BoundaryService
from routing.access import Principal
from routing.intake import ReportIn
from routing.service import ReportService
from store.engine import make_engine, upgrade
from store.generations import import_generation
from store.media import MediaStore
from tests.common import C121
from tests.conftest import TOY_VALID_FROM, units_frame
from tests.images import png
from tests.routing.test_service import IN_C121


def _photo(name: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, data=b"image-" + name.encode(), thumbnail=b"thumb")


def test_staged_published_and_discarded(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    assert store.stage([]).names == ()
    kept, dropped = store.stage([_photo("aa" * 8)]), store.stage([_photo("bb" * 8)])
    store.publish(kept)
    store.discard(dropped)
    assert [p.relative_to(store.root).as_posix() for p in store.files()] == [
        "aa/" + "aa" * 8, "aa/" + "aa" * 8 + ".thumb",
    ]  # fmt: skip
    assert store.locate("bb" * 8) is None


@pytest.mark.parametrize("name", ["../../etc/passwd", "AB12CD34EF", "short"])
def test_names_are_never_paths(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="is not a hex key"):
        MediaStore(tmp_path).stage([_photo(name)])
    assert not (tmp_path / ".incoming").exists() or not any((tmp_path / ".incoming").iterdir())


def test_recovery_publishes_committed_photos_and_removes_stale_leftovers(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    import_generation(engine, units_frame(), name="toy", valid_from=TOY_VALID_FROM)
    store = MediaStore(tmp_path / "media")
    service = ReportService(engine, BoundaryService(engine), secret="media-test-secret-0123", media=store)
    # a process killed between the commit and the rename: the files stay staged
    monkeypatch.setattr(store, "publish", lambda _staged: None)
    photo = service.prepare_photo(png())
    view = service.submit(ReportIn(x=IN_C121[0], y=IN_C121[1], category="S-04-04", description="d",
                                   channel="app", photos=(photo,))).report  # fmt: skip
    monkeypatch.undo()
    stale, fresh = "d0" * 8, "e0" * 8
    store.stage([_photo(stale), _photo(fresh)])  # left by requests that failed before their commit
    old = time.time() - 2 * 3600
    for suffix in ("", ".thumb"):
        os.utime(store.incoming / (stale + suffix), (old, old))
    try:
        assert store.recover(engine) == (1, 2)
        assert store.locate(photo.name) is not None
        assert (store.incoming / fresh).exists()  # a request may still be writing it
        assert not (store.incoming / stale).exists()
        path, _ = service.photo_file(
            view["photos"][0]["id"], Principal("staff", role="planner", unit_key=C121)
        )
        assert path.read_bytes() == photo.data
    finally:
        engine.dispose()


def test_a_photo_left_staged_is_published_when_it_is_asked_for(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    store.stage([_photo("f0" * 8)])  # its row committed (the caller knows), the rename did not happen
    path = store.locate("f0" * 8, thumbnail=True)
    assert path is not None
    assert path.read_bytes() == b"thumb"
    assert not any(store.incoming.iterdir())
