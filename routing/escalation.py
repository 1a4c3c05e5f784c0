"""Escalation (督办): overdue cases climb their owner's chain, one level per missed deadline.

An escalation is the ``escalate`` action of the loop's table, taken by the service
itself (:data:`SYSTEM`) through the same engine as every other step
(:func:`routing.steps.take`): the owner keeps the case and its due time (so a late case
stays late in the metrics), the unit one level further up supervises it, with a
supervision deadline of the category's limit; a case that stalls past that climbs
again, up to the city (at most ``escalation_max_level`` levels).  The service runs it
every ``SIJI_ESCALATION_INTERVAL_S`` seconds; ``siji routing escalate`` and
``POST /v1/escalations/run`` run it once.  Each escalation is an event of the outbox
(:mod:`routing.outbox`): the owner and the units above it hear of it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from typing_extensions import TypedDict

from routing import audit, outbox
from routing.access import Principal, owner_chain
from routing.effects import Step
from routing.steps import take
from routing.workflow import ACTIONS, CLOCK_STATES
from store.models import Report

if TYPE_CHECKING:
    from routing.service import ReportService

SYSTEM = Principal("staff", name="system:escalation", role="supervisor", address="service")
"""The service's own escalation schedule, as it appears in events and the audit log."""


class Escalation(TypedDict):
    """One case escalated by a run: its id, its new supervisor and how many levels it climbed."""

    id: int
    supervisor: str
    level: int


def escalate_overdue(
    service: ReportService, now: dt.datetime | None = None, actor: Principal | None = None
) -> list[Escalation]:
    """Escalate every overdue case one level up (see the module docstring).

    Parameters
    ----------
    actor : Principal, optional
        Who asked for the run (a supervisor over HTTP, an operator at the command
        line), for the audit log; the service's own schedule by default, whose runs
        are audited only when they escalate something.
    """
    now = (now or service.now()).astimezone(dt.UTC)
    for _ in range(2):
        try:
            return _escalate(service, now, actor)
        except StaleDataError:  # a step changed a case while we escalated: run again
            continue
    return _escalate(service, now, actor)


def _escalate(service: ReportService, now: dt.datetime, actor: Principal | None) -> list[Escalation]:
    escalated: list[Escalation] = []
    scope: list[str] = []
    escalate = ACTIONS["escalate"]
    with Session(service.engine) as session, session.begin():
        rows = session.scalars(
            select(Report)
            .where(
                Report.state.in_(CLOCK_STATES),
                Report.due_at < now,
                Report.supervision_due_at.is_(None) | (Report.supervision_due_at < now),
            )
            .order_by(Report.id)
            .with_for_update()
        ).all()
        step = Step(SYSTEM, now, service.catalog, service.calendar, service.desks())
        for row in rows:
            chain = owner_chain(row)
            level = row.escalation_level + 1
            if level > service.escalation_max_level or level >= len(chain):
                continue
            note = f"overdue: escalated to {chain[level]} for supervision (督办)"
            escalated_event = take(row, escalate, step, note)
            session.add(escalated_event)
            session.flush()
            outbox.publish(session, row, escalated_event, service.catalog, before=chain)
            escalated.append({"id": row.id, "supervisor": chain[level], "level": level})
            scope += chain
        if actor is not None or escalated:
            who = actor or SYSTEM
            session.add(
                audit.entry(
                    who, "escalation.run", now, scope=[*service.chain(who), *scope],
                    detail={"escalated": [e["id"] for e in escalated][:1000], "count": len(escalated)},
                )
            )  # fmt: skip
    return escalated
