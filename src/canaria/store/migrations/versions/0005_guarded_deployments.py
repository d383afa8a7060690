"""AWS deployments watched by canaria guard

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guarded_deployments",
        sa.Column("deployment_id", sa.String(64), primary_key=True),
        sa.Column("application", sa.String(256), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_guarded_deployments_status", "guarded_deployments", ["status"])
    op.create_index("ix_guarded_deployments_updated_at", "guarded_deployments", ["updated_at"])
    op.create_table(
        "guard_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("deployment_id", sa.String(64), nullable=False),
        sa.Column("time", sa.Float, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index("ix_guard_events_deployment_id", "guard_events", ["deployment_id"])


def downgrade() -> None:
    op.drop_index("ix_guard_events_deployment_id", "guard_events")
    op.drop_table("guard_events")
    op.drop_index("ix_guarded_deployments_updated_at", "guarded_deployments")
    op.drop_index("ix_guarded_deployments_status", "guarded_deployments")
    op.drop_table("guarded_deployments")
