"""Open cases and staff tokens across a boundary release.

When a generation becomes the one that answers (the HTTP service's switch, or
``siji boundaries import --commit`` of a set valid today, or ``siji routing
handover``), :func:`hand_over_open_cases` moves every open case owned by a unit that
is not in it to the unit of the new generation that covers the case's point at the
owner's level (a 社区's case to the 社区 now covering it, a 街道's to the 街道).  Where
no unit of that level covers the point (it lies in a gap now), the successor that
took most of the old unit's area (``store.lineage``) takes the case.  A case whose
owner remains but whose parent units changed code gets its chain updated, so that
the supervisors of the new parents see it.

Each move is a step of the case's history (``report_events``, action
:data:`HANDOVER`, the state unchanged) naming who (the service or the operator),
why (the owner's code is not in the generation, and how it continues) and which
generation, with an audit entry in the same transaction.  Moves are optimistic
(the case's ``version``): two workers switching at once move a case once.

Staff tokens bound to a unit that is not in the generation are listed by
:func:`stale_tokens` and refused by :func:`check_token_unit` with a message naming
the successor (``siji staff stale`` lists them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from geo.levels import LEVEL_KEYS
from routing import audit
from routing.access import Principal
from routing.desks import CITY_PREFIX, Departments, Desks, default_departments
from routing.effects import set_owner
from routing.errors import UnauthenticatedError
from routing.workflow import OPEN_STATES
from store.lineage import Successor, successors_today
from store.models import Report, ReportEvent, StaffToken

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from boundaries.service import BoundaryService
    from geo.index import JurisdictionIndex
    from store.generations import GenerationInfo

HANDOVER = "handover"
"""The ``action`` of a hand-over step in a case's history."""
RELEASE = Principal("staff", name="system:boundary-release", role="supervisor", address="service")
"""The service itself, as it appears in events and the audit log when it switches."""
_BATCH = 200


@dataclass(frozen=True, slots=True)
class HandedOver:
    """One case moved (or re-chained) to the units of a generation."""

    report_id: int
    from_key: str
    to_key: str
    to_name: str
    how: str  # "covers the point", "successor", "parents re-coded"


class UnitVanishedError(UnauthenticatedError):
    """A staff token bound to a unit that is not in the boundary set any more (401)."""

    code = "token_unit_vanished"


def hand_over_open_cases(
    engine: Engine,
    generation: GenerationInfo,
    index: JurisdictionIndex,
    *,
    actor: Principal = RELEASE,
    now: dt.datetime | None = None,
    departments: Departments | None = None,
) -> list[HandedOver]:
    """Move the open cases of desks whose unit is not in ``generation`` (whose index is
    ``index``) to the desks that own their place now; re-chain those whose parents
    changed.  Idempotent: a second run finds nothing to do.

    A department's case (``370921000000:城管局``) moves to the same department of the
    unit that continues its unit.  The owner, its chain and the case's scopes change
    through :func:`routing.effects.set_owner`, as in every step that moves a case.

    Returns
    -------
    list of HandedOver
        The cases moved, in id order; cases left alone because nothing in the
        generation can take them are not listed (their owner keeps them).
    """
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    desks = Desks(index, departments or default_departments())
    done: list[HandedOver] = []
    for _ in range(3):  # another worker moved some of the same cases: read them again
        try:
            done += _hand_over(engine, generation, index, desks, actor, now)
            return done
        except StaleDataError:
            continue
    return done


