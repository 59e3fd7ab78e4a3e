"""Problem lifecycle: durable problem states, decision orphaning, per-run change summaries.

Revision ID: 0002_problem_lifecycle
Revises: 0001_initial
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_problem_lifecycle"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Snapshot problems carry what the review pages show.
    with op.batch_alter_table("problems") as batch:
        batch.add_column(sa.Column("side_reason", sa.String(255), nullable=False, server_default=""))
        batch.add_column(sa.Column("fingerprint", sa.String(32), nullable=False, server_default=""))
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="new"))
    op.create_index("ix_problems_status", "problems", ["status"])

    with op.batch_alter_table("review_decisions") as batch:
        batch.add_column(sa.Column("orphaned_at", TZ, nullable=True))
        batch.add_column(sa.Column("problem_type", sa.String(32), nullable=True))

    with op.batch_alter_table("pipeline_runs") as batch:
        batch.add_column(sa.Column("changes", JSON, nullable=True))

    # Durable: one row per problem key ever seen; never truncated by publication.
    op.create_table(
        "review_problem_states",
        sa.Column("problem_key", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("sloid", sa.String(64), nullable=True),
        sa.Column("osm_id", sa.String(32), nullable=True),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.String(32), nullable=False),
        sa.Column("first_seen_run", sa.String(64), nullable=False),
        sa.Column("last_seen_run", sa.String(64), nullable=False),
        sa.Column("resolved_run", sa.String(64), nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("problem_key", name="pk_review_problem_states"),
    )
    op.create_index("ix_review_problem_states_status", "review_problem_states", ["status"])


def downgrade() -> None:
    op.drop_index("ix_review_problem_states_status", table_name="review_problem_states")
    op.drop_table("review_problem_states")
    with op.batch_alter_table("pipeline_runs") as batch:
        batch.drop_column("changes")
    with op.batch_alter_table("review_decisions") as batch:
        batch.drop_column("problem_type")
        batch.drop_column("orphaned_at")
    op.drop_index("ix_problems_status", table_name="problems")
    with op.batch_alter_table("problems") as batch:
        batch.drop_column("status")
        batch.drop_column("fingerprint")
        batch.drop_column("side_reason")
