"""Engines for PostGIS and the embedded SQLite default, and schema migrations.

SQLAlchemy is imported by the functions that make or use an engine: a fresh ``siji
lookup`` reads an SQLite database through the driver alone (:func:`sqlite_reader`),
without paying for SQLAlchemy's import (0.2-0.6 s with GeoAlchemy2 and the models).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geo.errors import InvalidInputError, SijiError

if TYPE_CHECKING:
    import sqlite3

    from sqlalchemy import Engine
    from sqlalchemy.exc import DBAPIError

MIGRATIONS = Path(__file__).parent / "migrations"
DEFAULT_DATABASE_URL = "sqlite:///./siji.db"
"""``SIJI_DATABASE_URL`` when unset: an SQLite file in the working directory."""
SQLITE_TIMEOUT_S = 30
"""Seconds an SQLite connection waits for another process's write lock."""


_REVISION = re.compile(r"^revision\s*(?::[^=]*)?=\s*[\"']([^\"']+)[\"']", re.M)
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", re.M)


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` URLs and use the psycopg 3 driver.

    Examples
    --------
    >>> normalize_url("postgres://u@localhost/siji")
    'postgresql+psycopg://u@localhost/siji'
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith(("postgresql+", "sqlite")):
        return url
    raise InvalidInputError(
        f"database URL {url!r} is not supported; use postgresql://... or sqlite:///path.db",
        field="database_url",
    )


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and full fsync on commit."""
    from sqlalchemy import create_engine, event

    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_TIMEOUT_S}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run while a writer commits; FULL fsyncs every commit so an
    # answered request survives a crash of the process or the machine.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def is_postgis(engine: Engine) -> bool:
    """True when the engine talks to PostgreSQL (with PostGIS)."""
    return engine.dialect.name == "postgresql"


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (Alembic ``upgrade head``).

    A database already there is recognised without importing Alembic (about 0.2 s of
    every command's start): its ``alembic_version`` rows are compared with the heads
    that the migration files name.

    Raises
    ------
    DatabaseUnavailableError
        The database cannot be reached or used (see :func:`database_problem`): the
        message names the database and the fix.
    """
    from sqlalchemy.exc import DBAPIError

    try:
        if not at_head(engine):
            migrate(engine, "upgrade", "head")
    except DBAPIError as exc:
        raise database_problem(engine, exc) from exc


def head_revisions() -> frozenset[str]:
    """The revisions no migration builds on, read from the migration files' ``revision``
    and ``down_revision`` lines.

    Examples
    --------
    >>> sorted(head_revisions()) == sorted(head_revisions()) and len(head_revisions()) >= 1
    True
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision = _REVISION.search(source)
        if revision is None:
            continue
        revisions.add(revision.group(1))
        down = _DOWN_REVISION.search(source)
        if down is not None:
            parents.update(re.findall(r"[\"']([^\"']+)[\"']", down.group(1)))
    return frozenset(revisions - parents)


_VERSIONS_SQL = "SELECT version_num FROM alembic_version"


def at_head(engine: Engine) -> bool:
    """True when the database's schema is at every migration head (False when in doubt)."""
    try:
        with engine.connect() as connection:
            current = {row[0] for row in connection.exec_driver_sql(_VERSIONS_SQL)}
    except Exception:  # no table yet, or anything else: let Alembic decide
        return False
    return schema_current(current)


def schema_current(revisions: set[str]) -> bool:
    """True when a database recording ``revisions`` in ``alembic_version`` is at every
    migration head.

    Examples
    --------
    >>> schema_current(set(head_revisions())), schema_current(set()), schema_current({"0001"})
    (True, False, False)
    """
    return bool(revisions) and revisions == head_revisions()


def sqlite_file(url: str) -> str | None:
    """The file of a plain SQLite URL (``sqlite:///relative.db``, ``sqlite:////abs.db``),
    as SQLAlchemy's SQLite dialect opens it; None for any other database, an in-memory
    one, or a URL with options or escapes (only SQLAlchemy reads those).

    Examples
    --------
    >>> sqlite_file("sqlite:///./siji.db"), sqlite_file("sqlite:////var/lib/siji.db")
    ('./siji.db', '/var/lib/siji.db')
    >>> sqlite_file("sqlite://"), sqlite_file("sqlite:///a.db?mode=ro"), sqlite_file("postgresql://u@h/db")
    (None, None, None)
    """
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = url[len(prefix) :]
    if not path or path == ":memory:" or any(c in path for c in "?#%"):
        return None
    return path


def sqlite_reader(url: str) -> sqlite3.Connection | None:
    """A connection to the existing SQLite database of ``url`` through the driver alone
    (no SQLAlchemy), for reading and at the migration head; None when ``url`` is not a
    plain SQLite file (:func:`sqlite_file`), the file does not exist, or its schema is
    not current: then only :func:`make_engine` and :func:`upgrade` will do.

    Opened ``mode=rw`` so that a missing file is never created here.
    """
    import sqlite3
    from urllib.parse import quote

    path = sqlite_file(url)
    if path is None or not os.path.isfile(path):
        return None
    try:
        connection = sqlite3.connect(
            f"file:{quote(os.path.abspath(path))}?mode=rw", uri=True, timeout=SQLITE_TIMEOUT_S
        )
    except sqlite3.Error:
        return None
    try:
        current = {row[0] for row in connection.execute(_VERSIONS_SQL)}
    except sqlite3.Error:
        current = set()
    if not schema_current(current):
        connection.close()
        return None
    return connection


def migrate(engine: Engine, direction: str, revision: str) -> None:
    """Run Alembic ``upgrade`` or ``downgrade`` to ``revision`` in one transaction."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    if direction not in ("upgrade", "downgrade"):
        raise ValueError(f"direction must be 'upgrade' or 'downgrade', got {direction!r}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if is_postgis(engine) and not connection.scalar(
            text("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")
        ):
            # Needs a superuser (or a role that owns the database on a server where
            # postgis is trusted); otherwise database_problem() says who must run it.
            connection.execute(text("CREATE EXTENSION postgis"))
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)


def ping(engine: Engine) -> None:
    """Raise if the database cannot be reached."""
    from sqlalchemy import text

    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


class DatabaseUnavailableError(SijiError):
    """The database of ``SIJI_DATABASE_URL`` cannot be reached or used as it is."""

    code = "database_unavailable"


_FIXES: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("28P01", "28000", "password authentication failed", "no pg_hba.conf entry", 'role "'),
        "correct the user and password in SIJI_DATABASE_URL, or let that role log in (pg_hba.conf)",
    ),
    (
        ("extension",),
        "the postgis extension must be created once by a superuser: psql -d <database> -c "
        "'CREATE EXTENSION postgis' (PostGIS installed on the server: Debian postgresql-15-postgis-3); "
        "then any role that owns the database runs siji",
    ),
    (
        ("42501", "permission denied"),
        "the role of SIJI_DATABASE_URL must own the database or be allowed to create in it: as a "
        "superuser, ALTER DATABASE <database> OWNER TO <role> (or GRANT CREATE ON SCHEMA public TO <role>)",
    ),
    (
        ("3D000", "does not exist"),
        "create it (as a superuser: createdb -O <role> <database>, then psql -d <database> -c "
        "'CREATE EXTENSION postgis') or correct the database name in SIJI_DATABASE_URL",
    ),
    (
        ("refused", "could not connect", "timeout", "timed out", "resolve", "translate host name", "08001"),
        "is PostgreSQL running there, and are the host and port in SIJI_DATABASE_URL right?",
    ),
    (
        ("unable to open database file", "readonly database", "read-only"),
        "SIJI_DATABASE_URL names an SQLite file in a directory that is missing or not writable; "
        "create the directory or point it elsewhere",
    ),
)
"""What the driver says (SQLSTATE or words) → the fix; the first match wins."""


def database_problem(engine: Engine, exc: DBAPIError) -> DatabaseUnavailableError:
    """One line for a database that cannot be used: which database, what the server said,
    and the fix (the password hidden).

    Examples
    --------
    >>> from sqlalchemy.exc import OperationalError
    >>> engine = make_engine("postgresql://siji:secret@db.example:5433/siji")
    >>> refused = OperationalError("connect", {}, Exception("connection failed: Connection refused"))
    >>> print(database_problem(engine, refused).message)  # doctest: +NORMALIZE_WHITESPACE
    cannot use the database postgresql+psycopg://siji:***@db.example:5433/siji (SIJI_DATABASE_URL):
    connection failed: Connection refused; is PostgreSQL running there, and are the host and port in
    SIJI_DATABASE_URL right?
    """
    original = exc.orig if exc.orig is not None else exc
    said = " ".join(str(original).split()) or type(original).__name__
    state = str(getattr(original, "sqlstate", "") or "")
    where = engine.url.render_as_string(hide_password=True)
    haystack = f"{state} {said}".lower()
    fix = next(
        (fix for needles, fix in _FIXES if any(n.lower() in haystack for n in needles)),
        "check SIJI_DATABASE_URL and the database server",
    )
    return DatabaseUnavailableError(
        f"cannot use the database {where} (SIJI_DATABASE_URL): {said}; {fix}",
        database=where,
        sqlstate=state or None,
    )
