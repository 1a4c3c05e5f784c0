"""Webhooks from a real ``siji serve`` to a real receiver on loopback: none lost, in order, signed.

Two crash clients (``tests/system/crash.py``) file reports and drive them through the
loop with a city token while the receiver of the city's webhook is, in turn,

1. up;
2. down (its port refuses connections) for a while;
3. answering 500 to everything;
4. hanging (it answers after 8 s, longer than the 1.5 s webhook timeout) — lookups and
   steps must be answered meanwhile: delivery never blocks request handling;
5. slow, and the server (two workers, one delivery lease between them) is SIGKILLed
   while a delivery is in flight, then started again.

Afterwards every event of the outbox has reached the receiver at least once, each
case's events arrived in the order of the case's versions, and every request the
receiver got carried a valid signature.  On SQLite and on PostGIS.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from benchmarks.load import CITY, Service, issue_tokens, sample_points
from routing.audit import operator
from store.engine import make_engine
from store.models import OutboxEvent, OutboxRecipient, Webhook
from tests.receiver import Receiver
from tests.system.crash import CrashClient, Ledger

SECRET = "system-test-webhook-secret-0123"
SERVER_ENV = {
    "SIJI_DELIVERY_INTERVAL_S": "0.2",
    "SIJI_DELIVERY_LEASE_S": "4",
    "SIJI_WEBHOOK_BACKOFF_MAX_S": "1",
    "SIJI_WEBHOOK_TIMEOUT_S": "1.5",
    "SIJI_DUE_SOON_HOURS": "0",
}


def _add_webhook(url: str, receiver_url: str) -> None:
    from api.settings import Settings, report_service
    from boundaries.service import BoundaryService
    from routing.webhooks import add

    engine = make_engine(url)
    try:
        service = report_service(Settings(database_url=url), engine, BoundaryService(engine))
        add(service, operator(), unit_key=CITY, url=receiver_url, secret=SECRET)
    finally:
        engine.dispose()


def _city_events(url: str) -> list[tuple[str, int]]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(OutboxEvent.uid, OutboxEvent.report_id)
                .join(OutboxRecipient, OutboxRecipient.event_id == OutboxEvent.id)
                .where(OutboxRecipient.unit_key == CITY)
                .order_by(OutboxEvent.id)
            ).all()
            failures = session.scalar(select(Webhook.failures))
    finally:
        engine.dispose()
    assert failures is not None
    return [(uid, rid) for uid, rid in rows]


def test_every_event_arrives_signed_and_in_order_through_outages_and_kills(
    served_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = served_database_url
    for name, value in SERVER_ENV.items():
        monkeypatch.setenv(name, value)
    receiver = Receiver(SECRET).start()
    _add_webhook(url, receiver.url)
    tokens = issue_tokens(url, ("dispatcher", "handler"))
    service = Service(url, tmp_path, workers=2)
    service.start()
    ledger, stop = Ledger(), threading.Event()
    clients = [
        CrashClient(n, service.base_url, tokens, sample_points(50, 19), ledger, stop, "hook-", 19)
        for n in range(2)
    ]
    in_flight = threading.Event()
    try:
        for client in clients:
            client.start()
        time.sleep(3)  # 1. up
        receiver.stop()  # 2. down
        time.sleep(3)
        receiver.start()
        receiver.status = 500  # 3. answering 500
        time.sleep(3)
        receiver.status = 200
        receiver.delay_s = 8.0  # 4. hanging: requests to the service are answered meanwhile
        time.sleep(1)
        lookups = [
            httpx.get(f"{service.base_url}/v1/lookup", params={"lon": 117.13, "lat": 36.19}, timeout=5)
            for _ in range(10)
        ]
        assert all(r.status_code == 200 for r in lookups)
        receiver.delay_s = 1.0  # 5. slow, and killed mid-delivery
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not in_flight.is_set():
            with receiver.lock:
                count = len(receiver.received)
            time.sleep(0.3)
            with receiver.lock:
                if len(receiver.received) == count:
                    continue
            in_flight.set()
        time.sleep(0.5)  # a delivery is under way: the receiver takes a second to answer
        service.kill()
        receiver.delay_s = 0.0
        service.start()
        time.sleep(2)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=150)
    try:
        expected = _city_events(url)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not {uid for uid, _ in expected} <= receiver.event_ids():
            time.sleep(0.5)
        expected = _city_events(url)
    finally:
        service.stop()
        receiver.stop()

    got = receiver.event_ids()
    missing = [uid for uid, _ in expected if uid not in got]
    delivered = receiver.delivered()
    duplicates = len(delivered) - len(got)
    out_of_order = {
        rid: versions
        for rid, events in receiver.per_case().items()
        if (versions := [v for v, _ in events]) != sorted(versions)
    }
    print(
        f"\n{url.split(':')[0]}: {len(expected)} events of {len({rid for _, rid in expected})} cases; "
        f"{len(receiver.received)} requests to the receiver, {len(delivered)} answered 2xx, "
        f"{duplicates} duplicates (at least once), missing {len(missing)}, out of order {len(out_of_order)}"
    )
    assert not ledger.errors, ledger.errors[:5]
    assert in_flight.is_set(), "no delivery was under way at the kill: the test tested nothing"
    assert expected, "no events were written"
    assert missing == [], f"events never delivered: {missing[:10]}"
    assert out_of_order == {}, f"cases whose events arrived out of order: {list(out_of_order.items())[:5]}"
    assert all(item.signed for item in receiver.received), "a request without a valid signature"
    dispatched = {item.body["report"]["id"] for item in delivered if item.body["type"] == "dispatch"}
    assert dispatched, "no case was dispatched"
