"""Boundary generations, units, geometries, subdivided pieces and lineage.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from store.types import GeometryColumnType

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "generations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False, index=True),
        sa.Column("source", sa.Text, nullable=False, server_default=""),
        sa.Column("unit_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("notes", sa.JSON, nullable=False),
    )
    op.create_table(
        "units",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "generation_id", sa.Integer, sa.ForeignKey("generations.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("parent_code", sa.String(32)),
        sa.Column("properties", sa.JSON, nullable=False),
        sa.UniqueConstraint("generation_id", "code", name="uq_units_generation_code"),
    )
    op.create_index("ix_units_generation_level", "units", ["generation_id", "level"])
    op.create_index("ix_units_generation_parent", "units", ["generation_id", "parent_code"])
    op.create_table(
        "unit_geometries",
        sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("geom", GeometryColumnType("MULTIPOLYGON"), nullable=False),
    )
    op.create_table(
        "unit_pieces",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "unit_id", sa.Integer, sa.ForeignKey("units.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column(
            "generation_id",
            sa.Integer,
            sa.ForeignKey("generations.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("geom", GeometryColumnType("POLYGON"), nullable=False),
    )
    op.create_table(
        "unit_lineage",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "generation_id",
            sa.Integer,
            sa.ForeignKey("generations.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "predecessor_generation_id",
            sa.Integer,
            sa.ForeignKey("generations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("predecessor_code", sa.String(32), nullable=False, index=True),
        sa.Column("successor_code", sa.String(32), nullable=False, index=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("how", sa.String(32), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_unit_geometries_geom ON unit_geometries USING gist (geom)")
        op.execute("CREATE INDEX ix_unit_pieces_geom ON unit_pieces USING gist (geom)")


def downgrade() -> None:
    for table in ("unit_lineage", "unit_pieces", "unit_geometries", "units", "generations"):
        op.drop_table(table)
