"""The one module that speaks SQL: feedback, the query log, API tokens and learned examples.

Two ways in, the same functions underneath:

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
would be a sibling module with the same functions; views and reports only call these.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

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
)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(Exception):
    """The database was migrated by a newer kb than this one."""


class DuplicateName(ValueError):
    """A token with this name already exists (revoked tokens keep their name)."""


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
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(f"database schema v{version} is newer than this kb (v{SCHEMA_VERSION}): upgrade kb")
        for number in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[number]:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number + 1}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION


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


# ---------------------------------------------------------------------------- query log and feedback


@dataclass(frozen=True)
class QueryRecord:
    """One logged search or suggest answer, ready to store (text already redacted)."""

    request_id: str
    ts: str
    kind: str  # search | suggest
    mode: str
    text: str  # already redacted
    results_json: str  # [{"id": ..., "score": ...}, ...] best first
    no_confident_match: bool
    caller: str


@dataclass(frozen=True)
class FeedbackRecord:
    """One feedback, ready to store (comment already redacted)."""

    ts: str
    article_id: str
    owner: str
    outcome: str
    request_id: str | None
    comment: str | None  # already redacted
    caller: str


def insert_query(db: sqlite3.Connection, record: QueryRecord) -> None:
    """Store one query log row."""
    db.execute(
        "INSERT INTO query_log (request_id, ts, kind, mode, text, results, no_confident_match, caller)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.request_id,
            record.ts,
            record.kind,
            record.mode,
            record.text,
            record.results_json,
            int(record.no_confident_match),
            record.caller,
        ),
    )


def insert_feedback(db: sqlite3.Connection, record: FeedbackRecord) -> int:
    """Store one feedback; returns its id."""
    cursor = db.execute(
        "INSERT INTO feedback (ts, article_id, owner, outcome, request_id, comment, caller)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (record.ts, record.article_id, record.owner, record.outcome, record.request_id, record.comment, record.caller),
    )
    return int(cursor.lastrowid)


def result_counts(db: sqlite3.Connection, since: str) -> list[sqlite3.Row]:
    """(article_id, kind, n): how many logged searches/suggestions listed each article since `since`."""
    return db.execute(
        "SELECT j.value ->> '$.id' AS article_id, q.kind AS kind, COUNT(*) AS n"
        " FROM query_log AS q, json_each(q.results) AS j"
        " WHERE q.ts >= ? GROUP BY 1, 2",
        (since,),
    ).fetchall()


def feedback_counts(db: sqlite3.Connection, since: str) -> list[sqlite3.Row]:
    """(article_id, owner, outcome, n) for the feedback given since `since`."""
    return db.execute(
        "SELECT article_id, owner, outcome, COUNT(*) AS n FROM feedback WHERE ts >= ? GROUP BY 1, 2, 3",
        (since,),
    ).fetchall()


def feedback_items(
    db: sqlite3.Connection, since: str, *, owner: str | None = None, outcomes: Iterable[str] = (), limit: int = 50
) -> list[sqlite3.Row]:
    """The latest feedback since `since`, optionally for one owner team and some outcomes."""
    sql = "SELECT id, ts, article_id, owner, outcome, request_id, comment FROM feedback WHERE ts >= ?"
    params: list[Any] = [since]
    if owner is not None:
        sql += " AND owner = ?"
        params.append(owner)
    outcomes = list(outcomes)
    if outcomes:
        sql += f" AND outcome IN ({', '.join('?' * len(outcomes))})"
        params.extend(outcomes)
    sql += " ORDER BY ts DESC, id DESC LIMIT ?"
    params.append(limit)
    return db.execute(sql, params).fetchall()


def gap_queries(db: sqlite3.Connection, since: str, limit: int) -> list[sqlite3.Row]:
    """The latest logged queries since `since` that found no confident match or got "not helpful".

    Columns: request_id, ts, text, results (JSON), no_confident_match, not_helpful_article
    (the article marked not helpful, or NULL). One row per query.
    """
    return db.execute(
        "SELECT q.request_id, q.ts, q.text, q.results, q.no_confident_match,"
        " (SELECT f.article_id FROM feedback AS f WHERE f.request_id = q.request_id"
        "  AND f.outcome = 'not_helpful' ORDER BY f.id DESC LIMIT 1) AS not_helpful_article"
        " FROM query_log AS q"
        " WHERE q.ts >= ? AND (q.no_confident_match = 1 OR EXISTS ("
        "  SELECT 1 FROM feedback AS f WHERE f.request_id = q.request_id AND f.outcome = 'not_helpful'))"
        " ORDER BY q.ts DESC LIMIT ?",
        (since, limit),
    ).fetchall()


def prune(db: sqlite3.Connection, before: str) -> tuple[int, int]:
    """Delete query log rows and feedback older than `before`; returns (queries, feedback) deleted.

    Deleted rows are overwritten, not just unlinked (secure_delete), and the WAL is checkpointed
    so the old pages leave the write-ahead log too: retention means the bytes are gone.
    """
    db.execute("PRAGMA secure_delete = ON")
    db.execute("BEGIN IMMEDIATE")
    try:
        queries = db.execute("DELETE FROM query_log WHERE ts < ?", (before,)).rowcount
        feedback = db.execute("DELETE FROM feedback WHERE ts < ?", (before,)).rowcount
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    # Best effort: a reader still open elsewhere can keep the checkpoint from finishing; the
    # next checkpoint (automatic, every ~1000 pages) completes it.
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return queries, feedback


# ---------------------------------------------------------------------------- tokens


def insert_token(db: sqlite3.Connection, name: str, token_hash: str, scopes: str, created: str) -> None:
    """Store a new token's hash. Raises DuplicateName when `name` is taken."""
    try:
        db.execute(
            "INSERT INTO tokens (name, hash, scopes, created) VALUES (?, ?, ?, ?)",
            (name, token_hash, scopes, created),
        )
    except sqlite3.IntegrityError as exc:
        raise DuplicateName(f"a token named '{name}' already exists") from exc


