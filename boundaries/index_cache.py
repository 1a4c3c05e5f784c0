"""Built lookup indexes kept on disk, one per generation content, memory-mapped on load.

Building the bundled set's index takes 1-2 s; loading it from here takes a few
milliseconds (the rasters are memory-mapped, not read), so a fresh ``siji lookup``,
``siji lookup-batch`` or a second ``siji serve`` start does not pay for a build.

Layout: ``<root>/<key>/`` holds ``manifest.json`` and one ``.npy`` file per array
(``np.load(mmap_mode="r")``).  The key is a digest of the generation's content
(:func:`store.content.content_digest`), the snap distance and :data:`FORMAT`, so a
changed set, a changed setting or a new layout never reads an old entry.  Entries are
written into a temporary directory next to their place and renamed into it: a
reader sees a whole entry or none.  An entry that cannot be read (a missing or
truncated file, a manifest that does not match) is reported with a warning, removed
and built again.

The polygons are stored as WKB and decoded only when a lookup first needs an exact
test or a snap (see :meth:`geo.index.JurisdictionIndex.from_parts`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import threading
import uuid
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from geo.index import JurisdictionIndex

FORMAT = 3
"""Layout version of an entry; a change makes every older entry a miss (3: the snap
plane's origin is rounded to 1e-9 degrees, see :func:`geo.snap.snap_projection`)."""

logger = logging.getLogger("siji.boundaries")


def default_root() -> Path:
    """``SIJI_INDEX_CACHE_DIR`` when unset: ``$XDG_CACHE_HOME/siji/indexes``, else
    ``~/.cache/siji/indexes``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "siji" / "indexes"


def cache_key(content_digest: str, snap_distance_m: float) -> str:
    """The entry name for a generation's content and the index's snap distance.

    Examples
    --------
    >>> cache_key("0" * 32, 50.0) == cache_key("0" * 32, 50.0) != cache_key("0" * 32, 40.0)
    True
    """
    text = f"siji-index/{FORMAT}/{content_digest}/{float(snap_distance_m)!r}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class IndexCache:
    """Built indexes under ``root`` (created on first write).

    Examples
    --------
    >>> import tempfile
    >>> from shapely import box
    >>> from geo.index import JurisdictionIndex
    >>> cache = IndexCache(tempfile.mkdtemp())
    >>> index = JurisdictionIndex.from_arrays(["C"], ["c"], ["city"], [None], [box(117, 36, 118, 37)])
    >>> cache.save("k1", index)
    >>> cache.load("k1").lookup([117.5, 120.0], [36.5, 36.5]).status_names().tolist()
    ['ok', 'outside']
    >>> cache.load("k2") is None
    True
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @classmethod
    def at(cls, root: str | os.PathLike[str] | None) -> IndexCache | None:
        """A cache under ``root``, None when ``root`` is None (the cache turned off)."""
        return None if root is None else cls(root)

    def load(self, key: str) -> JurisdictionIndex | None:
        """The index stored under ``key``, None if there is none or it is unreadable
        (then it is removed, with a warning naming what is wrong)."""
        entry = self.root / key
        if not entry.is_dir():
            return None
        try:
            return _read(entry, key)
        except Exception as exc:  # any damage means "build it again", never a failed lookup
            logger.warning("index cache entry %s is unreadable (%s); building the index again", entry, exc)
            _remove(entry)
            return None

    def save(self, key: str, index: JurisdictionIndex) -> None:
        """Store ``index`` under ``key`` (its outside structures built first).  A failure
        to write is a warning: the index in memory still answers."""
        index.prepare_snapping()
        temporary = self.root / f".{key}.{uuid.uuid4().hex[:12]}.partial"
        try:
            temporary.mkdir(parents=True)
            _write(temporary, key, index)
            entry = self.root / key
            if entry.exists():  # unreadable before, or written meanwhile by another process
                _remove(entry)
            os.rename(temporary, entry)
        except OSError as exc:
            logger.warning(
                "cannot write the index cache under %s (%s); continuing without it", self.root, exc
            )
            _remove(temporary)


def _remove(path: Path) -> None:
    # Renamed away first, so that a reader never sees a half-removed entry.
    doomed = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.removed")
    with contextlib.suppress(OSError):
        os.rename(path, doomed)
        path = doomed
    shutil.rmtree(path, ignore_errors=True)


def _write(folder: Path, key: str, index: JurisdictionIndex) -> None:
    from geo.index import OutsideParts

    units = index.units
    arrays: dict[str, NDArray[Any]] = {
        "codes": np.asarray(units.codes.tolist(), dtype=str),
        "names": np.asarray(units.names.tolist(), dtype=str),
        "ranks": units.ranks,
        "parents": units.parents,
    }
    import shapely

    wkb = shapely.to_wkb(index.geometries).tolist()
    arrays["wkb"] = np.frombuffer(b"".join(wkb), dtype=np.uint8)
    arrays["wkb_offsets"] = np.concatenate([[0], np.cumsum([len(b) for b in wkb])]).astype(np.int64)
    grids: dict[str, Any] = {}
    for rank, grid in index.grids.items():
        grids[str(rank)] = grid.scalars()
        for name, array in grid.arrays().items():
            arrays[f"grid{rank}_{name}"] = array
    outside = index._outside
    assert isinstance(outside, OutsideParts)
    raster = outside.raster
    arrays["outside_raster"] = raster.outside
    arrays["leaf_rows"] = outside.leaf_rows
    start, end, owner = outside.segments
    arrays.update(segment_start=start, segment_end=end, segment_owner=owner)
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
    manifest = {
        "format": FORMAT,
        "key": key,
        "units": len(units),
        "arrays": sorted(arrays),
        "grids": grids,
        "snap_distance_m": index.snap_distance_m,
        "bounds": list(index.bounds),
        "projection": outside.projection,
        "outside": {"x0": raster.x0, "y0": raster.y0, "cell": raster.cell},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))


