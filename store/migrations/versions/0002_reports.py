"""Reports, their events (the closed loop) and staff tokens.

Revision ID: 0002
Revises: 0001
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from store.types import GeometryColumnType

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _utc(name: str, **kw: Any) -> "sa.Column[Any]":
    return sa.Column(name, sa.DateTime(timezone=True), **kw)


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer, primary_key=True),
        _utc("created_at", nullable=False, index=True),
        sa.Column("category_code", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("photo_urls", sa.JSON, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("reporter_contact", sa.String(200), nullable=False),
        sa.Column("reporter_token_hash", sa.String(64), nullable=False, index=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("x", sa.Float, nullable=False),
        sa.Column("y", sa.Float, nullable=False),
        sa.Column("crs", sa.String(32), nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("geom", GeometryColumnType("POINT"), nullable=True),
        sa.Column("generation_id", sa.Integer, sa.ForeignKey("generations.id"), nullable=False),
        sa.Column("lookup_status", sa.String(16), nullable=False),
        sa.Column("lookup_candidates", sa.JSON, nullable=False),
        sa.Column("distance_m", sa.Float),
        sa.Column("city_code", sa.String(32)),
        sa.Column("district_code", sa.String(32)),
        sa.Column("subdistrict_code", sa.String(32)),
        sa.Column("community_code", sa.String(32)),
        sa.Column("owner_key", sa.String(64), nullable=False),
        sa.Column("owner_level", sa.String(16), nullable=False),
        sa.Column("owner_name", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        _utc("dispatched_at"),
        _utc("due_at", index=True),
        _utc("handled_at"),
        _utc("closed_at"),
        sa.Column("rework_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("escalation_level", sa.Integer, nullable=False, server_default="0"),
        sa.Column("supervised", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("duplicate_of", sa.Integer, sa.ForeignKey("reports.id")),
        sa.Column("idempotency_key", sa.String(128), unique=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    )
    op.create_index("ix_reports_owner_state", "reports", ["owner_key", "state"])
    op.create_index("ix_reports_category_state", "reports", ["category_code", "state"])
    op.create_index("ix_reports_lon_lat", "reports", ["lon", "lat"])
    op.create_table(
        "report_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "report_id",
            sa.Integer,
            sa.ForeignKey("reports.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        _utc("at", nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("actor_role", sa.String(32), nullable=False),
        sa.Column("actor_unit", sa.String(64)),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_table(
        "staff_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("unit_key", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        _utc("created_at", nullable=False),
        _utc("expires_at"),
        _utc("revoked_at"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_reports_geom ON reports USING gist (geom)")


def downgrade() -> None:
    for table in ("staff_tokens", "report_events", "reports"):
        op.drop_table(table)
