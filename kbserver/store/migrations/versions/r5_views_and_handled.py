"""r5: article opens, and a "handled" state for open feedback (issue 20, item 6).

`article_views` gets one row per article page opened or article fetched through the API, with
the search or suggest answer it was opened from (`from_request_id`, NULL when typed or
bookmarked): the reports' views and click-through. It holds no text.

`feedback` gets `handled_ts`, `handled_by` and a redacted `handled_note`, NULL for every row
stored before (open, as it was). Nullable columns with no default: both SQLite and PostgreSQL
add them without rewriting the table, so no row is touched.
History: never edit, add a revision instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r5"
down_revision = "r4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "article_views",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ts", sa.Text, nullable=False),
        sa.Column("article_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("from_request_id", sa.Text),
        sa.Column("caller", sa.Text, nullable=False),
        sa.CheckConstraint("kind IN ('page', 'api')"),
    )
    op.create_index("article_views_ts", "article_views", ["ts"])
    op.create_index("article_views_from", "article_views", ["from_request_id"])
    op.add_column("feedback", sa.Column("handled_ts", sa.Text, nullable=True))
    op.add_column("feedback", sa.Column("handled_by", sa.Text, nullable=True))
    op.add_column("feedback", sa.Column("handled_note", sa.Text, nullable=True))
