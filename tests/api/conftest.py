"""Apps over the bundled Tai'an set, on SQLite and on PostGIS."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.conftest import fresh_postgis_database

NO_RATE_LIMITS = {"rate_limit_per_address": 0, "rate_limit_per_token": 0}
"""The API tests send many requests from one test client; tests/api/test_ratelimit.py turns them on."""
OPEN311_KEYS = ["any-key", "k", "demo"]
"""The Open311 api_keys the test apps accept (outside development, a server with none accepts none)."""
IN_PROCESS_MAPS = {"map_processes": 0}
"""Map analyses in a thread of the app: most test apps never draw a map, and each worker
process imports the analysis stack; tests/api/test_maps.py runs them in a process pool."""


def make_client(database_url: str, **overrides: object) -> Iterator[TestClient]:
    defaults = {
        "environment": "test",
        **NO_RATE_LIMITS,
        **IN_PROCESS_MAPS,
        "open311_api_keys": OPEN311_KEYS,
        "media_dir": tempfile.mkdtemp(prefix="siji-media-"),
    }
    settings = Settings(database_url=database_url, **{**defaults, **overrides})  # type: ignore[arg-type]
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="session")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The service on an embedded SQLite file, bundled set loaded on first start."""
    path = tmp_path_factory.mktemp("api")
    yield from make_client(f"sqlite:///{path / 'siji.db'}", media_dir=path / "media")


@pytest.fixture(scope="session")
def postgis_client(postgis_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The same service on PostGIS."""
    media = tmp_path_factory.mktemp("api-postgis") / "media"
    yield from make_client(fresh_postgis_database(postgis_server), media_dir=media)
