"""Photo files under the media directory (``SIJI_MEDIA_DIR``), written so that none is orphaned.

A photo is two files: ``<root>/<ab>/<name>`` (the re-encoded image) and
``<root>/<ab>/<name>.thumb`` (its JPEG thumbnail), where ``name`` is the random key of
its :class:`~store.models.Photo` row and ``ab`` its first two characters.

The files and the row are written in two phases, so that a request refused, rolled
back or killed leaves no file without a row, and no row without its file:

1. :meth:`MediaStore.stage` writes the files to ``<root>/.incoming/`` (fsynced),
   before the transaction that adds the rows;
2. after the commit, :meth:`MediaStore.publish` renames them into place; on any
   failure, :meth:`MediaStore.discard` removes them.

A process killed between the two leaves staged files: :meth:`MediaStore.recover`
(run at start, and by :meth:`MediaStore.locate` for the file it is asked for)
publishes those whose row exists and removes the others once they are older than any
request can take.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Photo

if TYPE_CHECKING:
    from sqlalchemy import Engine

INCOMING = ".incoming"
THUMBNAIL_SUFFIX = ".thumb"
STALE_AFTER_S = 3600.0
"""A staged file with no row this old is left over from a request that failed or was killed."""


class Storable(Protocol):
    """What a photo to store has (see :class:`routing.photos.PreparedPhoto`)."""

    @property
    def name(self) -> str: ...

    @property
    def data(self) -> bytes: ...

    @property
    def thumbnail(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Staged:
    """Files staged for one request: the photos' names."""

    names: tuple[str, ...] = ()


class MediaStore:
    """Photo files under ``root`` (created when the first photo is staged).

    Examples
    --------
    >>> import tempfile
    >>> from types import SimpleNamespace
    >>> store = MediaStore(tempfile.mkdtemp())
    >>> staged = store.stage([SimpleNamespace(name="ab12cd34ef", data=b"img", thumbnail=b"th")])
    >>> store.final_path("ab12cd34ef").exists()  # staged, not yet published
    False
    >>> store.publish(staged)
    >>> store.locate("ab12cd34ef").read_bytes(), store.locate("ab12cd34ef", thumbnail=True).read_bytes()
    (b'img', b'th')
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @property
    def incoming(self) -> Path:
        return self.root / INCOMING

    def final_path(self, name: str, thumbnail: bool = False) -> Path:
        """Where a published photo (or its thumbnail) is."""
        _check_name(name)
        return self.root / name[:2] / (name + (THUMBNAIL_SUFFIX if thumbnail else ""))

    def stage(self, photos: Sequence[Storable]) -> Staged:
        """Write the photos' files to the staging directory, flushed to disk."""
        if not photos:
            return Staged()
        self.incoming.mkdir(parents=True, exist_ok=True)
        written: list[str] = []
        try:
            for photo in photos:
                _check_name(photo.name)
                _write(self.incoming / photo.name, photo.data)
                written.append(photo.name)
                _write(self.incoming / (photo.name + THUMBNAIL_SUFFIX), photo.thumbnail)
        except BaseException:
            self.discard(Staged(tuple(written)))
            raise
        return Staged(tuple(written))

    def publish(self, staged: Staged) -> None:
        """Move staged files into place (their rows are committed)."""
        for name in staged.names:
            self._publish(name)

    def _publish(self, name: str) -> None:
        target = self.final_path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", THUMBNAIL_SUFFIX):
            source = self.incoming / (name + suffix)
            with contextlib.suppress(FileNotFoundError):  # published already (a racing recovery)
                os.replace(source, target.parent / (name + suffix))
        _fsync_dir(target.parent)

    def discard(self, staged: Staged) -> None:
        """Remove staged files (their transaction did not commit)."""
        for name in staged.names:
            for suffix in ("", THUMBNAIL_SUFFIX):
                with contextlib.suppress(FileNotFoundError):
                    (self.incoming / (name + suffix)).unlink()

    def locate(self, name: str, thumbnail: bool = False) -> Path | None:
        """The file of a photo whose row exists: published now if a killed request left it staged."""
        path = self.final_path(name, thumbnail)
        if path.is_file():
            return path
        if (self.incoming / (name + (THUMBNAIL_SUFFIX if thumbnail else ""))).is_file():
            self._publish(name)
            return path if path.is_file() else None
        return None

    def recover(self, engine: Engine, stale_after_s: float = STALE_AFTER_S) -> tuple[int, int]:
        """Publish the staged photos whose rows committed; remove staged files older than
        ``stale_after_s`` without a row.  Returns (published, removed)."""
        if not self.incoming.is_dir():
            return 0, 0
        staged = {entry.name.removesuffix(THUMBNAIL_SUFFIX) for entry in self.incoming.iterdir()}
        known = _known(engine, staged)
        published = removed = 0
        cutoff = time.time() - stale_after_s
        for name in sorted(staged):
            if name in known:
                self._publish(name)
                published += 1
                continue
            for suffix in ("", THUMBNAIL_SUFFIX):
                path = self.incoming / (name + suffix)
                with contextlib.suppress(FileNotFoundError):
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
        return published, removed

    def files(self) -> list[Path]:
        """Every file under the root (published and staged), for checks."""
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.rglob("*") if p.is_file())


def _known(engine: Engine, names: Iterable[str]) -> set[str]:
    wanted = sorted(names)
    found: set[str] = set()
    with Session(engine) as session:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            found |= set(session.scalars(select(Photo.name).where(Photo.name.in_(chunk))))
    return found


def _check_name(name: str) -> None:
    # Names are random hex made by routing.photos; anything else must never become a path.
    if len(name) < 8 or not all(c in "0123456789abcdef" for c in name):
        raise ValueError(f"photo name {name!r} is not a hex key")


def _write(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
