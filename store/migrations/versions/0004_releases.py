"""Boundary releases: generations staged before they answer and withdrawable from a date;
lineage with a kind and the share of area each way.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain nullable columns or ones with a server default: SQLite and PostgreSQL add
    # them in place, and every generation already stored is published.
    op.add_column(
        "generations", sa.Column("state", sa.String(16), nullable=False, server_default="published")
    )
    op.add_column("generations", sa.Column("withdrawn_from", sa.Date))
    op.add_column("unit_lineage", sa.Column("kind", sa.String(16)))
    op.add_column("unit_lineage", sa.Column("predecessor_share", sa.Float))
    op.add_column("unit_lineage", sa.Column("successor_share", sa.Float))
    # Links recorded before this revision were all a code that vanished, linked to the
    # new code covering the same place: a re-coding.
    op.execute("UPDATE unit_lineage SET kind = 're-coded'")
    op.create_index("ix_unit_lineage_pair", "unit_lineage", ["predecessor_generation_id", "generation_id"])


def downgrade() -> None:
    # In place (SQLite >= 3.35 drops columns itself): a batch copy of "generations"
    # would drop the old table, and with foreign keys on, cascade to every unit.
    op.drop_index("ix_unit_lineage_pair", table_name="unit_lineage")
    for table, column in (
        ("unit_lineage", "successor_share"),
        ("unit_lineage", "predecessor_share"),
        ("unit_lineage", "kind"),
        ("generations", "withdrawn_from"),
        ("generations", "state"),
    ):
        op.drop_column(table, column)
