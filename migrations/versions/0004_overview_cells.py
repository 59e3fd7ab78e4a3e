"""The precomputed grid of the unfiltered ``/api/v1/overview`` (``overview_cells``), a snapshot
table that publication writes and swaps with the others.

The upgrade fills it from the published ``atlas_platforms`` and ``osm_elements``, so that the
snapshot published before the migration keeps its overview. The previous snapshot kept for a
rollback has no such table and cannot be rolled back to (as after any migration that adds a
snapshot table); the next publication keeps one again.

Revision ID: 0004_overview_cells
Revises: 0003_filters_routes
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from stopsync.db.dialect import is_postgres

revision = "0004_overview_cells"
down_revision = "0003_filters_routes"
branch_labels = None
depends_on = None

# As stopsync.pipeline.overview and stopsync.db.dialect when this migration was written: zooms 0
# to 13, cells of a quarter tile, coordinates as integers (c + offset) * 2**30 and the next 20 bits.
ZOOMS = range(14)
CELLS_PER_TILE = 4
FIXED_POINT_HIGH = 2.0**30
FIXED_POINT_LOW = 2.0**20
SQLITE_PREVIOUS_SUFFIX = "__previous"
PREVIOUS_SCHEMA = "stopsync_previous"
VALUE_COLUMNS = ("atlas_count", "atlas_matched", "osm_count", "osm_matched", "lon_sum_hi", "lon_sum_lo",
                 "lat_sum_hi", "lat_sum_lo")


def _fill(postgres: bool) -> None:
    """One INSERT ... SELECT per zoom with the expressions of dialect.grid_cell_columns and
    dialect.fixed_point_columns (bound parameters: the doubles arrive exactly)."""
    expressions = []
    for column, offset in (("lon", ":offset_x"), ("lat", ":offset_y")):
        scaled = f"(({column} + {offset}) * :high)"
        if postgres:
            expressions += [f"CAST(floor(({column} + {offset}) / :size) AS INTEGER)",
                            f"CAST(floor({scaled}) AS BIGINT)",
                            f"CAST(floor(({scaled} - floor({scaled})) * :low) AS BIGINT)"]
        else:
            expressions += [f"CAST(({column} + {offset}) / :size AS INTEGER)",
                            f"CAST({scaled} AS INTEGER)",
                            f"CAST(({scaled} - CAST({scaled} AS INTEGER)) * :low AS INTEGER)"]
    gx, lon_hi, lon_lo, gy, lat_hi, lat_lo = expressions
    columns = f"{gx} AS gx, {gy} AS gy, {lon_hi} AS lon_hi, {lon_lo} AS lon_lo, {lat_hi} AS lat_hi, {lat_lo} AS lat_lo"
    matched = "CASE WHEN matched THEN 1 ELSE 0 END"
    statement = sa.text(
        f"INSERT INTO overview_cells (zoom, gx, gy, {', '.join(VALUE_COLUMNS)}) "
        "SELECT :zoom, gx, gy, sum(ac), sum(am), sum(oc), sum(om), sum(lon_hi), sum(lon_lo), sum(lat_hi), "
        "sum(lat_lo) FROM ("
        f"SELECT {columns}, 1 AS ac, {matched} AS am, 0 AS oc, 0 AS om FROM atlas_platforms UNION ALL "
        f"SELECT {columns}, 0 AS ac, 0 AS am, 1 AS oc, {matched} AS om FROM osm_elements"
        ") AS stops GROUP BY gx, gy ORDER BY gx, gy"
    )
    for zoom in ZOOMS:
        op.execute(statement.bindparams(zoom=zoom, size=360.0 / (2**zoom * CELLS_PER_TILE), offset_x=180.0,
                                        offset_y=90.0, high=FIXED_POINT_HIGH, low=FIXED_POINT_LOW))


def upgrade() -> None:
    op.create_table(
        "overview_cells",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("zoom", sa.SmallInteger(), nullable=False),
        sa.Column("gx", sa.Integer(), nullable=False),
        sa.Column("gy", sa.Integer(), nullable=False),
        sa.Column("atlas_count", sa.Integer(), nullable=False),
        sa.Column("atlas_matched", sa.Integer(), nullable=False),
        sa.Column("osm_count", sa.Integer(), nullable=False),
        sa.Column("osm_matched", sa.Integer(), nullable=False),
        sa.Column("lon_sum_hi", sa.BigInteger(), nullable=False),
        sa.Column("lon_sum_lo", sa.BigInteger(), nullable=False),
        sa.Column("lat_sum_hi", sa.BigInteger(), nullable=False),
        sa.Column("lat_sum_lo", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_overview_cells"),
        sa.UniqueConstraint("zoom", "gx", "gy", name="uq_overview_cells_cell"),
    )
    op.create_index("ix_overview_cells_zoom_gy_gx", "overview_cells", ["zoom", "gy", "gx"])
    _fill(is_postgres(op.get_bind()))


def downgrade() -> None:
    if is_postgres(op.get_bind()):
        op.execute(f'DROP TABLE IF EXISTS "{PREVIOUS_SCHEMA}"."overview_cells"')
    else:
        op.execute(f'DROP TABLE IF EXISTS "overview_cells{SQLITE_PREVIOUS_SUFFIX}"')
    op.drop_index("ix_overview_cells_zoom_gy_gx", table_name="overview_cells")
    op.drop_table("overview_cells")
