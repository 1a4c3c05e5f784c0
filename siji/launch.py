"""The ``siji`` executable: the plain forms of ``siji lookup LON LAT`` and ``siji
lookup-batch INPUT OUTPUT`` answered from the index cache before the command line is
imported, everything else by :mod:`siji.cli`.

The command line (typer's parsing, which builds pydantic adapters, the pydantic
settings, SQLAlchemy and the models) takes 0.15-0.5 s to import and run on the
benchmark machine: several times what a one-point answer from a cached index costs,
and a sixth of a fresh ``lookup-batch`` of a million points.  :func:`main` therefore
first tries the plain form of these two commands: no options, unsigned decimal
coordinates for ``lookup``, two paths for ``lookup-batch``.  It answers them with the
commands' own code: :func:`boundaries.cached_start.cached_answer` and
:func:`siji.output.print_json` for ``lookup``, :mod:`siji.batch_command` (the lookup
under a progress bar, the summary, the error line) for ``lookup-batch``.  It takes the
documented command whenever the form or the settings below are not plain or the
cached start cannot answer; so the answers, the errors and the exit codes are the
commands'.

The settings must be plain: ``SIJI_DATABASE_URL`` and ``SIJI_INDEX_CACHE_DIR`` as
given, ``SIJI_SNAP_DISTANCE_M`` a plain number in the allowed range, no other
``SIJI_*`` variable (in any case) and no ``.env`` file in the working directory.
Anything else goes to :class:`~api.settings.Settings`, which checks every setting, so
that a wrong one is reported by every command alike.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

_UNSIGNED_DECIMAL = re.compile(r"[0-9]+(\.[0-9]*)?")
_PLAIN_NUMBER = re.compile(r"[0-9]{1,5}(\.[0-9]{1,6})?")


def main() -> None:
    """Entry point of the ``siji`` console script and ``python -m siji``."""
    argv = sys.argv[1:]
    if not (_fast_lookup(argv, os.environ) or _fast_lookup_batch(argv, os.environ)):
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


def plain_lookup_batch(argv: Sequence[str]) -> tuple[Path, Path] | None:
    """``(input, output)`` of ``siji lookup-batch INPUT OUTPUT`` in its plain form, else None.

    Examples
    --------
    >>> plain_lookup_batch(["lookup-batch", "in.csv", "out.parquet"])
    (PosixPath('in.csv'), PosixPath('out.parquet'))
    >>> plain_lookup_batch(["lookup-batch", "in.csv", "--crs", "gcj02", "out.csv"]) is None
    True
    """
    if len(argv) != 3 or argv[0] != "lookup-batch":
        return None
    if not all(token and not token.startswith("-") for token in argv[1:]):
        return None  # typer's: an option (or an empty path, which it refuses)
    return Path(argv[1]), Path(argv[2])


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
    from geo.index import DEFAULT_SNAP_DISTANCE_M, MAX_SNAP_DISTANCE_M
    from store.engine import DEFAULT_DATABASE_URL

    read = ("SIJI_DATABASE_URL", "SIJI_INDEX_CACHE_DIR", "SIJI_SNAP_DISTANCE_M")
    if any(name.upper().startswith("SIJI_") and name not in read for name in environ):
        return None  # another setting, or one of these in another case: Settings checks it
    if (workdir / ".env").exists():
        return None
    url = environ.get("SIJI_DATABASE_URL", DEFAULT_DATABASE_URL)
    cache_dir = environ.get("SIJI_INDEX_CACHE_DIR")
    if cache_dir is not None and (not cache_dir.strip() or cache_dir != cache_dir.strip()):
        return None
    snap = environ.get("SIJI_SNAP_DISTANCE_M")
    if snap is not None and (not _PLAIN_NUMBER.fullmatch(snap) or float(snap) > MAX_SNAP_DISTANCE_M):
        return None
    snap_m = DEFAULT_SNAP_DISTANCE_M if snap is None else float(snap)
    return url, default_root() if cache_dir is None else Path(cache_dir), snap_m


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


def _fast_lookup_batch(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """Look up a file with today's index from the cache; False when the command line must."""
    paths = plain_lookup_batch(argv)
    if paths is None:
        return False
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see _fast_lookup
    settings = plain_settings(environ, Path.cwd())
    if settings is None:
        return False
    from boundaries.cached_start import cached_index

    found = cached_index(*settings)
    if found is None:
        return False
    from geo.errors import SijiError
    from siji.batch_command import lookup_with_progress, print_summary
    from siji.console import report_error

    input_path, output_path = paths
    try:
        summary = lookup_with_progress(found[1], input_path, output_path)
    except SijiError as exc:
        sys.exit(report_error(exc))
    except KeyboardInterrupt:
        print("\nAborted!", file=sys.stderr)  # as the command line (click) says it
        sys.exit(1)
    print_summary(summary, output_path)
    return True
