"""Boundary generations: store a set, find the one valid on a date, read it back.

A generation is valid from its ``valid_from`` date until the next generation's
``valid_from``, or until the date it was withdrawn from (``withdrawn_from``); then the
latest earlier generation that is not withdrawn answers again.  :func:`timeline` is
that rule, and every question about validity goes through it (it lives, with the one
query of the published generations, in :mod:`store.timeline`, which a fresh ``siji
lookup`` reads without SQLAlchemy; it is re-exported here).  The active generation
is the one valid today.  Nothing is ever deleted by a release: a withdrawn generation
keeps its units, and reports keep the generation they were routed under.

Storing is two steps, so that a half-written set can never answer:

1. :func:`stage_generation` writes the units in short transactions (a few hundred
   units each, so that an SQLite writer such as report intake never waits long) under
   a generation in state ``staging``, which nothing reads;
2. :func:`publish_generation` turns it ``published`` in one short transaction, with
   the lineage of every pair of generations that becomes adjacent in time (a
   back-dated generation re-links its neighbours) and without the links of pairs that
   no longer are.

Lineage itself is computed by the caller (``linker``; ``boundaries.lineage`` from
geometry), before the transaction; if another import changed the generations in the
meantime, the work is done again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from sqlalchemy import Engine, LargeBinary, delete, func, insert, select, text, tuple_, type_coerce
from sqlalchemy.orm import Session

from geo.errors import InvalidInputError, NotFoundError
from store.engine import is_postgis
from store.models import Generation, Unit, UnitGeometry, UnitLineage, UnitPiece
from store.timeline import (
    PUBLISHED,
    PUBLISHED_SQL,
    STAGING,
    GenerationInfo,
    Row,
    answering,
    read_published,
    timeline,
    transitions,
    valid_on,
)

if TYPE_CHECKING:
    import geopandas as gpd
    from sqlalchemy import ColumnElement

# Vertices per piece for ST_Subdivide: small pieces make the GiST filter tight and
# the exact test cheap (PostGIS's own advice is 255 or fewer; 64 measured best here).
SUBDIVIDE_MAX_VERTICES = 64
STAGE_BATCH_UNITS = 1000
"""Units written per transaction while staging (about 0.15 s each on SQLite, so that
another writer, report intake say, waits at most that long)."""
_CORE_COLUMNS = ("code", "name", "level", "parent_code")
# Unit properties that load_frame hands back as columns (declared lineage).
_PROPERTY_COLUMNS = ("predecessors", "predecessor_code")

Linker = Callable[["gpd.GeoDataFrame", "gpd.GeoDataFrame"], list[dict[str, Any]]]
"""(old frame, new frame) -> lineage rows: ``predecessor_code``, ``successor_code``,
``level``, ``kind``, ``how``, ``predecessor_share``, ``successor_share``."""


def _rows(session: Session) -> list[Row]:
    # The one query and reading of the published generations (store/timeline.py),
    # through the ORM session's connection here.
    return [p.row for p in read_published(session.connection().exec_driver_sql(PUBLISHED_SQL))]


def generation_at(engine: Engine, at: dt.date | None = None) -> GenerationInfo:
    """The generation valid on ``at`` (default: today).

    Raises
    ------
    NotFoundError
        No generation is valid on that date; the message says why (before the
        earliest, or withdrawn).
    """
    with Session(engine) as session:
        rows = _rows(session)
        return _infos(session, rows, [answering(rows, at or dt.date.today())])[0]


def list_generations(engine: Engine, *, staging: bool = False) -> list[GenerationInfo]:
    """Published generations (and with ``staging``, imports under way or interrupted),
    by ``valid_from``."""
    with Session(engine) as session:
        query = select(Generation.id).order_by(Generation.valid_from, Generation.id)
        if not staging:
            query = query.where(Generation.state == PUBLISHED)
        return _infos(session, _rows(session), list(session.scalars(query)))


def get_generation(engine: Engine, key: str | int) -> GenerationInfo:
    """A generation by id or by name.

    Raises
    ------
    NotFoundError
        Naming the generations there are.
    """
    with Session(engine) as session:
        query = select(Generation.id).where(Generation.state == PUBLISHED)
        text_key = str(key).strip()
        ids = list(session.scalars(query.where(Generation.name == text_key)))
        if not ids and text_key.isdigit():
            ids = list(session.scalars(query.where(Generation.id == int(text_key))))
        if len(ids) != 1:
            known = ", ".join(
                f"{id_} {name!r}"
                for id_, name in session.execute(
                    select(Generation.id, Generation.name)
                    .where(Generation.state == PUBLISHED)
                    .order_by(Generation.valid_from)
                )
            )
            why = "names several generations; use its id" if ids else "is no generation"
            raise NotFoundError(
                f"{text_key!r} {why}; the generations are: {known or 'none yet'}", generation=text_key
            )
        return _infos(session, _rows(session), ids)[0]


def _infos(session: Session, rows: list[Row], ids: Sequence[int]) -> list[GenerationInfo]:
    periods = timeline(rows)
    today_id = valid_on(rows, dt.date.today())
    found = {g.id: g for g in session.scalars(select(Generation).where(Generation.id.in_(ids)))}
    out = []
    for id_ in ids:
        gen = found[id_]
        mine = tuple(p for p in periods if p.generation_id == id_)
        out.append(
            GenerationInfo(
                id=gen.id,
                name=gen.name,
                valid_from=gen.valid_from,
                valid_to=mine[0].end if mine else gen.withdrawn_from,
                source=gen.source,
                unit_count=gen.unit_count,
                active=today_id == gen.id,
                created_at=gen.created_at,
                state=gen.state,
                withdrawn_from=gen.withdrawn_from,
                periods=mine,
                notes=dict(gen.notes or {}),
            )
        )
    return out


def level_counts(engine: Engine) -> dict[int, dict[str, int]]:
    """Units per level of every generation."""
    counts: dict[int, dict[str, int]] = {}
    with Session(engine) as session:
        for gen_id, level, n in session.execute(
            select(Unit.generation_id, Unit.level, func.count()).group_by(Unit.generation_id, Unit.level)
        ):
            counts.setdefault(gen_id, {})[level] = n
    return counts


# --- storing ---------------------------------------------------------------------------
def import_generation(
    engine: Engine,
    frame: gpd.GeoDataFrame,
    *,
    name: str,
    valid_from: dt.date,
    source: str = "",
    notes: dict[str, Any] | None = None,
    linker: Linker | None = None,
) -> GenerationInfo:
    """Stage and publish a validated, normalized boundary frame as a new generation.

    ``linker`` computes the lineage of the pairs of generations that become adjacent
    (see :func:`publish_generation`); without one, none is recorded.

    Raises
    ------
    InvalidInputError
        A generation with the same ``valid_from`` or the same name already exists.
    """
    _check_new(engine, name, valid_from)
    staged = stage_generation(engine, frame, name=name, valid_from=valid_from, source=source, notes=notes)
    try:
        return publish_generation(engine, staged, linker=linker, frames={staged: frame})
    except BaseException:
        delete_generation(engine, staged)
        raise


def _check_new(engine: Engine, name: str, valid_from: dt.date) -> None:
    with Session(engine) as session:
        _check_clash(session, name, valid_from, None)


def _check_clash(session: Session, name: str, valid_from: dt.date, own_id: int | None) -> None:
    published = select(Generation).where(Generation.state == PUBLISHED, Generation.id != (own_id or -1))
    # A generation withdrawn from its first day never answers: a fixed set may take its date.
    answering = (Generation.withdrawn_from.is_(None)) | (Generation.withdrawn_from > Generation.valid_from)
    clash = session.scalar(published.where(Generation.valid_from == valid_from, answering))
    if clash is not None:
        raise InvalidInputError(
            f"generation {clash.id} {clash.name!r} is already valid from {valid_from}; "
            "pick another --valid-from date (or withdraw that generation first)",
            field="valid_from",
            value=str(valid_from),
        )
    clash = session.scalar(published.where(Generation.name == name))
    if clash is not None:
        raise InvalidInputError(
            f"generation {clash.id} is already named {name!r}; pick another --name",
            field="name",
            value=name,
        )


def stage_generation(
    engine: Engine,
    frame: gpd.GeoDataFrame,
    *,
    name: str,
    valid_from: dt.date,
    source: str = "",
    notes: dict[str, Any] | None = None,
) -> int:
    """Write a frame's units under a new generation in state ``staging`` (not read by
    anything until :func:`publish_generation`); return its id.

    A failure part-way removes what was written.
    """
    with Session(engine) as session, session.begin():
        generation = Generation(
            name=name,
            valid_from=valid_from,
            source=source,
            unit_count=len(frame),
            notes=notes or {},
            state=STAGING,
        )
        session.add(generation)
        session.flush()
        generation_id = generation.id
    try:
        for start in range(0, len(frame), STAGE_BATCH_UNITS):
            with Session(engine) as session, session.begin():
                _insert_units(session, generation_id, frame.iloc[start : start + STAGE_BATCH_UNITS])
        if is_postgis(engine):
            with Session(engine) as session, session.begin():
                _subdivide(session, generation_id)
    except BaseException:
        delete_generation(engine, generation_id)
        raise
    return generation_id


def publish_generation(
    engine: Engine,
    generation_id: int,
    *,
    linker: Linker | None = None,
    frames: dict[int, gpd.GeoDataFrame] | None = None,
    withdraw: tuple[int, dt.date | None] | None = None,
) -> GenerationInfo:
    """Make a staged generation answer (or, with ``withdraw=(id, date)``, change a
    published one's withdrawal), recording lineage in the same transaction.

    Parameters
    ----------
    linker : callable, optional
        Lineage of a pair (old frame, new frame), for every pair of generations that
        becomes adjacent in time; the links of pairs that stop being adjacent go.
    frames : dict, optional
        Frames already in memory by generation id (the new set), to skip reading them.

    Raises
    ------
    InvalidInputError
        The ``valid_from`` or the name is taken by a published generation.
    """
    frames = dict(frames or {})
    for _ in range(5):
        with Session(engine) as session:
            rows = _planned_rows(session, generation_id, withdraw)
            stored = _stored_pairs(session)
        wanted = transitions(timeline(rows))
        links = {}
        if linker is not None:
            for old_id, new_id in sorted(wanted - stored):
                old, new = (_frame(engine, frames, g) for g in (old_id, new_id))
                links[(old_id, new_id)] = linker(old, new)
        with Session(engine) as session, session.begin():
            if _planned_rows(session, generation_id, withdraw) != rows or _stored_pairs(session) != stored:
                continue  # another import or withdrawal came first: plan again
            gen = session.get(Generation, generation_id)
            if gen is None:
                raise NotFoundError(f"generation {generation_id} does not exist", generation_id=generation_id)
            _check_clash(session, gen.name, gen.valid_from, generation_id)
            if withdraw is None:
                gen.state = PUBLISHED
            else:
                gen.withdrawn_from = withdraw[1]
            gone = stored - wanted
            if gone:
                session.execute(
                    delete(UnitLineage).where(
                        tuple_(UnitLineage.predecessor_generation_id, UnitLineage.generation_id).in_(gone)
                    )
                )
            rows_to_insert = [
                {**link, "predecessor_generation_id": old_id, "generation_id": new_id}
                for (old_id, new_id), pair_links in links.items()
                for link in pair_links
            ]
            if rows_to_insert:
                session.execute(insert(UnitLineage), rows_to_insert)
        with Session(engine) as session:
            return _infos(session, _rows(session), [generation_id])[0]
    raise InvalidInputError(
        "the generations kept changing while this one was published (other imports at the same time?); "
        "run the import again",
        generation_id=generation_id,
    )


def _planned_rows(
    session: Session, generation_id: int, withdraw: tuple[int, dt.date | None] | None
) -> list[Row]:
    rows = [r for r in _rows(session) if r[0] != generation_id]
    gen = session.get(Generation, generation_id)
    if gen is None:
        return rows
    withdrawn = withdraw[1] if withdraw is not None else gen.withdrawn_from
    return sorted([*rows, (gen.id, gen.valid_from, withdrawn)])


def _stored_pairs(session: Session) -> set[tuple[int, int]]:
    return {
        (a, b)
        for a, b in session.execute(
            select(UnitLineage.predecessor_generation_id, UnitLineage.generation_id).distinct()
        )
    }


def _frame(engine: Engine, frames: dict[int, gpd.GeoDataFrame], generation_id: int) -> gpd.GeoDataFrame:
    if generation_id not in frames:
        frames[generation_id] = load_frame(engine, generation_id)
    return frames[generation_id]


def withdraw_generation(
    engine: Engine,
    generation_id: int,
    from_date: dt.date | None,
    *,
    reason: str,
    by: str,
    linker: Linker | None = None,
) -> GenerationInfo:
    """Stop a generation answering from ``from_date`` on (None: withdraw nothing, undoing
    an earlier withdrawal); nothing is deleted.  The reason and who gave it are
    kept in the generation's notes.

    Raises
    ------
    InvalidInputError
        ``from_date`` is before the generation's ``valid_from``.
    """
    with Session(engine) as session:
        gen = session.get(Generation, generation_id)
        if gen is None or gen.state != PUBLISHED:
            raise NotFoundError(f"generation {generation_id} does not exist", generation_id=generation_id)
        if from_date is not None and from_date < gen.valid_from:
            raise InvalidInputError(
                f"generation {gen.id} {gen.name!r} is valid from {gen.valid_from}; it can be withdrawn from "
                f"that day or later, not from {from_date}",
                field="from",
                value=str(from_date),
            )
    info = publish_generation(engine, generation_id, linker=linker, withdraw=(generation_id, from_date))
    with Session(engine) as session, session.begin():
        gen = session.get(Generation, generation_id)
        assert gen is not None
        history = list((gen.notes or {}).get("withdrawals", []))
        history.append(
            {
                "from": None if from_date is None else from_date.isoformat(),
                "reason": reason,
                "by": by,
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
        )
        gen.notes = {**(gen.notes or {}), "withdrawals": history}
    return info


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
            "properties": {k: _jsonable(v) for k, v in extra.items() if v is not None},
        }
        for (code, unit_name, level, parent), extra in zip(
            records.itertuples(index=False), extras, strict=True
        )
    ]
    # One executemany, then the ids by code: INSERT ... RETURNING ran row by row here
    # (3,877 statements for the bundled set, 0.3 s of a 1.1 s import on SQLite).
    connection = session.connection()  # Core executemany: the ORM's bulk path cost as much again
    connection.execute(insert(Unit), rows)
    codes = [str(row["code"]) for row in rows]
    id_of = dict(
        session.execute(
            select(Unit.code, Unit.id).where(Unit.generation_id == generation_id, Unit.code.in_(codes))
        ).all()
    )
    ids = [id_of[code] for code in codes]
    geoms = np.asarray(frame.geometry.values, dtype=object)
    polygons = shapely.get_type_id(geoms) == 3
    geoms[polygons] = shapely.multipolygons(geoms[polygons][:, None].tolist()) if polygons.any() else []
    connection.execute(
        insert(UnitGeometry),
        [{"unit_id": uid, "geom": geom} for uid, geom in zip(ids, geoms, strict=True)],
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
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


def load_frame(session_or_engine: Session | Engine, generation_id: int) -> gpd.GeoDataFrame:
    """Read a generation back as a normalized boundary frame (EPSG:4326), with the
    ``synthetic`` flag and any declared predecessors."""
    import geopandas as gpd
    import pandas as pd

    session = session_or_engine if isinstance(session_or_engine, Session) else Session(session_or_engine)
    try:
        # The polygons as WKB, parsed in one vectorized call (one call per row cost a
        # third of the read: 0.12 of 0.4 s for the bundled set).
        wkb: ColumnElement[bytes]
        if session.get_bind().dialect.name == "postgresql":
            wkb = func.ST_AsBinary(UnitGeometry.geom, type_=LargeBinary)
        else:
            wkb = type_coerce(UnitGeometry.geom, LargeBinary)
        rows = session.execute(
            select(Unit.code, Unit.name, Unit.level, Unit.parent_code, Unit.properties, wkb.label("geom"))
            .join(UnitGeometry, UnitGeometry.unit_id == Unit.id)
            .where(Unit.generation_id == generation_id)
            .order_by(Unit.id)
        ).all()
    finally:
        if session is not session_or_engine:
            session.close()
    columns: dict[str, Any] = {
        "code": [r.code for r in rows],
        "name": [r.name for r in rows],
        "level": [r.level for r in rows],
        # object dtype keeps None for "no parent" (a string dtype would turn it into NaN)
        "parent_code": pd.Series([r.parent_code for r in rows], dtype=object),
        "synthetic": [bool((r.properties or {}).get("synthetic", False)) for r in rows],
    }
    for key in _PROPERTY_COLUMNS:
        values = [(r.properties or {}).get(key) for r in rows]
        if any(v is not None for v in values):
            columns[key] = pd.Series(values, dtype=object)
    geometry = shapely.from_wkb(np.array([bytes(r.geom) for r in rows], dtype=object))
    return gpd.GeoDataFrame(columns, geometry=geometry, crs=4326)


def delete_generation(engine: Engine, generation_id: int) -> None:
    """Remove a generation and its units (an aborted import; tests).  Published
    generations are withdrawn, never deleted, by the command line."""
    with Session(engine) as session, session.begin():
        session.execute(delete(UnitPiece).where(UnitPiece.generation_id == generation_id))
        session.execute(delete(Generation).where(Generation.id == generation_id))


def remove_interrupted(engine: Engine, older_than: dt.timedelta = dt.timedelta(hours=1)) -> list[int]:
    """Delete staging generations left by imports that were killed (older than
    ``older_than``, so that an import under way is left alone); return their ids."""
    cutoff = dt.datetime.now(dt.UTC) - older_than
    with Session(engine) as session:
        stale = [
            gen.id
            for gen in session.scalars(select(Generation).where(Generation.state == STAGING))
            if gen.created_at is not None and _aware(gen.created_at) < cutoff
        ]
    for generation_id in stale:
        delete_generation(engine, generation_id)
    return stale


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def neighbours_of(engine: Engine, valid_from: dt.date) -> tuple[GenerationInfo | None, GenerationInfo | None]:
    """The generations a new one valid from ``valid_from`` would follow and be followed
    by in time (it replaces the first from that day on; the second takes over from it).

    Raises
    ------
    InvalidInputError
        A published generation is already valid from that day.
    """
    with Session(engine) as session:
        rows = _rows(session)
        _check_clash(session, "", valid_from, None)
        periods = timeline([*rows, (-1, valid_from, None)])
        mine = next(i for i, p in enumerate(periods) if p.generation_id == -1)
        ids = [
            periods[mine - 1].generation_id if mine > 0 else None,
            periods[mine + 1].generation_id if mine + 1 < len(periods) else None,
        ]
        found = {g.id: g for g in _infos(session, rows, [i for i in ids if i is not None])}
        before, after = (None if i is None else found[i] for i in ids)
        return before, after
