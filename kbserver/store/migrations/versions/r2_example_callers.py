"""r2: who taught an example, so one agent's share can be capped (issue 10; `user_version = 2`).

History: never edit, add a revision instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r2"
down_revision = "r1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("learned_examples", sa.Column("caller", sa.Text, nullable=False, server_default=""))
    op.create_index("learned_examples_caller", "learned_examples", ["caller", "article_id", "status"])
