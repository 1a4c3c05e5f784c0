"""Steps of the loop: the small engine that applies the action table, and a step taken in the store.

The engine: :func:`check` answers "may this caller take this action on this case
now?" from the table of :mod:`routing.workflow` alone — the action's from-states,
roles, the caller's relation to the case (:func:`relations`) and the pending requests
(:func:`pending`); :func:`take` applies the action's effects
(:data:`routing.effects.EFFECTS`) in the declared order, moves the state, bumps the
version and returns the event that records the step with everything the effects
changed.  Neither opens a transaction nor writes the audit log.

:func:`act_once` takes one step in the store: one transaction holds the state change,
its event, its audit entry and its outbox event (:mod:`routing.outbox`); an
``Idempotency-Key`` retry is answered from the step it took
(:mod:`routing.idempotency`); a stale ``version`` or a lost race is a
:class:`~routing.errors.VersionConflictError`; a refusal of any kind is recorded in the
audit log for the caller's and the owner's supervisors.  Escalation takes its steps
through the same engine (:mod:`routing.escalation`), and so does a reporter with their
token: the actions whose role is ``reporter`` (the verdict, 回访), their note a public
reply.  Photos of a step are staged before its transaction and published after it
(:mod:`store.media`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from geo.errors import InvalidInputError, SijiError
from routing import audit, outbox
from routing.access import (
    Principal,
    is_reporter,
    owner_chain,
    raise_forbidden,
    require_credentials,
    require_read,
)
from routing.desks import Desks
from routing.effects import EFFECTS, REQUEST_FIELDS, Step, StepRequest
from routing.errors import ForbiddenError, IdempotencyConflictError, VersionConflictError
from routing.idempotency import check_key, check_replay
from routing.views import ReportView, report_view
from routing.workflow import ACTIONS, REPORTER_ROLE, Action, allowed_actions, transition
from store.models import Report, ReportEvent

if TYPE_CHECKING:
    from routing.service import ReportService

__all__ = [
    "REQUEST_FIELDS", "Acted", "StepRequest", "act_once", "allowed_for", "check", "event", "pending",
    "relations", "take",
]  # fmt: skip

MAX_NOTE = 4000


def pending(report: Report) -> frozenset[str]:
    """The case's pending requests: ``extension`` and/or ``transfer``."""
    return frozenset(
        kind
        for kind, value in (("extension", report.extension_to), ("transfer", report.transfer_to))
        if value is not None
    )


def relations(report: Report, principal: Principal, desks: Desks) -> frozenset[str]:
    """How the caller's unit stands to the case (see :data:`routing.workflow.RELATIONS`)."""
    if principal.kind == "reporter":
        return frozenset({"reporter"}) if is_reporter(principal, report) else frozenset()
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


def role_of(principal: Principal) -> str | None:
    """The role a caller acts in: a staff token's role, ``reporter`` for a reporter token."""
    if principal.kind == "reporter":
        return REPORTER_ROLE
    return principal.role if principal.is_staff else None


def allowed_for(report: Report, principal: Principal, desks: Desks) -> list[str]:
    """The actions this caller may take on the case now, in loop order."""
    role = role_of(principal)
    if role is None:
        return []
    return allowed_actions(report.state, role, pending(report), relations(report, principal, desks))


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
    role = role_of(principal)
    assert role is not None
    action = transition(
        report.state, action_name, role, note, pending(report), relations(report, principal, desks)
    )
    for name in REQUEST_FIELDS:
        if name in fields and name not in action.fields:
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
    """Apply ``action`` to the case; return its event (not yet added to a session).

    The request's fields choose the action's branch, if it has one (the reporter's
    unsatisfied verdict reopens the case).
    """
    before = report.state
    fields = step.asked.fields
    data: dict[str, Any] = {}
    for name in action.effects_for(fields):
        data.update(EFFECTS[name](report, step))
    report.state = action.leads_to(before, fields)
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


# --------------------------------------------------------------------------- a step in the store
@dataclass(frozen=True, slots=True)
class Acted:
    """The outcome of an action: the report after it, and whether this was a replay.

    ``replayed`` is True when the ``Idempotency-Key`` had already taken the step: no
    second step was taken, and ``report`` is the case as it is now.
    """

    report: ReportView
    replayed: bool


def act_once(
    service: ReportService, request: StepRequest, principal: Principal, idempotency_key: str | None = None
) -> Acted:
    """Take one step in the store (see :meth:`routing.service.ReportService.act_once`).

    Photos of the request are staged in the media store before the transaction and
    published after it commits; a step refused or rolled back leaves no file behind.
    """
    require_credentials(principal)
    if principal.kind not in ("staff", "reporter"):
        raise ForbiddenError("steps need a staff token (sj_...) or, for a verdict, the reporter's (rp_...)")
    if len(request.note) > MAX_NOTE:
        raise InvalidInputError(f"note is over {MAX_NOTE:,} characters", field="note")
    if idempotency_key is not None:
        check_key(idempotency_key)
    if principal.kind == "reporter":  # the reporter's comment is theirs to read back
        request = dataclasses.replace(request, public=True)
    payload = request.fingerprint()
    staged = service.media.stage(request.photos)
    try:
        acted = _act_or_replay(service, request, principal, idempotency_key, payload)
    except BaseException:
        service.media.discard(staged)
        raise
    if acted.replayed:
        service.media.discard(staged)
    else:
        service.media.publish(staged)
    return acted


