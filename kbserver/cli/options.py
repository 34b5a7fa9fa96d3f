"""Flags shared by several commands, spelled the same way everywhere."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import click

from kbserver.config import defaults

if TYPE_CHECKING:
    from kbserver.store.db import Database

_DEFAULTS = defaults()

articles_option = click.option(
    "--articles",
    "articles_dir",
    envvar="KB_ARTICLES_DIR",
    default=_DEFAULTS["ARTICLES_DIR"],
    show_default=True,
    type=click.Path(file_okay=False, path_type=str),
    help="Folder of Markdown articles (env KB_ARTICLES_DIR).",
)
index_option = click.option(
    "--index",
    "index_dir",
    envvar="KB_INDEX_DIR",
    default=_DEFAULTS["INDEX_DIR"],
    show_default=True,
    type=click.Path(file_okay=False, path_type=str),
    help="Index root (env KB_INDEX_DIR).",
)
database_option = click.option(
    "--database",
    "database",
    envvar="KB_DATABASE",
    default=_DEFAULTS["DATABASE"],
    show_default=True,
    help="Database for feedback, tokens and learned examples: a SQLite file path, sqlite:///path or "
    "postgresql://user:password@host/db (env KB_DATABASE).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def database_exists(value: str) -> bool:
    """Whether the database `value` names may hold rows already: a SQLite file that exists, or any server.

    Raises click.ClickException for a value kb does not accept.
    """
    from kbserver.store.db import BadDatabaseSetting, parse_database

    try:
        url = parse_database(value)
    except BadDatabaseSetting as exc:
        raise click.ClickException(str(exc)) from exc
    return not url.drivername.startswith("sqlite") or Path(url.database or "").is_file()


@contextmanager
def open_database(value: str, *, must_exist: bool = False) -> Iterator[Database]:
    """The migrated database `value` names (path or URL), closed afterwards; problems exit 1 with one line."""
    from kbserver.store.db import DatabaseUnavailable, SchemaTooNew, connect, describe, parse_database

    if must_exist and not database_exists(value):
        raise click.ClickException(f"{value}: no database here (set --database or KB_DATABASE)")
    try:
        shown = describe(parse_database(value))
        db = connect(value)
    except (ValueError, SchemaTooNew, DatabaseUnavailable, OSError) as exc:
        raise click.ClickException(str(exc) if isinstance(exc, (ValueError, DatabaseUnavailable)) else f"{shown}: {exc}") from exc
    try:
        yield db
    finally:
        db.close()
