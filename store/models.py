"""SQLAlchemy 2 models of the boundary store.

A *generation* is one imported boundary set with its validity period (MapIt's term);
it answers only once ``state`` is ``published``, and ``withdrawn_from`` ends its
validity without deleting anything.
Units belong to a generation; their polygons live in ``unit_geometries`` (one row per
unit) and, on PostGIS, in ``unit_pieces`` (the same polygons cut by ``ST_Subdivide``
so that GiST lookups test small pieces).  ``unit_lineage`` links every unit of a
generation to the units of the next one in time that continue it (岱岳区 370903 →
370911, merges, splits), with the share of area each way.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from store.types import GeometryColumnType


class Base(DeclarativeBase):
    """Declarative base of every siji table."""


class Generation(Base):
    """One imported boundary set, valid from a date until the next one takes over."""

    __tablename__ = "generations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[dt.date] = mapped_column(Date, index=True)
    source: Mapped[str] = mapped_column(Text, default="")
    unit_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    notes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="published", server_default="published")
    withdrawn_from: Mapped[dt.date | None] = mapped_column(Date, nullable=True)

    units: Mapped[list[Unit]] = relationship(back_populates="generation", cascade="all, delete-orphan")


class Unit(Base):
    """An administrative unit of one generation."""

    __tablename__ = "units"
    __table_args__ = (
        UniqueConstraint("generation_id", "code", name="uq_units_generation_code"),
        Index("ix_units_generation_level", "generation_id", "level"),
        Index("ix_units_generation_parent", "generation_id", "parent_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(String(32))
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    generation: Mapped[Generation] = relationship(back_populates="units")
    geometry: Mapped[UnitGeometry] = relationship(
        back_populates="unit", cascade="all, delete-orphan", uselist=False
    )


class UnitGeometry(Base):
    """The polygon of a unit (EPSG:4326, as imported after CRS conversion)."""

    __tablename__ = "unit_geometries"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    geom: Mapped[Any] = mapped_column(GeometryColumnType("MULTIPOLYGON"))

    unit: Mapped[Unit] = relationship(back_populates="geometry")


class UnitPiece(Base):
    """A subdivided piece of a unit's polygon (filled on PostGIS only)."""

    __tablename__ = "unit_pieces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"), index=True)
    level: Mapped[str] = mapped_column(String(16))
    geom: Mapped[Any] = mapped_column(GeometryColumnType("POLYGON"))


class UnitLineage(Base):
    """``predecessor_code`` of one generation continues as ``successor_code`` in the next.

    ``kind`` is same, renamed, reshaped, re-coded, merged or split (see
    ``boundaries.lineage``); the shares are the part of each unit's area the pair holds
    in common (NULL for links recorded before shares were).
    """

    __tablename__ = "unit_lineage"
    __table_args__ = (Index("ix_unit_lineage_pair", "predecessor_generation_id", "generation_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"), index=True)
    predecessor_generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"))
    predecessor_code: Mapped[str] = mapped_column(String(32), index=True)
    successor_code: Mapped[str] = mapped_column(String(32), index=True)
    level: Mapped[str] = mapped_column(String(16))
    how: Mapped[str] = mapped_column(String(32))  # "geometry" or "declared" ("same-area" before 0004)
    kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    predecessor_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    successor_share: Mapped[float | None] = mapped_column(Float, nullable=True)


class Report(Base):
    """A resident's or patrol's report, routed to the unit that owns its place.

    The routed chain (``*_code``) and the generation it was routed under are kept:
    a later boundary change never moves a report silently.
    """

    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_owner_state", "owner_key", "state"),
        Index("ix_reports_category_state", "category_code", "state"),
        Index("ix_reports_lon_lat", "lon", "lat"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    category_code: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    photo_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    address: Mapped[str] = mapped_column(Text, default="")
    reporter_contact: Mapped[str] = mapped_column(String(200), default="")
    reporter_token_hash: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    x: Mapped[float] = mapped_column()
    y: Mapped[float] = mapped_column()
    crs: Mapped[str] = mapped_column(String(32))
    lon: Mapped[float] = mapped_column()
    lat: Mapped[float] = mapped_column()
    geom: Mapped[Any] = mapped_column(GeometryColumnType("POINT"), nullable=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id"))
    lookup_status: Mapped[str] = mapped_column(String(16))
    lookup_candidates: Mapped[list[str]] = mapped_column(JSON, default=list)
    distance_m: Mapped[float | None] = mapped_column(nullable=True)
    city_code: Mapped[str | None] = mapped_column(String(32))
    district_code: Mapped[str | None] = mapped_column(String(32))
    subdistrict_code: Mapped[str | None] = mapped_column(String(32))
    community_code: Mapped[str | None] = mapped_column(String(32))
    owner_key: Mapped[str] = mapped_column(String(64))
    owner_level: Mapped[str] = mapped_column(String(16))
    owner_name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), index=True)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    handled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    supervised: Mapped[bool] = mapped_column(default=False)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    # Optimistic locking: every UPDATE says "WHERE version = <the version read>", so two
    # steps that read the same version cannot both commit (SQLite ignores FOR UPDATE).
    # The service sets the new version itself (no generator).
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}  # noqa: RUF012


class ReportEvent(Base):
    """One step of a report's closed loop: who did what, when, from where, and why.

    ``idempotency_key`` is the client's ``Idempotency-Key`` of the request that took
    the step (unique), so that a retried request finds its step instead of taking
    another one.
    """

    __tablename__ = "report_events"
    __table_args__ = (Index("uq_report_events_idempotency_key", "idempotency_key", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(32))
    actor_unit: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True)


class StaffToken(Base):
    """A staff member's API token, bound to one unit (or city department) and one role.

    Only a SHA-256 hash of the token is stored.
    """

    __tablename__ = "staff_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    unit_key: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """One staff action: who (token, role, unit), what (action, target, outcome), when, from where.

    ``scope`` lists every unit the action concerns, each between slashes
    (``/370900000000/370902000000/370902002000/``): the acting token's unit and the
    units above it, and for a case its owner's chain (before and after a reroute).  A
    supervisor reads the entries whose scope names their unit, so the entries of the
    units below it, and nothing else.  ``report_id`` has no foreign key: a refused
    attempt on an id that does not exist is recorded too.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor", "actor"),
        Index("ix_audit_log_report_id", "report_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200))
    token_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    role: Mapped[str | None] = mapped_column(String(32), nullable=True)
    unit_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    report_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    outcome: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
