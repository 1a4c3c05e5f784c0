"""The load mix of ``python -m benchmarks.load`` (run by locust in its own process).

Configuration comes from the JSON file named by ``SIJI_LOAD_CONFIG`` (written by
``benchmarks.load``): ``run_id`` (prefix of every Idempotency-Key), ``seed``,
``points`` (GCJ-02 points inside Tai'an communities), ``tokens`` (a city dispatcher
and a city handler), ``planner_tokens`` (one planner per district) and ``record`` (a
JSON-lines file).  The record is what the database is checked against afterwards:

* ``{"sent": key}`` before each report is posted,
* ``{"accepted": key, "id": id}`` when it was answered 201,
* ``{"action": name, "id": id, "version": v}`` when a step was answered 200.

Each request is named by its kind (``lookup``, ``intake``, ``action``, ``map``), so
locust's statistics are per kind.  The task weights are the mix (see
``benchmarks/load.py`` for why): 70 / 15 / 13 / 2 by default.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

from locust import FastHttpUser, constant, events

from benchmarks.load import NEXT_STEP

CONFIG: dict[str, Any] = json.loads(Path(os.environ["SIJI_LOAD_CONFIG"]).read_text())
RUN_ID: str = CONFIG["run_id"]
POINTS: list[list[float]] = CONFIG["points"]
TOKENS: dict[str, str] = CONFIG["tokens"]
PLANNERS: list[str] = CONFIG["planner_tokens"]
WEIGHTS: dict[str, int] = CONFIG.get("weights") or {"lookup": 70, "intake": 15, "action": 13, "map": 2}
RECORD = Path(CONFIG["record"]).open("a", buffering=1, encoding="utf-8")  # noqa: SIM115 (closed at quit)
random.seed(CONFIG["seed"])  # locust picks tasks with the global random

CATEGORIES = [
    # 部件 (components) and 事件 (events) that residents report most, with what they write
    ("S-01-01", "路边有暴露垃圾，好几天没人清理"),
    ("S-01-02", "小区门口积存垃圾渣土"),
    ("S-04-01", "有人占道经营，堵住了人行道"),
    ("S-04-05", "非机动车乱停放，挡住盲道"),
    ("B-01-02", "井盖破损，有安全隐患"),
    ("B-01-04", "路灯不亮了"),
    ("B-02-02", "人行道地砖破损"),
    ("B-03-01", "垃圾桶满了溢出来"),
    ("S-02-01", "墙上有小广告"),
    ("B-04-04", "小区附近没有健身器材，老人没处锻炼"),  # green-space demand: the pocket-park map's input
    ("B-04-05", "这一片没有绿地"),
]
CHANNELS = ("app", "app", "app", "hotline", "hotline", "station", "patrol")
FAILED_CHECK_SHARE = 0.1
MAPS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("/maps/density", {}),
    ("/maps/density", {"level": "subdistrict"}),
    ("/maps/hotspots", {}),
    ("/maps/pocket-parks", {"radius_m": 300}),
)


def record(**item: Any) -> None:
    # gevent never switches inside a plain file write, so lines do not interleave
    RECORD.write(json.dumps(item) + "\n")


@events.quitting.add_listener
def _close_record(**_kwargs: Any) -> None:
    RECORD.close()


class CityClient(FastHttpUser):
    """One client of the city's systems: looks places up, files reports, drives its own cases."""

    wait_time = constant(0)
    network_timeout = 60.0
    connection_timeout = 10.0
    _numbers = iter(range(1_000_000))

    def on_start(self) -> None:
        self.number = next(self._numbers)
        self.rng = random.Random(CONFIG["seed"] * 1000 + self.number)
        self.filed = 0
        self.cases: dict[int, tuple[str, int]] = {}  # open cases of this user: id -> (state, version)
        self.intake()
        if self.number == 0 and WEIGHTS.get("map", 0) > 0:
            self.map_view()  # so that even a short run has a map view

    def lookup(self) -> None:
        lon, lat = self.rng.choice(POINTS)
        with self.client.get(
            "/v1/lookup", params={"lon": lon, "lat": lat, "crs": "gcj02"}, name="lookup", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:300]}")
            elif response.json().get("community") is None:
                response.failure(f"no community for a point inside one: {response.text[:300]}")

    def intake(self) -> None:
        lon, lat = self.rng.choice(POINTS)
        category, description = self.rng.choice(CATEGORIES)
        key = f"{RUN_ID}{self.number:04d}-{self.filed:07d}"
        self.filed += 1
        body = {
            "lon": lon,
            "lat": lat,
            "crs": "gcj02",
            "category": category,
            "description": description,
            "channel": self.rng.choice(CHANNELS),
        }
        record(sent=key)
        with self.client.post(
            "/v1/reports", json=body, headers={"Idempotency-Key": key}, name="intake", catch_response=True
        ) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:300]}")
                return
            report = response.json()["report"]
            record(accepted=key, id=report["id"])
            self.cases[report["id"]] = (report["state"], report["version"])

    def action(self) -> None:
        if not self.cases:
            self.intake()
            return
        report_id = self.rng.choice(list(self.cases))
        state, version = self.cases[report_id]
        action, role = NEXT_STEP[state]
        body: dict[str, Any] = {"action": action, "version": version}
        if action == "check" and self.rng.random() < FAILED_CHECK_SHARE:
            body = {"action": "fail_check", "version": version, "note": "现场复核仍有垃圾，返工"}
        headers = {
            "Authorization": f"Bearer {TOKENS[role]}",
            "Idempotency-Key": f"{RUN_ID}act-{report_id}-{version}",
        }
        with self.client.post(
            f"/v1/reports/{report_id}/actions", json=body, headers=headers, name="action", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(
                    f"{body['action']} report {report_id}: {response.status_code}: {response.text[:300]}"
                )
                self.cases.pop(report_id, None)  # its state is unknown now; the check will show it
                return
            after = response.json()
            record(action=body["action"], id=report_id, version=after["version"])
            if after["state"] in ("closed", "invalid"):
                self.cases.pop(report_id)
            else:
                self.cases[report_id] = (after["state"], after["version"])

    def map_view(self) -> None:
        path, params = self.rng.choice(MAPS)
        token = self.rng.choice(PLANNERS)
        with self.client.get(
            path, params=params, headers={"Authorization": f"Bearer {token}"}, name="map", catch_response=True
        ) as response:
            if response.status_code == 422 and _empty_demand(response):
                response.success()  # a district with no green-space report yet has nothing to plan
            elif response.status_code != 200:
                response.failure(f"{path} {params}: {response.status_code}: {response.text[:300]}")

    tasks = {  # type: ignore[assignment]  # noqa: RUF012 (locust reads task weights from a dict too)
        task: WEIGHTS[kind]
        for kind, task in (("lookup", lookup), ("intake", intake), ("action", action), ("map", map_view))
        if WEIGHTS.get(kind, 0) > 0
    }


def _empty_demand(response: Any) -> bool:
    try:
        return bool(response.json()["error"]["detail"]["field"] == "demand")
    except (ValueError, KeyError, TypeError):
        return False
