"""The engine of the loop: check a step against the action table, apply its effects, record it.

:func:`check` answers "may this caller take this action on this case now?" from the
table of :mod:`routing.workflow` alone: the action's from-states, roles, the caller's
relation to the case (:func:`relations`) and the pending requests (:func:`pending`).
:func:`take` applies the action's effects (:data:`routing.effects.EFFECTS`) in the
declared order, moves the state, bumps the version and returns the event that records
the step with everything the effects changed.  Neither opens a transaction nor writes
the audit log: :mod:`routing.service` does both around them, so that a step, its event
and its audit entry commit together.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geo.errors import InvalidInputError
from routing.access import Principal
from routing.desks import Desks
from routing.effects import EFFECTS, Step
from routing.workflow import ACTIONS, Action, allowed_actions, transition
from store.models import Report, ReportEvent

REQUEST_FIELDS = ("reroute_to", "transfer_to", "extend_to")
"""Request fields an action may take (:attr:`routing.workflow.Action.fields`)."""


def pending(report: Report) -> frozenset[str]:
    """The case's pending requests: ``extension`` and/or ``transfer``."""
    return frozenset(
        kind
        for kind, value in (("extension", report.extension_to), ("transfer", report.transfer_to))
        if value is not None
    )


def relations(report: Report, principal: Principal, desks: Desks) -> frozenset[str]:
    """How the caller's unit stands to the case (see :data:`routing.workflow.RELATIONS`)."""
    key = principal.unit_key
    chain = list(report.owner_chain or [])
    found = set()
    if key in chain:
        found.add("owner")
        if key == report.owner_key:
            found.add("desk")
        else:
            found.add("above")
    if report.transfer_to is not None and key is not None and key in desks.chain(report.transfer_to):
        found.add("receiver")
    return frozenset(found)


def allowed_for(report: Report, principal: Principal, desks: Desks) -> list[str]:
    """The actions this caller may take on the case now, in loop order."""
    if not principal.is_staff:
        return []
    return allowed_actions(report.state, principal.role, pending(report), relations(report, principal, desks))


def check(
    report: Report, action_name: str, principal: Principal, desks: Desks, note: str, fields: dict[str, Any]
) -> Action:
    """The action, if the caller may take it on the case now with these request fields.

    Raises
    ------
    UnknownActionError, IllegalTransitionError, ForbiddenError, InvalidInputError
        See :func:`routing.workflow.transition`; and a request field the action does
        not take.
    """
    assert principal.role is not None
    action = transition(
        report.state, action_name, principal.role, note, pending(report), relations(report, principal, desks)
    )
    for name in REQUEST_FIELDS:
        if fields.get(name) is not None and name not in action.fields:
            takes = [f for f in REQUEST_FIELDS if f in action.fields]
            users = [a.name for a in ACTIONS.values() if name in a.fields]
            raise InvalidInputError(
                f"{name} is not a field of action {action_name!r} (it takes "
                f"{', '.join(takes) or 'none'}); {name} is for {', '.join(users)}",
                field=name,
                action=action_name,
            )
    return action


def take(report: Report, action: Action, step: Step, note: str = "", public: bool = False) -> ReportEvent:
    """Apply ``action`` to the case; return its event (not yet added to a session)."""
    before = report.state
    data: dict[str, Any] = {}
    for name in action.effects:
        data.update(EFFECTS[name](report, step))
    report.state = action.leads_to(before)
    report.version += 1
    return event(report, step.now, action.name, before, report.state, step.principal, note, data, public)


def event(
    report: Report,
    at: dt.datetime,
    action: str,
    before: str | None,
    after: str,
    principal: Principal,
    note: str = "",
    data: dict[str, Any] | None = None,
    public: bool = False,
) -> ReportEvent:
    """The event row of one step."""
    return ReportEvent(
        report_id=report.id,
        at=at,
        action=action,
        from_state=before,
        to_state=after,
        actor=principal.name,
        actor_role=principal.role or principal.kind,
        actor_unit=principal.unit_key,
        note=note,
        public=public,
        data=data or {},
    )
