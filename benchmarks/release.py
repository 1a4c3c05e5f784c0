"""Boundary releases: ``siji boundaries validate`` and ``import --commit`` of the bundled
set as a data team runs them, and the switch-over of a serving ``siji serve``.

Each command runs in a fresh process (imports, migration check, reading the file
included: what a user waits for), best of ``repeats``; ``import --commit`` is timed
with and without ``--check-index``.  The import goes into a
database that already holds the bundled set, so it is checked against the generation
it follows and its lineage is linked (3,877 links), with a new ``--valid-from`` each
time.  The peer, in the same run: a fresh process that reads the same file with
geopandas and writes it to a GeoPackage (``to_file``), the cost of moving the
polygons alone.

``switch_over`` serves the bundled set with ``siji serve --workers 2``, keeps
lookups (and report intake) going from several threads on new connections, commits
a release with the command line, and measures how long after the commit every
answer comes from the new generation, and whether any request failed.  The system
test (``tests/system/test_switch.py``) runs it on SQLite and PostGIS.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.report import Row, Section, Target

_ROOT = Path(__file__).resolve().parent.parent
BUNDLED = _ROOT / "boundaries" / "taian" / "data" / "taian_2023.parquet"
IMPORT_TARGET_S = 4.0
VALIDATE_TARGET_S = 2.0
_PEER = "import geopandas, sys; geopandas.read_parquet(sys.argv[1]).to_file(sys.argv[2], driver='GPKG')"


def _env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "SIJI_DATABASE_URL": database_url,
    }


def _timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds


def _siji(*args: str) -> list[str]:
    return [sys.executable, "-m", "siji.cli", *args]


def run(repeats: int = 3, database_url: str | None = None) -> Section:
    """Time ``validate`` and ``import --commit`` of the bundled set and the peer."""
    with tempfile.TemporaryDirectory(prefix="siji-bench-release-") as folder:
        workdir = Path(folder)
        url = database_url or f"sqlite:///{workdir / 'siji.db'}"
        env = _env(url)
        _timed(_siji("boundaries", "generations"), env, workdir)  # migrate, import the bundled set
        validate = [
            _timed(_siji("boundaries", "validate", str(BUNDLED)), env, workdir) for _ in range(repeats)
        ]
        imports = [
            _timed(
                _siji(
                    "boundaries", "import", str(BUNDLED), "--commit",
                    "--valid-from", str(dt.date(2030 + i, 1, 1)), "--name", f"bench-{i}",
                ),
                env,
                workdir,
            )
            for i in range(repeats)
        ]  # fmt: skip
        checked = [
            _timed(
                _siji(
                    "boundaries", "import", str(BUNDLED), "--commit", "--check-index",
                    "--valid-from", str(dt.date(2060 + i, 1, 1)), "--name", f"bench-checked-{i}",
                ),
                env,
                workdir,
            )
            for i in range(repeats)
        ]  # fmt: skip
        peer = [
            _timed([sys.executable, "-c", _PEER, str(BUNDLED), str(workdir / f"peer{i}.gpkg")], env, workdir)
            for i in range(repeats)
        ]
    best_validate, best_import, best_peer = min(validate), min(imports), min(peer)
    backend = "PostGIS" if url.startswith("postgres") else "SQLite"
    rows = [
        Row(
            "release",
            "siji boundaries validate, bundled set (fresh process)",
            best_validate,
            "s",
            best_validate,
            ratio=f"{best_validate / best_peer:.2f}x the peer",
            note=f"best of {repeats}; runs {', '.join(f'{s:.2f}' for s in validate)} s",
        ),
        Row(
            "release",
            f"siji boundaries import --commit, bundled set over itself, {backend} (fresh process)",
            best_import,
            "s",
            best_import,
            ratio=f"{best_import / best_peer:.2f}x the peer",
            note=f"read, validate, plan against the generation before (3,877 links), store; runs "
            f"{', '.join(f'{s:.2f}' for s in imports)} s",
        ),
        Row(
            "release",
            f"the same with --check-index (the index built and checked before storing), {backend}",
            min(checked),
            "s",
            min(checked),
            ratio=f"{min(checked) / best_peer:.2f}x the peer",
            note=f"every server does this before answering; runs {', '.join(f'{s:.2f}' for s in checked)} s",
        ),
        Row(
            "release",
            "peer: read the file and write it to a GeoPackage with geopandas (fresh process)",
            best_peer,
            "s",
            best_peer,
            note=f"runs {', '.join(f'{s:.2f}' for s in peer)} s",
        ),
    ]
    targets = [
        Target(
            "boundaries validate < 2 s",
            f"< {VALIDATE_TARGET_S:.0f} s",
            f"{best_validate:.2f} s",
            best_validate < VALIDATE_TARGET_S,
        ),
        Target(
            "boundaries import --commit < 4 s",
            f"< {IMPORT_TARGET_S:.0f} s",
            f"{best_import:.2f} s",
            best_import < IMPORT_TARGET_S,
        ),
    ]
    return Section(rows, {}, targets)


# --- switch-over under load ----------------------------------------------------------------
@dataclass
class SwitchOver:
    """What the clients saw while a release was committed to a serving database."""

    commit_s: float  # the import command's wall time
    switch_s: float  # from the end of the commit to the last answer from the old generation
    statuses: Counter[int] = field(default_factory=Counter)
    generations: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    requests: int = 0


def switch_over(
    database_url: str,
    workdir: Path,
    release: Path,
    point: tuple[float, float],
    *,
    new_name: str = "release",
    workers: int = 2,
    threads: int = 4,
    settle_s: float = 60.0,
) -> SwitchOver:
    """Serve ``database_url``, keep lookups of ``point`` and report intake going, commit
    ``release`` valid today, and measure the switch (see the module notes)."""
    import httpx

    from benchmarks.load import Service

    outcome = SwitchOver(commit_s=0.0, switch_s=float("nan"))
    lock = threading.Lock()
    stop = threading.Event()
    committed_at: list[float] = []
    last_old: list[float] = [0.0]
    lookup = f"/v1/lookup?lon={point[0]}&lat={point[1]}"
    report = {
        "lon": point[0],
        "lat": point[1],
        "category": "S-01-01",
        "description": "切换测试",
        "channel": "app",
    }

    def client(k: int, base: str) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                if n % 10 == 0:  # intake writes while the import writes
                    response = httpx.post(f"{base}/v1/reports", json=report, timeout=30)
                    name = None
                else:  # a new connection each time: the kernel spreads them over the workers
                    response = httpx.get(base + lookup, timeout=30)
                    name = (
                        response.json().get("generation", {}).get("name")
                        if response.status_code == 200
                        else None
                    )
                with lock:
                    outcome.requests += 1
                    outcome.statuses[response.status_code] += 1
                    if response.status_code >= 500 or "locked" in response.text:
                        outcome.errors.append(f"{response.status_code} {response.text[:200]}")
                    if name is not None:
                        outcome.generations[name] += 1
                        if name != new_name:
                            last_old[0] = time.monotonic()
            except httpx.HTTPError as exc:
                with lock:
                    outcome.errors.append(f"thread {k}: {type(exc).__name__}: {exc}")

    with Service(database_url, workdir, workers=workers) as service:
        pool = [threading.Thread(target=client, args=(k, service.base_url)) for k in range(threads)]
        for thread in pool:
            thread.start()
        try:
            time.sleep(2.0)  # load before the import
            started = time.monotonic()
            command = _siji(
                "boundaries", "import", str(release), "--commit", "--valid-from", str(dt.date.today()),
                "--name", new_name,
            )  # fmt: skip
            done = subprocess.run(
                command, env=_env(database_url), cwd=workdir, capture_output=True, text=True, timeout=600
            )
            committed_at.append(time.monotonic())
            outcome.commit_s = committed_at[0] - started
            if done.returncode != 0:
                outcome.errors.append(f"import exited {done.returncode}: {done.stderr[-1000:]}")
            deadline = committed_at[0] + settle_s
            while time.monotonic() < deadline:
                time.sleep(0.5)
                if time.monotonic() - max(last_old[0], committed_at[0]) > 5.0:  # 5 s of new answers only
                    break
        finally:
            stop.set()
            for thread in pool:
                thread.join(timeout=60)
    outcome.switch_s = max(0.0, last_old[0] - committed_at[0]) if committed_at else float("nan")
    return outcome


def switch_section(outcome: SwitchOver, bound_s: float) -> Section:
    """The switch-over as a benchmark row."""
    from boundaries.service import ACTIVE_TTL_S

    failed = sum(n for status, n in outcome.statuses.items() if status >= 500) + len(outcome.errors)
    rows = [
        Row(
            "release",
            "switch-over after import --commit, siji serve --workers 2 under lookup + intake load",
            outcome.switch_s,
            "s",
            outcome.switch_s,
            ratio=f"bound {bound_s:.0f} s ({ACTIVE_TTL_S:g} s re-read + index build)",
            note=f"commit {outcome.commit_s:.1f} s; {outcome.requests:,} requests, {failed} failed; "
            f"answers by generation {dict(outcome.generations)}"
            # 0: the servers had switched while the import command was still finishing.
            + ("; every answer after the command returned was the new one's" if not outcome.switch_s else ""),
        )
    ]
    targets = [
        Target(
            "release switch-over within the bound, no failed request",
            f"< {bound_s:.0f} s, 0 failed",
            f"{outcome.switch_s:.1f} s, {failed} failed",
            outcome.switch_s < bound_s and failed == 0,
        )
    ]
    return Section(rows, {}, targets)


def main_switch(bound_s: float = 15.0) -> Section:
    """The switch-over on a fresh SQLite database (for ``python -m benchmarks``)."""
    from benchmarks.load import prepare_database
    from boundaries.bundled import load_taian

    with tempfile.TemporaryDirectory(prefix="siji-bench-switch-") as folder:
        workdir = Path(folder)
        url = f"sqlite:///{workdir / 'siji.db'}"
        prepare_database(url)
        frame = load_taian()
        changed = frame.assign(name=frame["name"].where(frame["level"] != "district", frame["name"] + "新"))
        release = workdir / "renamed.gpkg"
        changed.drop(columns=["synthetic"]).to_file(release)
        point = (117.13, 36.19)
        return switch_section(switch_over(url, workdir, release, point), bound_s)
