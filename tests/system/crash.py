"""Clients that keep submitting reports and taking steps while the server is killed.

Each :class:`CrashClient` is a thread with its own HTTP connection.  It alternates
between filing a report (a new ``Idempotency-Key`` each) and taking the next step of
one of its own open cases (the version it last saw, and an ``Idempotency-Key`` per
step).  A request that gets no answer (connection refused, reset or cut off by a
SIGKILL) is sent again, identically, until it is answered: that is what a phone app
or the 12345 system does.  Everything answered is written to the :class:`Ledger`,
which the test then holds against the database.

A retried step can meet a server without ``Idempotency-Key`` support on actions:
then, if the first attempt was committed, the retry is refused with 409 (the version
moved on).  That is accepted only when the report's history shows exactly that step,
once, at that version (``Ledger.fallbacks``); every other 409 is an error.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from benchmarks.load import NEXT_STEP

RETRY_PAUSE_S = 0.05
GIVE_UP_S = 120.0  # one request unanswered this long: the server did not come back


@dataclass(frozen=True)
class Step:
    """A step answered 2xx: ``action`` took report ``report_id`` from ``version`` to ``version + 1``."""

    report_id: int
    version: int
    action: str
    how: str  # "200", "retried-200" (after an unanswered attempt), "fallback-409" (module docstring)


@dataclass
class Ledger:
    """What the clients were answered (shared by the client threads)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    submitted: dict[str, int] = field(default_factory=dict)  # Idempotency-Key -> id answered
    steps: list[Step] = field(default_factory=list)
    versions: dict[int, int] = field(default_factory=dict)  # report id -> version last answered
    errors: list[str] = field(default_factory=list)
    answered: int = 0  # requests answered 2xx
    interrupted: int = 0  # attempts cut off after they were sent (reset, EOF, timeout)
    refused: int = 0  # attempts refused while the server was down
    retried_submissions: int = 0  # submissions answered after at least one unanswered attempt
    replayed_submissions: int = 0  # ... of which answered 200 (the first attempt had been stored)
    retried_steps: int = 0
    fallbacks: int = 0

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)


