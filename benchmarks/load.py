"""Load: a realistic mix of requests against ``siji serve`` on loopback, driven by locust.

``python -m benchmarks.load --seconds 60 --users 32`` starts ``siji serve --workers 2``
on a fresh SQLite file in a temporary directory (``--postgis``: on a throwaway PostGIS
server, ``tests.postgis_server``; ``--database-url``: on that database), issues staff
tokens, runs ``benchmarks/locustfile.py`` headless in a subprocess (locust's gevent
monkey-patching never enters this process or pytest) for a fixed time, and prints
one table: requests per second, p50 and p99 and failures per kind of request.  Then it checks the database:

* every report the load test saw accepted (201) is stored exactly once, under the id
  it was answered with, and nothing was stored that the load test did not send;
* every state change answered 200 is in the report's event history, in order, and
  no report's state or version disagrees with its history (no half transitions).

The mix (weights of locust tasks, so shares of requests; see the locustfile):

========== ====== ==============================================================
kind       share  why
========== ====== ==============================================================
lookup     70 %   every report is looked up several times before it is written
                  (the app's place picker, the 12345 operator's screen, the
                  dispatcher checking a boundary case), and other city systems
                  ask "who owns this point" without filing anything
intake     15 %   residents' app, 12345 hotline, service stations, patrols
action     13 %   the loop: verify, file, dispatch, start, handle, check (10 % of
                  checks fail: rework), close; each case is driven by the user
                  who filed it, with the version it last saw (optimistic locking)
                  and an Idempotency-Key per step
map        2 %    planners of the six districts refreshing a density, hot-spot or
                  pocket-park map of their district: few people, and each view
                  costs ~0.3 s of server CPU, ~150 lookups' worth (measured); at
                  5 % maps would be most of the server's work, which is not
                  what a city's day looks like
========== ====== ==============================================================

Users wait 0 s between requests: the figures are what the server does at that
concurrency, not a model of think time.  The rate limits are switched off for the
run (``SIJI_RATE_LIMIT_PER_ADDRESS=0``, ``SIJI_RATE_LIMIT_PER_TOKEN=0``): every
locust user comes from 127.0.0.1 and shares a few staff tokens.

:class:`Service` (start, SIGKILL, restart ``siji serve`` on one database) and the
checks (:func:`check_histories`) are shared with the crash test in ``tests/system``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from benchmarks.http import free_port
from benchmarks.report import Row, Section, Target, machine, print_report, write_json

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
CITY = "370900000000"  # 泰安市: a token of the city sees every case
KINDS = ("lookup", "intake", "action", "map")
MIX = {"lookup": 70, "intake": 15, "action": 13, "map": 2}
NEXT_STEP = {  # state -> (action, role): the closed loop as a dispatcher and a handler drive a case
    "reported": ("verify", "dispatcher"),
    "verified": ("file", "dispatcher"),
    "filed": ("dispatch", "dispatcher"),
    "dispatched": ("start", "handler"),
    "in_progress": ("handle", "handler"),
    "handled": ("check", "dispatcher"),  # or fail_check (-> rework), with a note
    "rework": ("start", "handler"),
    "checked": ("close", "dispatcher"),
}
SERVICE_ENV = {
    "SIJI_ESCALATION_INTERVAL_S": "0",  # no background writer: every event comes from a request
    "SIJI_ENVIRONMENT": "development",
    "SIJI_RATE_LIMIT_PER_ADDRESS": "0",  # 0: no limit (all load comes from 127.0.0.1)
    "SIJI_RATE_LIMIT_PER_TOKEN": "0",
}


# --- the service ----------------------------------------------------------------------------


class Service:
    """``siji serve`` in its own process group on a loopback port, on one database.

    The port stays the same across restarts, so clients keep their base URL.  Each
    start appends to ``workdir/server.log``.

    Parameters
    ----------
    database_url : str
    workdir : Path
        Working directory of the server (and where its log goes).
    workers : int
        ``siji serve --workers``.
    """

    def __init__(self, database_url: str, workdir: Path, workers: int = 1) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "server.log"

    def start(self, timeout: float = 120.0) -> float:
        """Start the server and wait until every worker answers ``/readyz``; return the seconds taken."""
        import httpx

        if self.process is not None:
            raise RuntimeError("the service is already running")
        env = {
            **os.environ,
            **SERVICE_ENV,
            "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "SIJI_DATABASE_URL": self.database_url,
        }
        command = [sys.executable, "-m", "siji.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--workers", str(self.workers), "--log-level", "warning"]
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            # Its own session: a SIGKILL of the group takes the workers too.
            self.process = subprocess.Popen(
                command,
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = started + timeout
        while True:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                raise RuntimeError(f"siji serve exited with {code}; see {self.log_path}:\n{self.log_tail()}")
            try:
                # Fresh connections land on any worker: ask until each had a chance to answer.
                if all(
                    httpx.get(f"{self.base_url}/readyz", timeout=5).status_code == 200
                    for _ in range(4 * self.workers)
                ):
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"siji serve was not ready in {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the whole process group (server and workers) and reap the server."""
        if self.process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        """SIGTERM the process group; SIGKILL it if it has not exited in 30 s."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server log, for failure messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def __enter__(self) -> Service:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def prepare_database(database_url: str) -> None:
    """Migrate and import the bundled set (what ``siji serve`` does first), in this process."""
    from api.settings import Settings
    from siji.serve import prepare

    prepare(Settings(database_url=database_url, escalation_interval_s=0))


def issue_tokens(
    database_url: str, roles: Iterable[str], unit_key: str = CITY, days: float = 1
) -> dict[str, str]:
    """One staff token per role for ``unit_key`` (the city: every case), written straight to the database."""
    from routing.staff import issue
    from store.engine import make_engine

    engine = make_engine(database_url)
    try:
        return {
            role: issue(engine, name=f"load-{role}-{unit_key}", unit_key=unit_key, role=role, days=days)[0]
            for role in roles
        }
    finally:
        engine.dispose()


def sample_points(n: int, seed: int) -> list[tuple[float, float]]:
    """``n`` GCJ-02 points (as phones send them) inside randomly chosen Tai'an communities.

    Each point is uniform in its community's polygon (rejection sampling in its
    bounds; the representative point when 50 tries miss), so every one is inside
    the city and routed (never refused as outside).
    """
    import numpy as np
    import shapely

    from boundaries.bundled import load_taian
    from geo.crs import from_wgs84

    frame = load_taian()
    communities = frame.loc[frame["level"] == "community", "geometry"].to_numpy()
    rng = np.random.default_rng(seed)
    chosen = communities[rng.integers(0, len(communities), n)]
    lon = shapely.get_x(shapely.point_on_surface(chosen))
    lat = shapely.get_y(shapely.point_on_surface(chosen))
    bounds = shapely.bounds(chosen)
    todo = np.ones(n, dtype=bool)
    for _ in range(50):
        if not todo.any():
            break
        x = rng.uniform(bounds[todo, 0], bounds[todo, 2])
        y = rng.uniform(bounds[todo, 1], bounds[todo, 3])
        hit = shapely.contains_xy(chosen[todo], x, y)
        where = np.flatnonzero(todo)[hit]
        lon[where], lat[where] = x[hit], y[hit]
        todo[where] = False
    gx, gy = from_wgs84(lon, lat, "gcj02")
    return [(round(float(a), 7), round(float(b), 7)) for a, b in zip(gx, gy, strict=True)]


def district_codes() -> list[str]:
    """Codes of Tai'an's districts and counties (the map planners' units)."""
    from boundaries.bundled import load_taian

    frame = load_taian()
    return sorted(frame.loc[frame["level"] == "district", "code"].astype(str))


# --- consistency of the stored reports ------------------------------------------------------


@dataclass
class StoredReport:
    """A report's row and its event history (oldest first) as stored."""

    id: int
    idempotency_key: str | None
    state: str
    version: int
    events: list[tuple[str, str | None, str]]  # (action, from_state, to_state)


def load_reports(database_url: str, key_prefix: str) -> dict[int, StoredReport]:
    """Every report whose idempotency key starts with ``key_prefix``, with its events."""
    from sqlalchemy import select

    from store.engine import make_engine
    from store.models import Report, ReportEvent

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            reports = {
                row.id: StoredReport(row.id, row.idempotency_key, row.state, row.version, [])
                for row in connection.execute(
                    select(Report.id, Report.idempotency_key, Report.state, Report.version).where(
                        Report.idempotency_key.startswith(key_prefix, autoescape=True)
                    )
                )
            }
            ours = select(Report.id).where(Report.idempotency_key.startswith(key_prefix, autoescape=True))
            events = connection.execute(
                select(
                    ReportEvent.report_id, ReportEvent.action, ReportEvent.from_state, ReportEvent.to_state
                )
                .where(ReportEvent.report_id.in_(ours))
                .order_by(ReportEvent.id)
            )
            for report_id, action, before, after in events:
                reports[report_id].events.append((action, before, after))
    finally:
        engine.dispose()
    return reports


def check_histories(reports: Iterable[StoredReport]) -> list[str]:
    """Reports whose state disagrees with their event history: the half transitions.

    The history must start with the intake (``report``: none → reported), each step
    must start where the one before ended, the last step must end in the report's
    state, and the version must count the steps (each step adds one).

    Examples
    --------
    >>> steps = [("report", None, "reported"), ("verify", "reported", "verified")]
    >>> check_histories([StoredReport(1, "k", "verified", 2, steps)])
    []
    >>> check_histories([StoredReport(2, "k", "filed", 2, steps)])
    ["report 2: state 'filed' but its last step ends in 'verified'"]
    """
    problems = []
    for report in reports:
        events = report.events
        if not events or events[0][:2] != ("report", None) or events[0][2] != "reported":
            problems.append(f"report {report.id}: history does not start with the intake: {events[:1]}")
            continue
        for number, (previous, step) in enumerate(pairwise(events), start=1):
            if step[1] != previous[2]:
                problems.append(
                    f"report {report.id}: step {number} ({step[0]}) starts in {step[1]!r} "
                    f"but the step before ended in {previous[2]!r}"
                )
        if events[-1][2] != report.state:
            problems.append(
                f"report {report.id}: state {report.state!r} but its last step ends in {events[-1][2]!r}"
            )
        if report.version != len(events):
            problems.append(f"report {report.id}: version {report.version} but {len(events)} steps stored")
    return problems


@dataclass
class Verification:
    """What the database holds after a load run, against what the load test was answered."""

    sent: int = 0
    accepted: int = 0
    stored: int = 0
    missing: list[str] = field(default_factory=list)  # accepted keys not stored
    wrong_id: list[str] = field(default_factory=list)  # stored under another id than answered
    duplicated: list[str] = field(default_factory=list)  # keys stored more than once
    unexpected: list[str] = field(default_factory=list)  # stored keys the load test never sent
    actions_answered: int = 0
    actions_missing: list[str] = field(default_factory=list)  # answered steps not in the history
    inconsistent: list[str] = field(default_factory=list)  # half transitions

    @property
    def ok(self) -> bool:
        return not (
            self.missing
            or self.wrong_id
            or self.duplicated
            or self.unexpected
            or self.actions_missing
            or self.inconsistent
        )

    def summary(self) -> str:
        """One line per kind of problem (empty when there is none)."""
        lines = []
        for name in ("missing", "wrong_id", "duplicated", "unexpected", "actions_missing", "inconsistent"):
            values = getattr(self, name)
            if values:
                lines.append(f"{name}: {len(values)}, e.g. {values[:5]}")
        return "\n".join(lines)


def verify_run(database_url: str, record: Path, key_prefix: str) -> Verification:
    """Check the database against the locust run's record (see the locustfile)."""
    sent: set[str] = set()
    accepted: dict[str, int] = {}
    steps: dict[int, list[str]] = {}
    for line in record.read_text().splitlines():
        item = json.loads(line)
        if "sent" in item:
            sent.add(item["sent"])
        elif "accepted" in item:
            accepted[item["accepted"]] = item["id"]
        elif "action" in item:
            steps.setdefault(item["id"], []).append(item["action"])
    reports = load_reports(database_url, key_prefix)
    keys = Counter(r.idempotency_key for r in reports.values())
    ids_of: dict[str | None, list[int]] = {}
    for report in reports.values():
        ids_of.setdefault(report.idempotency_key, []).append(report.id)
    result = Verification(sent=len(sent), accepted=len(accepted), stored=len(reports))
    result.duplicated = sorted(str(k) for k, n in keys.items() if n > 1)
    result.unexpected = sorted(str(k) for k in keys if k not in sent)
    for key, report_id in accepted.items():
        if key not in ids_of:
            result.missing.append(key)
        elif report_id not in ids_of[key]:
            result.wrong_id.append(f"{key}: answered id {report_id}, stored as {ids_of[key]}")
    result.actions_answered = sum(len(v) for v in steps.values())
    for report_id, answered in steps.items():
        stored = [action for action, _, _ in reports[report_id].events[1:]] if report_id in reports else []
        if stored != answered:
            result.actions_missing.append(f"report {report_id}: answered {answered}, stored {stored}")
    result.inconsistent = check_histories(reports.values())
    return result


# --- locust ---------------------------------------------------------------------------------


@dataclass
class KindStats:
    """One kind of request in a locust run (latencies in ms, as locust reports them)."""

    kind: str
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float


def parse_stats(path: Path) -> dict[str, KindStats]:
    """Locust's ``--csv`` ``*_stats.csv``: one entry per request name, and ``Aggregated``."""
    stats = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            name = row["Name"]
            stats[name] = KindStats(
                kind=name,
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                rps=float(row["Requests/s"]),
                p50_ms=_number(row["50%"]),
                p99_ms=_number(row["99%"]),
                max_ms=_number(row["Max Response Time"]),
            )
    return stats


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:  # "N/A" when a kind had no request
        return float("nan")


def parse_failures(path: Path) -> list[str]:
    """Locust's ``*_failures.csv``: one line per distinct failure, with its count."""
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return [
            f"{row['Occurrences']}x {row['Method']} {row['Name']}: {row['Error']}"
            for row in csv.DictReader(handle)
        ]


@dataclass
class LoadRun:
    """A finished locust run: stats per kind, failures, the check of the database."""

    seconds: float
    users: int
    workers: int
    backend: str
    stats: dict[str, KindStats]
    failures: list[str]
    verification: Verification
    locust_exit_code: int
    startup_s: float


def run_locust(
    base_url: str,
    workdir: Path,
    config: dict[str, Any],
    users: int,
    seconds: float,
    spawn_rate: float | None = None,
) -> tuple[int, Path]:
    """Run the locustfile headless for ``seconds``; return locust's exit code and the csv prefix.

    Raises
    ------
    RuntimeError
        Locust did not finish within ``seconds`` + 120 s.
    """
    config_path = workdir / "load-config.json"
    config_path.write_text(json.dumps(config))
    prefix = workdir / "locust"
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
        "--host", base_url, "--users", str(users), "--spawn-rate", str(spawn_rate or users),
        "--run-time", f"{max(1, round(seconds))}s", "--stop-timeout", "30", "--csv", str(prefix),
        "--loglevel", "WARNING",
    ]  # fmt: skip
    env = {**os.environ, "SIJI_LOAD_CONFIG": str(config_path), "PYTHONPATH": str(ROOT)}
    with (workdir / "locust.log").open("ab") as log:
        try:
            completed = subprocess.run(
                command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=seconds + 120
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(
                f"locust did not finish in {seconds + 120:.0f} s; see {workdir / 'locust.log'}"
            ) from exc
    return completed.returncode, prefix


def load_test(
    database_url: str,
    workdir: Path,
    *,
    seconds: float = 60,
    users: int = 32,
    workers: int = 2,
    seed: int = 2026,
    mix: dict[str, int] | None = None,
    prepared: bool = False,
) -> LoadRun:
    """Serve ``database_url``, drive the mix for ``seconds``, stop, check the database.

    Parameters
    ----------
    mix : dict, optional
        Task weights per kind (default :data:`MIX`).
    prepared : bool
        The database already has the schema and the bundled set (skips preparing it here).
    """
    if not prepared:
        prepare_database(database_url)
    tokens = issue_tokens(database_url, ("dispatcher", "handler"))
    planners = {
        code: issue_tokens(database_url, ("planner",), unit_key=code)["planner"] for code in district_codes()
    }
    run_id = f"load-{uuid.uuid4().hex[:12]}-"
    record = workdir / "load-record.jsonl"
    config = {
        "run_id": run_id,
        "seed": seed,
        "weights": mix or MIX,
        "points": sample_points(2000, seed),
        "tokens": tokens,
        "planner_tokens": list(planners.values()),
        "record": str(record),
    }
    service = Service(database_url, workdir, workers)
    startup = service.start()
    try:
        code, prefix = run_locust(service.base_url, workdir, config, users, seconds)
    finally:
        service.stop()
    stats = parse_stats(Path(f"{prefix}_stats.csv"))
    failures = parse_failures(Path(f"{prefix}_failures.csv"))
    verification = verify_run(database_url, record, run_id)
    backend = "postgis" if database_url.startswith("postgres") else "sqlite"
    return LoadRun(seconds, users, workers, backend, stats, failures, verification, code, startup)


def section_of(run: LoadRun) -> Section:
    """The table rows, facts and targets of a load run."""
    section = Section()
    for kind in (*KINDS, "Aggregated"):
        stats = run.stats.get(kind)
        if stats is None:
            continue
        section.rows.append(
            Row(
                "load",
                "all kinds" if kind == "Aggregated" else kind,
                stats.rps,
                "req/s",
                p50_us=stats.p50_ms * 1000,
                p99_us=stats.p99_ms * 1000,
                note=f"{stats.requests:,} req, {stats.failures} failed, max {stats.max_ms / 1000:.1f} s",
            )
        )
    check = run.verification
    section.facts.update(
        {
            "load": (
                f"{run.users} users for {run.seconds:.0f} s, "
                f"siji serve --workers {run.workers} on {run.backend}"
            ),
            "server start (s)": round(run.startup_s, 1),
            "reports sent / accepted / stored": f"{check.sent:,} / {check.accepted:,} / {check.stored:,}",
            "state changes answered / in the histories": (
                f"{check.actions_answered:,} / {check.actions_answered - len(check.actions_missing):,}"
            ),
        }
    )
    total = run.stats.get("Aggregated")
    failed = total.failures if total else -1
    section.targets.append(Target("no failed request", "0 failures", f"{failed} failures", failed == 0))
    section.targets.append(
        Target(
            "every accepted report stored exactly once, nothing else stored",
            "0 missing, 0 duplicated, 0 unexpected",
            f"{len(check.missing) + len(check.wrong_id)} missing, {len(check.duplicated)} duplicated, "
            f"{len(check.unexpected)} unexpected",
            not (check.missing or check.wrong_id or check.duplicated or check.unexpected),
        )
    )
    section.targets.append(
        Target(
            "every answered state change stored; no half transitions",
            "0 missing, 0 inconsistent",
            f"{len(check.actions_missing)} missing, {len(check.inconsistent)} inconsistent",
            not (check.actions_missing or check.inconsistent),
        )
    )
    return section


def to_json(run: LoadRun) -> dict[str, Any]:
    """The run as plain data."""
    payload = asdict(run)
    payload["verification"]["ok"] = run.verification.ok
    return payload


@contextmanager
def _workdir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    path = Path(tempfile.mkdtemp(prefix="siji-load-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="how long the load runs (default 60)")
    parser.add_argument("--users", type=int, default=32, help="concurrent locust users (default 32)")
    parser.add_argument("--workers", type=int, default=2, help="siji serve --workers (default 2)")
    parser.add_argument(
        "--seed", type=int, default=2026, help="points, categories and choices (default 2026)"
    )
    parser.add_argument(
        "--mix",
        type=_mix,
        default=MIX,
        help="task weights, e.g. lookup=70,intake=15,action=13,map=2 (the default); 0 leaves a kind out",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="an empty database to serve, e.g. postgresql://postgres@127.0.0.1:5432/siji_load "
        "(default: a new SQLite file in the work directory)",
    )
    parser.add_argument(
        "--postgis", action="store_true", help="serve a new database on a throwaway PostGIS server"
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep the server log, locust csv and record here"
    )
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures here")
    args = parser.parse_args(argv)
    for name in ("seconds", "users", "workers"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be positive, got {getattr(args, name)}")
    if args.postgis and args.database_url:
        parser.error("give --postgis or --database-url, not both")
    return args


@contextmanager
def _database(args: argparse.Namespace, workdir: Path) -> Iterator[str]:
    if args.database_url:
        yield args.database_url
    elif args.postgis:
        from tests.postgis_server import ThrowawayPostgres

        server = ThrowawayPostgres().start()
        try:
            yield server.url
        finally:
            server.stop()
    else:
        yield f"sqlite:///{workdir / 'siji.db'}"


def _mix(text: str) -> dict[str, int]:
    weights = dict.fromkeys(KINDS, 0)
    for part in text.split(","):
        kind, _, weight = part.partition("=")
        if kind.strip() not in weights or not weight.strip().isdigit():
            raise argparse.ArgumentTypeError(
                f"{part!r} is not kind=weight with kind one of {', '.join(KINDS)} and weight a whole number"
            )
        weights[kind.strip()] = int(weight)
    if not any(weights.values()):
        raise argparse.ArgumentTypeError(f"{text!r} gives every kind weight 0")
    return weights


def main(argv: list[str] | None = None) -> int:
    """Run the load test; exit 1 when a request failed or the database check found a problem."""
    from rich.console import Console

    args = parse_args(argv)
    console = Console(width=None if Console().is_terminal else 160)
    info = machine()
    with _workdir(args.workdir) as workdir, _database(args, workdir) as url:
        started = dt.datetime.now(dt.UTC)
        run = load_test(
            url,
            workdir,
            seconds=args.seconds,
            users=args.users,
            workers=args.workers,
            seed=args.seed,
            mix=args.mix,
        )
        section = section_of(run)
        print_report(console, section, info, f"siji load test ({started:%Y-%m-%d %H:%M} UTC)")
        for line in run.failures[:20]:
            console.print(f"[red]failure[/] {line}", highlight=False)
        if not run.verification.ok:
            console.print(run.verification.summary(), highlight=False)
        if args.json is not None:
            write_json(args.json, section, info, {**vars(args), "json": str(args.json)})
            payload = json.loads(args.json.read_text())
            payload["run"] = to_json(run)
            args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
    ok = (
        run.verification.ok and all(s.failures == 0 for s in run.stats.values()) and run.locust_exit_code == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
