"""Accountability: deadlines that count, desks with chains, departments, scopes, fingerprints.

Existing cases keep what they had and gain what the new rules read:

* ``original_due_at`` = ``due_at`` (the due time they have is the one that counts);
  an escalated case's ``supervision_due_at`` = ``due_at`` too;
* ``first_closed_at`` and ``reopen_count`` from their ``close``/``reopen`` events, so a
  case reopened before this revision is counted closed again; a deferred case's
  ``paused_at`` is the time of its last ``defer`` event;
* cases of a district department (owner a district code, owner name the district's
  name plus a department, e.g. 泰山区城管局) get the department's own key
  (``370902000000:城管局``);
* ``owner_chain`` and ``report_scopes`` from the owner's parents in the generation the
  case was routed under; earlier owners (``rerouted_from`` of dispatch events) keep
  read access.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BATCH = 2000


def _utc(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True))


def upgrade() -> None:
    # Plain columns with constant defaults: SQLite and PostgreSQL add them in place (a
    # table rebuild on SQLite would drop `reports` under report_events' cascading key).
    for column in (
        sa.Column("owner_chain", sa.JSON, nullable=False, server_default=sa.text("'[]'")),
        _utc("original_due_at"),
        sa.Column("due_estimated", sa.Boolean, nullable=False, server_default=sa.false()),
        _utc("paused_at"),
        _utc("first_closed_at"),
        sa.Column("reopen_count", sa.Integer, nullable=False, server_default="0"),
        _utc("supervision_due_at"),
        _utc("extension_to"),
        sa.Column("transfer_to", sa.String(64)),
        sa.Column("transfer_to_level", sa.String(16)),
        sa.Column("transfer_to_name", sa.String(200)),
        sa.Column("idempotency_fingerprint", sa.String(64)),
    ):
        op.add_column("reports", column)
    op.add_column("report_events", sa.Column("idempotency_fingerprint", sa.String(64)))
    op.add_column("report_events", sa.Column("public", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "report_scopes",
        sa.Column("report_id", sa.Integer, sa.ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("unit_key", sa.String(64), primary_key=True),
    )
    op.create_index("ix_report_scopes_unit", "report_scopes", ["unit_key", "kind", "report_id"])
    _fill()


def _fill() -> None:
    bind = op.get_bind()
    events = "SELECT {what} FROM report_events e WHERE e.report_id = reports.id AND e.action = '{action}'"
    bind.execute(sa.text("UPDATE reports SET original_due_at = due_at"))
    bind.execute(sa.text("UPDATE reports SET supervision_due_at = due_at WHERE escalation_level > 0"))
    bind.execute(
        sa.text(f"UPDATE reports SET first_closed_at = ({events.format(what='min(e.at)', action='close')})")
    )
    bind.execute(
        sa.text(f"UPDATE reports SET reopen_count = ({events.format(what='count(*)', action='reopen')})")
    )
    bind.execute(
        sa.text(
            f"UPDATE reports SET paused_at = ({events.format(what='max(e.at)', action='defer')}) "
            "WHERE state = 'deferred'"
        )
    )
    units = _Units(bind)
    reports = sa.table(
        "reports",
        sa.column("id", sa.Integer),
        sa.column("owner_key", sa.String),
        sa.column("owner_chain", sa.JSON),
    )
    scopes = sa.table(
        "report_scopes",
        sa.column("report_id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("unit_key", sa.String),
    )
    for batch in _report_batches(bind):
        rows = []
        for report in batch:
            key, chain = units.owner(report)
            earlier: list[str] = []
            for code in report["rerouted_from"]:
                earlier += units.chain(report["generation_id"], code) or [code]
            bind.execute(
                reports.update().where(reports.c.id == report["id"]).values(owner_key=key, owner_chain=chain)
            )
            rows += [{"report_id": report["id"], "kind": "owner", "unit_key": k} for k in chain]
            rows += [
                {"report_id": report["id"], "kind": "earlier", "unit_key": k} for k in dict.fromkeys(earlier)
            ]
        if rows:
            bind.execute(scopes.insert(), rows)


def _report_batches(bind: sa.Connection) -> Iterator[list[dict[str, Any]]]:
    last = 0
    while True:
        batch = [
            dict(row._mapping)
            for row in bind.execute(
                sa.text(
                    "SELECT id, owner_key, owner_level, owner_name, generation_id, city_code, district_code, "
                    "subdistrict_code, community_code FROM reports WHERE id > :last ORDER BY id LIMIT :n"
                ),
                {"last": last, "n": _BATCH},
            )
        ]
        if not batch:
            return
        ids = [row["id"] for row in batch]
        rerouted: dict[int, list[str]] = {i: [] for i in ids}
        for report_id, data in bind.execute(
            sa.select(sa.column("report_id"), sa.column("data", sa.JSON))
            .select_from(sa.table("report_events"))
            .where(sa.column("report_id").in_(ids), sa.column("action") == "dispatch")
            .order_by(sa.column("id"))
        ):
            if isinstance(data, dict) and data.get("rerouted_from"):
                rerouted[report_id].append(str(data["rerouted_from"]))
        for row in batch:
            row["rerouted_from"] = rerouted[row["id"]]
        yield batch
        last = ids[-1]


class _Units:
    """Parents and names of units per generation, read once per generation."""

    def __init__(self, bind: sa.Connection) -> None:
        self.bind = bind
        self.by_generation: dict[int, dict[str, tuple[str | None, str, str]]] = {}

    def _of(self, generation_id: int) -> dict[str, tuple[str | None, str, str]]:
        if generation_id not in self.by_generation:
            rows = self.bind.execute(
                sa.text("SELECT code, parent_code, name, level FROM units WHERE generation_id = :g"),
                {"g": generation_id},
            )
            self.by_generation[generation_id] = {
                code: (parent, name, level) for code, parent, name, level in rows
            }
        return self.by_generation[generation_id]

    def chain(self, generation_id: int, code: str) -> list[str] | None:
        units = self._of(generation_id)
        if code not in units:
            return None
        chain = [code]
        parent = units[code][0]
        while parent is not None and parent in units and parent not in chain:
            chain.append(parent)
            parent = units[parent][0]
        return chain

    def owner(self, report: dict[str, Any]) -> tuple[str, list[str]]:
        """The owner's key (a district department re-keyed) and its chain."""
        key = str(report["owner_key"])
        city = report["city_code"]
        if key.startswith("city:"):
            return key, [key, *([city] if city else [])]
        chain = self.chain(report["generation_id"], key)
        if chain is None:  # not in the generation it was routed under: the report's own codes
            levels = ("community", "subdistrict", "district", "city")
            start = levels.index(report["owner_level"]) if report["owner_level"] in levels else 3
            chain = [key, *(c for c in (report[f"{lv}_code"] for lv in levels[start + 1 :]) if c)]
        if report["owner_level"] in ("district", "subdistrict") and ":" not in key:
            name = self._of(report["generation_id"]).get(key, (None, "", ""))[1]
            owner_name = str(report["owner_name"])
            if name and owner_name.startswith(name) and len(owner_name) > len(name):
                department = f"{key}:{owner_name[len(name) :]}"
                return department, [department, *chain]
        return key, chain


def downgrade() -> None:
    bind = op.get_bind()
    # District departments go back to their district's key (the name keeps the department).
    for report_id, key in bind.execute(
        sa.text("SELECT id, owner_key FROM reports WHERE owner_key LIKE '%:%'")
    ):
        unit = str(key).split(":", 1)[0]
        if unit != "city":
            bind.execute(
                sa.text("UPDATE reports SET owner_key = :k WHERE id = :i"), {"k": unit, "i": report_id}
            )
    op.drop_index("ix_report_scopes_unit", table_name="report_scopes")
    op.drop_table("report_scopes")
    op.drop_column("report_events", "public")
    op.drop_column("report_events", "idempotency_fingerprint")
    for column in (
        "idempotency_fingerprint", "transfer_to_name", "transfer_to_level", "transfer_to",
        "extension_to", "supervision_due_at", "reopen_count", "first_closed_at", "paused_at",
        "due_estimated", "original_due_at", "owner_chain",
    ):  # fmt: skip
        op.drop_column("reports", column)
