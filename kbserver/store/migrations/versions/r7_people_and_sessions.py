"""r7: people sign in (issue 29): sessions, and tokens that expire, say who made them and when used.

`sessions` holds one row per signed-in browser (or side panel): the SHA-256 of its random
secret (never the secret), the person it stands for, their roles, and when it was made, last
seen and expires. The secret lives only in the browser's HttpOnly cookie (or the panel's
memory), so a copy of the database opens no session.

`tokens` gets `expires` (NULL: never), `last_used` and `created_by`, all nullable with no
default: both SQLite and PostgreSQL add them without rewriting the table, and every token made
before keeps working as it did. Only tables and nullable columns are added, so the previous
release runs unchanged on this schema (expand, docs/upgrading.md).
History: never edit, add a revision instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r7"
down_revision = "r6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("hash", sa.Text, primary_key=True),
        sa.Column("person", sa.Text, nullable=False),
        sa.Column("display_name", sa.Text, nullable=False, server_default=""),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("created", sa.Text, nullable=False),
        sa.Column("last_seen", sa.Text, nullable=False),
        sa.Column("expires", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text),
        sa.CheckConstraint("kind IN ('browser', 'panel', 'delegated')"),
    )
    op.create_index("sessions_expires", "sessions", ["expires"])
    op.create_index("sessions_person", "sessions", ["person"])
    op.add_column("tokens", sa.Column("expires", sa.Text, nullable=True))
    op.add_column("tokens", sa.Column("last_used", sa.Text, nullable=True))
    op.add_column("tokens", sa.Column("created_by", sa.Text, nullable=True))
