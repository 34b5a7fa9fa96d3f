"""r4: the helpdesk ticket a feedback was given on (issue 20, item 7).

NULL for feedback stored before, and for feedback from the page outside a helpdesk; the
reports show it so a lead can open the ticket. A nullable column with no default: both SQLite
and PostgreSQL add it without rewriting the table.
History: never edit, add a revision instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r4"
down_revision = "r3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("feedback", sa.Column("ticket_id", sa.Text, nullable=True))
