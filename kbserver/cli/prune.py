"""`kb prune`: enforce the retention of the query log and feedback."""

from __future__ import annotations

import click

from kbserver.cli.options import database_option, open_database


def register(group: click.Group) -> None:
    group.add_command(prune)


@click.command()
@click.option("--older-than", "older_than", default="90d", show_default=True, help="Age to delete from: 12h, 30d, 2w.")
@database_option
def prune(older_than: str, database: str) -> None:
    """Delete logged queries and feedback older than a window, and expired sign-in sessions (tokens and learned examples stay).

    Deleted rows are overwritten in the file, not only unlinked. Run it daily from cron to keep
    the retention promised in docs/feedback.md.

    Example: kb prune --older-than 90d
    """
    from kbserver.store import reports
    from kbserver.store.db import prune as prune_rows

    try:
        before = reports.window_start(reports.parse_window(older_than))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from exc
    from kbserver.store.db import to_ts, utc_now
    from kbserver.store.sessions import delete_expired

    with open_database(database, must_exist=True) as db:
        queries, feedback, views = prune_rows(db, before)
        sessions = delete_expired(db, to_ts(utc_now()))
    click.echo(f"deleted {queries} logged queries, {feedback} feedback and {views} article views from before {before}"
               f", and {sessions} expired sign-in sessions")
