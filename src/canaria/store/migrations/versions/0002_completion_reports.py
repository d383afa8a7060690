"""completion reports and the request ids a request gate counts them for

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "completion_reports",
        sa.Column("function", sa.String(140), primary_key=True),
        sa.Column("request_id", sa.String(128), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("reported_at", sa.Float, nullable=False),
    )
    op.create_table(
        "gate_requests",
        sa.Column("deployment_id", sa.String(32), primary_key=True),
        sa.Column("step_index", sa.Integer, primary_key=True),
        sa.Column("function", sa.String(140), primary_key=True),
        sa.Column("request_id", sa.String(128), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("gate_requests")
    op.drop_table("completion_reports")
