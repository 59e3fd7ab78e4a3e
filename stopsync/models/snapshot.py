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
    operator: Mapped[str] = mapped_column(sa.String(64), default="", index=True)
    valid_to: Mapped[str] = mapped_column(sa.String(10), default="")
    parent_sloid: Mapped[str] = mapped_column(sa.String(64), default="")
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    matched: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # Two-letter canton abbreviation ("ZH"); "" outside Switzerland.
    canton: Mapped[str] = mapped_column(sa.String(2), default="", server_default="", index=True)
    # Why the engine left it unmatched (engine.UNMATCHED_REASONS); "" when matched.
    unmatched_reason: Mapped[str] = mapped_column(sa.String(32), default="", server_default="", index=True)
    # The key of the duplicate_atlas problem it belongs to; "" when it is no duplicate.
    duplicate_key: Mapped[str] = mapped_column(sa.String(64), default="", server_default="", index=True)


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
    operator: Mapped[str] = mapped_column(sa.String(128), default="", server_default="", index=True)
    canton: Mapped[str] = mapped_column(sa.String(2), default="", server_default="", index=True)
    # The key of the duplicate_osm problem it belongs to; "" when it is no duplicate.
    duplicate_key: Mapped[str] = mapped_column(sa.String(64), default="", server_default="", index=True)
    # The key of the pair or trio it belongs to (``pair:node/1+node/2``, as in osm_stop_units);
    # "" for an element standing alone (a single).
    unit_key: Mapped[str] = mapped_column(sa.String(128), default="", server_default="", index=True)


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
    # The default sort of the problems list (priority, type, id) reads this index in order.
    __table_args__ = (sa.Index("ix_problems_priority_type_id", "priority", "type", "id"),)

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
    # Canton of the stop the problem names (its ATLAS platform, else its OSM element).
    canton: Mapped[str] = mapped_column(sa.String(2), default="", server_default="", index=True)


class StopRouteRow(db.Model):  # type: ignore[name-defined,misc]
    """One route serving one stop: an OSM route relation at an OSM element, or a GTFS route at
    an ATLAS platform (exactly one of ``sloid`` and ``osm_id`` is set)."""

    __tablename__ = "stop_routes"

    id: Mapped[int] = mapped_column(primary_key=True)
    sloid: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    osm_id: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    source: Mapped[str] = mapped_column(sa.String(8))  # "osm" or "gtfs"
    # "osm:relation/123" (the route_master when there is one) or "gtfs:<normalised route id>".
    route_id: Mapped[str] = mapped_column(sa.String(160), index=True)
    route_ref: Mapped[str] = mapped_column(sa.String(64), default="")
    # The ref as searches compare it: "IC 5" -> "ic5".
    ref_key: Mapped[str] = mapped_column(sa.String(64), default="", index=True)
    route_name: Mapped[str] = mapped_column(sa.String(255), default="")
    mode: Mapped[str] = mapped_column(sa.String(16), default="")
    operator: Mapped[str] = mapped_column(sa.String(128), default="")
    directions: Mapped[str] = mapped_column(sa.String(8), default="")  # "0", "1", "0,1" or ""


class StopModeRow(db.Model):  # type: ignore[name-defined,misc]
    """One transport mode serving one stop (a side table, so that mode filters use an index)."""

    __tablename__ = "stop_modes"
    __table_args__ = (
        sa.Index("ix_stop_modes_sloid_mode", "sloid", "mode"),
        sa.Index("ix_stop_modes_osm_id_mode", "osm_id", "mode"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sloid: Mapped[str | None] = mapped_column(sa.String(64))
    osm_id: Mapped[str | None] = mapped_column(sa.String(32))
    mode: Mapped[str] = mapped_column(sa.String(16), index=True)


class OverviewCellRow(db.Model):  # type: ignore[name-defined,misc]
    """The unfiltered ``/overview`` grid, precomputed by publication: one row per non-empty grid
    cell of each clustered zoom (0 to 13). Cells are those of ``grid_cell_columns`` for
    ``cell_size(zoom)``; the ``*_sum_*`` columns add up each stop's ``fixed_point_columns``
    (integers, so that partial sums add up exactly). See ``pipeline/overview.py`` and
    ``blueprints/api/aggregates.py``."""

    __tablename__ = "overview_cells"
    __table_args__ = (
        sa.UniqueConstraint("zoom", "gx", "gy", name="uq_overview_cells_cell"),
        # Rows of one zoom along a grid row (the top and bottom strips of a bbox).
        sa.Index("ix_overview_cells_zoom_gy_gx", "zoom", "gy", "gx"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    zoom: Mapped[int] = mapped_column(sa.SmallInteger)
    gx: Mapped[int] = mapped_column(sa.Integer)
    gy: Mapped[int] = mapped_column(sa.Integer)
    atlas_count: Mapped[int] = mapped_column(sa.Integer)
    atlas_matched: Mapped[int] = mapped_column(sa.Integer)
    osm_count: Mapped[int] = mapped_column(sa.Integer)
    osm_matched: Mapped[int] = mapped_column(sa.Integer)
    lon_sum_hi: Mapped[int] = mapped_column(sa.BigInteger)
    lon_sum_lo: Mapped[int] = mapped_column(sa.BigInteger)
    lat_sum_hi: Mapped[int] = mapped_column(sa.BigInteger)
    lat_sum_lo: Mapped[int] = mapped_column(sa.BigInteger)


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
SNAPSHOT_TABLES = ("overview_cells", "stop_routes", "stop_modes", "matches", "problems", "osm_stop_units",
                   "osm_elements", "atlas_platforms", "snapshot_meta")
