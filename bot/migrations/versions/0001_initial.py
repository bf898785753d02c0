"""The audit log, feedback, Slack's answered event ids and the index jobs.

A SQLite file from before the migrations already holds the first three (perhaps an audit log without
answer_json, from before the whole answer was kept): only what is missing is created, so its rows stay.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = sa.inspect(op.get_bind())
    tables = set(existing.get_table_names())
    if "audit" not in tables:
        op.create_table(
            "audit",
            sa.Column("id", sa.Integer, primary_key=True), sa.Column("ts", sa.Float, nullable=False),
            sa.Column("channel", sa.Text, nullable=False), sa.Column("question", sa.Text, nullable=False),
            sa.Column("answer", sa.Text, nullable=False), sa.Column("abstained", sa.Boolean, nullable=False),
            sa.Column("citations", sa.Text, nullable=False), sa.Column("generator", sa.Text, nullable=False),
            sa.Column("answer_json", sa.Text),
            sqlite_autoincrement=True,
        )
    elif "answer_json" not in {column["name"] for column in existing.get_columns("audit")}:
        op.add_column("audit", sa.Column("answer_json", sa.Text))
    if "feedback" not in tables:
        op.create_table(
            "feedback",
            sa.Column("id", sa.Integer, primary_key=True), sa.Column("ts", sa.Float, nullable=False),
            sa.Column("channel", sa.Text, nullable=False), sa.Column("audit_id", sa.Integer),
            sa.Column("question", sa.Text, nullable=False), sa.Column("rating", sa.Integer, nullable=False),
            sa.Column("comment", sa.Text, nullable=False, server_default=""), sa.Column("user", sa.Text),
            sqlite_autoincrement=True,
        )
    if "slack_events" not in tables:
        op.create_table("slack_events", sa.Column("event_id", sa.Text, primary_key=True),
                        sa.Column("ts", sa.Float, nullable=False))
        op.create_index("slack_events_ts", "slack_events", ["ts"])
    elif "slack_events_ts" not in {index["name"] for index in existing.get_indexes("slack_events")}:
        op.create_index("slack_events_ts", "slack_events", ["ts"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True), sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.Text), sa.Column("state", sa.String(16), nullable=False),
        sa.Column("submitted_at", sa.Float, nullable=False), sa.Column("started_at", sa.Float),
        sa.Column("finished_at", sa.Float), sa.Column("error", sa.Text), sa.Column("report", sa.Text),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
    )
    op.create_index("jobs_submitted_at", "jobs", ["submitted_at"])


def downgrade() -> None:
    for table in ("jobs", "slack_events", "feedback", "audit"):
        op.drop_table(table)
