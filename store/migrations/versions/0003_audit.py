"""The audit log of staff actions, and idempotency keys on the steps of the loop.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("token_id", sa.Integer),
        sa.Column("role", sa.String(32)),
        sa.Column("unit_key", sa.String(64)),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("report_id", sa.Integer),
        sa.Column("target", sa.String(200)),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("client", sa.String(200), nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    op.create_index("ix_audit_log_report_id", "audit_log", ["report_id"])
    # A plain nullable column and a unique index: both SQLite and PostgreSQL add them
    # in place (a UNIQUE constraint would need a table rebuild on SQLite).
    op.add_column("report_events", sa.Column("idempotency_key", sa.String(128)))
    op.create_index("uq_report_events_idempotency_key", "report_events", ["idempotency_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_report_events_idempotency_key", table_name="report_events")
    op.drop_column("report_events", "idempotency_key")
    op.drop_table("audit_log")
