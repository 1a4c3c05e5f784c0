"""Instructions per HTTP request, counted by valgrind: ``python -m benchmarks.instructions``.

Time on this shared 2-core machine swings by up to 2x between minutes; instruction
counts do not (two counts of the same requests differ by well under 1 %).  This runs
``siji serve --workers 1`` under ``valgrind --tool=callgrind`` with counting off, then
for ``/healthz`` and ``GET /v1/lookup`` (the HTTP benchmark's 1,000 query strings for
both) sends every request once to warm up, zeroes the counters, sends ``--requests``
more over one keep-alive connection and reads the total: uvicorn, the middleware
and the route, everything the server process executes.  A diagnostic for work on
the single-lookup path, not a target (the target is the throughput ratio, see
:mod:`benchmarks.http`).  Needs ``valgrind`` (``apt-get install valgrind``).
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.http import free_port, serve_command, server_env, stop

FIRST_LEVEL_MISSES = ("I1mr", "D1mr", "D1mw")
"""Callgrind's first-level cache miss events (instruction reads, data reads, data writes)."""
LAST_LEVEL_MISSES = ("ILmr", "DLmr", "DLmw")
"""The same at the last level."""


def _prepare_database(path: Path) -> None:
    """A migrated SQLite database with the bundled set (imported here: under valgrind
    the import would take minutes)."""
    from boundaries.service import BoundaryService
    from store.engine import make_engine, upgrade

    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    BoundaryService(engine).ensure_bundled()
    engine.dispose()


def _send(port: int, paths: list[str], count: int) -> None:
    """``count`` GETs cycling through ``paths`` over one keep-alive connection."""
    with socket.create_connection(("127.0.0.1", port)) as sock, sock.makefile("rb") as reader:
        for number in range(count):
            request = f"GET {paths[number % len(paths)]} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
            sock.sendall(request.encode())
            status = reader.readline()
            if b" 200 " not in status:
                raise RuntimeError(f"{paths[number % len(paths)]} answered {status!r}")
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            reader.read(length)


def _control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True)


def _totals(dump_dir: Path) -> dict[str, int]:
    """Event totals (``Ir`` and, with the cache simulation, its misses) of the event
    loop's thread in the newest callgrind dump.

    Only the main thread counts: it serves every request.  The other thread re-reads
    the active generation every few seconds (see ``BoundaryService.cached_index``);
    under valgrind's 50x slowdown that would weigh on each request 50 times what it
    weighs at full speed.
    """
    newest = max(glob.glob(str(dump_dir / "callgrind.out.*-01")), key=os.path.getmtime)
    events: list[str] = []
    for line in Path(newest).read_text().splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        if line.startswith(("summary:", "totals:")):
            return dict(zip(events, map(int, line.split()[1:]), strict=True))
    raise RuntimeError(f"no totals in {newest}")


def estimated_cycles(totals: dict[str, int]) -> float:
    """Callgrind's cycle estimate (as KCachegrind shows it): instructions plus 10 per
    first-level cache miss and 100 per last-level miss."""
    first = sum(totals[event] for event in FIRST_LEVEL_MISSES)
    last = sum(totals[event] for event in LAST_LEVEL_MISSES)
    return totals["Ir"] + 10 * first + 100 * last


def count(paths: dict[str, list[str]], requests: int, cache_sim: bool = False) -> dict[str, dict[str, float]]:
    """Events per request (instructions; with ``cache_sim``, cache misses too) for
    each named list of paths (one server for all)."""
    workdir = Path(tempfile.mkdtemp(prefix="siji-instructions-"))
    try:
        _prepare_database(workdir / "siji.db")
        port = free_port()
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            "--separate-threads=yes",
            *(["--cache-sim=yes"] if cache_sim else []),
            f"--callgrind-out-file={workdir}/callgrind.out.%p",
            *serve_command(port, workers=1),
        ]
        log = open(workdir / "server.log", "wb")  # noqa: SIM115 (closed below)
        # As in the HTTP benchmark: the limiter runs but never refuses.
        env = server_env(workdir)
        server = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(port, server)
            pid = str(server.pid)
            _control("-i", "on", pid)
            result = {}
            for name, cycle in paths.items():
                _send(port, cycle, len(cycle))  # every path once: answers rendered, caches warm
                _control("-z", pid)
                _send(port, cycle, requests)
                _control("-d", pid)
                time.sleep(0.5)
                result[name] = {event: total / requests for event, total in _totals(workdir).items()}
            return result
        finally:
            stop(server, timeout=120)  # valgrind writes its last dump on the way out
            log.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_ready(port: int, server: subprocess.Popen[bytes], timeout: float = 900.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server under valgrind exited with {server.returncode}")
        try:
            _send(port, ["/readyz"], 1)
            return
        except (OSError, RuntimeError):
            time.sleep(1)
    raise RuntimeError(f"the server under valgrind was not ready in {timeout:.0f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions", description=__doc__)
    parser.add_argument("--requests", type=int, default=1000, help="counted requests per path list")
    parser.add_argument(
        "--cache-sim",
        action="store_true",
        help="also simulate the caches: misses and callgrind's cycle estimate (about 1.5x slower)",
    )
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("needs valgrind (apt-get install valgrind)")
    from benchmarks.points import workload

    work = workload(1000)
    queries = [f"lon={x:.6f}&lat={y:.6f}" for x, y in zip(work.x[:1000], work.y[:1000], strict=True)]
    per_request = count(
        {
            "GET /healthz (the same queries, ignored)": [f"/healthz?{q}" for q in queries],
            "GET /v1/lookup": [f"/v1/lookup?{q}" for q in queries],
        },
        args.requests,
        cache_sim=args.cache_sim,
    )
    for name, events in per_request.items():
        line = f"{name:45s} {events['Ir']:12,.0f} instructions/request"
        if args.cache_sim:
            misses = sum(events[e] for e in FIRST_LEVEL_MISSES)
            last = sum(events[e] for e in LAST_LEVEL_MISSES)
            cycles = estimated_cycles(events)
            line += f", {misses:,.0f} L1 and {last:,.0f} LL misses, {cycles:,.0f} est. cycles"
        print(line)
    health, lookup = per_request.values()
    print(f"lookup / healthz: {lookup['Ir'] / health['Ir']:.3f} in instructions", end="")
    if args.cache_sim:
        print(f", {estimated_cycles(lookup) / estimated_cycles(health):.3f} in estimated cycles", end="")
    print(" (the throughput target asks healthz/lookup >= 0.8)")


if __name__ == "__main__":
    main()
