"""The replaceable data snapshot: what one pipeline run publishes.

On PostGIS the spatial tables also have a generated ``geom`` column with a GiST index, created
by the migrations through :mod:`stopsync.db.dialect` (it is not mapped here, so that the same
models serve SQLite).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import JsonType


class AtlasPlatformRow(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "atlas_platforms"

    id: Mapped[int] = mapped_column(primary_key=True)
    sloid: Mapped[str] = mapped_column(sa.String(64), unique=True)
    number: Mapped[str] = mapped_column(sa.String(16), index=True)
    designation: Mapped[str] = mapped_column(sa.String(32), default="")
    name: Mapped[str] = mapped_column(sa.String(255), default="")
    operator: Mapped[str] = mapped_column(sa.String(64), default="")
    valid_to: Mapped[str] = mapped_column(sa.String(10), default="")
    parent_sloid: Mapped[str] = mapped_column(sa.String(64), default="")
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    matched: Mapped[bool] = mapped_column(sa.Boolean, default=False)


class OsmElementRow(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "osm_elements"

    id: Mapped[int] = mapped_column(primary_key=True)
    osm_id: Mapped[str] = mapped_column(sa.String(32), unique=True)  # "node/123"
    osm_type: Mapped[str] = mapped_column(sa.String(8))
    osm_numeric_id: Mapped[int] = mapped_column(sa.BigInteger)
    kind: Mapped[str] = mapped_column(sa.String(16), index=True)
    name: Mapped[str] = mapped_column(sa.String(255), default="")
    uic_ref: Mapped[str] = mapped_column(sa.String(32), default="", index=True)
    local_ref: Mapped[str] = mapped_column(sa.String(32), default="")
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    tags: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    matched: Mapped[bool] = mapped_column(sa.Boolean, default=False)


class OsmStopUnitRow(db.Model):  # type: ignore[name-defined,misc]
    """OSM elements grouped into one physical stop (single, pair or trio)."""

    __tablename__ = "osm_stop_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_key: Mapped[str] = mapped_column(sa.String(128), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    members: Mapped[list[str]] = mapped_column(JsonType, default=list)
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)


class MatchRow(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "matches"
    __table_args__ = (sa.UniqueConstraint("sloid", "osm_id", name="uq_matches_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sloid: Mapped[str] = mapped_column(
        sa.ForeignKey("atlas_platforms.sloid", ondelete="CASCADE"), index=True
    )
    osm_id: Mapped[str] = mapped_column(
        sa.ForeignKey("osm_elements.osm_id", ondelete="CASCADE"), index=True
    )
    method: Mapped[str] = mapped_column(sa.String(32), index=True)
    distance_m: Mapped[float] = mapped_column(sa.Float)
    score: Mapped[float] = mapped_column(sa.Float, default=1.0)
    evidence: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)


class ProblemRow(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "problems"

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    type: Mapped[str] = mapped_column(sa.String(32), index=True)
    priority: Mapped[int] = mapped_column(sa.SmallInteger, index=True)
    sloid: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    osm_id: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    side: Mapped[str] = mapped_column(sa.String(16), default="unknown")
    side_reason: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    fingerprint: Mapped[str] = mapped_column(sa.String(32), default="", server_default="")
    # Lifecycle status at publication: new, persisting, reopened or decided.
    status: Mapped[str] = mapped_column(sa.String(16), default="new", server_default="new", index=True)


class SnapshotMeta(db.Model):  # type: ignore[name-defined,misc]
    """One row describing the published snapshot: which run, when, from which sources."""

    __tablename__ = "snapshot_meta"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(sa.String(64))
    published_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    sources: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    summary: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)


class PipelineRun(db.Model):  # type: ignore[name-defined,misc]
    """Run history: kept across publications (the operational record of every run)."""

    __tablename__ = "pipeline_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    trigger: Mapped[str] = mapped_column(sa.String(16))
    mode: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    phases: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    summary: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    error: Mapped[str | None] = mapped_column(sa.Text)
    # What changed since the previous run: new/resolved/reopened per type and priority.
    changes: Mapped[dict[str, Any] | None] = mapped_column(JsonType)


# Children first: the order in which publication empties the snapshot.
SNAPSHOT_TABLES = ("matches", "problems", "osm_stop_units", "osm_elements", "atlas_platforms",
                   "snapshot_meta")
