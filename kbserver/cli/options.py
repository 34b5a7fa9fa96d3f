"""Flags shared by several commands, spelled the same way everywhere."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import click

from kbserver.config import defaults

if TYPE_CHECKING:
    import sqlite3

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
    type=click.Path(dir_okay=False, path_type=str),
    help="SQLite database for feedback, tokens and learned examples (env KB_DATABASE).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


@contextmanager
def open_database(path: str, *, must_exist: bool = False) -> Iterator[sqlite3.Connection]:
    """A migrated connection to the database at `path`, closed afterwards; problems exit 1 with one line."""
    import sqlite3

    from kbserver.store.db import SchemaTooNew, connect

    if must_exist and not Path(path).is_file():
        raise click.ClickException(f"{path}: no database here (set --database or KB_DATABASE)")
    try:
        db = connect(path)
    except (sqlite3.Error, SchemaTooNew, OSError) as exc:
        raise click.ClickException(f"{path}: {exc}") from exc
    try:
        yield db
    finally:
        db.close()
