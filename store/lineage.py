"""Reading lineage: where an old code leads, and the old→new table between generations.

Links are stored for every pair of generations adjacent in time
(:func:`store.generations.transitions`), one row per old unit and new unit that share
area, with a kind and the shares (see ``boundaries.lineage``).  A code's successors in
a later generation are found by following those pairs period after period.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from store.generations import _infos, _rows
from store.models import Generation, Unit, UnitLineage
from store.timeline import PUBLISHED, GenerationInfo, Period, timeline


@dataclass(frozen=True, slots=True)
class Successor:
    """A unit a code leads to in a later generation.

    ``kind`` is the first change on the way (re-coded, merged, split ...); ``share``
    the part of the old unit's area that ended up in this one (None where a link of
    the way has no share recorded).
    """

    code: str
    name: str
    level: str
    kind: str
    share: float | None


@dataclass(frozen=True, slots=True)
class Absence:
    """Why a code is not in the generation valid on a date, and where it leads.

    Attributes
    ----------
    valid_in : list of GenerationInfo
        The generations the code is in, oldest first.
    successors : list of Successor
        The units that continue it in the generation of the date (empty when it lies
        in the future, or vanished without one).
    at : date
        A date to ask with to see the code itself: its last valid day when it lies in
        the past, its first when it lies in the future.
    """

    code: str
    valid_in: list[GenerationInfo]
    successors: list[Successor]
    at: dt.date


def _link(link: UnitLineage) -> dict[str, Any]:
    return {
        "predecessor_code": link.predecessor_code,
        "successor_code": link.successor_code,
        "generation_id": link.generation_id,
        "predecessor_generation_id": link.predecessor_generation_id,
        "level": link.level,
        "how": link.how,
        "kind": link.kind,
        "predecessor_share": link.predecessor_share,
        "successor_share": link.successor_share,
    }


def lineage(engine: Engine, code: str) -> list[dict[str, Any]]:
    """Every recorded change involving ``code`` (as predecessor or successor); links of
    kind ``same`` say nothing and are left out."""
    with Session(engine) as session:
        links = session.scalars(
            select(UnitLineage)
            .where((UnitLineage.predecessor_code == code) | (UnitLineage.successor_code == code))
            .where((UnitLineage.kind.is_(None)) | (UnitLineage.kind != "same"))
            .order_by(UnitLineage.generation_id, UnitLineage.predecessor_code, UnitLineage.successor_code)
        ).all()
        return [_link(link) for link in links]


def links_between(engine: Engine, old_id: int, new_id: int) -> list[dict[str, Any]]:
    """The stored links from generation ``old_id`` to the next one, ``new_id``, with the
    names of both units, by level and old code."""
    with Session(engine) as session:
        links = session.scalars(
            select(UnitLineage)
            .where(UnitLineage.predecessor_generation_id == old_id, UnitLineage.generation_id == new_id)
            .order_by(UnitLineage.id)
        ).all()
        old_names = _names(session, old_id)
        new_names = _names(session, new_id)
        return [
            {
                **_link(link),
                "predecessor_name": old_names.get(link.predecessor_code, ""),
                "successor_name": new_names.get(link.successor_code, ""),
            }
            for link in links
        ]


def _names(session: Session, generation_id: int) -> dict[str, str]:
    return dict(
        session.execute(select(Unit.code, Unit.name).where(Unit.generation_id == generation_id)).all()
    )


def explain_absence(engine: Engine, code: str, on: dt.date) -> Absence | None:
    """Where a code that is not in the generation valid on ``on`` is, or leads.

    Returns None when no generation ever had the code.
    """
    with Session(engine) as session:
        holders = set(
            session.scalars(
                select(Unit.generation_id)
                .join(Generation, Generation.id == Unit.generation_id)
                .where(Unit.code == code, Generation.state == PUBLISHED)
            )
        )
        if not holders:
            return None
        rows = _rows(session)
        periods = timeline(rows)
        valid_in = sorted(_infos(session, rows, sorted(holders)), key=lambda g: g.valid_from)
        now = next(
            (i for i, p in enumerate(periods) if p.start <= on and (p.end is None or on < p.end)), None
        )
        earlier = [i for i, p in enumerate(periods) if p.generation_id in holders and p.start <= on]
        if earlier and now is not None:
            last = earlier[-1]
            end = periods[last].end
            at = (end - dt.timedelta(days=1)) if end is not None else periods[last].start
            return Absence(code, valid_in, _follow(session, code, periods[last : now + 1]), at)
        later = [p for p in periods if p.generation_id in holders and p.start > on]
        first = later[0].start if later else valid_in[0].valid_from
        return Absence(code, valid_in, [], first)


def _follow(session: Session, code: str, periods: list[Period]) -> list[Successor]:
    """Follow ``code`` from the first period's generation to the last one's."""
    # (code, first change on the way, share of the old unit's area)
    frontier: list[tuple[str, str | None, float | None]] = [(code, None, 1.0)]
    for before, after in itertools.pairwise(periods):
        if before.generation_id == after.generation_id:
            continue
        step: dict[str, tuple[str | None, float | None]] = {}
        for current, kind, share in frontier:
            links = session.scalars(
                select(UnitLineage).where(
                    UnitLineage.predecessor_generation_id == before.generation_id,
                    UnitLineage.generation_id == after.generation_id,
                    UnitLineage.predecessor_code == current,
                )
            ).all()
            links_found: list[tuple[str, str, float | None]]
            if not links and _has(session, after.generation_id, current):
                links_found = [(current, "same", 1.0)]
            else:
                links_found = [(k.successor_code, k.kind or "re-coded", k.predecessor_share) for k in links]
            for successor, link_kind, link_share in links_found:
                first = kind if kind not in (None, "same") else link_kind
                total = None if share is None or link_share is None else share * link_share
                step.setdefault(successor, (first, total))
        frontier = [(c, kind, share) for c, (kind, share) in step.items()]
    last = periods[-1].generation_id
    units = {
        u.code: u
        for u in session.scalars(
            select(Unit).where(Unit.generation_id == last, Unit.code.in_([c for c, _, _ in frontier]))
        )
    }
    return [
        Successor(
            c, units[c].name, units[c].level, kind or "same", None if share is None else round(share, 4)
        )
        for c, kind, share in sorted(frontier, key=lambda item: -(item[2] or 0))
        if c in units
    ]


def _has(session: Session, generation_id: int, code: str) -> bool:
    found = session.scalar(select(Unit.id).where(Unit.generation_id == generation_id, Unit.code == code))
    return found is not None


def successors_today(engine: Engine, code: str) -> list[Successor]:
    """The units that continue ``code`` in the generation valid today (empty when the
    code is in it, or leads nowhere)."""
    absence = explain_absence(engine, code, dt.date.today())
    return [] if absence is None else absence.successors
