"""Escalations of questions to the experts' Slack channel, the inquiry team's saved drafts, and the
document a "source" job writes (an expert's answer or an approved letter saved as a source).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("payload", sa.Text))
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer, primary_key=True), sa.Column("ts", sa.Float, nullable=False),
        sa.Column("audit_id", sa.Integer, unique=True), sa.Column("question", sa.Text, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False), sa.Column("asker", sa.Text),
        sa.Column("asker_channel", sa.Text), sa.Column("asker_ts", sa.Text),
        sa.Column("expert_channel", sa.Text), sa.Column("expert_ts", sa.Text),
        sa.Column("state", sa.String(16), nullable=False), sa.Column("answered_at", sa.Float),
        sa.Column("reply", sa.Text), sa.Column("reply_user", sa.Text), sa.Column("source", sa.Text),
        sqlite_autoincrement=True,
    )
    op.create_index("escalations_expert_ts", "escalations", ["expert_channel", "expert_ts"])
    op.create_table(
        "drafts",
        sa.Column("id", sa.String(32), primary_key=True), sa.Column("created", sa.Float, nullable=False),
        sa.Column("updated", sa.Float, nullable=False), sa.Column("draft_json", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False), sa.Column("approved_role", sa.Text),
        sa.Column("approved_at", sa.Float), sa.Column("source", sa.Text),
    )


def downgrade() -> None:
    op.drop_column("jobs", "payload")
    op.drop_table("drafts")
    op.drop_index("escalations_expert_ts", "escalations")
    op.drop_table("escalations")
