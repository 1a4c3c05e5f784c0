"""Fixtures of the routing tests: a report service over the toy units, with a clock the test sets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from boundaries.service import BoundaryService
from routing.service import ReportService
from store.engine import make_engine, upgrade
from store.generations import import_generation
from store.media import MediaStore
from tests.conftest import units_frame

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@dataclass
class Clock:
    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2025, 3, 3, 9, 0, tzinfo=SHANGHAI))  # a Monday morning


@pytest.fixture
def service(database_url: str, clock: Clock, tmp_path: Path) -> Iterator[ReportService]:
    """Reports over the toy units (tests/common.py), on SQLite and on PostGIS; photos under tmp_path."""
    engine = make_engine(database_url)
    upgrade(engine)
    import_generation(engine, units_frame(), name="toy", valid_from=dt.date(2024, 1, 1))
    yield ReportService(
        engine,
        BoundaryService(engine),
        secret="test-secret-0123456789",
        clock=clock,
        media=MediaStore(tmp_path / "media"),
    )
    engine.dispose()
