"""Engines for PostGIS and the embedded SQLite default, and schema migrations."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text

from geo.errors import InvalidInputError

MIGRATIONS = Path(__file__).parent / "migrations"


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
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
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
    """
    if not at_head(engine):
        migrate(engine, "upgrade", "head")


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


def at_head(engine: Engine) -> bool:
    """True when the database's schema is at every migration head (False when in doubt)."""
    try:
        with engine.connect() as connection:
            current = {row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))}
    except Exception:  # no table yet, or anything else: let Alembic decide
        return False
    return bool(current) and current == head_revisions()


def migrate(engine: Engine, direction: str, revision: str) -> None:
    """Run Alembic ``upgrade`` or ``downgrade`` to ``revision`` in one transaction."""
    from alembic import command
    from alembic.config import Config

    if direction not in ("upgrade", "downgrade"):
        raise ValueError(f"direction must be 'upgrade' or 'downgrade', got {direction!r}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if is_postgis(engine):
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)


def ping(engine: Engine) -> None:
    """Raise if the database cannot be reached."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