def find_token(db: sqlite3.Connection, token_hash: str) -> sqlite3.Row | None:
    """The live (not revoked) token with this hash, or None."""
    return db.execute(
        "SELECT name, scopes, created, revoked FROM tokens WHERE hash = ? AND revoked IS NULL", (token_hash,)
    ).fetchone()


def all_tokens(db: sqlite3.Connection) -> list[sqlite3.Row]:
    """Every token row (revoked ones too), by name; never the hash."""
    return db.execute("SELECT name, scopes, created, revoked FROM tokens ORDER BY name").fetchall()


def revoke_token(db: sqlite3.Connection, name: str, when: str) -> bool:
    """Mark the token revoked; False when no live token has that name."""
    cursor = db.execute("UPDATE tokens SET revoked = ? WHERE name = ? AND revoked IS NULL", (when, name))
    return cursor.rowcount == 1


# ---------------------------------------------------------------------------- learned examples


@dataclass(frozen=True)
class ExampleRecord:
    """One learned example, ready to store (text already redacted)."""

    ts: str
    article_id: str
    text: str
    outcome: str
    source: str  # feedback | import
    source_key: str  # unique per source: re-importing or re-sending adds nothing twice
    caller: str


def insert_examples(db: sqlite3.Connection, records: Iterable[ExampleRecord]) -> int:
    """Store examples in one transaction, skipping any whose (source, source_key) exists. Returns how many were new."""
    db.execute("BEGIN IMMEDIATE")
    try:
        added = 0
        for r in records:
            cursor = db.execute(
                "INSERT OR IGNORE INTO learned_examples (ts, article_id, text, outcome, source, source_key, caller)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (r.ts, r.article_id, r.text, r.outcome, r.source, r.source_key, r.caller),
            )
            added += cursor.rowcount
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return added


def count_caller_examples(db: sqlite3.Connection, caller: str, article_id: str) -> int:
    """Active feedback examples one caller has taught for one article."""
    return db.execute(
        "SELECT COUNT(*) FROM learned_examples WHERE caller = ? AND article_id = ? AND source = 'feedback'"
        " AND status = 'active'",
        (caller, article_id),
    ).fetchone()[0]


def logged_query_text(db: sqlite3.Connection, request_id: str) -> sqlite3.Row | None:
    """The redacted text and kind of a logged request, or None."""
    return db.execute("SELECT text, kind FROM query_log WHERE request_id = ?", (request_id,)).fetchone()


def list_examples(
    db: sqlite3.Connection, *, article_id: str | None = None, status: str | None = "active", limit: int | None = None
) -> list[sqlite3.Row]:
    """Learned examples, newest first, optionally for one article or status."""
    sql = "SELECT id, ts, article_id, text, outcome, source, caller, status FROM learned_examples WHERE 1 = 1"
    args: list[Any] = []
    if article_id is not None:
        sql += " AND article_id = ?"
        args.append(article_id)
    if status is not None:
        sql += " AND status = ?"
        args.append(status)
    sql += " ORDER BY id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(limit)
    return db.execute(sql, args).fetchall()


def remove_examples(
    db: sqlite3.Connection, *, ids: Iterable[int] = (), article_id: str | None = None, caller: str | None = None
) -> int:
    """Mark examples removed (kept for the audit trail, never used again). Returns how many changed."""
    changed = 0
    ids = list(ids)
    if ids:
        marks = ",".join("?" * len(ids))
        changed += db.execute(
            f"UPDATE learned_examples SET status = 'removed' WHERE status = 'active' AND id IN ({marks})", ids
        ).rowcount
    if article_id is not None or caller is not None:
        sql = "UPDATE learned_examples SET status = 'removed' WHERE status = 'active'"
        args: list[Any] = []
        if article_id is not None:
            sql += " AND article_id = ?"
            args.append(article_id)
        if caller is not None:
            sql += " AND caller = ?"
            args.append(caller)
        changed += db.execute(sql, args).rowcount
    return changed


def example_stats(db: sqlite3.Connection) -> list[sqlite3.Row]:
    """Per article and source: active and removed counts."""
    return db.execute(
        "SELECT article_id, source, SUM(status = 'active') AS active, SUM(status = 'removed') AS removed"
        " FROM learned_examples GROUP BY article_id, source ORDER BY article_id, source"
    ).fetchall()
