"""Fixtures shared by the whole suite: databases (SQLite and a real PostGIS), apps, and
the service under uvicorn with a headless Chromium for the browser checks.

PostGIS tests never skip in CI (``CI`` set): a server that cannot start fails them.
Outside CI they skip with the reason when PostgreSQL/PostGIS is not installed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import pytest
from sqlalchemy import text

from tests.browser import LiveService, chromium, serve
from tests.common import UNITS, Unit
from tests.postgis_server import ThrowawayPostgres
from tests.releases import ReleaseFiles, write_release_files

_counter = itertools.count()


@pytest.fixture(scope="session", autouse=True)
def _index_cache_in_a_temporary_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Apps and commands made by the tests (subprocesses too) keep built indexes in a
    directory of this run, not in the user's ~/.cache."""
    before = os.environ.get("SIJI_INDEX_CACHE_DIR")
    os.environ["SIJI_INDEX_CACHE_DIR"] = str(tmp_path_factory.mktemp("index-cache"))
    yield
    if before is None:
        os.environ.pop("SIJI_INDEX_CACHE_DIR", None)
    else:
        os.environ["SIJI_INDEX_CACHE_DIR"] = before


@pytest.fixture(scope="module")
def live_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """The service under uvicorn on loopback, over a new SQLite file of the test module's
    own (no reports: the maps show demo data and need no token)."""
    database: Path = tmp_path_factory.mktemp("live") / "siji.db"
    with serve(f"sqlite:///{database}") as url:
        yield LiveService(url, database)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless Chromium with no network (:mod:`tests.browser`)."""
    with chromium() as driver:
        yield driver


T = TypeVar("T")


@pytest.fixture(scope="session")
def postgis_server() -> Iterator[str]:
    """URL of the template database of a throwaway PostGIS server (or SIJI_TEST_DATABASE_URL)."""
    url = os.environ.get("SIJI_TEST_DATABASE_URL")
    if url:
        yield url
        return
    server = started(ThrowawayPostgres().start, "PostGIS")
    yield server.url
    server.stop()


def started(start: Callable[[], T], what: str) -> T:
    """``start()``, or a skip when ``what`` (a server the tests start) is not available
    here; in CI (``CI`` set) a failure, since CI must run every test for real."""
    try:
        return start()
    except Exception as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{what} could not start in CI: {exc}")
        pytest.skip(f"{what} is not available here: {exc}")


def fresh_postgis_database(template_url: str) -> str:
    """A new, empty database (with PostGIS) on the test server."""
    from store.engine import make_engine

    name = f"siji_t{os.getpid()}_{next(_counter)}"
    admin = make_engine(template_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    base = template_url.rsplit("/", 1)[1]
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{base}"'))
    admin.dispose()
    return template_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """An empty database: SQLite in a temp dir, and the same on PostGIS."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/siji.db"
    return fresh_postgis_database(request.getfixturevalue("postgis_server"))


def wait_for(ask: Callable[[], object], expected: object, seconds: float = 60.0) -> None:
    """Ask until the answer is ``expected`` (for work a background thread finishes)."""
    deadline = time.monotonic() + seconds
    while (answer := ask()) != expected:
        assert time.monotonic() < deadline, f"still {answer!r} after {seconds} s, not {expected!r}"
        time.sleep(0.01)


def units_frame(units: tuple[Unit, ...] | list[Unit] = UNITS) -> gpd.GeoDataFrame:
    """A normalized boundary frame of the canonical test units."""
    return gpd.GeoDataFrame(
        {
            "code": [u.code for u in units],
            "name": [u.name for u in units],
            "level": [u.level for u in units],
            "parent_code": [u.parent for u in units],
        },
        geometry=[u.geometry for u in units],
        crs=4326,
    )


TOY_VALID_FROM = dt.date(2024, 1, 1)


@pytest.fixture(scope="session")
def release_files(tmp_path_factory: pytest.TempPathFactory) -> ReleaseFiles:
    """The realistic release of ``tests/releases.py``, built from ``siji boundaries export``."""
    return write_release_files(tmp_path_factory.mktemp("release"))
