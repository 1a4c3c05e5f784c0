"""Alembic environment: migrations run on the connection siji hands over."""

from __future__ import annotations

from alembic import context

from store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - siji always passes its own connection
    raise RuntimeError("run migrations through store.engine.upgrade(engine)")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
