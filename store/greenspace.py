"""The green-space register in the database: import a source, list, read back, remove.

A *source* is one file or list the features came from (``--source``, by default the
file name).  Importing a source whose name the register already holds is refused
unless ``replace`` is given; then the old features of that source are replaced by the
new ones in the same transaction, so a failed import leaves the register as it was.
Features of other sources are never touched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.orm import Session

from geo.errors import InvalidInputError
from store.models import GreenSpace

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "RegisterImport",
    "import_green_spaces",
    "load_green_spaces",
    "plan_import",
    "register_counts",
    "register_version",
    "remove_source",
]

MAX_SOURCE_CHARS = 200
SAME_PLACE_M = 30.0
"""Two features with the same name this close (metres) are taken for the same green space."""


@dataclass(frozen=True, slots=True)
class RegisterImport:
    """What an import does (or, in a dry run, would do) to the register.

    Attributes
    ----------
    source : str
    added : int
        Features the import stores.
    replaced : int
        Features of the same source it removes first (0 without ``replace``).
    by_kind : dict of str to int
        The added features per kind key.
    register_before, register_after : int
        Features in the whole register before and after.
    already_registered : list of str
        Names of added features that another source already holds (the same name within
        :data:`SAME_PLACE_M` metres): likely the same green space registered twice.
    """

    source: str
    added: int
    replaced: int
    by_kind: dict[str, int] = field(default_factory=dict)
    register_before: int = 0
    register_after: int = 0
    already_registered: list[str] = field(default_factory=list)


def plan_import(
    engine: Engine, frame: gpd.GeoDataFrame, *, source: str, replace: bool = False
) -> RegisterImport:
    """What importing ``frame`` as ``source`` would do; nothing is stored.

    Raises
    ------
    InvalidInputError
        The register already holds features of ``source`` and ``replace`` is False, or
        the source name is empty or too long.
    """
    with Session(engine) as session:
        return _plan(session, frame, source, replace)


def import_green_spaces(
    engine: Engine,
    frame: gpd.GeoDataFrame,
    *,
    source: str,
    replace: bool = False,
    now: dt.datetime | None = None,
) -> RegisterImport:
    """Store a register frame (:func:`greenspace.read.read_green_spaces`) as ``source``, in one transaction.

    Raises
    ------
    InvalidInputError
        As :func:`plan_import`.
    """
    from greenspace.read import REGISTER_COLUMNS, jsonable_properties

    at = now or dt.datetime.now(dt.UTC)
    with Session(engine) as session, session.begin():
        plan = _plan(session, frame, source, replace)
        if plan.replaced:
            session.execute(delete(GreenSpace).where(GreenSpace.source == source))
        extra = [c for c in frame.columns if c not in (*REGISTER_COLUMNS, frame.geometry.name)]
        records = frame[extra].to_dict("records") if extra else [{} for _ in range(len(frame))]
        rows = [
            {
                "code": None if code is None or code != code else str(code),
                "name": str(name),
                "kind": str(kind),
                "geom": geometry,
                "area_m2": float(area) if area == area else None,
                "opened_on": opened if isinstance(opened, dt.date) else None,
                "source": source,
                "properties": jsonable_properties(record),
                "imported_at": at,
            }
            for code, name, kind, area, opened, geometry, record in zip(
                frame["code"],
                frame["name"],
                frame["kind"],
                frame["area_m2"],
                frame["opened_on"],
                np.asarray(frame.geometry.values, dtype=object),
                records,
                strict=True,
            )
        ]
        if rows:
            session.execute(insert(GreenSpace), rows)
    return plan


def _plan(session: Session, frame: gpd.GeoDataFrame, source: str, replace: bool) -> RegisterImport:
    source = source.strip()
    if not source or len(source) > MAX_SOURCE_CHARS:
        raise InvalidInputError(
            f"source {source[:40]!r} is not allowed; allowed: a name of 1 to {MAX_SOURCE_CHARS} characters "
            "(the file name by default)",
            field="source",
        )
    total = session.scalar(select(func.count()).select_from(GreenSpace)) or 0
    existing = session.scalar(select(func.count()).where(GreenSpace.source == source)) or 0
    if existing and not replace:
        raise InvalidInputError(
            f"the register already holds {existing:,} green space(s) from source {source!r}; import with "
            "--replace to replace them with this file, or give another --source",
            field="source",
            value=source,
            existing=existing,
        )
    by_kind = {str(k): int(n) for k, n in frame["kind"].value_counts(sort=False).items()}
    others = session.execute(
        select(GreenSpace.name, GreenSpace.geom).where(GreenSpace.source != source)
    ).all()
    return RegisterImport(
        source=source,
        added=len(frame),
        replaced=existing,
        by_kind=by_kind,
        register_before=total,
        register_after=total - existing + len(frame),
        already_registered=_same_places(frame, others),
    )


def _same_places(frame: gpd.GeoDataFrame, others: Sequence[Any]) -> list[str]:
    """Names of ``frame``'s features that ``others`` (name, geometry) already hold in the same place."""
    import shapely

    if not others or frame.empty:
        return []
    degrees = SAME_PLACE_M / 90_000  # a degree of latitude is 111 km, of longitude at 36° N 90 km
    tree = shapely.STRtree([geometry for _, geometry in others])
    mine, theirs = tree.query(
        np.asarray(frame.geometry.values, dtype=object), predicate="dwithin", distance=degrees
    )
    names = frame["name"].to_numpy(dtype=object)
    same = {int(i) for i, j in zip(mine, theirs, strict=True) if names[i] == others[j][0]}
    return [str(names[i]) for i in sorted(same)]


