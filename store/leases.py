"""Named leases in the database: one process of many runs a job (the event delivery loop).

A lease is a row of ``leases``: its ``holder`` runs the job until ``expires_at``.
:func:`acquire` takes a free or expired lease, or renews one the caller holds, in one
``UPDATE`` (atomic on SQLite and PostgreSQL alike, so two workers never both win);
a holder that dies (SIGKILL, a lost machine) stops renewing and another process takes
the lease over once it expires.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from store.models import Lease

EXPIRED = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def acquire(engine: Engine, name: str, holder: str, ttl_s: float, now: dt.datetime) -> bool:
    """Take or renew the lease ``name`` for ``ttl_s`` seconds from ``now``; True when ``holder`` has it."""
    now = now.astimezone(dt.UTC)
    until = now + dt.timedelta(seconds=ttl_s)
    with engine.begin() as connection:
        taken = connection.execute(
            update(Lease)
            .where(Lease.name == name, (Lease.holder == holder) | (Lease.expires_at < now))
            .values(holder=holder, expires_at=until)
        ).rowcount
        if taken:
            return True
        if connection.scalar(select(Lease.name).where(Lease.name == name)) is not None:
            return False
    try:  # no such lease yet: the first to insert it holds it
        with engine.begin() as connection:
            connection.execute(insert(Lease).values(name=name, holder=holder, expires_at=until))
    except IntegrityError:
        return False
    return True


def release(engine: Engine, name: str, holder: str) -> None:
    """Give the lease up at once (if ``holder`` has it), so another process need not wait for it to expire."""
    with engine.begin() as connection:
        connection.execute(
            update(Lease).where(Lease.name == name, Lease.holder == holder).values(expires_at=EXPIRED)
        )


def holder_of(engine: Engine, name: str, now: dt.datetime) -> str | None:
    """Who holds the lease now (None: nobody)."""
    with engine.connect() as connection:
        row = connection.execute(select(Lease.holder, Lease.expires_at).where(Lease.name == name)).first()
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
    return str(row.holder) if expires > now and row.holder else None
