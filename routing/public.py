"""The public view of reports: what anyone may read, without personal data.

Open311's ``GET requests`` is a public listing, so it must never show the reporter's
contact or token hash, nor staff notes.  This module reads :class:`store.models.Report`
rows with a few filters and returns :class:`PublicReport` values that hold only
non-personal fields, with phone and ID numbers, e-mail addresses and licence plates
redacted from the description and the address (:func:`routing.redact.redact`); the
HTTP edge renders them.  It does no access checks because there is nothing here that
needs one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.errors import InvalidInputError
from routing.access import hash_token
from routing.calendar import aware_utc
from routing.redact import redact
from routing.workflow import OPEN_STATES, STATES
from store.models import Report, ReportEvent

if TYPE_CHECKING:
    from sqlalchemy import Engine

CLOSED_STATES = frozenset(STATES) - OPEN_STATES
"""States in which a case is finished (结案, 作废): Open311's ``closed``."""
MAX_ROWS = 1000
"""The most rows one public query returns (GeoReport v2 caps a listing at 1,000)."""


@dataclass(frozen=True, slots=True)
class PublicReport:
    """A report as anyone may see it.

    Attributes
    ----------
    id : int
    state, state_zh : str
        The state in the closed loop and its Chinese name.
    closed : bool
        True for the final states (closed, invalid).
    category_code : str
    description, address : str
        Redacted: personal numbers, e-mail addresses and licence plates replaced.
    owner_name : str
        The unit (or city department) that owns the case.
    created_at, updated_at : datetime
        Aware, UTC.  ``updated_at`` is the time of the latest step of the loop.
    due_at : datetime or None
        The handling deadline, set when the case is dispatched.
    lon, lat : float
        WGS84.
    photo_urls : tuple of str
        Photo URLs the reporter gave (external).
    photo_ids : tuple of int
        Ids of the stored photos, the reporter's first: ``/v1/photos/{id}`` serves them
        to staff in scope and to the reporter only.
    duplicate_of : int or None
    """

    id: int
    state: str
    state_zh: str
    closed: bool
    category_code: str
    description: str
    address: str
    owner_name: str
    created_at: dt.datetime
    updated_at: dt.datetime
    due_at: dt.datetime | None
    lon: float
    lat: float
    photo_urls: tuple[str, ...]
    duplicate_of: int | None
    photo_ids: tuple[int, ...] = ()


def public_reports(
    engine: Engine,
    *,
    ids: Collection[int] | None = None,
    category_codes: Collection[str] | None = None,
    closed: bool | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    limit: int = MAX_ROWS,
) -> list[PublicReport]:
    """Reports matching every given filter, newest first.

    Parameters
    ----------
    engine : Engine
    ids : collection of int, optional
        Only these report ids.
    category_codes : collection of str, optional
        Only these (canonical) category codes.
    closed : bool, optional
        True: only closed or invalid cases; False: only open ones; None: both.
    start, end : datetime, optional
        Only reports created in ``[start, end]``; must be timezone-aware.
    limit : int
        At most this many rows (1 to :data:`MAX_ROWS`).

    Raises
    ------
    InvalidInputError
        A naive datetime or a limit out of range.
    """
    if not 1 <= limit <= MAX_ROWS:
        raise InvalidInputError(f"limit {limit} is out of range; allowed: 1 to {MAX_ROWS}", field="limit")
    # The latest step of the loop is the last update; every report has its intake event,
    # the coalesce only covers rows written by hand.
    last_event = select(func.max(ReportEvent.at)).where(ReportEvent.report_id == Report.id).scalar_subquery()
    query = select(Report, func.coalesce(last_event, Report.created_at))
    if ids is not None:
        query = query.where(Report.id.in_(sorted(set(ids))))
    if category_codes is not None:
        query = query.where(Report.category_code.in_(sorted(set(category_codes))))
    if closed is not None:
        query = query.where(Report.state.in_(sorted(CLOSED_STATES if closed else OPEN_STATES)))
    # SQLite stores the UTC wall time without an offset, so a bound must be UTC too.
    if start is not None:
        query = query.where(Report.created_at >= aware_utc(start, "start"))
    if end is not None:
        query = query.where(Report.created_at <= aware_utc(end, "end"))
    query = query.order_by(Report.created_at.desc(), Report.id.desc()).limit(limit)
    with Session(engine) as session:
        return [_public(row, updated) for row, updated in session.execute(query).all()]


def report_ids_for_token(engine: Engine, token: str) -> list[int]:
    """Ids of the reports filed with a reporter token (one, unless none), smallest first.

    Only the token's SHA-256 hash is stored, so the lookup is by hash.
    """
    with Session(engine) as session:
        ids = session.scalars(
            select(Report.id).where(Report.reporter_token_hash == hash_token(token)).order_by(Report.id)
        ).all()
    return [int(i) for i in ids]


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite returns naive datetimes; they were stored as UTC.
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _public(row: Report, updated: dt.datetime) -> PublicReport:
    photos: Sequence[str] = row.photo_urls or ()
    return PublicReport(
        id=row.id,
        state=row.state,
        state_zh=STATES.get(row.state, row.state),
        closed=row.state in CLOSED_STATES,
        category_code=row.category_code,
        description=redact(row.description),
        address=redact(row.address),
        owner_name=row.owner_name,
        created_at=_aware(row.created_at),
        updated_at=_aware(updated),
        due_at=None if row.due_at is None else _aware(row.due_at),
        lon=row.lon,
        lat=row.lat,
        photo_urls=tuple(photos),
        duplicate_of=row.duplicate_of,
        photo_ids=tuple(p.id for p in sorted(row.photos, key=lambda p: (p.kind != "report", p.id))),
    )
