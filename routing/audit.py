"""The audit log: every staff action, who did it, when and from where.

An entry is written in the same transaction as the action it records (a transition,
an escalation run, a token issued or revoked, a read of cases, metrics, maps or the
log itself), so there is never an action without its entry nor an entry without its
action.  A refused attempt by a staff token (403, 409, 422) is recorded too, in a
transaction of its own after the action rolled back, with the outcome
``refused:<error code>`` (a reporter's refused read of another report too), in the
scope of the caller and of the case's owner, so that the owner's supervisors see it.

Supervisors read the log: a token of role ``supervisor`` bound to a subdistrict, a
district, the city or a city department (:data:`AUDIT_LEVELS`).  They see the
entries whose scope names their unit, which are the actions of their unit and of the
units below it, and the actions on cases owned there.  Operators at the command line
see everything.
"""

from __future__ import annotations

import datetime as dt
import getpass
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.errors import InvalidInputError, SijiError
from routing.access import Principal, require_credentials
from routing.desks import Desks, default_departments
from routing.errors import ForbiddenError
from store.models import AuditEntry

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Engine

    from geo.index import JurisdictionIndex

AUDIT_ROLES = frozenset({"supervisor"})
"""Roles that may read the audit log."""
AUDIT_LEVELS = ("city", "district", "subdistrict")
"""Levels whose supervisors may read the audit log (a city department counts as city)."""
MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of a read of the log; ``None`` means no filter.

    ``since`` is inclusive and ``until`` exclusive; both are aware datetimes.
    """

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    actor: str | None = None
    token_id: int | None = None
    report_id: int | None = None
    action: str | None = None
    limit: int = 100
    offset: int = 0


def operator(now_user: str | None = None) -> Principal:
    """The person at the command line: ``cli:<OS user>``, from ``cli:<user>@<host>``."""
    user = now_user or _os_user()
    return Principal("operator", name=f"cli:{user}", address=f"cli:{user}@{socket.gethostname()}")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (some containers)
        return "unknown"


def unit_chain(index: JurisdictionIndex | None, unit_key: str | None) -> list[str]:
    """A unit key and every unit above it, in the active boundary set, unit first.

    A city department (``city:园林局``) is below the city, a district department
    (``370902000000:城管局``) below its district.  A key the set does not know is
    returned alone.
    """
    return list(_desks(index).chain(unit_key))


def _desks(index: JurisdictionIndex | None) -> Desks:
    return Desks(index, default_departments())


def scope_of(keys: Iterable[str | None]) -> str:
    """The scope column: unit keys, each between slashes, without repeats.

    Examples
    --------
    >>> scope_of(["370902002000", "370902000000", None, "370902000000"])
    '/370902002000/370902000000/'
    """
    seen = list(dict.fromkeys(k for k in keys if k))
    return "/" + "".join(f"{k}/" for k in seen) if seen else "/"


def entry(
    principal: Principal,
    action: str,
    at: dt.datetime,
    *,
    scope: Iterable[str | None],
    report_id: int | None = None,
    target: str | None = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """An audit row for ``principal`` doing ``action``; add it to the action's session."""
    return AuditEntry(
        at=at.astimezone(dt.UTC),
        actor=principal.name[:200],
        token_id=principal.token_id,
        role=principal.role,
        unit_key=principal.unit_key,
        action=action,
        report_id=report_id,
        target=target,
        outcome=outcome[:64],
        client=(principal.address or "unknown")[:200],
        scope=scope_of(scope),
        detail=detail or {},
    )


def record_refusal(
    engine: Engine,
    principal: Principal,
    action: str,
    error: SijiError,
    at: dt.datetime,
    *,
    scope: Sequence[str | None],
    report_id: int | None = None,
) -> None:
    """Record a refused action or read in a transaction of its own.

    ``scope`` is the actor's chain and, for a case that exists, its owner's chain: the
    supervisors of both see the refusal (never the case itself).
    """
    if principal.kind not in ("staff", "operator", "reporter"):
        return
    with Session(engine) as session, session.begin():
        session.add(
            entry(
                principal,
                action,
                at,
                scope=scope,
                report_id=report_id,
                outcome=f"refused:{error.code}",
                detail={"message": error.message[:500]},
            )
        )