def _read(entry: Path, key: str) -> JurisdictionIndex:
    from geo.grid import LevelGrid
    from geo.index import JurisdictionIndex, OutsideParts, UnitTable
    from geo.snap import OutsideRaster

    manifest = json.loads((entry / "manifest.json").read_text())
    if manifest.get("format") != FORMAT or manifest.get("key") != key:
        raise ValueError(f"the manifest is for {manifest.get('key')!r}, format {manifest.get('format')!r}")
    arrays = {
        name: np.load(entry / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in manifest["arrays"]
    }
    n = int(manifest["units"])
    if not (len(arrays["codes"]) == len(arrays["ranks"]) == len(arrays["wkb_offsets"]) - 1 == n):
        raise ValueError(f"the unit arrays do not hold the manifest's {n} units")
    if int(arrays["wkb_offsets"][-1]) != len(arrays["wkb"]):
        raise ValueError("the polygons' WKB is cut short")
    units = UnitTable(
        arrays["codes"].astype(object),
        arrays["names"].astype(object),
        np.asarray(arrays["ranks"]),
        np.asarray(arrays["parents"]),
    )
    blob, offsets = arrays["wkb"], arrays["wkb_offsets"].tolist()
    decoded = np.empty(n, dtype=object)
    done = np.zeros(n, dtype=bool)
    decoding = threading.Lock()

    def polygons(rows: NDArray[np.intp]) -> NDArray[np.object_]:
        # Decoded on first need, each once: a level's grid decodes its own rows (a point
        # snapped to the city's edge decodes the city and not 3,700 communities), and
        # every grid and the index share the polygon objects.
        with decoding:
            missing = rows[~done[rows]]
            if len(missing):
                import shapely  # here: a lookup away from every edge never decodes a polygon

                pieces = [blob[offsets[i] : offsets[i + 1]].tobytes() for i in missing.tolist()]
                decoded[missing] = shapely.from_wkb(np.asarray(pieces, dtype=object))
                done[missing] = True
        picked: NDArray[np.object_] = decoded[rows]
        return picked

    every_row = np.arange(n)

    rows_by_rank = {int(r): np.flatnonzero(units.ranks == int(r)) for r in manifest["grids"]}
    grids = {}
    for rank_text, scalars in manifest["grids"].items():
        rank = int(rank_text)
        grid_arrays = {
            name: arrays[f"grid{rank}_{name}"]
            for name in ("bordered", "candidate_offsets", "candidates", "tile_of_leaf", "tiles")
        }
        grids[rank] = LevelGrid.from_arrays(grid_arrays, scalars, partial(polygons, rows_by_rank[rank]))
    spec = manifest["outside"]
    outside = OutsideParts(
        OutsideRaster.from_arrays(arrays["outside_raster"], spec["x0"], spec["y0"], spec["cell"]),
        np.asarray(arrays["leaf_rows"]),
        (arrays["segment_start"], arrays["segment_end"], arrays["segment_owner"]),
        manifest["projection"],
    )
    minx, miny, maxx, maxy = (float(v) for v in manifest["bounds"])
    bounds = (minx, miny, maxx, maxy)
    return JurisdictionIndex.from_parts(
        units,
        partial(polygons, every_row),
        dict(sorted(grids.items())),
        manifest["snap_distance_m"],
        bounds,
        outside,
    )
