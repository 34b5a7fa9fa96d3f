"""`kb db upgrade|copy`: bring a database to the current schema, or move every row to another."""

from __future__ import annotations

import json

import click

from kbserver.cli.options import database_option, json_option, open_database


def register(group: click.Group) -> None:
    group.add_command(db)


@click.group()
def db() -> None:
    """The database behind feedback, the query log, tokens and learned examples (SQLite or PostgreSQL)."""


@db.command()
@database_option
def upgrade(database: str) -> None:
    """Migrate the database to this kb's schema (Alembic revisions r1, r2, ...), under a lock.

    kb also does this on first use, so running it is optional; run it before starting new
    hosts to migrate once, up front. A SQLite file from before Alembic is stamped by its
    PRAGMA user_version first, keeping every row.

    Example: kb db upgrade --database postgresql://kb:secret@db.internal/kb
    """
    from kbserver.store.db import current_revision, describe

    with open_database(database) as opened, opened.read() as conn:
        revision = current_revision(conn)
    click.echo(f"{describe(opened.url)} is at schema {revision}")


@db.command()
@click.option("--from", "source", required=True, help="Database to copy from (path or URL).")
@click.option("--to", "target", required=True, help="Empty database to copy into (path or URL).")
@json_option
def copy(source: str, target: str, as_json: bool) -> None:
    """Copy every table from one database into another, empty one, and check the row counts match.

    Both are migrated to the current schema first. Nothing is written to the target unless
    every row arrived (one transaction). Exits 1 if the target already holds rows.

    Example: kb db copy --from sqlite:///var/kb.sqlite3 --to postgresql://kb:secret@db.internal/kb
    """
    from kbserver.store.db import DatabaseUnavailable
    from kbserver.store.transfer import CopyRefused, copy_database

    with open_database(source, must_exist=True) as src, open_database(target) as out:
        try:
            copied = copy_database(src, out)
        except (CopyRefused, DatabaseUnavailable) as exc:
            raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps([{"table": c.table, "rows": c.target_rows} for c in copied], indent=1))
        return
    for c in copied:
        click.echo(f"{c.table}\t{c.target_rows} rows (source {c.source_rows})")
    click.echo(f"copied {sum(c.target_rows for c in copied)} rows; counts match", err=True)
