"""Queries on the units of one generation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from geo.errors import UnknownUnitError
from geo.levels import get_level
from store.models import Unit, UnitGeometry


@dataclass(frozen=True, slots=True)
class UnitRow:
    """A unit without its geometry."""

    code: str
    name: str
    level: str
    parent_code: str | None
    properties: dict[str, Any]


def _row(unit: Unit) -> UnitRow:
    return UnitRow(unit.code, unit.name, unit.level, unit.parent_code, dict(unit.properties or {}))


def find_units(
    engine: Engine,
    generation_id: int,
    *,
    level: str | None = None,
    name_prefix: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[UnitRow]]:
    """Units of a generation, optionally of one level and with a name prefix, by code."""
    query = select(Unit).where(Unit.generation_id == generation_id)
    if level is not None:
        query = query.where(Unit.level == get_level(level).key)
    if name_prefix:
        escaped = name_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Unit.name.like(escaped + "%", escape="\\"))
    with Session(engine) as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        units = session.scalars(query.order_by(Unit.code).limit(limit).offset(offset)).all()
        return total, [_row(u) for u in units]


def get_unit(engine: Engine, generation_id: int, code: str) -> UnitRow:
    """One unit by code.

    Raises
    ------
    UnknownUnitError
        The code is not in that generation.
    """
    with Session(engine) as session:
        unit = session.scalar(select(Unit).where(Unit.generation_id == generation_id, Unit.code == code))
        if unit is None:
            raise UnknownUnitError(
                f"unit code {code!r} is not in boundary generation {generation_id}", code=code
            )
        return _row(unit)


def parent_chain(engine: Engine, generation_id: int, unit: UnitRow) -> list[UnitRow]:
    """The unit's ancestors, top first."""
    chain: list[UnitRow] = []
    current = unit
    while current.parent_code is not None and len(chain) < 8:
        try:
            current = get_unit(engine, generation_id, current.parent_code)
        except UnknownUnitError:
            break
        chain.append(current)
    return chain[::-1]


def children(engine: Engine, generation_id: int, code: str) -> list[UnitRow]:
    """Direct children of a unit, by code."""
    get_unit(engine, generation_id, code)
    with Session(engine) as session:
        units = session.scalars(
            select(Unit)
            .where(Unit.generation_id == generation_id, Unit.parent_code == code)
            .order_by(Unit.code)
        ).all()
        return [_row(u) for u in units]


def children_count(engine: Engine, generation_id: int, code: str) -> int:
    """How many direct children a unit has."""
    with Session(engine) as session:
        return int(
            session.scalar(
                select(func.count()).where(Unit.generation_id == generation_id, Unit.parent_code == code)
            )
            or 0
        )


def unit_geometry(engine: Engine, generation_id: int, code: str) -> Any:
    """The unit's polygon (shapely, EPSG:4326)."""
    with Session(engine) as session:
        geom = session.scalar(
            select(UnitGeometry.geom)
            .join(Unit, Unit.id == UnitGeometry.unit_id)
            .where(Unit.generation_id == generation_id, Unit.code == code)
        )
    if geom is None:
        raise UnknownUnitError(f"unit code {code!r} is not in boundary generation {generation_id}", code=code)
    return geom


def codes_of(engine: Engine, generation_id: int) -> set[str]:
    """Every unit code of a generation."""
    with Session(engine) as session:
        return set(session.scalars(select(Unit.code).where(Unit.generation_id == generation_id)))
