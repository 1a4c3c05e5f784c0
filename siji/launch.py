"""The ``siji`` executable: a plain ``siji lookup LON LAT`` answered from the index
cache before the command line is imported, everything else by :mod:`siji.cli`.

The command line (typer, rich, the pydantic settings, SQLAlchemy and the models)
takes 0.3-0.5 s to import on the benchmark machine, several times what a one-point
answer from a cached index costs.  :func:`main` therefore first tries
:func:`boundaries.cached_start.cached_answer` for the one plain form of the command,
``siji lookup LON LAT`` with unsigned decimal coordinates and no options, and prints
its answer with the command's own renderer (:func:`siji.output.print_json`).  It
takes the documented command (:func:`siji.cli.lookup`) whenever that form or the
settings below are not plain, or the cached start cannot answer; so the answers, the
errors and the exit codes are the command's.

Settings read by the fast start, with the defaults of :class:`api.settings.Settings`:
``SIJI_DATABASE_URL`` and ``SIJI_INDEX_CACHE_DIR`` as given, and
``SIJI_SNAP_DISTANCE_M`` when it is a plain number in the allowed range.  A ``.env``
file in the working directory, a variable spelled in another case, or another value
of these sends the command to :class:`~api.settings.Settings`; the other ``SIJI_*``
settings are not read by a lookup (``siji serve`` and the commands that use them
check them).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

_UNSIGNED_DECIMAL = re.compile(r"[0-9]+(\.[0-9]*)?")
_PLAIN_NUMBER = re.compile(r"[0-9]{1,5}(\.[0-9]{1,6})?")
SNAP_MAX_M = 10_000.0
"""``Settings.snap_distance_m``'s upper bound (``le``), which the fast start keeps to."""


def main() -> None:
    """Entry point of the ``siji`` console script and ``python -m siji``."""
    if not _fast_lookup(sys.argv[1:], os.environ):
        from siji.cli import main as cli_main

        cli_main()


def plain_lookup(argv: Sequence[str]) -> tuple[float, float] | None:
    """``(lon, lat)`` of ``siji lookup LON LAT`` in its plain form, else None.

    Examples
    --------
    >>> plain_lookup(["lookup", "117.13", "36.19"])
    (117.13, 36.19)
    >>> plain_lookup(["lookup", "-117.13", "36.19"]), plain_lookup(["lookup", "117", "36", "--crs", "gcj02"])
    (None, None)
    """
    if len(argv) != 3 or argv[0] != "lookup":
        return None
    if not all(_UNSIGNED_DECIMAL.fullmatch(token) for token in argv[1:]):
        return None
    return float(argv[1]), float(argv[2])


def plain_settings(environ: Mapping[str, str], workdir: Path) -> tuple[str, Path, float] | None:
    """(database URL, index cache directory, snap distance) when the settings a lookup
    reads are plain (see the module), else None.

    Examples
    --------
    >>> url, cache, snap = plain_settings({"SIJI_DATABASE_URL": "sqlite:////srv/siji.db",
    ...                                    "SIJI_INDEX_CACHE_DIR": "/srv/cache"}, Path("/nonexistent"))
    >>> url, str(cache), snap
    ('sqlite:////srv/siji.db', '/srv/cache', 50.0)
    >>> plain_settings({"siji_database_url": "sqlite:///x.db"}, Path("/nonexistent")) is None
    True
    >>> plain_settings({"SIJI_SNAP_DISTANCE_M": "1e3"}, Path("/nonexistent")) is None
    True
    """
    from boundaries.index_cache import default_root
    from store.engine import DEFAULT_DATABASE_URL

    read = ("SIJI_DATABASE_URL", "SIJI_INDEX_CACHE_DIR", "SIJI_SNAP_DISTANCE_M")
    if any(name.upper() in read and name not in read for name in environ):
        return None  # Settings reads names in any case; which one wins is its business
    if (workdir / ".env").exists():
        return None
    url = environ.get("SIJI_DATABASE_URL", DEFAULT_DATABASE_URL)
    cache_dir = environ.get("SIJI_INDEX_CACHE_DIR")
    if cache_dir is not None and (not cache_dir.strip() or cache_dir != cache_dir.strip()):
        return None
    snap = environ.get("SIJI_SNAP_DISTANCE_M", "50")
    if not _PLAIN_NUMBER.fullmatch(snap) or float(snap) > SNAP_MAX_M:
        return None
    return url, default_root() if cache_dir is None else Path(cache_dir), float(snap)


def _fast_lookup(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """Answer ``argv`` from the index cache and print it; False when the command line must."""
    point = plain_lookup(argv)
    if point is None:
        return False
    # OpenBLAS starts a thread per core when numpy is imported, and they spin: 70-80 ms
    # of CPU for a process that multiplies no matrix (measured here: 0.24 s -> 0.16 s).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    settings = plain_settings(environ, Path.cwd())
    if settings is None:
        return False
    from boundaries.cached_start import cached_answer
    from siji.output import print_json

    url, cache_dir, snap = settings
    answer = cached_answer(url, cache_dir, snap, *point, "wgs84")  # the command's --crs default
    if answer is None:
        return False
    print_json(answer)
    return True
