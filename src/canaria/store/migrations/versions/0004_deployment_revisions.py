"""deployment rows carry a revision (compare-and-set writes); due deployments by wake time

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows written before revisions start at 1: the first compare-and-set expects it.
    op.add_column(
        "deployments",
        sa.Column("revision", sa.Integer, nullable=False, server_default="1"),
    )
    op.create_index("ix_deployments_next_wake_at", "deployments", ["next_wake_at"])


def downgrade() -> None:
    op.drop_index("ix_deployments_next_wake_at", table_name="deployments")
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("revision")
