"""Boundary generations: import a set, find the one valid on a date, read it back.

A generation is valid from its ``valid_from`` date until the next generation's
``valid_from``.  The active generation is the one valid today.  Importing never
changes an earlier generation, so answers given under it stay explainable.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from sqlalchemy import Engine, delete, func, insert, select, text
from sqlalchemy.orm import Session

from geo.errors import InvalidInputError, NotFoundError
from store.engine import is_postgis
from store.models import Generation, Unit, UnitGeometry, UnitLineage, UnitPiece

if TYPE_CHECKING:
    import geopandas as gpd

# Vertices per piece for ST_Subdivide: small pieces make the GiST filter tight and
# the exact test cheap (PostGIS's own advice is 255 or fewer; 64 measured best here).
SUBDIVIDE_MAX_VERTICES = 64
_CORE_COLUMNS = ("code", "name", "level", "parent_code")


@dataclass(frozen=True, slots=True)
class GenerationInfo:
    """A generation as listed to users."""

    id: int
    name: str
    valid_from: dt.date
    valid_to: dt.date | None
    source: str
    unit_count: int
    active: bool
    created_at: dt.datetime | None


def import_generation(
    engine: Engine,
    frame: gpd.GeoDataFrame,
    *,
    name: str,
    valid_from: dt.date,
    source: str = "",
    notes: dict[str, Any] | None = None,
) -> GenerationInfo:
    """Store a validated, normalized boundary frame as a new generation (one transaction).

    Unit codes that disappear are linked to new codes covering the same place
    (``unit_lineage``), so a report routed to 370903 can be explained under 370911.

    Raises
    ------
    InvalidInputError
        A generation with the same ``valid_from`` already exists.
    """
    with Session(engine) as session, session.begin():
        clash = session.scalar(select(Generation).where(Generation.valid_from == valid_from))
        if clash is not None:
            raise InvalidInputError(
                f"generation {clash.name!r} is already valid from {valid_from}; "
                "pick another --valid-from date",
                field="valid_from",
                value=str(valid_from),
            )
        previous = _generation_valid_on(session, valid_from - dt.timedelta(days=1))
        generation = Generation(
            name=name, valid_from=valid_from, source=source, unit_count=len(frame), notes=notes or {}
        )
        session.add(generation)
        session.flush()
        _insert_units(session, generation.id, frame)
        if is_postgis(engine):
            _subdivide(session, generation.id)
        if previous is not None:
            _record_lineage(session, previous.id, generation.id, frame)
        gen_id = generation.id
    return _info(engine, gen_id)


def _insert_units(session: Session, generation_id: int, frame: gpd.GeoDataFrame) -> None:
    extra_columns = [c for c in frame.columns if c not in (*_CORE_COLUMNS, frame.geometry.name)]
    records = frame[list(_CORE_COLUMNS)].astype(object).where(frame[list(_CORE_COLUMNS)].notna(), None)
    extras = frame[extra_columns].astype(object).where(frame[extra_columns].notna(), None).to_dict("records")
    rows = [
        {
            "generation_id": generation_id,
            "code": str(code),
            "name": str(unit_name),
            "level": str(level),
            "parent_code": None if parent is None else str(parent),
            "properties": {k: _jsonable(v) for k, v in extra.items()},
        }
        for (code, unit_name, level, parent), extra in zip(
            records.itertuples(index=False), extras, strict=True
        )
    ]
    ids = session.scalars(insert(Unit).returning(Unit.id, sort_by_parameter_order=True), rows).all()
    geoms = np.asarray(frame.geometry.values, dtype=object)
    polygons = shapely.get_type_id(geoms) == 3
    geoms[polygons] = shapely.multipolygons(geoms[polygons][:, None].tolist()) if polygons.any() else []
    session.execute(
        insert(UnitGeometry), [{"unit_id": uid, "geom": geom} for uid, geom in zip(ids, geoms, strict=True)]
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _subdivide(session: Session, generation_id: int) -> None:
    session.execute(
        text(
            "INSERT INTO unit_pieces (unit_id, generation_id, level, geom) "
            "SELECT u.id, u.generation_id, u.level, ST_Subdivide(g.geom, :max_vertices) "
            "FROM units u JOIN unit_geometries g ON g.unit_id = u.id WHERE u.generation_id = :gid"
        ),
        {"gid": generation_id, "max_vertices": SUBDIVIDE_MAX_VERTICES},
    )
    session.execute(text("ANALYZE unit_pieces"))


def _record_lineage(session: Session, old_id: int, new_id: int, frame: gpd.GeoDataFrame) -> None:
    """Link codes that vanished to the new codes that now cover the same place."""
    old = load_frame(session, old_id)
    old_codes, new_codes = set(old["code"]), set(frame["code"].astype(str))
    gone = old[~old["code"].isin(new_codes)]
    born = frame[~frame["code"].astype(str).isin(old_codes)]
    declared = "predecessor_code" in frame.columns
    links: list[dict[str, Any]] = []
    for level in sorted(set(gone["level"]) & set(born["level"])):
        gone_l, born_l = gone[gone["level"] == level], born[born["level"] == level]
        tree = shapely.STRtree(np.asarray(gone_l.geometry.values))
        # A new unit continues an old one when the old one holds its representative
        # point and the two overlap by more than half of the smaller area.
        probe = shapely.point_on_surface(np.asarray(born_l.geometry.values))
        born_idx, gone_idx = tree.query(probe, predicate="within")
        for b, g in zip(born_idx, gone_idx, strict=True):
            new_geom, old_geom = born_l.geometry.values[b], gone_l.geometry.values[g]
            shared = shapely.area(shapely.intersection(new_geom, old_geom))
            if shared > 0.5 * min(shapely.area(new_geom), shapely.area(old_geom)):
                links.append(
                    _link(old_id, new_id, gone_l["code"].iloc[g], born_l["code"].iloc[b], level, "same-area")
                )
    if declared:
        for code, level, predecessor in frame[["code", "level", "predecessor_code"]].itertuples(index=False):
            if predecessor and str(predecessor) in old_codes and str(predecessor) != str(code):
                links.append(_link(old_id, new_id, str(predecessor), str(code), level, "declared"))
    unique = {(link["predecessor_code"], link["successor_code"]): link for link in links}
    if unique:
        session.execute(insert(UnitLineage), list(unique.values()))


def _link(old_id: int, new_id: int, old_code: str, new_code: str, level: str, how: str) -> dict[str, Any]:
    return {
        "generation_id": new_id,
        "predecessor_generation_id": old_id,
        "predecessor_code": str(old_code),
        "successor_code": str(new_code),
        "level": level,
        "how": how,
    }


def _generation_valid_on(session: Session, on: dt.date) -> Generation | None:
    return session.scalar(
        select(Generation).where(Generation.valid_from <= on).order_by(Generation.valid_from.desc()).limit(1)
    )


def generation_at(engine: Engine, at: dt.date | None = None) -> GenerationInfo:
    """The generation valid on ``at`` (default: today).

    Raises
    ------
    NotFoundError
        No generation is valid on that date; the message names the earliest one.
    """
    on = at or dt.date.today()
    with Session(engine) as session:
        found = _generation_valid_on(session, on)
        if found is None:
            earliest = session.scalar(select(func.min(Generation.valid_from)))
            hint = f"the earliest is valid from {earliest}" if earliest else "no boundary set is imported yet"
            raise NotFoundError(f"no boundary generation is valid on {on}; {hint}", at=str(on))
        gen_id = found.id
    return _info(engine, gen_id)


def list_generations(engine: Engine) -> list[GenerationInfo]:
    """All generations, oldest first, with their validity periods."""
    with Session(engine) as session:
        ids = session.scalars(select(Generation.id).order_by(Generation.valid_from)).all()
    return [_info(engine, gen_id) for gen_id in ids]


def _info(engine: Engine, generation_id: int) -> GenerationInfo:
    today = dt.date.today()
    with Session(engine) as session:
        gen = session.get(Generation, generation_id)
        if gen is None:
            raise NotFoundError(f"generation {generation_id} does not exist", generation_id=generation_id)
        valid_to = session.scalar(
            select(func.min(Generation.valid_from)).where(Generation.valid_from > gen.valid_from)
        )
        active_gen = _generation_valid_on(session, today)
        return GenerationInfo(
            id=gen.id,
            name=gen.name,
            valid_from=gen.valid_from,
            valid_to=valid_to,
            source=gen.source,
            unit_count=gen.unit_count,
            active=active_gen is not None and active_gen.id == gen.id,
            created_at=gen.created_at,
        )


def load_frame(session_or_engine: Session | Engine, generation_id: int) -> gpd.GeoDataFrame:
    """Read a generation back as a normalized boundary frame (EPSG:4326)."""
    import geopandas as gpd
    import pandas as pd

    session = session_or_engine if isinstance(session_or_engine, Session) else Session(session_or_engine)
    try:
        rows = session.execute(
            select(Unit.code, Unit.name, Unit.level, Unit.parent_code, Unit.properties, UnitGeometry.geom)
            .join(UnitGeometry, UnitGeometry.unit_id == Unit.id)
            .where(Unit.generation_id == generation_id)
            .order_by(Unit.id)
        ).all()
    finally:
        if session is not session_or_engine:
            session.close()
    return gpd.GeoDataFrame(
        {
            "code": [r.code for r in rows],
            "name": [r.name for r in rows],
            "level": [r.level for r in rows],
            # object dtype keeps None for "no parent" (a string dtype would turn it into NaN)
            "parent_code": pd.Series([r.parent_code for r in rows], dtype=object),
            "synthetic": [bool((r.properties or {}).get("synthetic", False)) for r in rows],
        },
        geometry=[r.geom for r in rows],
        crs=4326,
    )


def lineage(engine: Engine, code: str) -> list[dict[str, Any]]:
    """Every recorded code change involving ``code`` (as predecessor or successor)."""
    with Session(engine) as session:
        links = session.scalars(
            select(UnitLineage).where(
                (UnitLineage.predecessor_code == code) | (UnitLineage.successor_code == code)
            )
        ).all()
        return [
            {
                "predecessor_code": link.predecessor_code,
                "successor_code": link.successor_code,
                "generation_id": link.generation_id,
                "predecessor_generation_id": link.predecessor_generation_id,
                "level": link.level,
                "how": link.how,
            }
            for link in links
        ]


def delete_generation(engine: Engine, generation_id: int) -> None:
    """Remove a generation (used by tests and by an aborted import)."""
    with Session(engine) as session, session.begin():
        session.execute(delete(UnitPiece).where(UnitPiece.generation_id == generation_id))
        session.execute(delete(Generation).where(Generation.id == generation_id))
