"""An index on ``atlas_platforms.operator``: the problem list filtered by operator looks up the
operator's platforms (its own and those linked to its OSM element) and scanned the whole table
for them twice per request.

Publication keeps it: PostGIS copies the published tables' indexes onto each new snapshot, and
SQLite publishes into the tables that carry it.

Revision ID: 0005_atlas_operator_index
Revises: 0004_overview_cells
Create Date: 2026-11-27
"""

from alembic import op

revision = "0005_atlas_operator_index"
down_revision = "0004_overview_cells"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_atlas_platforms_operator", "atlas_platforms", ["operator"])


def downgrade() -> None:
    op.drop_index("ix_atlas_platforms_operator", table_name="atlas_platforms")
