"""What the map and API filters need: cantons, unmatched reasons, OSM operators, duplicates,
the stop unit (pair/trio) of each OSM element, transport modes (``stop_modes``) and the routes
serving each stop (``stop_routes``).

Revision ID: 0003_filters_routes
Revises: 0002_problem_lifecycle
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from stopsync.db.dialect import is_postgres

revision = "0003_filters_routes"
down_revision = "0002_problem_lifecycle"
branch_labels = None
depends_on = None

NEW_TABLES = ("stop_routes", "stop_modes")
# Kept copies of the previous snapshot that publication made before this migration (SQLite keeps
# them beside the tables, PostGIS in its own schema); they cannot be rolled back to after a
# downgrade either.
SQLITE_PREVIOUS_SUFFIX = "__previous"
PREVIOUS_SCHEMA = "stopsync_previous"


def _text(name: str, length: int) -> sa.Column:
    return sa.Column(name, sa.String(length), nullable=False, server_default="")


def _drop_column(table: str, column: str) -> None:
    """Without rebuilding the table: a SQLite batch rebuild would drop ``atlas_platforms`` and
    with it (ON DELETE CASCADE) every published link. SQLite drops columns itself since 3.35."""
    if is_postgres(op.get_bind()):
        op.drop_column(table, column)
    else:
        op.execute(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')


def upgrade() -> None:
    # Plain ADD COLUMN on both backends (a constant default needs no table rebuild).
    for column in (_text("canton", 2), _text("unmatched_reason", 32), _text("duplicate_key", 64)):
        op.add_column("atlas_platforms", column)
    op.create_index("ix_atlas_platforms_canton", "atlas_platforms", ["canton"])
    op.create_index("ix_atlas_platforms_unmatched_reason", "atlas_platforms", ["unmatched_reason"])
    op.create_index("ix_atlas_platforms_duplicate_key", "atlas_platforms", ["duplicate_key"])

    for column in (_text("operator", 128), _text("canton", 2), _text("duplicate_key", 64),
                   _text("unit_key", 128)):
        op.add_column("osm_elements", column)
    op.create_index("ix_osm_elements_operator", "osm_elements", ["operator"])
    op.create_index("ix_osm_elements_canton", "osm_elements", ["canton"])
    op.create_index("ix_osm_elements_duplicate_key", "osm_elements", ["duplicate_key"])
    op.create_index("ix_osm_elements_unit_key", "osm_elements", ["unit_key"])

    op.add_column("problems", _text("canton", 2))
    op.create_index("ix_problems_canton", "problems", ["canton"])
    op.create_index("ix_problems_priority_type_id", "problems", ["priority", "type", "id"])

    op.create_table(
        "stop_routes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sloid", sa.String(64), nullable=True),
        sa.Column("osm_id", sa.String(32), nullable=True),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("route_id", sa.String(160), nullable=False),
        sa.Column("route_ref", sa.String(64), nullable=False),
        sa.Column("ref_key", sa.String(64), nullable=False),
        sa.Column("route_name", sa.String(255), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("operator", sa.String(128), nullable=False),
        sa.Column("directions", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stop_routes"),
    )
    op.create_index("ix_stop_routes_sloid", "stop_routes", ["sloid"])
    op.create_index("ix_stop_routes_osm_id", "stop_routes", ["osm_id"])
    op.create_index("ix_stop_routes_route_id", "stop_routes", ["route_id"])
    op.create_index("ix_stop_routes_ref_key", "stop_routes", ["ref_key"])

    op.create_table(
        "stop_modes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sloid", sa.String(64), nullable=True),
        sa.Column("osm_id", sa.String(32), nullable=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stop_modes"),
    )
    op.create_index("ix_stop_modes_sloid_mode", "stop_modes", ["sloid", "mode"])
    op.create_index("ix_stop_modes_osm_id_mode", "stop_modes", ["osm_id", "mode"])
    op.create_index("ix_stop_modes_mode", "stop_modes", ["mode"])


def downgrade() -> None:
    bind = op.get_bind()
    for table in NEW_TABLES:
        if is_postgres(bind):
            op.execute(f'DROP TABLE IF EXISTS "{PREVIOUS_SCHEMA}"."{table}"')
        else:
            op.execute(f'DROP TABLE IF EXISTS "{table}{SQLITE_PREVIOUS_SUFFIX}"')
    op.drop_table("stop_modes")
    op.drop_table("stop_routes")

    op.drop_index("ix_problems_priority_type_id", table_name="problems")
    op.drop_index("ix_problems_canton", table_name="problems")
    _drop_column("problems", "canton")

    for index in ("unit_key", "duplicate_key", "canton", "operator"):
        op.drop_index(f"ix_osm_elements_{index}", table_name="osm_elements")
    for column in ("unit_key", "duplicate_key", "canton", "operator"):
        _drop_column("osm_elements", column)

    for index in ("duplicate_key", "unmatched_reason", "canton"):
        op.drop_index(f"ix_atlas_platforms_{index}", table_name="atlas_platforms")
    for column in ("duplicate_key", "unmatched_reason", "canton"):
        _drop_column("atlas_platforms", column)
