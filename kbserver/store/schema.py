"""The tables as SQLAlchemy Core sees them at the current schema (the head Alembic revision).

Queries are written against these objects, so one expression is rendered as SQLite or as
PostgreSQL SQL by the dialect. The migrations under `migrations/versions/` create the same
tables step by step; they are history and never import this module, which always describes
the latest schema (`tests/test_migrations.py` checks the two agree).
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Index, Integer, MetaData, Table, Text, UniqueConstraint

metadata = MetaData()

query_log = Table(
    "query_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("request_id", Text, nullable=False, unique=True),
    Column("ts", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("mode", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("results", Text, nullable=False),
    Column("no_confident_match", Integer, nullable=False),
    Column("caller", Text, nullable=False),
    # r3: 'internal' when the caller held the `internal` scope (querylog.AUDIENCES)
    Column("audience", Text, nullable=False, server_default="public"),
    Column("lang", Text),  # r6: the message's detected language (suggest), BCP 47 primary subtag
    CheckConstraint("kind IN ('search', 'suggest')"),
    Index("query_log_ts", "ts"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ts", Text, nullable=False),
    Column("article_id", Text, nullable=False),
    Column("owner", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("request_id", Text),
    Column("comment", Text),
    Column("caller", Text, nullable=False),
    Column("ticket_id", Text),  # r4: the helpdesk ticket it was given on (service.ticket_id_param)
    # r5: when a lead marked it handled, who, and a redacted note (feedback.mark_handled)
    Column("handled_ts", Text),
    Column("handled_by", Text),
    Column("handled_note", Text),
    CheckConstraint("outcome IN ('helpful', 'not_helpful', 'resolved_first_contact', 'escalated')"),
    Index("feedback_ts", "ts"),
    Index("feedback_owner_ts", "owner", "ts"),
    Index("feedback_request", "request_id"),
)

# r5: one row per article opened (page) or fetched (API), and the answer it was opened from.
article_views = Table(
    "article_views",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ts", Text, nullable=False),
    Column("article_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("from_request_id", Text),  # the search/suggest answer whose result was opened
    Column("caller", Text, nullable=False),
    CheckConstraint("kind IN ('page', 'api')"),
    Index("article_views_ts", "ts"),
    Index("article_views_from", "from_request_id"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("name", Text, primary_key=True),
    Column("hash", Text, nullable=False, unique=True),
    Column("scopes", Text, nullable=False),
    Column("created", Text, nullable=False),
    Column("revoked", Text),
    Column("expires", Text),  # r7: NULL never expires (tokens made before r7, or `--expires never`)
    Column("last_used", Text),  # r7: written at most once a minute per token (access/tokens.py)
    Column("created_by", Text),  # r7: who made it: `kb token create`'s OS user, or the signed-in admin
)

# r7: one row per signed-in browser, side panel or helpdesk-delegated session (access/sessions.py).
sessions = Table(
    "sessions",
    metadata,
    Column("hash", Text, primary_key=True),  # SHA-256 of the secret; the secret is only in the browser
    Column("person", Text, nullable=False),  # e-mail, or a pseudonymous id (KB_PERSON_ID)
    Column("display_name", Text, nullable=False, server_default=""),
    Column("roles", Text, nullable=False),  # comma-separated (access/roles.py)
    Column("kind", Text, nullable=False),
    Column("created", Text, nullable=False),
    Column("last_seen", Text, nullable=False),
    Column("expires", Text, nullable=False),
    Column("created_by", Text),  # delegated sessions: the token that asked for it
    CheckConstraint("kind IN ('browser', 'panel', 'delegated')"),
    Index("sessions_expires", "expires"),
    Index("sessions_person", "person"),
)

learned_examples = Table(
    "learned_examples",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ts", Text, nullable=False),
    Column("article_id", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("source_key", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="active"),
    Column("caller", Text, nullable=False, server_default=""),
    CheckConstraint("source IN ('feedback', 'import')"),
    CheckConstraint("status IN ('active', 'removed')"),
    UniqueConstraint("source", "source_key"),
    Index("learned_examples_article", "article_id", "status"),
    Index("learned_examples_caller", "caller", "article_id", "status"),
)

# Every table, in the order `kb db copy` moves them (no foreign keys, so any order would do).
TABLES = (tokens, sessions, query_log, feedback, learned_examples, article_views)
