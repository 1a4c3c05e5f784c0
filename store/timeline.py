"""Which boundary generation answers on a day: the rule, and the one query it reads.

A generation is valid from its ``valid_from`` date until the next generation's
``valid_from``, or until the date it was withdrawn from (``withdrawn_from``); then the
latest earlier generation that is not withdrawn answers again.  :func:`timeline` is
that rule over every day, :func:`answering` over one day; every question about
validity goes through them.

This module imports neither SQLAlchemy nor the models: the published generations are
read with :data:`PUBLISHED_SQL` through whatever connection the caller has, the ORM
session's (:mod:`store.generations`) or the SQLite driver's of a fresh ``siji
lookup`` (:mod:`boundaries.cached_start`), and :func:`read_published` reads the rows
alike from both, so that the two cannot disagree on which generation answers.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from geo.errors import NotFoundError

STAGING, PUBLISHED = "staging", "published"

PUBLISHED_SQL = (
    "SELECT id, valid_from, withdrawn_from, name FROM generations WHERE state = 'published' ORDER BY id"
)
"""The published generations, as :func:`read_published` reads them (no parameters, so
that it runs unchanged on every driver)."""


@dataclass(frozen=True, slots=True)
class Period:
    """A stretch of days on which one generation answers (``end`` exclusive, None: open)."""

    generation_id: int
    start: dt.date
    end: dt.date | None


@dataclass(frozen=True, slots=True)
class GenerationInfo:
    """A generation as listed to users.

    ``valid_to`` is the end (exclusive) of its first period; ``periods`` lists every
    stretch it answers (more than one when a later generation was withdrawn).
    """

    id: int
    name: str
    valid_from: dt.date
    valid_to: dt.date | None
    source: str
    unit_count: int
    active: bool
    created_at: dt.datetime | None
    state: str = PUBLISHED
    withdrawn_from: dt.date | None = None
    periods: tuple[Period, ...] = ()
    notes: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


Row = tuple[int, dt.date, dt.date | None]
"""(id, valid_from, withdrawn_from) of a published generation."""


class Published(NamedTuple):
    """A published generation as :data:`PUBLISHED_SQL` reads it."""

    id: int
    valid_from: dt.date
    withdrawn_from: dt.date | None
    name: str

    @property
    def row(self) -> Row:
        """(id, valid_from, withdrawn_from), what :func:`timeline` and :func:`answering` read."""
        return self.id, self.valid_from, self.withdrawn_from


class Named(Protocol):
    """What a lookup answer names of a generation (:class:`GenerationInfo`, :class:`Published`)."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def valid_from(self) -> dt.date: ...


def generation_ref(generation: Named) -> dict[str, Any]:
    """The short form of a generation inside a lookup answer.

    Examples
    --------
    >>> generation_ref(Published(1, dt.date(2023, 1, 1), None, "taian-2023"))
    {'id': 1, 'name': 'taian-2023', 'valid_from': '2023-01-01'}
    """
    return {"id": generation.id, "name": generation.name, "valid_from": generation.valid_from.isoformat()}


def read_published(rows: Iterable[Sequence[Any]]) -> list[Published]:
    """The rows of :data:`PUBLISHED_SQL` as the driver gives them: dates as
    ``datetime.date`` (psycopg) or as the ISO text SQLAlchemy stores in SQLite.

    Examples
    --------
    >>> rows = read_published([(1, "2023-01-01", None, "a"), (2, dt.date(2025, 1, 1), "2025-06-01", "b")])
    >>> [(p.id, str(p.valid_from), str(p.withdrawn_from), p.name) for p in rows]
    [(1, '2023-01-01', 'None', 'a'), (2, '2025-01-01', '2025-06-01', 'b')]
    """
    return [
        Published(int(id_), _date(start), None if end is None else _date(end), str(name))
        for id_, start, end, name in rows
    ]


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def timeline(rows: Sequence[Row]) -> list[Period]:
    """Which generation answers when: on a day, the generation with the latest
    ``valid_from`` on or before it that is not withdrawn on it.

    Examples
    --------
    >>> d = dt.date
    >>> rows = [(1, d(2023, 1, 1), None), (2, d(2025, 1, 1), d(2025, 6, 1)), (3, d(2026, 1, 1), None)]
    >>> for p in timeline(rows):
    ...     print(p.generation_id, p.start, p.end)
    1 2023-01-01 2025-01-01
    2 2025-01-01 2025-06-01
    1 2025-06-01 2026-01-01
    3 2026-01-01 None
    """
    days = sorted({day for _, start, end in rows for day in (start, end) if day is not None})
    periods: list[Period] = []
    for i, day in enumerate(days):
        answering_id = valid_on(rows, day)
        end = days[i + 1] if i + 1 < len(days) else None
        if answering_id is None:
            continue
        if periods and periods[-1].generation_id == answering_id and periods[-1].end == day:
            periods[-1] = Period(answering_id, periods[-1].start, end)
        else:
            periods.append(Period(answering_id, day, end))
    return periods


def valid_on(rows: Sequence[Row], day: dt.date) -> int | None:
    """The id of the generation answering on ``day``, None if none does.

    Examples
    --------
    >>> d = dt.date
    >>> rows = [(1, d(2023, 1, 1), None), (2, d(2025, 1, 1), d(2025, 6, 1))]
    >>> valid_on(rows, d(2025, 3, 1)), valid_on(rows, d(2025, 7, 1)), valid_on(rows, d(2020, 1, 1))
    (2, 1, None)
    """
    valid = [(start, id_) for id_, start, end in rows if start <= day and (end is None or end > day)]
    return max(valid)[1] if valid else None


def answering(rows: Sequence[Row], day: dt.date) -> int:
    """The id of the generation answering on ``day``.

    Raises
    ------
    NotFoundError
        No generation answers then; the message says why (none imported, before the
        earliest, or withdrawn).

    Examples
    --------
    >>> answering([(1, dt.date(2023, 1, 1), None)], dt.date(2024, 1, 1))
    1
    >>> try:
    ...     answering([(1, dt.date(2023, 1, 1), None)], dt.date(2022, 1, 1))
    ... except NotFoundError as error:
    ...     print(error.message)
    no boundary generation is valid on 2022-01-01; the earliest is valid from 2023-01-01
    """
    found = valid_on(rows, day)
    if found is not None:
        return found
    earliest = min((start for _, start, _ in rows), default=None)
    if earliest is None:
        hint = "no boundary set is imported yet"
    elif day < earliest:
        hint = f"the earliest is valid from {earliest}"
    else:
        hint = "every generation valid then was withdrawn (see siji boundaries generations)"
    raise NotFoundError(f"no boundary generation is valid on {day}; {hint}", at=str(day))


def transitions(periods: Sequence[Period]) -> set[tuple[int, int]]:
    """(earlier, later) generation ids of consecutive periods: the pairs lineage links.

    Examples
    --------
    >>> d = dt.date
    >>> sorted(transitions(timeline([(1, d(2023, 1, 1), None), (2, d(2025, 1, 1), d(2025, 6, 1))])))
    [(1, 2), (2, 1)]
    """
    return {
        (a.generation_id, b.generation_id)
        for a, b in itertools.pairwise(periods)
        if a.generation_id != b.generation_id
    }