def load_green_spaces(
    engine: Engine,
    *,
    kinds: list[str] | tuple[str, ...] | None = None,
    name_prefix: str | None = None,
    source: str | None = None,
    open_on: dt.date | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[int, gpd.GeoDataFrame]:
    """The register (or a page of it), by id: how many match, and the frame.

    Parameters
    ----------
    kinds : sequence of str, optional
        Only these kind keys.
    name_prefix : str, optional
        Names starting with this text.
    source : str, optional
        Only this source.
    open_on : date, optional
        Only green spaces open on that date (opening date on or before it, or unknown).
    limit, offset : int
        A page of the matches, in id order.

    Returns
    -------
    (int, GeoDataFrame)
        The number of matches, and ``id, code, name, kind, area_m2, opened_on, source,
        properties`` with the geometry (EPSG:4326).
    """
    import geopandas as gpd
    import pandas as pd

    query = select(GreenSpace)
    if kinds is not None:
        query = query.where(GreenSpace.kind.in_(list(kinds)))
    if name_prefix:
        escaped = name_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(GreenSpace.name.like(escaped + "%", escape="\\"))
    if source is not None:
        query = query.where(GreenSpace.source == source)
    if open_on is not None:
        query = query.where((GreenSpace.opened_on.is_(None)) | (GreenSpace.opened_on <= open_on))
    with Session(engine) as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        page = query.order_by(GreenSpace.id).offset(offset)
        if limit is not None:
            page = page.limit(limit)
        spaces = session.scalars(page).all()
        rows = [
            (s.id, s.code, s.name, s.kind, s.area_m2, s.opened_on, s.source, dict(s.properties or {}), s.geom)
            for s in spaces
        ]
    columns = ["id", "code", "name", "kind", "area_m2", "opened_on", "source", "properties"]
    table = pd.DataFrame([row[:-1] for row in rows], columns=columns)
    table = table.astype({"id": "int64", "area_m2": "float64"})
    for column in ("code", "opened_on", "properties"):
        table[column] = table[column].astype(object)
    geometry = gpd.GeoSeries([row[-1] for row in rows], crs=4326)
    return int(total), gpd.GeoDataFrame(table, geometry=geometry)


def register_version(engine: Engine) -> tuple[int, int, str]:
    """How many green spaces, the largest id and the last import: changed by every import or removal."""
    with Session(engine) as session:
        n, last_id, last_at = session.execute(
            select(func.count(), func.max(GreenSpace.id), func.max(GreenSpace.imported_at))
        ).one()
    return int(n), int(last_id or 0), str(last_at or "")


def register_counts(engine: Engine) -> dict[str, dict[str, int]]:
    """Green spaces per source and kind: ``{source: {kind: n}}``, sources in name order."""
    with Session(engine) as session:
        rows = session.execute(
            select(GreenSpace.source, GreenSpace.kind, func.count())
            .group_by(GreenSpace.source, GreenSpace.kind)
            .order_by(GreenSpace.source, GreenSpace.kind)
        ).all()
    counts: dict[str, dict[str, int]] = {}
    for source, kind, n in rows:
        counts.setdefault(source, {})[kind] = int(n)
    return counts


def remove_source(engine: Engine, source: str, *, dry_run: bool = True) -> int:
    """Remove the green spaces of one source (a dry run unless ``dry_run=False``); return how many.

    Raises
    ------
    InvalidInputError
        The register has no such source; the message lists the sources it has.
    """
    with Session(engine) as session, session.begin():
        n = session.scalar(select(func.count()).where(GreenSpace.source == source)) or 0
        if not n:
            sources = session.scalars(select(GreenSpace.source).distinct().order_by(GreenSpace.source)).all()
            raise InvalidInputError(
                f"the register has no source {source!r}; allowed: "
                f"{', '.join(map(repr, sources)) or 'none yet'}",
                field="source",
                value=source,
                allowed=list(sources),
            )
        if not dry_run:
            session.execute(delete(GreenSpace).where(GreenSpace.source == source))
    return int(n)
