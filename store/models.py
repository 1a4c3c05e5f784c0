"""SQLAlchemy 2 models of the boundary store.

A *generation* is one imported boundary set with its validity period (MapIt's term).
Units belong to a generation; their polygons live in ``unit_geometries`` (one row per
unit) and, on PostGIS, in ``unit_pieces`` (the same polygons cut by ``ST_Subdivide``
so that GiST lookups test small pieces).  ``unit_lineage`` records code changes
between generations (岱岳区 370903 → 370911).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
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
    """A code change between generations: ``predecessor_code`` became ``successor_code``."""

    __tablename__ = "unit_lineage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"), index=True)
    predecessor_generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"))
    predecessor_code: Mapped[str] = mapped_column(String(32), index=True)
    successor_code: Mapped[str] = mapped_column(String(32), index=True)
    level: Mapped[str] = mapped_column(String(16))
    how: Mapped[str] = mapped_column(String(32))  # "declared" or "same-area"
