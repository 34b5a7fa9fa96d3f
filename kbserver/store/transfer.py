"""`kb db copy`: move every table from one database to another, row counts verified.

The usual move is a team's SQLite file to the PostgreSQL its hosts will share
(docs/deploy.md). Both sides are first brought to the current schema; the target must be
empty, so a copy never merges two histories by accident. Rows keep their ids (feedback ids
were handed to clients as receipts), and PostgreSQL's id sequences are moved past the
copied ids so the next insert does not collide. Everything is written in one transaction:
a copy that fails leaves the target as empty as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text

from kbserver.store.db import Database
from kbserver.store.schema import TABLES

BATCH_ROWS = 2000


class CopyRefused(Exception):
    """The target already holds rows, or the counts did not match after copying."""


@dataclass(frozen=True)
class TableCopy:
    """One table's rows in the source and, after the copy, in the target."""

    table: str
    source_rows: int
    target_rows: int


def row_counts(db: Database) -> dict[str, int]:
    """Rows per table, in `schema.TABLES` order."""
    with db.read() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one()) for t in TABLES}


def copy_database(source: Database, target: Database) -> list[TableCopy]:
    """Copy every table of `source` into the empty `target`. Raises CopyRefused (nothing written)."""
    before = row_counts(target)
    busy = {name: n for name, n in before.items() if n}
    if busy:
        shown = ", ".join(f"{name} ({n} rows)" for name, n in busy.items())
        raise CopyRefused(f"the target database is not empty: {shown}; copy into a new, empty database")
    expected = row_counts(source)
    with target.write() as out, source.read() as src:
        for table in TABLES:
            rows = src.execute(select(table).order_by(*table.primary_key.columns)).mappings()
            while batch := rows.fetchmany(BATCH_ROWS):
                out.execute(table.insert(), [dict(row) for row in batch])
            if target.backend == "postgresql" and "id" in table.c:
                # Serial ids: the next insert must come after the highest copied id.
                out.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'),"
                        f" COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
                    )
                )
        copied = {t.name: int(out.execute(select(func.count()).select_from(t)).scalar_one()) for t in TABLES}
        if copied != expected:
            # Raised inside the transaction: the target is rolled back to empty.
            raise CopyRefused(f"row counts differ after copying: source {expected}, target {copied}")
    return [TableCopy(name, expected[name], copied[name]) for name in expected]