def _hand_over(
    engine: Engine,
    generation: GenerationInfo,
    index: JurisdictionIndex,
    desks: Desks,
    actor: Principal,
    now: dt.datetime,
) -> list[HandedOver]:
    with Session(engine) as session:
        candidates = session.execute(
            select(Report.id, Report.owner_key, Report.owner_chain)
            .where(Report.state.in_(OPEN_STATES), ~Report.owner_key.like(f"{CITY_PREFIX}%"))
            .order_by(Report.id)
        ).all()
    due = [r.id for r in candidates if _due(desks, r.owner_key, r.owner_chain)]
    done: list[HandedOver] = []
    for start in range(0, len(due), _BATCH):
        with Session(engine) as session, session.begin():
            rows = session.scalars(select(Report).where(Report.id.in_(due[start : start + _BATCH]))).all()
            result = index.lookup(np.array([r.lon for r in rows]), np.array([r.lat for r in rows]))
            for k, row in enumerate(rows):
                moved = _move(engine, session, row, result.unit_rows[k], generation, desks, actor, now)
                if moved is not None:
                    done.append(moved)
    return done


def _due(desks: Desks, key: str, chain: list[str] | None) -> bool:
    """The desk's unit is gone, or its chain is not the one the generation gives it."""
    if desks.unit_chain(key.partition(":")[0]) is None:
        return True
    return tuple(chain or ()) != desks.chain(key)


def _move(
    engine: Engine,
    session: Session,
    row: Report,
    point_rows: Any,
    generation: GenerationInfo,
    desks: Desks,
    actor: Principal,
    now: dt.datetime,
) -> HandedOver | None:
    if row.state not in OPEN_STATES or row.owner_key.startswith(CITY_PREFIX):
        return None
    units = desks.index.units if desks.index is not None else None
    if units is None or row.owner_level not in LEVEL_KEYS:
        return None
    rank = LEVEL_KEYS.index(row.owner_level)
    code, separator, department = row.owner_key.partition(":")
    before: dict[str, Any] = {
        "owner_key": row.owner_key,
        "owner_name": row.owner_name,
        "owner_chain": list(row.owner_chain or []),
        "generation_id": row.generation_id,
    }
    before.update({f"{level}_code": getattr(row, f"{level}_code") for level in LEVEL_KEYS})
    successors: list[Successor] = []
    if code in units.row_of_code:
        how = "parents re-coded"
        new_code = code
    else:
        found = int(point_rows[rank])
        how = "covers the point"
        if found < 0:
            successors = [s for s in successors_today(engine, code) if s.level == row.owner_level]
            found = units.row_of_code.get(successors[0].code, -1) if successors else -1
            how = "successor"
        if found < 0:
            return None  # nothing of the generation can take it: its owner keeps it
        new_code = str(units.codes[found])
    desk = desks.get(f"{new_code}{separator}{department}")
    if how == "parents re-coded":
        note = (
            f"the units above {row.owner_key} {row.owner_name} have new codes in boundary generation "
            f"{generation.id} {generation.name!r}; the case stays with it, under its new parents"
        )
    else:
        which = "which covers the report's point" if how == "covers the point" else "its successor"
        note = (
            f"{row.owner_key} {row.owner_name} is not in boundary generation {generation.id} "
            f"{generation.name!r}; moved to {desk.key} {desk.name}, {which}"
        )
    set_owner(row, desk)
    chain = units.ancestors[units.row_of_code[new_code]]
    for level, key in enumerate(LEVEL_KEYS):
        unit_row = chain[level] if level <= rank else point_rows[level]
        setattr(row, f"{key}_code", None if unit_row < 0 else str(units.codes[unit_row]))
    row.generation_id = generation.id
    row.version += 1
    after: dict[str, Any] = {
        "owner_key": row.owner_key,
        "owner_name": row.owner_name,
        "owner_chain": list(row.owner_chain or []),
        "generation_id": generation.id,
    }
    after.update({f"{level}_code": getattr(row, f"{level}_code") for level in LEVEL_KEYS})
    data = {
        "generation": {"id": generation.id, "name": generation.name},
        "how": how,
        "from": before,
        "to": after,
        "successors": [s.code for s in successors],
    }
    session.add(
        ReportEvent(
            report_id=row.id,
            at=now,
            action=HANDOVER,
            from_state=row.state,
            to_state=row.state,
            actor=actor.name,
            actor_role=actor.role or actor.kind,
            actor_unit=actor.unit_key,
            note=note,
            data=data,
        )
    )
    session.add(
        audit.entry(
            actor,
            f"report.{HANDOVER}",
            now,
            scope=[*before["owner_chain"], *after["owner_chain"]],
            report_id=row.id,
            detail=data,
        )
    )
    session.flush()
    return HandedOver(row.id, before["owner_key"], row.owner_key, row.owner_name, how)


