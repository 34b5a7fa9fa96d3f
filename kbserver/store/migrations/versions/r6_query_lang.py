"""r6: the language of each logged message (issue 28).

`query_log.lang` is the BCP 47 primary subtag kb detected for a suggest message (`und` when too
short to tell), so reports can say what customers ask in Tamil that kb does not answer. A
nullable column with no default: both SQLite and PostgreSQL add it without rewriting the table,
and rows logged before (and searches, which are not detected) stay NULL.
History: never edit, add a revision instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r6"
down_revision = "r5"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("query_log", sa.Column("lang", sa.Text, nullable=True))