def _act_or_replay(
    service: ReportService, request: StepRequest, principal: Principal, key: str | None, payload: str
) -> Acted:
    try:
        try:
            return _act(service, request, principal, key, payload)
        except (IntegrityError, StaleDataError, OperationalError) as race:
            # Another request changed the case between our read and our write: the
            # same key's retry committed its step first (replay it), or another step
            # did (a 409, as for a stale version; on PostgreSQL also a deadlock or a
            # serialization failure between two steps that lock two cases).
            if isinstance(race, OperationalError) and not _lost_race(race):
                raise
            replayed = _raced(service, request, principal, key, payload)
            if replayed is not None:
                return replayed
            if isinstance(race, IntegrityError):
                raise
            raise VersionConflictError(
                f"report {request.report_id} changed while this step was taken (another step came "
                "first); reload it",
                report_id=request.report_id,
                version=_version(service, request.report_id),
            ) from race
    except SijiError as error:
        service.refused(principal, f"report.{request.action}", error, request.report_id)
        raise


def _lost_race(error: OperationalError) -> bool:
    """A deadlock or a serialization failure (PostgreSQL's SQLSTATE 40P01, 40001)."""
    return getattr(error.orig, "sqlstate", None) in ("40P01", "40001")


def _act(
    service: ReportService, request: StepRequest, principal: Principal, key: str | None, payload: str
) -> Acted:
    with Session(service.engine) as session, session.begin():
        row = session.get(Report, request.report_id, with_for_update=True)
        if row is None:
            raise_forbidden(request.report_id)
        assert row is not None
        require_read(principal, row, request.report_id)
        if key is not None:
            first = _event_by_key(session, key)
            if first is not None:
                return _replay(service, row, first, request, principal, key, payload)
        if request.version is not None and request.version != row.version:
            raise VersionConflictError(
                f"report {request.report_id} changed since you read it (version {row.version}, you had "
                f"{request.version}); reload it",
                version=row.version,
            )
        desks = service.desks()
        action = check(row, request.action, principal, desks, request.note, request.fields)
        now = service.now()
        chain_before = owner_chain(row)
        step = Step(
            principal, now, service.catalog, service.calendar, desks, request, session, service.verdict_window
        )
        recorded = take(row, action, step, request.note, request.public)
        recorded.idempotency_key = key
        recorded.idempotency_fingerprint = payload if key else None
        session.add(recorded)
        session.add(
            audit.entry(
                principal, f"report.{action.name}", now,
                scope=[*service.chain(principal, row), *chain_before], report_id=row.id,
                detail={
                    "from_state": recorded.from_state, "to_state": recorded.to_state, "version": row.version,
                    **recorded.data,
                },
            )
        )  # fmt: skip
        session.flush()
        outbox.publish(session, row, recorded, service.catalog, before=chain_before)
        session.flush()
        return Acted(report_view(row, service.catalog, service.now(), principal.is_staff), replayed=False)


def _version(service: ReportService, report_id: int) -> int | None:
    with Session(service.engine) as session:
        return session.scalar(select(Report.version).where(Report.id == report_id))


def _event_by_key(session: Session, key: str) -> ReportEvent | None:
    found: ReportEvent | None = session.scalar(select(ReportEvent).where(ReportEvent.idempotency_key == key))
    return found


def _raced(
    service: ReportService, request: StepRequest, principal: Principal, key: str | None, payload: str
) -> Acted | None:
    """The replay of the step stored under ``key`` by a racing request, if there is one."""
    if key is None:
        return None
    with Session(service.engine) as session:
        row = session.get(Report, request.report_id)
        first = _event_by_key(session, key)
        if row is None or first is None:
            return None
        return _replay(service, row, first, request, principal, key, payload)


def _replay(
    service: ReportService,
    row: Report,
    first: ReportEvent,
    request: StepRequest,
    principal: Principal,
    key: str,
    payload: str,
) -> Acted:
    """The answer to a retried action, or a 422 when the key was used for something else."""
    if (first.actor, first.actor_role, first.actor_unit) != (
        principal.name,
        principal.role or principal.kind,
        principal.unit_key,
    ):
        raise IdempotencyConflictError(
            "this Idempotency-Key was already used by another token; use a new key for each request",
            field="Idempotency-Key",
            key=key,
        )
    stored = first.idempotency_fingerprint
    if stored is None:  # a step stored before fingerprints were kept: compared on what it has
        stored = payload if (first.report_id, first.action) == (request.report_id, request.action) else ""
    check_replay(key, stored, payload, f"to {first.action} report {first.report_id}")
    require_read(principal, row, request.report_id)
    return Acted(report_view(row, service.catalog, service.now(), principal.is_staff), replayed=True)
