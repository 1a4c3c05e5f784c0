"""``siji serve`` on the machines operators have: a PostgreSQL role that is not a
superuser, and every startup problem as one line naming the fix (no traceback)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from store.engine import make_engine
from tests.live import free_port, serve

_names = itertools.count()


def _start(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``siji [ARGS] serve`` in a fresh process that should refuse to start."""
    return _siji(tmp_path, env, *args, "serve", "--port", str(free_port()))


def _siji(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``siji ARGS`` in a fresh process, with only the ``SIJI_`` settings of ``env``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SIJI_")}
    environment.update({"SIJI_DATABASE_URL": f"sqlite:///{tmp_path}/siji.db", **env})
    return subprocess.run(
        [sys.executable, "-m", "siji.cli", *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _assert_one_line(ran: subprocess.CompletedProcess[str], fix: str) -> None:
    assert ran.returncode == 2, ran.stderr
    # (A progress bar may stand above it, ended.)
    lines = [line for line in ran.stderr.strip().splitlines() if not line.startswith("lookup ")]
    assert len(lines) == 1, ran.stderr
    assert lines[0].startswith("error: ")
    assert fix in lines[0]


@pytest.mark.parametrize(
    ("env", "fix"),
    [
        ({"SIJI_ENVIRONMENT": "production"}, "SIJI_SECRET_KEY must be set to a new random value"),
        ({"SIJI_SNAP_DISTANCE_M": "-5"}, "SIJI_SNAP_DISTANCE_M='-5'"),
        ({"SIJI_DATABASE_URL": "mysql://siji@localhost/siji"}, "use postgresql://... or sqlite:///"),
        ({"SIJI_DATABASE_URL": "sqlite:////nonexistent/dir/siji.db"}, "create the directory"),
        ({"SIJI_DATABASE_URL": f"postgresql://siji@127.0.0.1:{free_port()}/siji"}, "host and port"),
        ({"SIJI_RATE_LIMIT_STORAGE": "memcached://localhost"}, "SIJI_RATE_LIMIT_STORAGE="),
        ({"SIJI_RATE_LIMIT_STORAGE": f"redis://127.0.0.1:{free_port()}/0"}, "cannot reach Redis at redis://"),
    ],
)
def test_startup_problems_are_one_line(tmp_path: Path, env: dict[str, str], fix: str) -> None:
    _assert_one_line(_start(tmp_path, env), fix)


def test_the_traceback_is_there_when_asked_for(tmp_path: Path) -> None:
    ran = _start(tmp_path, {"SIJI_DATABASE_URL": "sqlite:////nonexistent/dir/siji.db"}, "--traceback")
    assert ran.returncode != 0
    assert "Traceback (most recent call last)" in ran.stderr
    assert "DatabaseUnavailableError" in ran.stderr


# ---------------------------------------------------------------- PostgreSQL roles
def _admin(server: str, database: str = "postgres") -> Engine:
    return make_engine(server.rsplit("/", 1)[0] + f"/{database}", isolation_level="AUTOCOMMIT")


def _url(server: str, role: str, database: str) -> str:
    """The URL of ``database`` on the test server as ``role`` (trust authentication)."""
    host = server.split("@", 1)[1].rsplit("/", 1)[0]
    return f"postgresql://{role}@{host}/{database}"


@pytest.fixture
def role_database(postgis_server: str) -> Iterator[tuple[str, str]]:
    """A login role that is not a superuser, and an empty database it owns (no postgis)."""
    n = next(_names)
    role, database = f"siji_role_{os.getpid()}_{n}", f"siji_owned_{os.getpid()}_{n}"
    admin = _admin(postgis_server)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE'))
        connection.execute(text(f'CREATE DATABASE "{database}" OWNER "{role}" TEMPLATE template0'))
    yield role, database
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    admin.dispose()


def _create_postgis(server: str, database: str) -> None:
    engine = _admin(server, database)
    with engine.connect() as connection:
        connection.execute(text("CREATE EXTENSION postgis"))
    engine.dispose()


@pytest.mark.postgis
def test_a_role_that_is_not_a_superuser_runs_the_service_once_postgis_exists(
    tmp_path: Path, postgis_server: str, role_database: tuple[str, str]
) -> None:
    role, database = role_database
    url = _url(postgis_server, role, database)
    # Before: the one thing it cannot do itself, said in one line.
    _assert_one_line(_start(tmp_path, {"SIJI_DATABASE_URL": url}), "created once by a superuser")
    _create_postgis(postgis_server, database)  # what the README asks of a superuser, once
    with serve(tmp_path, env={"SIJI_DATABASE_URL": url}, ready_s=300) as base:
        body = httpx.get(f"{base}/v1/units/370902", timeout=30).json()
        assert (body["code"], body["name"]) == ("370902000000", "泰山区")
        lookup = httpx.get(f"{base}/v1/lookup", params={"lon": 117.13, "lat": 36.19}, timeout=30).json()
        assert lookup["community"]["code"] == "370902002001"
    with _admin(postgis_server, database).connect() as connection:
        owners = connection.execute(
            text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename <> "
                 "'spatial_ref_sys'")
        ).scalars().all()  # fmt: skip
    assert owners == [role]
    # --engine postgis registers its snap plane in the extension's spatial_ref_sys: one
    # more grant by the superuser, named in one line until it is given.
    (tmp_path / "in.csv").write_text("lon,lat\n117.13,36.19\n", encoding="utf-8")
    batch = ("lookup-batch", "--engine", "postgis", "in.csv", "out.csv")
    _assert_one_line(
        _siji(tmp_path, {"SIJI_DATABASE_URL": url}, *batch), f"GRANT INSERT ON spatial_ref_sys TO {role};"
    )
    with _admin(postgis_server, database).connect() as connection:
        connection.execute(text(f'GRANT INSERT ON spatial_ref_sys TO "{role}"'))
    ran = _siji(tmp_path, {"SIJI_DATABASE_URL": url}, *batch)
    assert ran.returncode == 0, ran.stderr
    assert "370902002001" in (tmp_path / "out.csv").read_text(encoding="utf-8")


@pytest.mark.postgis
@pytest.mark.parametrize(
    ("problem", "fix"),
    [
        ("no database", "create it (as a superuser: createdb -O <role> <database>"),
        ("unknown role", "correct the user and password in SIJI_DATABASE_URL"),
        ("no privilege", "must own the database or be allowed to create in it"),
    ],
)
def test_postgresql_problems_are_one_line(
    tmp_path: Path, postgis_server: str, role_database: tuple[str, str], problem: str, fix: str
) -> None:
    role, database = role_database
    if problem == "no database":
        url = _url(postgis_server, role, database + "_missing")
    elif problem == "unknown role":
        url = _url(postgis_server, role + "_nobody", database)
    else:  # postgis exists, but the database and its schema belong to someone else
        _create_postgis(postgis_server, database)
        with _admin(postgis_server, database).connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{database}" OWNER TO postgres'))
            connection.execute(text("ALTER SCHEMA public OWNER TO postgres"))
        url = _url(postgis_server, role, database)
    _assert_one_line(_start(tmp_path, {"SIJI_DATABASE_URL": url}), fix)
