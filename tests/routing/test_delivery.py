"""Webhook delivery to a real receiver on loopback: signed, in order per case, retried, dead-lettered,
replayed, one loop per lease; on SQLite and PostGIS with a clock the test moves."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from routing import webhooks
from routing.audit import operator
from routing.delivery import Deliverer, DeliveryPolicy, Round
from routing.service import ReportService
from store.models import OutboxEvent, Webhook
from tests.common import C121, S12
from tests.receiver import Receiver
from tests.routing.conftest import Clock
from tests.routing.test_accountability import walk
from tests.routing.test_service import report

SECRET = "a-receiver-secret-0123456789"
POLICY = DeliveryPolicy(
    lease_s=30, timeout_s=5, retry_period_s=3600, backoff_max_s=60, due_soon=dt.timedelta(0)
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver(SECRET).start()
    yield running
    running.stop()


@pytest.fixture
def deliverer(service: ReportService) -> Iterator[Deliverer]:
    running = Deliverer(service, POLICY)
    yield running
    running.stop()


def hook(service: ReportService, receiver: Receiver, unit: str = C121, types: tuple[str, ...] = ()) -> int:
    view = webhooks.add(service, operator(), unit_key=unit, url=receiver.url, secret=SECRET, types=types)
    return view["id"]


def drain(deliverer: Deliverer, clock: Clock, rounds: int = 30) -> Round:
    """Rounds until nothing is pending (moving the clock past each backoff)."""
    total = Round()
    for _ in range(rounds):
        result = deliverer.run_once()
        total.sent += result.sent
        total.delivered += result.delivered
        total.dead += result.dead
        if not _pending(deliverer.service):
            break
        clock.advance(seconds=61)
    return total


def _pending(service: ReportService) -> int:
    return sum(w["pending"] for w in webhooks.list_webhooks(service, operator()))


def _events(service: ReportService, rid: int) -> list[str]:
    with Session(service.engine) as session:
        return list(
            session.scalars(
                select(OutboxEvent.uid).where(OutboxEvent.report_id == rid).order_by(OutboxEvent.id)
            )
        )


def test_each_event_reaches_the_desks_receiver_signed_and_in_order(
    service: ReportService, receiver: Receiver, deliverer: Deliverer, clock: Clock
) -> None:
    district_receiver = Receiver(SECRET).start()
    try:
        desk = hook(service, receiver)
        district = hook(service, district_receiver, unit=S12, types=("dispatch",))
        ids = [service.submit(report("S-04-04")).report["id"] for _ in range(2)]
        for rid in ids:
            walk(service, rid, C121, "verify", "file", "dispatch", "start")
        drain(deliverer, clock)
    finally:
        district_receiver.stop()
    got = receiver.delivered()
    assert all(item.signed for item in got)
    assert {item.event_id for item in got} == {uid for rid in ids for uid in _events(service, rid)}
    for rid in ids:
        assert receiver.per_case()[rid] == [
            (1, "report"),
            (2, "verify"),
            (3, "file"),
            (4, "dispatch"),
            (5, "start"),
        ]
        assert district_receiver.per_case()[rid] == [(4, "dispatch")]
    assert all(item.signed for item in district_receiver.delivered())
    views = {w["id"]: w for w in webhooks.list_webhooks(service, operator())}
    assert views[desk]["pending"] == views[district]["pending"] == 0
    assert views[desk]["last_success_at"] is not None
    assert views[desk]["secret_hint"] == "…6789"


def test_a_receiver_that_is_down_gets_everything_when_it_is_back(
    service: ReportService, receiver: Receiver, deliverer: Deliverer, clock: Clock
) -> None:
    hook(service, receiver)
    receiver.stop()
    rid = service.submit(report("S-04-04")).report["id"]
    walk(service, rid, C121, "verify", "file", "dispatch")
    for _ in range(3):
        result = deliverer.run_once()
        assert result.delivered == 0
        clock.advance(seconds=61)
    [view] = webhooks.list_webhooks(service, operator())
    assert view["failures"] >= 1
    assert "ConnectError" in view["last_error"]
    receiver.start()
    drain(deliverer, clock)
    assert [kind for _, kind in receiver.per_case()[rid]] == ["report", "verify", "file", "dispatch"]


def test_a_failing_event_holds_back_its_case_only_and_its_order_is_kept(
    service: ReportService, receiver: Receiver, deliverer: Deliverer, clock: Clock
) -> None:
    hook(service, receiver)
    stuck, free = (service.submit(report("S-04-04")).report["id"] for _ in range(2))
    walk(service, stuck, C121, "verify")
    walk(service, free, C121, "verify")
    receiver.failing = {_events(service, stuck)[0]}  # the intake event of one case
    deliverer.run_once()
    deliverer.run_once()
    cases = receiver.per_case()
    assert [kind for _, kind in cases[free]] == ["report", "verify"]
    assert stuck not in cases  # its verify waits for its report event
    receiver.failing = set()
    drain(deliverer, clock)
    assert [kind for _, kind in receiver.per_case()[stuck]] == ["report", "verify"]


def test_500s_end_as_dead_letters_that_a_supervisor_replays(
    service: ReportService, receiver: Receiver, deliverer: Deliverer, clock: Clock
) -> None:
    hook_id = hook(service, receiver)
    receiver.status = 500
    rid = service.submit(report("S-04-04")).report["id"]
    for _ in range(80):  # an hour of retries, 1, 2, 4 ... 60 s apart
        deliverer.run_once()
        clock.advance(seconds=61)
    total, dead = webhooks.deliveries(service, operator(), hook_id, "dead")
    assert total == 1
    assert dead[0]["report_id"] == rid
    assert dead[0]["last_status"] == 500
    assert dead[0]["attempts"] > 5
    assert receiver.delivered() == []
    supervisor = type(operator())("staff", name="s", role="supervisor", unit_key=S12)
    receiver.status = 200
    assert webhooks.replay(service, supervisor, hook_id) == 1
    drain(deliverer, clock)
    assert [kind for _, kind in receiver.per_case()[rid]] == ["report"]
    assert webhooks.deliveries(service, operator(), hook_id, "dead")[0] == 0


def test_one_process_delivers_at_a_time(service: ReportService, receiver: Receiver, clock: Clock) -> None:
    hook(service, receiver)
    first, second = Deliverer(service, POLICY), Deliverer(service, POLICY)
    try:
        assert first.run_once().held
        assert not second.run_once().held
        clock.advance(seconds=31)  # the first holder died without a word: its lease expires
        assert second.run_once().held
        assert not first.run_once().held
        second.stop()  # a holder that stops gives the lease up at once
        assert first.run_once().held
    finally:
        first.stop()
        second.stop()


def test_a_removed_webhook_and_other_units_get_nothing(
    service: ReportService, receiver: Receiver, deliverer: Deliverer, clock: Clock
) -> None:
    removed = hook(service, receiver)
    webhooks.remove(service, operator(), removed)
    hook(service, receiver, unit="370902002002")  # another community
    walk(service, service.submit(report("S-04-04")).report["id"], C121, "verify")
    drain(deliverer, clock)
    assert receiver.received == []
    with Session(service.engine) as session:
        assert session.scalar(select(Webhook.disabled_at).where(Webhook.id == removed)) is not None


def test_due_soon_events_go_out_with_the_round(
    service: ReportService, receiver: Receiver, clock: Clock
) -> None:
    hook(service, receiver, types=("due_soon",))
    rid = service.submit(report("S-04-04")).report["id"]
    walk(service, rid, C121, "verify", "file", "dispatch")
    clock.advance(hours=23)
    looping = Deliverer(service, DeliveryPolicy(due_soon=dt.timedelta(hours=2)))
    try:
        assert looping.run_once().warned == 1
        looping.run_once()
    finally:
        looping.stop()
    assert [kind for _, kind in receiver.per_case()[rid]] == ["due_soon"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("url", "ftp://example.org/x", "is not allowed; allowed: an http:// or https:// URL"),
        ("url", "http://user:pw@example.org/x", "carries a user name or password"),
        ("secret", "short", "the secret has 5 characters; allowed: 16 to 200"),
        ("unit_key", "999999999999", "unit code '999999999999' is not in the active boundary set"),
        ("types", ("dispatched",), "unknown event type 'dispatched'; allowed: report, verify"),
    ],
)
def test_bad_webhooks_are_refused_naming_the_field(
    service: ReportService, field: str, value: object, message: str
) -> None:
    arguments: dict[str, object] = {
        "unit_key": C121, "url": "http://127.0.0.1:9/x", "secret": SECRET, "types": (), field: value,
    }  # fmt: skip
    with pytest.raises(Exception, match=message):
        webhooks.add(service, operator(), **arguments)  # type: ignore[arg-type]


def test_webhooks_are_managed_by_supervisors_of_the_unit_or_above(service: ReportService) -> None:
    from routing.access import Principal
    from routing.errors import ForbiddenError

    def staff(unit: str, role: str) -> Principal:
        return Principal("staff", name=f"{role}@{unit}", role=role, unit_key=unit)

    added = webhooks.add(
        service, staff(S12, "supervisor"), unit_key=C121, url="http://127.0.0.1:9/x", secret=SECRET
    )
    with pytest.raises(ForbiddenError, match="managed by supervisors of that unit or a unit above it"):
        webhooks.add(
            service, staff(C121, "supervisor"), unit_key=S12, url="http://127.0.0.1:9/x", secret=SECRET
        )
    with pytest.raises(ForbiddenError, match="role 'dispatcher' may not do this"):
        webhooks.list_webhooks(service, staff(C121, "dispatcher"))
    assert [w["id"] for w in webhooks.list_webhooks(service, staff(C121, "supervisor"))] == [added["id"]]
    assert webhooks.list_webhooks(service, staff("370902001000", "supervisor")) == []
    with pytest.raises(ForbiddenError, match=f"webhook {added['id']} is not accessible"):
        webhooks.remove(service, staff("370902001000", "supervisor"), added["id"])


def test_a_receiver_that_hangs_costs_one_timeout_a_round(
    service: ReportService, receiver: Receiver, clock: Clock
) -> None:
    hook(service, receiver)
    for _ in range(20):
        service.submit(report("S-04-04"))
    receiver.delay_s = 3.0  # longer than the timeout
    hanging = Deliverer(service, DeliveryPolicy(timeout_s=0.5, lease_s=30, due_soon=dt.timedelta(0)))
    try:
        started = time.monotonic()
        first = hanging.run_once()
        assert time.monotonic() - started < 2.5
        assert (first.sent, first.delivered) == (8, 0)  # one wave, shared threads
        clock.advance(seconds=2)
        second = hanging.run_once()
        assert second.sent == 1  # a failing receiver gets one probe a round
    finally:
        hanging.stop()
