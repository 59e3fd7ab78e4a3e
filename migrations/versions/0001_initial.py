"""Initial schema: the data snapshot, run history and the durable review tables.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from stopsync.db.dialect import (
    SPATIAL_TABLES,
    add_spatial_support,
    drop_spatial_support,
    ensure_extensions,
)

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    ensure_extensions(op)

    # --- the replaceable snapshot ---------------------------------------------------------
    op.create_table(
        "atlas_platforms",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sloid", sa.String(64), nullable=False),
        sa.Column("number", sa.String(16), nullable=False),
        sa.Column("designation", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("valid_to", sa.String(10), nullable=False),
        sa.Column("parent_sloid", sa.String(64), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("matched", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_atlas_platforms"),
        sa.UniqueConstraint("sloid", name="uq_atlas_platforms_sloid"),
    )
    op.create_index("ix_atlas_platforms_number", "atlas_platforms", ["number"])

    op.create_table(
        "osm_elements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("osm_id", sa.String(32), nullable=False),
        sa.Column("osm_type", sa.String(8), nullable=False),
        sa.Column("osm_numeric_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("uic_ref", sa.String(32), nullable=False),
        sa.Column("local_ref", sa.String(32), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("matched", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_osm_elements"),
        sa.UniqueConstraint("osm_id", name="uq_osm_elements_osm_id"),
    )
    op.create_index("ix_osm_elements_kind", "osm_elements", ["kind"])
    op.create_index("ix_osm_elements_uic_ref", "osm_elements", ["uic_ref"])

    op.create_table(
        "osm_stop_units",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("unit_key", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("members", JSON, nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_osm_stop_units"),
        sa.UniqueConstraint("unit_key", name="uq_osm_stop_units_unit_key"),
    )

    op.create_table(
        "matches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sloid", sa.String(64), nullable=False),
        sa.Column("osm_id", sa.String(32), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_matches"),
        sa.ForeignKeyConstraint(["sloid"], ["atlas_platforms.sloid"], ondelete="CASCADE",
                                name="fk_matches_sloid_atlas_platforms"),
        sa.ForeignKeyConstraint(["osm_id"], ["osm_elements.osm_id"], ondelete="CASCADE",
                                name="fk_matches_osm_id_osm_elements"),
        sa.UniqueConstraint("sloid", "osm_id", name="uq_matches_pair"),
    )
    op.create_index("ix_matches_sloid", "matches", ["sloid"])
    op.create_index("ix_matches_osm_id", "matches", ["osm_id"])
    op.create_index("ix_matches_method", "matches", ["method"])

    op.create_table(
        "problems",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("problem_key", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("sloid", sa.String(64), nullable=True),
        sa.Column("osm_id", sa.String(32), nullable=True),
        sa.Column("side", sa.String(16), nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_problems"),
        sa.UniqueConstraint("problem_key", name="uq_problems_problem_key"),
    )
    op.create_index("ix_problems_type", "problems", ["type"])
    op.create_index("ix_problems_priority", "problems", ["priority"])
    op.create_index("ix_problems_sloid", "problems", ["sloid"])
    op.create_index("ix_problems_osm_id", "problems", ["osm_id"])

    op.create_table(
        "snapshot_meta",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("published_at", TZ, nullable=False),
        sa.Column("sources", JSON, nullable=False),
        sa.Column("summary", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_snapshot_meta"),
    )

    for table in SPATIAL_TABLES:
        add_spatial_support(op, table)

    # --- run history (kept across publications) -------------------------------------------
    op.create_table(
        "pipeline_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=True),
        sa.Column("phases", JSON, nullable=False),
        sa.Column("summary", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_pipeline_runs"),
        sa.UniqueConstraint("run_id", name="uq_pipeline_runs_run_id"),
    )
    op.create_index("ix_pipeline_runs_status", "pipeline_runs", ["status"])

    # --- durable review tables (never truncated by an import) -----------------------------
    op.create_table(
        "review_users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("display_name", sa.String(120), nullable=False),
        sa.Column("email", sa.String(255), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_users"),
        sa.UniqueConstraint("username", name="uq_review_users_username"),
    )
    op.create_table(
        "review_decisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("problem_key", sa.String(64), nullable=True),
        sa.Column("sloid", sa.String(64), nullable=True),
        sa.Column("osm_id", sa.String(32), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("value", JSON, nullable=False),
        sa.Column("evidence_fingerprint", sa.String(64), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("superseded_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_review_decisions"),
        sa.ForeignKeyConstraint(["author_id"], ["review_users.id"],
                                name="fk_review_decisions_author_id_review_users"),
    )
    op.create_index("ix_review_decisions_problem_key", "review_decisions", ["problem_key"])
    op.create_index("ix_review_decisions_sloid", "review_decisions", ["sloid"])
    op.create_index("ix_review_decisions_osm_id", "review_decisions", ["osm_id"])
    op.create_table(
        "review_notes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entity_type", sa.String(8), nullable=False),
        sa.Column("entity_key", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_notes"),
        sa.ForeignKeyConstraint(["author_id"], ["review_users.id"],
                                name="fk_review_notes_author_id_review_users"),
    )
    op.create_index("ix_review_notes_entity_key", "review_notes", ["entity_key"])
    op.create_table(
        "review_audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_audit_log"),
    )
    op.create_index("ix_review_audit_log_at", "review_audit_log", ["at"])


def downgrade() -> None:
    for table in ("review_audit_log", "review_notes", "review_decisions", "review_users",
                  "pipeline_runs"):
        op.drop_table(table)
    for table in SPATIAL_TABLES:
        drop_spatial_support(op, table)
    for table in ("snapshot_meta", "problems", "matches", "osm_stop_units", "osm_elements",
                  "atlas_platforms"):
        op.drop_table(table)