class CrashClient(threading.Thread):
    """One client thread; runs until :attr:`stop` is set, finishing the request it is in."""

    def __init__(
        self,
        number: int,
        base_url: str,
        tokens: dict[str, str],
        points: list[tuple[float, float]],
        ledger: Ledger,
        stop: threading.Event,
        key_prefix: str,
        seed: int,
    ) -> None:
        super().__init__(name=f"crash-client-{number}", daemon=True)
        self.number = number
        self.tokens = tokens
        self.points = points
        self.ledger = ledger
        self.stop = stop
        self.key_prefix = key_prefix
        self.rng = random.Random(seed * 1000 + number)
        self.http = httpx.Client(base_url=base_url, timeout=httpx.Timeout(30.0, connect=2.0))
        self.cases: dict[int, tuple[str, int]] = {}  # open case -> (state, version)
        self.filed = 0

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                if self.cases and self.rng.random() < 0.6:
                    self.step()
                else:
                    self.submit()
        except Exception as exc:  # a bug in the test client must fail the test, not vanish with the thread
            self.ledger.error(f"{self.name} crashed: {exc!r}")
        finally:
            self.http.close()

    # --- one request until it is answered ---------------------------------------------------
    def _send(self, method: str, url: str, **kwargs: Any) -> tuple[httpx.Response | None, bool]:
        """The answer, and whether an earlier attempt went unanswered (None: gave up)."""
        unanswered = False
        deadline = time.monotonic() + GIVE_UP_S
        while True:
            try:
                return self.http.request(method, url, **kwargs), unanswered
            except httpx.ConnectError:
                with self.ledger.lock:
                    self.ledger.refused += 1
            except httpx.TransportError:  # sent, then reset or cut off: it may or may not have happened
                unanswered = True
                with self.ledger.lock:
                    self.ledger.interrupted += 1
            if time.monotonic() > deadline:
                self.ledger.error(f"{method} {url}: no answer in {GIVE_UP_S:.0f} s")
                return None, unanswered
            time.sleep(RETRY_PAUSE_S)

    # --- intake ------------------------------------------------------------------------
    def submit(self) -> None:
        key = f"{self.key_prefix}{self.number:02d}-{self.filed:06d}"
        self.filed += 1
        lon, lat = self.rng.choice(self.points)
        body = {
            "lon": lon,
            "lat": lat,
            "crs": "gcj02",
            "category": self.rng.choice(("S-01-01", "S-04-01", "B-01-02", "S-02-01")),
            "description": "崩溃测试：路边有暴露垃圾",
            "channel": self.rng.choice(("app", "hotline")),
        }
        response, retried = self._send("POST", "/v1/reports", json=body, headers={"Idempotency-Key": key})
        if response is None:
            return
        if response.status_code not in (200, 201) or (response.status_code == 200 and not retried):
            self.ledger.error(f"submit {key}: {response.status_code} {response.text[:300]}")
            return
        report = response.json()["report"]
        with self.ledger.lock:
            self.ledger.answered += 1
            self.ledger.submitted[key] = report["id"]
            self.ledger.versions[report["id"]] = report["version"]
            self.ledger.retried_submissions += retried
            self.ledger.replayed_submissions += response.status_code == 200
        self.cases[report["id"]] = (report["state"], report["version"])

    # --- the loop ----------------------------------------------------------------------
    def step(self) -> None:
        report_id = self.rng.choice(list(self.cases))
        state, version = self.cases[report_id]
        action, role = NEXT_STEP[state]
        body: dict[str, Any] = {"action": action, "version": version}
        if action == "check" and self.rng.random() < 0.2:
            action = "fail_check"
            body = {"action": action, "version": version, "note": "复核未通过"}
        headers = {
            "Authorization": f"Bearer {self.tokens[role]}",
            "Idempotency-Key": f"{self.key_prefix}act-{report_id}-{version}",
        }
        response, retried = self._send("POST", f"/v1/reports/{report_id}/actions", json=body, headers=headers)
        if response is None:
            self.cases.pop(report_id)
            return
        what = f"{action} report {report_id} at version {version}"
        if response.status_code == 200:
            after = response.json()
            how = "retried-200" if retried else "200"
        elif response.status_code == 409 and retried:
            after = self._fallback(report_id, version, action)
            how = "fallback-409"
            if after is None:
                self.ledger.error(f"{what}: retry refused with 409 and the step is not in the history")
                self.cases.pop(report_id)
                return
        else:
            self.ledger.error(f"{what}: {response.status_code} {response.text[:300]}")
            self.cases.pop(report_id)
            return
        if after["version"] != version + 1:
            self.ledger.error(f"{what}: answered version {after['version']}, expected {version + 1}")
        with self.ledger.lock:
            self.ledger.answered += 1
            self.ledger.steps.append(Step(report_id, version, action, how))
            self.ledger.versions[report_id] = after["version"]
            self.ledger.retried_steps += retried
            self.ledger.fallbacks += how == "fallback-409"
        if after["state"] in ("closed", "invalid"):
            self.cases.pop(report_id)
        else:
            self.cases[report_id] = (after["state"], after["version"])

    def _fallback(self, report_id: int, version: int, action: str) -> dict[str, Any] | None:
        """The report, if its history holds exactly this step at this version (once)."""
        response, _ = self._send(
            "GET",
            f"/v1/reports/{report_id}",
            headers={"Authorization": f"Bearer {self.tokens['dispatcher']}"},
        )
        if response is None or response.status_code != 200:
            return None
        report: dict[str, Any] = response.json()
        actions = [event["action"] for event in report["events"]]
        # events[0] is the intake at version 1, so the step from version v is events[v]
        if report["version"] == version + 1 and len(actions) == version + 1 and actions[version] == action:
            return report
        return None
