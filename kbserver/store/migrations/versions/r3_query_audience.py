"""r3: who may read a logged query's text (issue 21; `user_version = 3` before Alembic).

'internal' when its caller held the `internal` scope; the reports show such text to
`internal` readers only. Rows logged before this are marked internal when their caller is a
token holding `internal` now, or anonymous (whose default scopes include it): hiding too much
is the safe mistake. The UPDATE is plain SQL both SQLite and PostgreSQL read alike.
History: never edit, add a revision instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r3"
down_revision = "r2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("query_log", sa.Column("audience", sa.Text, nullable=False, server_default="public"))
    op.execute(
        "UPDATE query_log SET audience = 'internal' WHERE caller = 'anonymous' OR caller IN ("
        " SELECT name FROM tokens WHERE ',' || replace(scopes, ' ', '') || ',' LIKE '%,internal,%')"
    )
