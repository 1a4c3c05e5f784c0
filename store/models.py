"""SQLAlchemy 2 models of every siji table.

Boundaries: a *generation* is one imported boundary set with its validity period
(MapIt's term); it answers only once ``state`` is ``published``, and
``withdrawn_from`` ends its validity without deleting anything.  Units belong to a
generation; their polygons live in ``unit_geometries`` (one row per unit) and, on
PostGIS, in ``unit_pieces`` (the same polygons cut by ``ST_Subdivide`` so that GiST
lookups test small pieces).  ``unit_lineage`` links every unit of a generation to the
units of the next one in time that continue it (岱岳区 370903 → 370911, merges,
splits), with the share of area each way.

Reports: ``reports`` (one row per case, its owner and deadlines), ``report_events``
(every step of its closed loop), ``report_scopes`` (which units see and act on it),
``report_followers`` (reporters of merged duplicates), ``photos`` (the stored images of
a case), ``staff_tokens`` (hashes only) and ``audit_log`` (every staff action and
refusal).

Events that leave the service: ``outbox_events`` (written in the transaction of the
step they tell of) with ``outbox_recipients`` (the units that hear of each),
``webhooks`` (a unit's receivers) and ``webhook_deliveries`` (one per event and
receiver: pending, delivered or dead-lettered); ``leases`` lets one process of many
run the delivery loop.

Green space: ``green_spaces`` is the register of existing parks, pocket parks and
squares that the planner maps measure coverage against.
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
    """A resident's or patrol's report, routed to the desk that owns its place.

    The routed chain (``*_code``) and the generation it was routed under are kept:
    a later boundary change never moves a report silently.  The owner is a desk
    (:mod:`routing.desks`): ``owner_key`` with its ``owner_chain`` (the key and every
    unit above it); :class:`ReportScope` holds the same chain, and earlier owners',
    for scoped queries.

    Deadlines: ``due_at`` is the due time that counts (按期 is measured against it);
    ``original_due_at`` is the one the category gave (原定期限).  Only an approved
    extension (``extension_to`` while pending) moves ``due_at``; a deferral pauses the
    clock at ``paused_at``; escalation (督办) keeps its own ``supervision_due_at``.
    ``first_closed_at`` and ``reopen_count`` keep a closure counted after a reopening.
    A pending transfer (转办) names its receiving desk in ``transfer_to*``.

    The desk's workflow: ``urge_count`` counts urgings (催办); ``merged_into`` names the
    original a duplicate was merged into (its state is then ``merged``);
    ``satisfaction`` and ``verdict_at`` are the reporter's latest verdict (回访);
    ``due_warned_for`` is the due time a "due soon" event was sent for (a new due time
    gets a new warning).
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
    owner_chain: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16), index=True)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    original_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    due_estimated: Mapped[bool] = mapped_column(default=False)
    paused_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    handled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    first_closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    supervised: Mapped[bool] = mapped_column(default=False)
    supervision_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    extension_to: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    transfer_to: Mapped[str | None] = mapped_column(String(64))
    transfer_to_level: Mapped[str | None] = mapped_column(String(16))
    transfer_to_name: Mapped[str | None] = mapped_column(String(200))
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True, nullable=True)
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(64))
    urge_count: Mapped[int] = mapped_column(Integer, default=0)
    merged_into: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    satisfaction: Mapped[str | None] = mapped_column(String(24), nullable=True)
    verdict_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    due_warned_for: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1)

    scopes: Mapped[list[ReportScope]] = relationship(
        back_populates="report", cascade="all, delete-orphan", passive_deletes=True
    )
    followers: Mapped[list[ReportFollower]] = relationship(
        back_populates="report", cascade="all, delete-orphan", passive_deletes=True
    )
    photos: Mapped[list[Photo]] = relationship(
        order_by="Photo.id", lazy="selectin", cascade="all, delete-orphan", passive_deletes=True
    )

    # Optimistic locking: every UPDATE says "WHERE version = <the version read>", so two
    # steps that read the same version cannot both commit (SQLite ignores FOR UPDATE).
    # The service sets the new version itself (no generator).
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}  # noqa: RUF012


