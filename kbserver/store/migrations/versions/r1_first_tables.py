"""r1: the first schema (issue 7's feedback and query log, issue 9's tokens, the learned examples).

The same tables `PRAGMA user_version = 1` meant before kb used Alembic; a file of that version
is stamped r1 and carries on from here. History: never edit, add a revision instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r1"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "query_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("request_id", sa.Text, nullable=False, unique=True),
        sa.Column("ts", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("results", sa.Text, nullable=False),
        sa.Column("no_confident_match", sa.Integer, nullable=False),
        sa.Column("caller", sa.Text, nullable=False),
        sa.CheckConstraint("kind IN ('search', 'suggest')"),
    )
    op.create_index("query_log_ts", "query_log", ["ts"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ts", sa.Text, nullable=False),
        sa.Column("article_id", sa.Text, nullable=False),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("request_id", sa.Text),
        sa.Column("comment", sa.Text),
        sa.Column("caller", sa.Text, nullable=False),
        sa.CheckConstraint("outcome IN ('helpful', 'not_helpful', 'resolved_first_contact', 'escalated')"),
    )
    op.create_index("feedback_ts", "feedback", ["ts"])
    op.create_index("feedback_owner_ts", "feedback", ["owner", "ts"])
    op.create_index("feedback_request", "feedback", ["request_id"])
    op.create_table(
        "tokens",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("hash", sa.Text, nullable=False, unique=True),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("created", sa.Text, nullable=False),
        sa.Column("revoked", sa.Text),
    )
    op.create_table(
        "learned_examples",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ts", sa.Text, nullable=False),
        sa.Column("article_id", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_key", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="active"),
        sa.CheckConstraint("source IN ('feedback', 'import')"),
        sa.CheckConstraint("status IN ('active', 'removed')"),
        sa.UniqueConstraint("source", "source_key"),
    )
    op.create_index("learned_examples_article", "learned_examples", ["article_id", "status"])
