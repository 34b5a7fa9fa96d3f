"""Alembic's entry point for kb: run the revisions on the connection `kbserver.store.db` hands in.

kb never lets Alembic open a database of its own: `db.migrate()` opens the connection, takes
the migration lock and starts the transaction, then calls `command.upgrade` with the
connection in `config.attributes["connection"]`; everything happens inside that transaction.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
