"""The desk's workflow: urging, merging, verdicts, photos, the outbox, webhooks and leases.

Existing cases keep everything they had: ``urge_count`` starts at 0, no case is
merged or rated, and no "due soon" warning was sent.  The outbox starts empty (no
event of a step taken before this revision is sent: receivers registered afterwards
hear of the steps taken afterwards).  The delivery lease exists from the start, held
by nobody.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

DELIVERY_LEASE = "webhook-delivery"
"""The lease of the delivery loop (``routing.delivery.LEASE``)."""


def _utc(name: str, **kwargs: Any) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), **kwargs)


def upgrade() -> None:
    # Plain columns with constant defaults: added in place on SQLite and PostgreSQL.
    for column in (
        sa.Column("urge_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("merged_into", sa.Integer),
        sa.Column("satisfaction", sa.String(24)),
        _utc("verdict_at"),
        _utc("due_warned_for"),
    ):
        op.add_column("reports", column)
    op.create_index("ix_reports_merged_into", "reports", ["merged_into"])
    op.create_table(
        "report_followers",
        sa.Column("report_id", sa.Integer, sa.ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("via_report_id", sa.Integer, nullable=False),
    )
    op.create_table(
        "photos",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("report_id", sa.Integer, sa.ForeignKey("reports.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("media_type", sa.String(32), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("upload_sha256", sa.String(64), nullable=False),
        sa.Column("gps_lon", sa.Float),
        sa.Column("gps_lat", sa.Float),
        _utc("created_at", nullable=False),
    )
    op.create_index("ix_photos_report_id", "photos", ["report_id"])
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("uid", sa.String(40), nullable=False, unique=True),
        sa.Column("report_id", sa.Integer, sa.ForeignKey("reports.id", ondelete="CASCADE"), nullable=False),
        sa.Column("report_event_id", sa.Integer),
        sa.Column("type", sa.String(32), nullable=False),
        _utc("at", nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
    )
    op.create_index("ix_outbox_events_report_id", "outbox_events", ["report_id"])
    op.create_table(
        "outbox_recipients",
        sa.Column(
            "event_id", sa.Integer, sa.ForeignKey("outbox_events.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("unit_key", sa.String(64), primary_key=True),
    )
    op.create_index("ix_outbox_recipients_unit", "outbox_recipients", ["unit_key", "event_id"])
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("unit_key", sa.String(64), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("types", sa.JSON, nullable=False),
        _utc("created_at", nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        _utc("disabled_at"),
        sa.Column("cursor", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        _utc("retry_at"),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        _utc("last_success_at"),
    )
    op.create_index("ix_webhooks_unit_key", "webhooks", ["unit_key"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("webhook_id", sa.Integer, sa.ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "event_id", sa.Integer, sa.ForeignKey("outbox_events.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("report_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        _utc("next_attempt_at", nullable=False),
        _utc("due_since", nullable=False),
        _utc("last_attempt_at"),
        _utc("delivered_at"),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        sa.UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_event"),
    )
    op.create_index(
        "ix_webhook_deliveries_queue", "webhook_deliveries", ["webhook_id", "status", "report_id", "id"]
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"])
    leases = op.create_table(
        "leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        _utc("expires_at", nullable=False),
    )
    op.bulk_insert(
        leases, [{"name": DELIVERY_LEASE, "holder": "", "expires_at": dt.datetime(2000, 1, 1, tzinfo=dt.UTC)}]
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_queue", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_webhooks_unit_key", table_name="webhooks")
    op.drop_table("webhooks")
    op.drop_index("ix_outbox_recipients_unit", table_name="outbox_recipients")
    op.drop_table("outbox_recipients")
    op.drop_index("ix_outbox_events_report_id", table_name="outbox_events")
    op.drop_table("outbox_events")
    op.drop_index("ix_photos_report_id", table_name="photos")
    op.drop_table("photos")
    op.drop_table("report_followers")
    # A merged duplicate has no state to go back to but the one it was merged from:
    # it becomes invalid (作废), which every earlier revision knows and counts nowhere.
    op.execute(sa.text("UPDATE reports SET state = 'invalid' WHERE state = 'merged'"))
    op.drop_index("ix_reports_merged_into", table_name="reports")
    for column in ("due_warned_for", "verdict_at", "satisfaction", "merged_into", "urge_count"):
        op.drop_column("reports", column)
