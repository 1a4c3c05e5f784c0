"""The outbox: what a unit must act on or know of, written in the transaction of the step that caused it.

Every step of the loop (intake, each action, each escalation) writes one
:class:`~store.models.OutboxEvent` in the same transaction as its event and its
audit entry (:func:`publish`), so an event exists exactly when its step committed:
a step that rolls back leaves none, a step that committed is never lost.  Between
steps, :func:`warn_due_soon` writes a ``due_soon`` event for each case whose due
time comes within ``SIJI_DUE_SOON_HOURS`` (once per due time: an extension that
moves it gets a new warning).

Who hears of an event (:class:`~store.models.OutboxRecipient`): the chain of the
case's owner after the step (the desk and every unit above it, so a district hears
of its area), the chain of the owner before it (the desk a case was transferred or
rerouted away from), the desk a transfer is asked of, and, for a merge, the owner of
the original.  The pull feed (:func:`read`, ``GET /v1/events``) and the webhooks of a
unit (:mod:`routing.webhooks`) carry the events its unit hears of.

Events are numbered in commit order: the number is the feed's cursor, and on
PostgreSQL writers of the outbox take a transaction-scoped advisory lock so that no
event with a smaller number commits after a reader has passed it (SQLite has one
writer at a time anyway).  The body of an event (:func:`payload`) is what staff of
the unit may read of the case, without the reporter's contact.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from geo.errors import InvalidInputError
from routing import audit
from routing.access import Principal, owner_chain, require_staff
from routing.effects import iso, supervisor
from routing.views import event_view, is_overdue
from routing.workflow import ACTIONS, CLOCK_STATES, STATES
from store.models import OutboxEvent, OutboxRecipient, Report, ReportEvent

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from routing.catalog import Catalog
    from routing.service import ReportService

EVENT_TYPES: dict[str, str] = {
    "report": "上报",
    **{name: action.label_zh for name, action in ACTIONS.items()},
    "due_soon": "即将到期",
}
"""Every kind of event: ``report`` (a new case), each action of the loop, and ``due_soon``."""
MAX_PAGE = 500
"""The most events one read of the feed returns."""
_OUTBOX_LOCK = 0x5_1_1_1  # any constant: the advisory lock key of outbox writers on PostgreSQL


def publish(
    session: Session,
    report: Report,
    event: ReportEvent | None,
    catalog: Catalog,
    *,
    before: Sequence[str] = (),
    kind: str | None = None,
    at: dt.datetime | None = None,
) -> OutboxEvent:
    """Write the outbox event of ``event`` (a step just flushed), or of ``kind`` (``due_soon``).

    Call it last in the step's transaction: it serializes outbox writers until commit.
    ``before`` is the owner's chain before the step.
    """
    _serialize(session)
    kind = kind or (event.action if event is not None else "")
    moment = at or (event.at if event is not None else dt.datetime.now(dt.UTC))
    uid = "evt_" + uuid.uuid4().hex
    recipients = [*owner_chain(report), *before]
    recipients += [scope.unit_key for scope in report.scopes if scope.kind == "asked"]
    merged_into = (event.data or {}).get("merged_into") if event is not None else None
    if merged_into is not None:
        recipients += list(session.scalar(select(Report.owner_chain).where(Report.id == merged_into)) or [])
    row = OutboxEvent(
        uid=uid,
        report_id=report.id,
        report_event_id=None if event is None else event.id,
        type=kind,
        at=moment,
        payload=payload(uid, kind, moment, report, event, catalog),
        recipients=[OutboxRecipient(unit_key=key) for key in dict.fromkeys(recipients)],
    )
    session.add(row)
    return row


def _serialize(session: Session) -> None:
    """On PostgreSQL, one outbox writer at a time until commit: numbers commit in order."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _OUTBOX_LOCK})


