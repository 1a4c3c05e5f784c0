"""The green-space register: existing parks, pocket parks and squares.

Revision ID: 0007
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from store.types import GeometryColumnType

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "green_spaces",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(64)),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("geom", GeometryColumnType("GEOMETRY"), nullable=False),
        sa.Column("area_m2", sa.Float),
        sa.Column("opened_on", sa.Date),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("properties", sa.JSON, nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_green_spaces_kind", "green_spaces", ["kind"])
    # NULL codes do not clash (both SQLite and PostgreSQL treat NULLs as distinct here)
    op.create_index("uq_green_spaces_source_code", "green_spaces", ["source", "code"], unique=True)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_green_spaces_geom ON green_spaces USING gist (geom)")


def downgrade() -> None:
    op.drop_table("green_spaces")
