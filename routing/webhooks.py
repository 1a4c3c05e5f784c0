"""Webhooks: a unit's receivers of its events, how requests to them are signed, and their dead letters.

A webhook belongs to one unit (or department) and gets every event of the outbox that
unit hears of (:mod:`routing.outbox`), or only the ``types`` it names, from the
moment it is added.  Each event is a ``POST`` of its JSON body (the event's
:func:`~routing.outbox.payload`, with its stable ``id``) and these headers:

==========================  ==========================================================
``X-Siji-Event-Id``         the event's id (``evt_...``): the same on every retry, so a
                            receiver drops a duplicate (delivery is at least once)
``X-Siji-Event-Type``       ``dispatch``, ``escalate``, ``due_soon``, ...
``X-Siji-Timestamp``        Unix seconds when this attempt was signed
``X-Siji-Signature``        ``v1=`` + hex HMAC-SHA256 of ``"<timestamp>.<body>"`` with the
                            webhook's secret (:func:`sign`; receivers check it with
                            :func:`verify` or the same three lines of their own)
==========================  ==========================================================

Delivery itself is :mod:`routing.delivery`.  Supervisors add webhooks for their unit
or any unit below it (``POST /v1/webhooks``), operators for any unit (``siji
webhooks add``); both read the dead letters and replay them.  Every change is audited.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from geo.errors import InvalidInputError, NotFoundError
from routing import audit, outbox
from routing.access import Principal, require_staff
from routing.effects import iso
from routing.errors import ForbiddenError
from store.models import Webhook, WebhookDelivery

if TYPE_CHECKING:
    from routing.service import ReportService

SIGNATURE_HEADER = "X-Siji-Signature"
TIMESTAMP_HEADER = "X-Siji-Timestamp"
EVENT_ID_HEADER = "X-Siji-Event-Id"
EVENT_TYPE_HEADER = "X-Siji-Event-Type"
TOLERANCE_S = 300
"""How old a signed timestamp :func:`verify` accepts (replayed requests are refused after it)."""
MIN_SECRET, MAX_SECRET = 16, 200
DELIVERY_STATUSES = ("pending", "delivered", "dead")
MAX_PAGE = 500


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Siji-Signature`` of a request: ``v1=`` + HMAC-SHA256 over ``"<timestamp>.<body>"``.

    Examples
    --------
    >>> sign("a-secret-of-16-chars", 1700000000, b'{"id":"evt_1"}')[:11]
    'v1=6a2ff462'
    """
    message = str(timestamp).encode() + b"." + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: float | None = None,
    tolerance_s: float = TOLERANCE_S,
) -> bool:
    """Whether a received request is signed with ``secret`` and recent (what a receiver does).

    Examples
    --------
    >>> body = b'{"id":"evt_1"}'
    >>> verify("a-secret-of-16-chars", "1700000000", body, sign("a-secret-of-16-chars", 1700000000, body),
    ...        now=1700000010)
    True
    >>> verify("another-secret-16ch", "1700000000", body, sign("a-secret-of-16-chars", 1700000000, body),
    ...        now=1700000010)
    False
    """
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - stamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, stamp, body), signature.strip())


class WebhookView(TypedDict):
    """A webhook as supervisors and operators see it (never its secret)."""

    id: int
    unit_key: str
    url: str
    types: list[str]
    secret_hint: str
    created_at: str | None
    created_by: str
    disabled_at: str | None
    failures: int
    retry_at: str | None
    last_error: str
    last_success_at: str | None
    pending: int
    dead: int


class DeliveryView(TypedDict):
    """One event for one webhook: its state, attempts and the last answer."""

    id: int
    event_id: str
    event_type: str
    report_id: int
    status: str
    attempts: int
    due_since: str | None
    next_attempt_at: str | None
    last_attempt_at: str | None
    delivered_at: str | None
    last_status: int | None
    last_error: str


def add(
    service: ReportService,
    principal: Principal,
    *,
    unit_key: str,
    url: str,
    secret: str,
    types: Sequence[str] = (),
) -> WebhookView:
    """Register a receiver for the events of ``unit_key``, from now on.

    Raises
    ------
    ForbiddenError
        Not a supervisor of the unit or of a unit above it (operators may add any).
    UnknownDeskError, InvalidInputError
        An unknown unit, a URL that is not http(s), a secret of the wrong length, an
        unknown event type.
    """
    desk = service.desks().get(unit_key, field="unit")
    _require_manager(service, principal, desk.key)
    _check_url(url)
    if not MIN_SECRET <= len(secret) <= MAX_SECRET:
        raise InvalidInputError(
            f"the secret has {len(secret)} characters; allowed: {MIN_SECRET} to {MAX_SECRET} (e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))')",
            field="secret",
        )
    wanted = outbox.check_types(types)
    now = service.now()
    with Session(service.engine) as session, session.begin():
        row = Webhook(
            unit_key=desk.key, url=url, secret=secret, types=wanted, created_at=now,
            created_by=principal.name[:200], cursor=outbox.latest(service.engine), failures=0, last_error="",
        )  # fmt: skip
        session.add(row)
        session.flush()
        session.add(
            audit.entry(
                principal, "webhook.add", now, scope=[*service.chain(principal), *desk.chain],
                target=f"webhook:{row.id}", detail={"unit_key": desk.key, "url": url, "types": wanted},
            )
        )  # fmt: skip
        return _view(session, row)


def list_webhooks(service: ReportService, principal: Principal) -> list[WebhookView]:
    """The webhooks of the units the principal manages (the principal's unit and below)."""
    _require_any_manager(principal)
    with Session(service.engine) as session:
        rows = session.scalars(select(Webhook).order_by(Webhook.id)).all()
        return [_view(session, r) for r in rows if _manages(service, principal, r.unit_key)]


