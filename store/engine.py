"""Engines for PostGIS and the embedded SQLite default, and schema migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text

from geo.errors import InvalidInputError

MIGRATIONS = Path(__file__).parent / "migrations"


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
    """Bring the schema to the newest migration (Alembic ``upgrade head``)."""
    migrate(engine, "upgrade", "head")


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