class ReportEvent(Base):
    """One step of a report's closed loop: who did what, when, from where, and why.

    ``idempotency_key`` is the client's ``Idempotency-Key`` of the request that took
    the step (unique), with the ``idempotency_fingerprint`` of that request, so that a
    retried request finds its step instead of taking another one, and a reused key
    with another payload is told apart.  ``public`` marks the note as a reply the
    reporter may read; other notes are internal.  ``data`` holds what the step changed
    (owner, due time, ...), so that figures can be recomputed from the histories.
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
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(64))
    public: Mapped[bool] = mapped_column(default=False)


class ReportScope(Base):
    """A unit (or department) that may see a report, and why.

    ``kind`` is ``owner`` for the current owner's chain (its staff act on the case,
    and the case counts in their metrics), ``earlier`` for the chains of earlier
    owners (after a reroute or a transfer: they read it), ``asked`` for the chain of
    a desk asked to take the case over (a pending transfer: they read it to decide).
    """

    __tablename__ = "report_scopes"
    __table_args__ = (Index("ix_report_scopes_unit", "unit_key", "kind", "report_id"),)

    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    unit_key: Mapped[str] = mapped_column(String(64), primary_key=True)

    report: Mapped[Report] = relationship(back_populates="scopes")


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


class GreenSpace(Base):
    """A park, pocket park or square of the green-space register.

    The geometry is a point or a (multi)polygon in EPSG:4326, as imported after CRS
    conversion; ``area_m2`` is measured for polygons and taken from the file for
    points (or unknown).  ``source`` names the file or register the feature came from;
    ``code`` is its identifier there (unique within the source, optional), so that a
    source can be replaced as a whole by a newer file.
    """

    __tablename__ = "green_spaces"
    __table_args__ = (
        Index("ix_green_spaces_kind", "kind"),
        Index("uq_green_spaces_source_code", "source", "code", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    geom: Mapped[Any] = mapped_column(GeometryColumnType("GEOMETRY"))
    area_m2: Mapped[float | None] = mapped_column(Float, nullable=True)
    opened_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    source: Mapped[str] = mapped_column(String(200))
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ReportFollower(Base):
    """A reporter who follows a case they did not file: the reporter of a duplicate merged into it.

    ``token_hash`` is the SHA-256 of that reporter's token; ``via_report_id`` the
    duplicate they filed.
    """

    __tablename__ = "report_followers"

    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    via_report_id: Mapped[int] = mapped_column(Integer)

    report: Mapped[Report] = relationship(back_populates="followers")


class Photo(Base):
    """A photo of a case, as stored: re-encoded without metadata, with a thumbnail.

    ``kind`` is ``report`` (the reporter's, at intake: before) or ``handled`` (the
    handler's after-photo, 处置后照片, with the ``handle`` step, whose event names it in
    its ``data``).  ``name`` is the storage key under the media directory
    (:mod:`store.media`); ``gps_lon``/``gps_lat``
    the position the photo's own EXIF recorded (WGS84), if any; ``upload_sha256`` the
    digest of the bytes as uploaded (an idempotent retry is compared on it).
    """

    __tablename__ = "photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64), unique=True)
    media_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    upload_sha256: Mapped[str] = mapped_column(String(64))
    gps_lon: Mapped[float | None] = mapped_column(nullable=True)
    gps_lat: Mapped[float | None] = mapped_column(nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class OutboxEvent(Base):
    """An event a unit must act on or know of, written in the same transaction as its step.

    ``id`` is the cursor of the pull feed (``GET /v1/events?after=``); ``uid`` the
    stable event id receivers deduplicate on; ``payload`` the JSON body as sent.
    ``report_event_id`` is the step it tells of (none for a "due soon" warning).
    """

    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(40), unique=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    report_event_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    type: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)

    recipients: Mapped[list[OutboxRecipient]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )


class OutboxRecipient(Base):
    """A unit (or department) that hears of an outbox event: its feed and its webhooks get it."""

    __tablename__ = "outbox_recipients"
    __table_args__ = (Index("ix_outbox_recipients_unit", "unit_key", "event_id"),)

    event_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_events.id", ondelete="CASCADE"), primary_key=True
    )
    unit_key: Mapped[str] = mapped_column(String(64), primary_key=True)


class Webhook(Base):
    """A receiver of a unit's events: its URL, the HMAC secret, the event types it wants.

    ``cursor`` is the last outbox id whose deliveries were queued for it; ``failures``
    and ``retry_at`` hold back a receiver all of whose deliveries failed (it is down).
    """

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_key: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(200))
    types: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_success_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    """One event for one receiver: ``pending`` until answered 2xx (``delivered``) or, after the
    retry period counted from ``due_since`` (when it was queued or replayed), ``dead`` (a
    dead letter a supervisor can replay)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_event"),
        Index("ix_webhook_deliveries_queue", "webhook_id", "status", "report_id", "id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"))
    report_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    due_since: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")

    event: Mapped[OutboxEvent] = relationship()


class Lease(Base):
    """A named lease: the process whose ``holder`` it is until ``expires_at`` runs that job alone."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