def payload(
    uid: str,
    kind: str,
    at: dt.datetime,
    report: Report,
    event: ReportEvent | None,
    catalog: Catalog,
) -> dict[str, Any]:
    """The body of an event: its id and type, the case as it is after the step, and the step.

    The case carries its description and address (staff of the unit read them) but not
    the reporter's contact.
    """
    category = catalog.get(report.category_code)
    step = None if event is None else event_view(event)
    return {
        "id": uid,
        "type": kind,
        "type_zh": EVENT_TYPES.get(kind, kind),
        "occurred_at": iso(at),
        "report": {
            "id": report.id,
            "version": report.version,
            "url": f"/v1/reports/{report.id}",
            "state": report.state,
            "state_zh": STATES[report.state],
            "category": {"code": category.code, "name_zh": category.name_zh},
            "owner": {"key": report.owner_key, "level": report.owner_level, "name": report.owner_name},
            "due_at": iso(report.due_at),
            "overdue": is_overdue(report, at),
            "escalation_level": report.escalation_level,
            "supervisor": supervisor(report),
            "urge_count": report.urge_count or 0,
            "merged_into": report.merged_into,
            "satisfaction": report.satisfaction,
            "lon": report.lon,
            "lat": report.lat,
            "address": report.address,
            "description": report.description,
        },
        "step": step,
    }


def warn_due_soon(service: ReportService, within: dt.timedelta, now: dt.datetime | None = None) -> int:
    """Write a ``due_soon`` event for each running case due within ``within``; return how many.

    A case is warned once per due time (``Report.due_warned_for``), without a step:
    its version does not change.
    """
    now = (now or service.now()).astimezone(dt.UTC)
    with Session(service.engine) as session, session.begin():
        rows = session.scalars(
            select(Report)
            .where(
                Report.state.in_(CLOCK_STATES),
                Report.due_at > now,
                Report.due_at <= now + within,
                Report.due_warned_for.is_(None) | (Report.due_warned_for != Report.due_at),
            )
            .order_by(Report.id)
            .limit(MAX_PAGE)
        ).all()
        for row in rows:
            session.execute(update(Report).where(Report.id == row.id).values(due_warned_for=row.due_at))
            publish(session, row, None, service.catalog, kind="due_soon", at=now)
    return len(rows)


def read(
    service: ReportService,
    principal: Principal,
    after: int = 0,
    limit: int = 100,
    types: Sequence[str] = (),
) -> tuple[list[dict[str, Any]], int]:
    """The events the principal's unit hears of after the cursor ``after``, oldest first, and
    the cursor to ask from next (the last event's number, or ``after`` when there is none).

    Each event is its :func:`payload` with its ``cursor``.  A read that returns events
    is audited (``events.read``) in the same transaction.

    Raises
    ------
    UnauthenticatedError, ForbiddenError
        No credentials, or not a staff token.
    InvalidInputError
        A negative cursor, a limit outside 1..500, an unknown event type.
    """
    require_staff(principal)
    _check(after, limit, types)
    query = (
        select(OutboxEvent)
        .join(OutboxRecipient, OutboxRecipient.event_id == OutboxEvent.id)
        .where(OutboxRecipient.unit_key == (principal.unit_key or ""), OutboxRecipient.event_id > after)
        .order_by(OutboxRecipient.event_id)
        .limit(limit)
    )
    if types:
        query = query.where(OutboxEvent.type.in_(sorted(set(types))))
    with Session(service.engine) as session, session.begin():
        rows = session.scalars(query).all()
        events = [{**row.payload, "cursor": row.id} for row in rows]
        last = rows[-1].id if rows else after
        if events:
            session.add(
                audit.entry(
                    principal, "events.read", service.now(), scope=service.chain(principal),
                    detail={"after": after, "returned": len(events), "last": last},
                )
            )  # fmt: skip
    return events, last


def latest(engine: Engine) -> int:
    """The number of the newest event (0: none yet)."""
    with Session(engine) as session:
        return int(session.scalar(select(OutboxEvent.id).order_by(OutboxEvent.id.desc()).limit(1)) or 0)


def check_types(types: Sequence[str]) -> list[str]:
    """``types`` if every one is an event type; else an error listing them.

    Examples
    --------
    >>> check_types(["dispatch", "due_soon"])
    ['dispatch', 'due_soon']
    >>> check_types(["dispatched"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geo.errors.InvalidInputError: unknown event type 'dispatched'; allowed: report, verify, ...
    """
    for name in types:
        if name not in EVENT_TYPES:
            raise InvalidInputError(
                f"unknown event type {name!r}; allowed: {', '.join(EVENT_TYPES)}",
                field="types",
                value=name,
                allowed=list(EVENT_TYPES),
            )
    return list(dict.fromkeys(types))


def _check(after: int, limit: int, types: Sequence[str]) -> None:
    if after < 0:
        raise InvalidInputError(
            f"after={after} is negative; allowed: 0 or a cursor of an event", field="after"
        )
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(f"limit {limit} is outside 1..{MAX_PAGE}", field="limit")
    check_types(types)