def remove(service: ReportService, principal: Principal, webhook_id: int) -> WebhookView:
    """Disable a webhook: nothing more is queued or sent to it (its history stays)."""
    now = service.now()
    with Session(service.engine) as session, session.begin():
        row = _get(service, session, principal, webhook_id)
        if row.disabled_at is None:
            row.disabled_at = now
            session.add(
                audit.entry(
                    principal, "webhook.remove", now,
                    scope=[*service.chain(principal), *service.desks().chain(row.unit_key)],
                    target=f"webhook:{row.id}", detail={"unit_key": row.unit_key, "url": row.url},
                )
            )  # fmt: skip
        session.flush()
        return _view(session, row)


def deliveries(
    service: ReportService,
    principal: Principal,
    webhook_id: int,
    status: str = "dead",
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[DeliveryView]]:
    """The webhook's deliveries in ``status`` (default: the dead letters), oldest first."""
    if status not in DELIVERY_STATUSES:
        raise InvalidInputError(
            f"unknown delivery status {status!r}; allowed: {', '.join(DELIVERY_STATUSES)}",
            field="status",
            value=status,
        )
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(f"limit {limit} is outside 1..{MAX_PAGE}", field="limit")
    with Session(service.engine) as session:
        _get(service, session, principal, webhook_id)
        query = select(WebhookDelivery).where(
            WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.status == status
        )
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(WebhookDelivery.id).limit(limit).offset(offset)).all()
        return total, [_delivery_view(r) for r in rows]


def replay(
    service: ReportService, principal: Principal, webhook_id: int, delivery_ids: Sequence[int] | None = None
) -> int:
    """Queue dead letters again (all of the webhook's, or those named); return how many.

    They are retried as new deliveries (the retry period starts again), before any
    later event of the same case.
    """
    now = service.now()
    with Session(service.engine) as session, session.begin():
        row = _get(service, session, principal, webhook_id)
        query = update(WebhookDelivery).where(
            WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.status == "dead"
        )
        if delivery_ids is not None:
            query = query.where(WebhookDelivery.id.in_(sorted(set(delivery_ids))))
        result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            query.values(status="pending", attempts=0, due_since=now, next_attempt_at=now)
        )
        count = result.rowcount
        row.failures, row.retry_at = 0, None
        session.add(
            audit.entry(
                principal, "webhook.replay", now,
                scope=[*service.chain(principal), *service.desks().chain(row.unit_key)],
                target=f"webhook:{row.id}",
                detail={"replayed": count, "ids": sorted(set(delivery_ids))[:100] if delivery_ids else "all"},
            )
        )  # fmt: skip
    return int(count or 0)


# --------------------------------------------------------------------------- helpers
def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise InvalidInputError(
            f"url {url[:200]!r} is not allowed; allowed: an http:// or https:// URL of at most 2,000 "
            "characters",
            field="url",
            value=url[:200],
        )
    if parts.username or parts.password:
        raise InvalidInputError(
            "the url carries a user name or password; sign requests with the secret instead", field="url"
        )


def _require_any_manager(principal: Principal) -> None:
    if principal.kind != "operator":
        require_staff(principal, frozenset({"supervisor"}))


def _manages(service: ReportService, principal: Principal, unit_key: str) -> bool:
    return principal.kind == "operator" or principal.unit_key in service.desks().chain(unit_key)


def _require_manager(service: ReportService, principal: Principal, unit_key: str) -> None:
    _require_any_manager(principal)
    if not _manages(service, principal, unit_key):
        raise ForbiddenError(
            f"webhooks of {unit_key!r} are managed by supervisors of that unit or a unit above it; your "
            f"unit is {principal.unit_key!r}",
            unit_key=unit_key,
        )


def _get(service: ReportService, session: Session, principal: Principal, webhook_id: int) -> Webhook:
    _require_any_manager(principal)
    row = session.get(Webhook, webhook_id)
    if row is None or not _manages(service, principal, row.unit_key):
        if principal.kind == "operator":
            raise NotFoundError(f"webhook {webhook_id} does not exist", webhook_id=webhook_id)
        raise ForbiddenError(
            f"webhook {webhook_id} is not accessible with these credentials", webhook_id=webhook_id
        )
    return row


def _view(session: Session, row: Webhook) -> WebhookView:
    counts = dict(
        session.execute(
            select(WebhookDelivery.status, func.count())
            .where(WebhookDelivery.webhook_id == row.id, WebhookDelivery.status.in_(("pending", "dead")))
            .group_by(WebhookDelivery.status)
        ).all()
    )
    return {
        "id": row.id,
        "unit_key": row.unit_key,
        "url": row.url,
        "types": list(row.types or []),
        "secret_hint": "…" + row.secret[-4:],
        "created_at": iso(row.created_at),
        "created_by": row.created_by,
        "disabled_at": iso(row.disabled_at),
        "failures": row.failures,
        "retry_at": iso(row.retry_at),
        "last_error": row.last_error,
        "last_success_at": iso(row.last_success_at),
        "pending": int(counts.get("pending", 0)),
        "dead": int(counts.get("dead", 0)),
    }


def _delivery_view(row: WebhookDelivery) -> DeliveryView:
    event = row.event
    return {
        "id": row.id,
        "event_id": event.uid,
        "event_type": event.type,
        "report_id": row.report_id,
        "status": row.status,
        "attempts": row.attempts,
        "due_since": iso(row.due_since),
        "next_attempt_at": iso(row.next_attempt_at),
        "last_attempt_at": iso(row.last_attempt_at),
        "delivered_at": iso(row.delivered_at),
        "last_status": row.last_status,
        "last_error": row.last_error,
    }
