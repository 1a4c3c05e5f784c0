"""Webhook delivery beside request handling: do receivers that are down or hang slow the service?

``python -m benchmarks.webhooks [--seconds 8] [--postgis]`` starts ``siji serve`` (one
worker, its delivery loop every 0.2 s) on a fresh database and measures, from one
client thread each, single lookups (``GET /v1/lookup``) and steps (intake, then verify,
file and dispatch of each case, every one an outbox event) in three runs:

* ``no webhook``: nothing to deliver (the peer);
* ``receiver hangs``: the city's webhook points at a loopback server that accepts the
  connection and never answers, so every delivery waits for ``SIJI_WEBHOOK_TIMEOUT_S``
  (5 s here) in the delivery loop's threads;
* ``receiver refuses``: the webhook points at a closed port (connection refused at once,
  retried with backoff).

It prints p50 and p99 of each kind per run and the ratio of the p50s to the peer's.
The target: with a receiver that hangs, lookups and steps keep their p50 within 1.5
times the peer's (the delivery loop has its own thread, HTTP client and database
transactions; a hanging receiver costs only a waiting thread).
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from benchmarks.http import free_port
from benchmarks.load import CITY, Service, issue_tokens, prepare_database
from benchmarks.report import Row, Section, Target, machine, print_report

SERVER_ENV = {"SIJI_DELIVERY_INTERVAL_S": "0.2", "SIJI_WEBHOOK_TIMEOUT_S": "5", "SIJI_DUE_SOON_HOURS": "0"}
SECRET = "benchmark-webhook-secret-0123"
TARGET_RATIO = 1.5


class HangingReceiver:
    """A loopback port that accepts connections and never answers (until closed)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(512)
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                connection, _ = self.sock.accept()
            except OSError:
                continue
            self.held.append(connection)  # read nothing, answer nothing

    def close(self) -> None:
        self.stopped.set()
        for connection in self.held:
            connection.close()
        self.sock.close()


def _webhook(url: str, receiver_url: str | None) -> None:
    """Disable every webhook, then add one for the city at ``receiver_url`` (None: none)."""
    from api.settings import Settings, report_service
    from boundaries.service import BoundaryService
    from routing.audit import operator
    from routing.webhooks import add, list_webhooks, remove
    from store.engine import make_engine

    engine = make_engine(url)
    try:
        service = report_service(Settings(database_url=url), engine, BoundaryService(engine))
        for hook in list_webhooks(service, operator()):
            if hook["disabled_at"] is None:
                remove(service, operator(), hook["id"])
        if receiver_url is not None:
            add(service, operator(), unit_key=CITY, url=receiver_url, secret=SECRET)
    finally:
        engine.dispose()


def _lookups(base: str, seconds: float, out: list[float]) -> None:
    import httpx

    with httpx.Client(base_url=base, timeout=30) as client:
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            started = time.perf_counter()
            client.get("/v1/lookup", params={"lon": 117.13, "lat": 36.19}).raise_for_status()
            out.append(time.perf_counter() - started)


def _steps(base: str, seconds: float, dispatcher: str, out: list[float]) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {dispatcher}"}
    body = {"lon": 117.13, "lat": 36.19, "category": "S-01-01", "description": "基准测试", "channel": "app"}
    with httpx.Client(base_url=base, timeout=30) as client:
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            started = time.perf_counter()
            created = client.post("/v1/reports", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
            rid = created.raise_for_status().json()["report"]["id"]
            out.append(time.perf_counter() - started)
            for action in ("verify", "file", "dispatch"):
                started = time.perf_counter()
                client.post(
                    f"/v1/reports/{rid}/actions", json={"action": action}, headers=headers
                ).raise_for_status()
                out.append(time.perf_counter() - started)


def _run(base: str, seconds: float, dispatcher: str) -> dict[str, np.ndarray]:
    lookups: list[float] = []
    steps: list[float] = []
    threads = [
        threading.Thread(target=_lookups, args=(base, seconds, lookups)),
        threading.Thread(target=_steps, args=(base, seconds, dispatcher, steps)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"lookup": np.array(lookups) * 1e6, "step": np.array(steps) * 1e6}


def measure(url: str, workdir: Path, seconds: float) -> Section:
    """The three runs on one database and server (see the module docstring)."""
    import os

    os.environ.update(SERVER_ENV)
    tokens = issue_tokens(url, ("dispatcher",))
    hanging = HangingReceiver()
    refused = f"http://127.0.0.1:{free_port()}/hook"
    service = Service(url, workdir, workers=1)
    service.start()
    runs: dict[str, dict[str, np.ndarray]] = {}
    try:
        _run(service.base_url, 1.0, tokens["dispatcher"])  # warm up
        for name, receiver in (
            ("no webhook", None),
            ("receiver hangs", hanging.url),
            ("receiver refuses", refused),
        ):
            _webhook(url, receiver)
            time.sleep(0.5)
            runs[name] = _run(service.base_url, seconds, tokens["dispatcher"])
    finally:
        service.stop()
        hanging.close()
    section = Section()
    peer = {kind: float(np.percentile(runs["no webhook"][kind], 50)) for kind in ("lookup", "step")}
    for name, samples in runs.items():
        for kind, values in samples.items():
            p50, p99 = (float(v) for v in np.percentile(values, [50, 99]))
            section.rows.append(
                Row(
                    "webhooks", f"{kind}, {name}", len(values) / seconds, "req/s", p50_us=p50, p99_us=p99,
                    ratio="" if name == "no webhook" else f"{p50 / peer[kind]:.2f}x p50 of no webhook",
                )
            )  # fmt: skip
    for kind in ("lookup", "step"):
        hung = float(np.percentile(runs["receiver hangs"][kind], 50)) / peer[kind]
        section.targets.append(
            Target(
                f"{kind}s beside a hanging receiver",
                f"p50 within {TARGET_RATIO}x of no webhook",
                f"{hung:.2f}x",
                hung <= TARGET_RATIO,
            )
        )
    section.facts["hung deliveries held open by the receiver"] = len(hanging.held)
    return section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.webhooks", description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds per run (8)")
    parser.add_argument(
        "--postgis", action="store_true", help="on a throwaway PostGIS server instead of SQLite"
    )
    args = parser.parse_args(argv)
    console = Console(width=200)
    with tempfile.TemporaryDirectory(prefix="siji-bench-webhooks-") as directory:
        workdir = Path(directory)
        server: Any = None
        if args.postgis:
            from tests.postgis_server import ThrowawayPostgres

            server = ThrowawayPostgres().start()
            url = server.url
        else:
            url = f"sqlite:///{workdir}/siji.db"
        try:
            prepare_database(url)
            section = measure(url, workdir, args.seconds)
        finally:
            if server is not None:
                server.stop()
    print_report(console, section, machine(), "webhook delivery beside request handling")
    return 0 if all(t.passed for t in section.targets) else 1


if __name__ == "__main__":
    sys.exit(main())