def require_auditor(principal: Principal, index: JurisdictionIndex | None) -> None:
    """Only supervisors of a subdistrict, a district, the city or a city department.

    Raises
    ------
    UnauthenticatedError
        No credentials.
    ForbiddenError
        Anyone else, naming who may.
    """
    if principal.kind == "operator":
        return
    require_credentials(principal)
    who = "supervisor tokens of a subdistrict, district, the city or a city department"
    if principal.kind != "staff" or principal.role not in AUDIT_ROLES:
        raise ForbiddenError(f"the audit log is readable by {who} only", role=principal.role)
    if _level_of(index, principal.unit_key) not in AUDIT_LEVELS:
        raise ForbiddenError(
            f"the audit log is readable by {who} only; this token's unit "
            f"{principal.unit_key!r} is at level {_level_of(index, principal.unit_key)!r}",
            role=principal.role,
        )


def _level_of(index: JurisdictionIndex | None, unit_key: str | None) -> str | None:
    return _desks(index).level_of(unit_key)


def _visible(principal: Principal, index: JurisdictionIndex | None) -> ColumnElement[bool] | None:
    """SQL condition on the entries the principal may read (``None``: all of them)."""
    if principal.kind == "operator":
        return None
    key = principal.unit_key or ""
    if _level_of(index, key) == "city" and ":" not in key:
        return None  # the city's own supervisors see everything; a city department sees its own
    needle = f"/{principal.unit_key}/".replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return AuditEntry.scope.like(f"%{needle}%", escape="\\")


def read(
    engine: Engine,
    principal: Principal,
    query: AuditQuery,
    index: JurisdictionIndex | None,
    now: dt.datetime,
) -> tuple[int, list[dict[str, Any]]]:
    """Entries the principal may read, newest first, and how many match in all.

    The read itself is recorded (action ``audit.read``) in the same transaction.

    Raises
    ------
    ForbiddenError
        Not a supervisor at subdistrict level or above (see :func:`require_auditor`).
    InvalidInputError
        ``since`` not before ``until``, a limit outside 1..1000, naive datetimes.
    """
    require_auditor(principal, index)
    _check(query)
    condition = select(AuditEntry)
    visible = _visible(principal, index)
    if visible is not None:
        condition = condition.where(visible)
    if query.since is not None:
        condition = condition.where(AuditEntry.at >= query.since.astimezone(dt.UTC))
    if query.until is not None:
        condition = condition.where(AuditEntry.at < query.until.astimezone(dt.UTC))
    if query.actor is not None:
        condition = condition.where(AuditEntry.actor == query.actor)
    if query.token_id is not None:
        condition = condition.where(AuditEntry.token_id == query.token_id)
    if query.report_id is not None:
        condition = condition.where(AuditEntry.report_id == query.report_id)
    if query.action is not None:
        condition = condition.where(AuditEntry.action == query.action)
    with Session(engine) as session, session.begin():
        total = session.scalar(select(func.count()).select_from(condition.subquery())) or 0
        rows = session.scalars(
            condition.order_by(AuditEntry.id.desc()).limit(query.limit).offset(query.offset)
        ).all()
        entries = [view(r) for r in rows]
        filters = {
            k: (v.isoformat() if isinstance(v, dt.datetime) else v)
            for k, v in (
                ("since", query.since),
                ("until", query.until),
                ("actor", query.actor),
                ("token_id", query.token_id),
                ("report_id", query.report_id),
                ("action", query.action),
            )
            if v is not None
        }
        session.add(
            entry(
                principal,
                "audit.read",
                now,
                scope=unit_chain(index, principal.unit_key),
                detail={"filters": filters, "returned": len(entries)},
            )
        )
    return total, entries


def _check(query: AuditQuery) -> None:
    for name in ("since", "until"):
        value = getattr(query, name)
        if value is not None and value.tzinfo is None:
            raise InvalidInputError(
                f"{name}={value.isoformat()} has no UTC offset; give one, e.g. 2025-06-01T08:00:00+08:00",
                field=name,
            )
    if query.since is not None and query.until is not None and query.since >= query.until:
        raise InvalidInputError(
            f"since ({query.since.isoformat()}) must be before until ({query.until.isoformat()})",
            field="until",
        )
    if not 1 <= query.limit <= MAX_PAGE:
        raise InvalidInputError(f"limit {query.limit} is outside 1..{MAX_PAGE}", field="limit")
    if query.offset < 0:
        raise InvalidInputError(f"offset {query.offset} is negative", field="offset")


def view(row: AuditEntry) -> dict[str, Any]:
    """An entry as the API and the CLI show it."""
    at = row.at if row.at.tzinfo is not None else row.at.replace(tzinfo=dt.UTC)
    return {
        "id": row.id,
        "at": at.astimezone(dt.UTC).isoformat(),
        "actor": row.actor,
        "token_id": row.token_id,
        "role": row.role,
        "unit_key": row.unit_key,
        "action": row.action,
        "report_id": row.report_id,
        "target": row.target,
        "outcome": row.outcome,
        "client": row.client,
        "detail": dict(row.detail or {}),
    }
