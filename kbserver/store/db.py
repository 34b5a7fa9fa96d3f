"""The database: connections, the versioned schema, transactions, time and retention.

The SQL of each table lives beside it in this package (`querylog`, `feedback`, `tokens`,
`learning`), and every query returns small frozen dataclasses, never `sqlite3.Row`, so a
second backend needs no change in callers. Two ways in, the same functions underneath:

- in a request, `get_db()` opens one connection per app context and `close_db` closes it
  (the flaskr shape; `init_app(app)` is the only wiring);
- without Flask (the `kb` command, tests), `connect(path)` returns a connection and every
  data function takes it as its first argument.

SQLite runs in WAL mode so readers never block the writer, with a busy timeout so writers
from several gunicorn workers queue instead of failing, and `synchronous=FULL` so a
committed feedback survives a power cut. Every write is one statement in autocommit mode
or an explicit `BEGIN IMMEDIATE` transaction: a deferred transaction that upgrades from
read to write can fail with SQLITE_BUSY at once instead of waiting.

The schema is versioned in code: `MIGRATIONS[i]` takes the database from version i to i+1,
and `PRAGMA user_version` records how far a file has come. Another backend (PostgreSQL)
would be a sibling package with the same functions; views and reports only call these.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from flask import Flask, current_app, g

BUSY_TIMEOUT_S = 30.0

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: issue 7 (feedback, query log) and issue 9 (tokens); learned examples for later
        """CREATE TABLE query_log (
            id INTEGER PRIMARY KEY,
            request_id TEXT NOT NULL UNIQUE,
            ts TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('search', 'suggest')),
            mode TEXT NOT NULL,
            text TEXT NOT NULL,
            results TEXT NOT NULL,
            no_confident_match INTEGER NOT NULL,
            caller TEXT NOT NULL
        )""",
        "CREATE INDEX query_log_ts ON query_log (ts)",
        """CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            article_id TEXT NOT NULL,
            owner TEXT NOT NULL,
            outcome TEXT NOT NULL
                CHECK (outcome IN ('helpful', 'not_helpful', 'resolved_first_contact', 'escalated')),
            request_id TEXT,
            comment TEXT,
            caller TEXT NOT NULL
        )""",
        "CREATE INDEX feedback_ts ON feedback (ts)",
        "CREATE INDEX feedback_owner_ts ON feedback (owner, ts)",
        "CREATE INDEX feedback_request ON feedback (request_id)",
        """CREATE TABLE tokens (
            name TEXT PRIMARY KEY,
            hash TEXT NOT NULL UNIQUE,
            scopes TEXT NOT NULL,
            created TEXT NOT NULL,
            revoked TEXT
        )""",
        """CREATE TABLE learned_examples (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            article_id TEXT NOT NULL,
            text TEXT NOT NULL,
            outcome TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('feedback', 'import')),
            source_key TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'removed')),
            UNIQUE (source, source_key)
        )""",
        "CREATE INDEX learned_examples_article ON learned_examples (article_id, status)",
    ),
    (  # 2: issue 10: who taught an example, so one agent's share can be capped
        "ALTER TABLE learned_examples ADD COLUMN caller TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX learned_examples_caller ON learned_examples (caller, article_id, status)",
    ),
    (  # 3: issue 21: who may read a logged query's text. 'internal' when its caller held the
        # `internal` scope; the reports show such text to `internal` readers only. Rows logged
        # before this are marked internal when their caller is a token holding `internal` now,
        # or anonymous (whose default scopes include it): hiding too much is the safe mistake.
        "ALTER TABLE query_log ADD COLUMN audience TEXT NOT NULL DEFAULT 'public'",
        """UPDATE query_log SET audience = 'internal' WHERE caller = 'anonymous' OR caller IN (
            SELECT name FROM tokens WHERE ',' || replace(scopes, ' ', '') || ',' LIKE '%,internal,%')""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(Exception):
    """The database was migrated by a newer kb than this one."""


# ---------------------------------------------------------------------------- time


def utc_now() -> datetime:
    """Now, as an aware UTC datetime (the only clock the stored times come from)."""
    return datetime.now(timezone.utc)


def to_ts(moment: datetime) -> str:
    """The stored form of a time: UTC ISO 8601 with a fixed width, so text order is time order."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------------------- connections


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating folders and file on first use) and migrate the database at `path`.

    Raises SchemaTooNew when the file comes from a newer kb.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=True)
    db.row_factory = sqlite3.Row
    db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    _use_wal(db)
    db.execute("PRAGMA synchronous = FULL")
    migrate(db)
    return db


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch the file to WAL once; tolerate other processes doing the same at the same moment.

    Switching needs an exclusive lock, and SQLite reports "database is locked" at once (without
    calling the busy handler) when another connection holds the file while it switches, so
    several workers starting on a fresh file retry here until the first one has finished.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def migrate(db: sqlite3.Connection) -> int:
    """Apply the migrations this file has not seen yet; returns the schema version."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return version
    # Several workers may start on a fresh file at once: the IMMEDIATE lock makes one of them
    # migrate while the others wait, then re-read the version and find nothing left to do.
    with transaction(db):
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(f"database schema v{version} is newer than this kb (v{SCHEMA_VERSION}): upgrade kb")
        for number in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[number]:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number + 1}")
    return SCHEMA_VERSION


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """`BEGIN IMMEDIATE` ... `COMMIT`, or `ROLLBACK` and re-raise on any error.

    IMMEDIATE takes the write lock up front: a deferred transaction that upgrades from read
    to write can fail with SQLITE_BUSY at once instead of waiting for the busy timeout.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def get_db() -> sqlite3.Connection:
    """This app context's connection to `DATABASE`, opened on first use."""
    if "kb_db" not in g:
        g.kb_db = connect(current_app.config["DATABASE"])
    return g.kb_db


def close_db(exc: BaseException | None = None) -> None:
    """Close this app context's connection, if it opened one (teardown hook)."""
    db = g.pop("kb_db", None)
    if db is not None:
        db.close()


def init_app(app: Flask) -> None:
    """Close the request's connection when its app context ends."""
    app.teardown_appcontext(close_db)


# ---------------------------------------------------------------------------- retention


def prune(db: sqlite3.Connection, before: str) -> tuple[int, int]:
    """Delete query log rows and feedback older than `before`; returns (queries, feedback) deleted.

    Deleted rows are overwritten, not just unlinked (secure_delete), and the WAL is checkpointed
    so the old pages leave the write-ahead log too: retention means the bytes are gone.
    """
    db.execute("PRAGMA secure_delete = ON")
    with transaction(db):
        queries = db.execute("DELETE FROM query_log WHERE ts < ?", (before,)).rowcount
        feedback = db.execute("DELETE FROM feedback WHERE ts < ?", (before,)).rowcount
    # Best effort: a reader still open elsewhere can keep the checkpoint from finishing; the
    # next checkpoint (automatic, every ~1000 pages) completes it.
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return queries, feedback