def cases_due(engine: Engine, codes: Container[str]) -> bool:
    """Whether some open case's desk chain names a unit that is not among ``codes`` (a
    generation's): a quick test before building an index to hand cases over."""
    with Session(engine) as session:
        chains = session.scalars(
            select(Report.owner_chain).where(
                Report.state.in_(OPEN_STATES), ~Report.owner_key.like(f"{CITY_PREFIX}%")
            )
        ).all()
    return any(
        key.partition(":")[0] not in codes
        for chain in chains
        for key in (chain or ())
        if not key.startswith(CITY_PREFIX)
    )


def stale_tokens(
    engine: Engine, codes: Container[str], now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Tokens still valid but bound to a unit that is not among ``codes`` (a
    generation's; ``index.units.row_of_code`` will do), each with the units that
    continue it."""
    now = now or dt.datetime.now(dt.UTC)
    with Session(engine) as session:
        tokens = session.scalars(
            select(StaffToken).where(StaffToken.revoked_at.is_(None)).order_by(StaffToken.id)
        ).all()
    out = []
    for token in tokens:
        expires = token.expires_at
        if expires is not None and (expires if expires.tzinfo else expires.replace(tzinfo=dt.UTC)) <= now:
            continue
        unit = token.unit_key.partition(":")[0]  # a department's token: its unit's code
        if token.unit_key.startswith(CITY_PREFIX) or unit in codes:
            continue
        out.append(
            {
                "id": token.id,
                "name": token.name,
                "unit_key": token.unit_key,
                "role": token.role,
                "successors": successors_today(engine, unit),
            }
        )
    return out


def check_token_unit(boundaries: BoundaryService, principal: Principal) -> None:
    """Refuse a staff token whose unit is not in the generation served, naming the
    units that continue it.

    Raises
    ------
    UnitVanishedError
    """
    key = principal.unit_key
    if principal.kind != "staff" or key is None or key.startswith(CITY_PREFIX):
        return
    unit, separator, department = key.partition(":")  # a department's token: its unit's code
    ready = boundaries.cached_index()
    generation, index = ready if ready is not None else boundaries.index()
    if unit in index.units.row_of_code or _in_todays_generation(boundaries.engine, unit):
        return  # (the second: a new unit, in the seconds before this process switched)
    successors = successors_today(boundaries.engine, unit)
    raise UnitVanishedError(
        f"this token (id {principal.token_id}) is bound to {key}, whose unit is not in boundary generation "
        f"{generation.id} {generation.name!r}; {successor_text(successors)}: ask for a token of "
        + (
            f"that unit (siji staff add --unit {successors[0].code}{separator}{department})"
            if successors
            else "the unit that owns the place now"
        ),
        unit_key=key,
        successors=[s.code for s in successors],
        generation_id=generation.id,
    )


def _in_todays_generation(engine: Engine, key: str) -> bool:
    from geo.errors import NotFoundError
    from store.generations import generation_at
    from store.units import get_unit

    try:
        get_unit(engine, generation_at(engine).id, key)
    except NotFoundError:
        return False
    return True


def successor_text(successors: list[Successor]) -> str:
    """``its successor is 370912000000 宁阳县 (re-coded)`` and the like."""
    if not successors:
        return "no unit continues it"
    shown = ", ".join(f"{s.code} {s.name} ({s.kind})" for s in successors[:5])
    return f"its successor is {shown}" if len(successors) == 1 else f"its successors are {shown}"
