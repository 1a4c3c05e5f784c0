"""The delivery loop: events of the outbox to the units' webhooks, at least once, in order per case.

One loop runs across all workers and machines: each round first takes (or renews)
the lease ``webhook-delivery`` in the database (:mod:`store.leases`); a worker that
does not hold it does nothing, and when the holder dies another takes over once its
lease expires (``SIJI_DELIVERY_LEASE_S``).  A round

1. writes ``due_soon`` events for cases due within ``SIJI_DUE_SOON_HOURS``
   (:func:`routing.outbox.warn_due_soon`);
2. queues a delivery for each new event of each webhook's unit (the webhook's cursor
   moves in the same transaction);
3. sends, in waves of parallel requests across cases and webhooks, the oldest pending
   delivery of each (webhook, case) that is due: a case's later event waits until the
   earlier one was delivered or dead-lettered, so a receiver gets each case's events in
   order; a wave lasts at most one timeout, and the round ends when a wave delivers
   nothing or a third of the lease has passed (``SIJI_DELIVERY_LEASE_S`` must be at least
   twice ``SIJI_WEBHOOK_TIMEOUT_S``);
4. records each answer: a 2xx is delivered; anything else (an error status, a refused
   connection, a timeout) is tried again after 1, 2, 4, ... seconds (at most
   ``SIJI_WEBHOOK_BACKOFF_MAX_S``), until ``SIJI_WEBHOOK_RETRY_PERIOD_S`` after it was
   queued, when it becomes a dead letter (``GET /v1/webhooks/{id}/deliveries``, replayed
   with ``POST /v1/webhooks/{id}/replay``).  A receiver that fails every delivery of a
   round is held back as a whole, with the same backoff.

A delivery is marked delivered only after its 2xx answer, in the database: a process
killed mid-delivery leaves it pending, and it is sent again (with the same event id,
which receivers deduplicate on).  The loop runs in a thread of its own with its own
HTTP client and threads, so a receiver that is slow or unreachable never holds up a
request to the service.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from routing import outbox
from routing.webhooks import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from store import leases
from store.models import OutboxEvent, OutboxRecipient, Webhook, WebhookDelivery

if TYPE_CHECKING:
    from routing.service import ReportService

logger = logging.getLogger("siji.delivery")

LEASE = "webhook-delivery"
"""The name of the delivery loop's lease (the row the migration creates)."""
QUEUE_PAGE = 5000
"""New events queued for one webhook per round."""


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How the loop runs: the ``SIJI_DELIVERY_*``, ``SIJI_WEBHOOK_*`` and ``SIJI_DUE_SOON_HOURS`` settings."""

    interval_s: float = 1.0
    lease_s: float = 30.0
    timeout_s: float = 10.0
    retry_period_s: float = 86_400.0
    backoff_max_s: float = 600.0
    due_soon: dt.timedelta = dt.timedelta(hours=2)
    threads: int = 8

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failure: 1, 2, 4, ... at most ``backoff_max_s``.

        Examples
        --------
        >>> [DeliveryPolicy(backoff_max_s=10).backoff(n) for n in (1, 2, 3, 4, 5, 6)]
        [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
        """
        return float(min(self.backoff_max_s, 2.0 ** min(max(attempts - 1, 0), 30)))


@dataclass
class Round:
    """What one round did."""

    held: bool = False
    warned: int = 0
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0


@dataclass(frozen=True, slots=True)
class _Job:
    delivery_id: int
    webhook_id: int
    url: str
    secret: str
    uid: str
    kind: str
    body: bytes
    attempts: int
    due_since: dt.datetime


@dataclass(frozen=True, slots=True)
class _Answer:
    ok: bool
    status: int | None = None
    error: str = ""


