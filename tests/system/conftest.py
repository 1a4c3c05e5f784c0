"""Databases for whole-system tests: prepared once per session, copied per test.

``siji serve`` migrates and imports the bundled Tai'an set on its first start; done
once here (a few seconds on SQLite, more on PostGIS) and copied, every test's server
starts on a ready database (a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE``
on PostGIS).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks.load import prepare_database
from tests.conftest import fresh_postgis_database


@pytest.fixture(scope="session")
def prepared_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file with the schema and the bundled set (copy it, never serve it)."""
    path = tmp_path_factory.mktemp("system-template") / "prepared.db"
    prepare_database(f"sqlite:///{path}")  # the last connection closes: WAL checkpointed into the file
    return path


@pytest.fixture(scope="session")
def prepared_postgis(postgis_server: str) -> str:
    """URL of a PostGIS database with the schema and the bundled set (a template: never connect to it)."""
    url = fresh_postgis_database(postgis_server)
    prepare_database(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def served_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A ready database of its own for one test's server: SQLite (WAL) and PostGIS."""
    if request.param == "sqlite":
        path = tmp_path / "siji.db"
        shutil.copyfile(request.getfixturevalue("prepared_sqlite"), path)
        return f"sqlite:///{path}"
    return fresh_postgis_database(request.getfixturevalue("prepared_postgis"))


@pytest.fixture
def sqlite_database_url(prepared_sqlite: Path, tmp_path: Path) -> str:
    """A ready SQLite database of its own."""
    path = tmp_path / "siji.db"
    shutil.copyfile(prepared_sqlite, path)
    return f"sqlite:///{path}"
