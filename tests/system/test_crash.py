"""SIGKILL ``siji serve`` during a stream of reports and steps: nothing answered is lost or doubled.

Four client threads (``tests/system/crash.py``) file reports, each with its own
``Idempotency-Key``, and drive their cases through the loop, retrying every
unanswered request identically; the server's whole process group is SIGKILLed at
seeded random moments and restarted on the same database.  Afterwards the database
must hold:

* every report answered 2xx exactly once, under the id it was answered with, and no
  report the clients were not answered for (no key stored twice);
* every step answered 2xx, at the version it was taken from;
* no half transition: each report's state and version agree with its history.

On SQLite (WAL, ``synchronous=FULL``) and on PostGIS.  CI runs 3 kills per backend
with 1 worker; the long version::

    SIJI_CRASH_ROUNDS=50 SIJI_CRASH_WORKERS=2 \
        .venv/bin/pytest tests/system/test_crash.py -p no:cacheprovider -rP

(``SIJI_CRASH_SEED`` picks other kill moments and client choices; ``-rP`` prints the
figures of each run.)
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from benchmarks.load import Service, check_histories, issue_tokens, load_reports, sample_points
from tests.system.crash import GIVE_UP_S, CrashClient, Ledger


def _env_int(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise pytest.UsageError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise pytest.UsageError(f"{name}={value} must be at least {minimum}")
    return value


ROUNDS = _env_int("SIJI_CRASH_ROUNDS", 3, 1)
WORKERS = _env_int("SIJI_CRASH_WORKERS", 1, 1)
SEED = _env_int("SIJI_CRASH_SEED", 7, 0)
CLIENTS = 4
UP_S = (0.3, 1.5)  # how long the server runs before a kill (uniform, seeded)
DOWN_S = (0.0, 0.3)  # how long it stays dead


def actions_take_idempotency_keys(base_url: str) -> bool:
    """Whether the running service documents ``Idempotency-Key`` on ``POST /v1/reports/{id}/actions``."""
    spec = httpx.get(f"{base_url}/openapi.json", timeout=30).json()
    operation = spec["paths"]["/v1/reports/{report_id}/actions"]["post"]
    return any(
        p["in"] == "header" and p["name"].lower() == "idempotency-key" for p in operation["parameters"]
    )


def test_sigkill_loses_and_doubles_nothing(served_database_url: str, tmp_path: Path) -> None:
    url = served_database_url
    prefix = f"crash-{SEED}-"
    tokens = issue_tokens(url, ("dispatcher", "handler"))
    points = sample_points(200, SEED)
    service = Service(url, tmp_path, WORKERS)
    service.start()
    idempotent_steps = actions_take_idempotency_keys(service.base_url)
    ledger, stop = Ledger(), threading.Event()
    clients = [
        CrashClient(n, service.base_url, tokens, points, ledger, stop, prefix, SEED) for n in range(CLIENTS)
    ]
    rng = random.Random(SEED)
    started = time.monotonic()
    try:
        for client in clients:
            client.start()
        for _ in range(ROUNDS):
            time.sleep(rng.uniform(*UP_S))
            service.kill()
            time.sleep(rng.uniform(*DOWN_S))
            service.start()
        time.sleep(rng.uniform(*UP_S))
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=GIVE_UP_S + 30)
        service.stop()
    seconds = time.monotonic() - started
    assert not any(client.is_alive() for client in clients), "a client did not finish its last request"

    stored = load_reports(url, prefix)
    keys = Counter(report.idempotency_key for report in stored.values())
    id_of = {report.idempotency_key: report.id for report in stored.values()}
    lost = [key for key in ledger.submitted if key not in id_of]
    moved = [key for key, rid in ledger.submitted.items() if key in id_of and id_of[key] != rid]
    doubled = [key for key, count in keys.items() if count > 1]
    unanswered = [key for key in keys if key not in ledger.submitted]
    missing_steps = [
        step
        for step in ledger.steps
        if step.report_id not in stored
        or len(stored[step.report_id].events) <= step.version
        or stored[step.report_id].events[step.version][0] != step.action
    ]
    extra_steps = [
        rid for rid, version in ledger.versions.items() if rid in stored and stored[rid].version != version
    ]
    backend = url.split(":")[0]
    print(
        f"\n{backend}, {WORKERS} worker(s), seed {SEED}: {ROUNDS} SIGKILLs survived in {seconds:.1f} s; "
        f"{ledger.answered} requests answered 2xx "
        f"({len(ledger.submitted)} reports, {len(ledger.steps)} steps); "
        f"{ledger.interrupted} attempts cut off by a kill, {ledger.refused} refused while down; "
        f"retried and then answered: {ledger.retried_submissions} submissions "
        f"({ledger.replayed_submissions} replays of a stored report), {ledger.retried_steps} steps "
        f"({ledger.fallbacks} by the 409 fallback; action Idempotency-Key supported: {idempotent_steps}); "
        f"lost {len(lost) + len(moved)}, duplicated {len(doubled)}, half transitions "
        f"{len(check_histories(stored.values()))}"
    )
    assert not ledger.errors, ledger.errors[:10]
    assert ledger.interrupted > 0, "no request was in flight at any kill: the test tested nothing"
    assert ledger.submitted
    assert ledger.steps
    assert lost == moved == [], f"answered but lost: {lost[:10]}, stored under another id: {moved[:10]}"
    assert doubled == [], f"stored more than once: {doubled[:10]}"
    assert unanswered == [], f"stored but never answered (a client gave up?): {unanswered[:10]}"
    assert missing_steps == [], f"steps answered but not in the history: {missing_steps[:10]}"
    assert extra_steps == [], f"reports with steps nobody was answered for: {extra_steps[:10]}"
    assert check_histories(stored.values()) == []
    if idempotent_steps:
        assert ledger.fallbacks == 0, "a retried step was refused although the service takes action keys"