@dataclass
class Deliverer:
    """The delivery loop of one process (see the module docstring).

    Parameters
    ----------
    service : ReportService
    policy : DeliveryPolicy
    transport : httpx.BaseTransport, optional
        For tests; default the network.
    """

    service: ReportService
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    transport: httpx.BaseTransport | None = None
    holder: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    )

    def __post_init__(self) -> None:
        self.client = httpx.Client(
            timeout=self.policy.timeout_s,
            follow_redirects=False,
            transport=self.transport,
            headers={"User-Agent": "siji-webhooks/1"},
        )
        self.pool = ThreadPoolExecutor(self.policy.threads, thread_name_prefix="siji-webhook")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the loop ---------------------------------------------------------------------
    def start(self) -> None:
        """Run rounds every ``interval_s`` in a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="siji-delivery", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Finish the round in progress, give the lease up and close the client."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            leases.release(self.service.engine, LEASE, self.holder)
        except Exception:  # the database may be gone at shutdown; the lease then expires by itself
            logger.warning("could not release the delivery lease", exc_info=True)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a failed round is logged and the next one tries again
                logger.exception("webhook delivery round failed")
            self._stop.wait(self.policy.interval_s)

    def run_once(self) -> Round:
        """One round (see the module docstring), if this process holds the lease."""
        result = Round()
        if not self._renew():
            return result
        result.held = True
        if self.policy.due_soon > dt.timedelta(0):
            result.warned = outbox.warn_due_soon(self.service, self.policy.due_soon)
        result.queued = self._enqueue()
        started = time.monotonic()
        while not self._stop.is_set():
            jobs = self._heads()
            if not jobs:
                break
            answers = list(self.pool.map(self._send, jobs))
            delivered, dead = self._record(jobs, answers)
            result.sent += len(jobs)
            result.delivered += delivered
            result.failed += len(jobs) - delivered
            result.dead += dead
            # more in this round only while the receivers answer and the lease is surely ours
            if not delivered or time.monotonic() - started > self.policy.lease_s / 3 or not self._renew():
                break
        return result

    def _renew(self) -> bool:
        return leases.acquire(
            self.service.engine, LEASE, self.holder, self.policy.lease_s, self.service.now()
        )

    # --- queue ---------------------------------------------------------------------------
    def _enqueue(self) -> int:
        """Queue a delivery of each new event for each enabled webhook; return how many."""
        now = self.service.now()
        queued = 0
        try:
            with Session(self.service.engine) as session, session.begin():
                for hook in session.scalars(select(Webhook).where(Webhook.disabled_at.is_(None))).all():
                    rows = session.execute(
                        select(OutboxEvent.id, OutboxEvent.report_id, OutboxEvent.type)
                        .join(OutboxRecipient, OutboxRecipient.event_id == OutboxEvent.id)
                        .where(OutboxRecipient.unit_key == hook.unit_key, OutboxEvent.id > hook.cursor)
                        .order_by(OutboxEvent.id)
                        .limit(QUEUE_PAGE)
                    ).all()
                    wanted = set(hook.types or ())
                    for event_id, report_id, kind in rows:
                        if wanted and kind not in wanted:
                            continue
                        session.add(
                            WebhookDelivery(
                                webhook_id=hook.id, event_id=event_id, report_id=report_id, status="pending",
                                attempts=0, due_since=now, next_attempt_at=now, last_error="",
                            )
                        )  # fmt: skip
                        queued += 1
                    if rows:
                        hook.cursor = rows[-1].id
        except IntegrityError:  # another holder (an expired lease's) queued them first
            return 0
        return queued

    def _heads(self) -> list[_Job]:
        """One wave of sends: the oldest pending delivery of each (webhook, case), if it is due, for
        the webhooks not held back.  The sending threads are shared out among the webhooks, and a
        failing receiver gets one probe a wave, so one wave lasts at most one timeout and a receiver
        that hangs never holds up the others for long."""
        now = self.service.now()
        earlier = aliased(WebhookDelivery)
        jobs: list[_Job] = []
        with Session(self.service.engine) as session:
            hooks = session.scalars(
                select(Webhook).where(
                    Webhook.disabled_at.is_(None), Webhook.retry_at.is_(None) | (Webhook.retry_at <= now)
                )
            ).all()
            share = max(1, self.policy.threads // max(1, len(hooks)))
            for hook in hooks:
                waiting = exists().where(
                    earlier.webhook_id == WebhookDelivery.webhook_id,
                    earlier.report_id == WebhookDelivery.report_id,
                    earlier.status == "pending",
                    earlier.id < WebhookDelivery.id,
                )
                rows = session.execute(
                    select(WebhookDelivery, OutboxEvent)
                    .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
                    .where(
                        WebhookDelivery.webhook_id == hook.id,
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.next_attempt_at <= now,
                        ~waiting,
                    )
                    .order_by(WebhookDelivery.id)
                    .limit(1 if hook.failures else share)
                ).all()
                for delivery, event in rows:
                    body = json.dumps(event.payload, ensure_ascii=False, separators=(",", ":")).encode()
                    jobs.append(
                        _Job(
                            delivery.id, hook.id, hook.url, hook.secret, event.uid, event.type, body,
                            delivery.attempts, _aware(delivery.due_since),
                        )
                    )  # fmt: skip
        return jobs

    # --- send and record ---------------------------------------------------------------
    def _send(self, job: _Job) -> _Answer:
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            EVENT_ID_HEADER: job.uid,
            EVENT_TYPE_HEADER: job.kind,
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: sign(job.secret, stamp, job.body),
        }
        try:
            with self.client.stream("POST", job.url, content=job.body, headers=headers) as response:
                if 200 <= response.status_code < 300:
                    return _Answer(True, response.status_code)
                snippet = b""
                for chunk in response.iter_bytes():
                    snippet += chunk
                    if len(snippet) >= 300:
                        break
                text = snippet[:300].decode("utf-8", "replace")
                return _Answer(False, response.status_code, f"HTTP {response.status_code}: {text}")
        except httpx.HTTPError as exc:
            return _Answer(False, None, f"{type(exc).__name__}: {exc}"[:500])

    def _record(self, jobs: list[_Job], answers: list[_Answer]) -> tuple[int, int]:
        """Store the answers; return (delivered, dead-lettered)."""
        now = self.service.now()
        period = dt.timedelta(seconds=self.policy.retry_period_s)
        by_hook: dict[int, list[_Answer]] = defaultdict(list)
        delivered = dead = 0
        with Session(self.service.engine) as session, session.begin():
            for job, answer in zip(jobs, answers, strict=True):
                by_hook[job.webhook_id].append(answer)
                attempts = job.attempts + 1
                values: dict[str, Any] = {
                    "attempts": attempts, "last_attempt_at": now, "last_status": answer.status,
                    "last_error": answer.error,
                }  # fmt: skip
                if answer.ok:
                    values |= {"status": "delivered", "delivered_at": now}
                    delivered += 1
                elif now - job.due_since >= period:
                    values |= {"status": "dead"}
                    dead += 1
                    logger.warning(
                        "webhook %s: event %s dead-lettered: %s", job.webhook_id, job.uid, answer.error
                    )
                else:
                    values |= {"next_attempt_at": now + self._wait(attempts)}
                session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id == job.delivery_id, WebhookDelivery.status == "pending")
                    .values(**values)
                )
            for hook_id, hook_answers in by_hook.items():
                hook = session.get(Webhook, hook_id)
                if hook is None:
                    continue
                if any(a.ok for a in hook_answers):
                    hook.failures, hook.retry_at, hook.last_success_at = 0, None, now
                else:
                    hook.failures += 1
                    hook.retry_at = now + self._wait(hook.failures)
                    hook.last_error = hook_answers[-1].error[:1000]
        return delivered, dead

    def _wait(self, failures: int) -> dt.timedelta:
        # ±10 % jitter: receivers coming back are not hit by every queue at the same instant
        return dt.timedelta(seconds=self.policy.backoff(failures) * random.uniform(0.9, 1.1))


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
