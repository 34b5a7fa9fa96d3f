"""The database: which one (`KB_DATABASE`), its pooled connections, migrations, time and retention.

Two backends, one set of queries. `KB_DATABASE` is either a file path or `sqlite:///path`
(embedded SQLite, the default for one machine) or `postgresql://user:pass@host/db` (one
database every kb host shares, docs/deploy.md). Anything else is refused by
`parse_database` with a message that says what is accepted: a typo never becomes a
SQLite file named like a URL.

The SQL of each table lives beside it in this package (`querylog`, `feedback`, `tokens`,
`learning`) as SQLAlchemy Core expressions over `schema`, rendered for either dialect, and
every query returns small frozen dataclasses, never a driver's row. A `Database` owns one
SQLAlchemy engine (a pool of connections); each data function takes the `Database` and
runs in its own short transaction: `db.read()` for reads, `db.write()` for writes.

SQLite runs in WAL mode so readers never block the writer, with a busy timeout so writers
from several gunicorn workers queue instead of failing, and `synchronous=FULL` so a
committed feedback survives a power cut. Writes begin with `BEGIN IMMEDIATE`: a deferred
transaction that upgrades from read to write can fail with SQLITE_BUSY at once instead of
waiting. PostgreSQL connections are checked before use (`pool_pre_ping`), so a server that
restarted costs one reconnect, not an error.

The schema is versioned by Alembic (`migrations/versions/r1…`). `migrate()` runs at the first
use of a `Database` (and from `kb db upgrade`) inside one transaction that holds a lock
(`BEGIN IMMEDIATE` on SQLite, a transaction-scoped advisory lock on PostgreSQL), so several
workers or hosts starting at once migrate exactly once. A SQLite file from before Alembic
carries its version in `PRAGMA user_version`; it is stamped with the matching revision first.

When the database cannot be reached, every function raises `DatabaseUnavailable`; the API
turns that into a 503 `database_unavailable`, and nothing was written (each write is one
transaction).
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from flask import Flask, current_app
from sqlalchemy import URL, Connection, Engine, create_engine, event, exc, text

from kbserver import config
from kbserver.config import BadDatabaseSetting as BadDatabaseSetting  # re-exported: callers catch it here

BUSY_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 5
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any 64-bit number, the same in every kb: the advisory lock the PostgreSQL migration holds.
MIGRATION_LOCK_KEY = 0x6B62_6462  # "kbdb"
EXTENSION = "kb_db"
UNAVAILABLE_MESSAGE = "the database is unreachable; nothing was stored, try again shortly"


class SchemaTooNew(Exception):
    """The database was migrated by a newer kb than this one."""


class DatabaseUnavailable(Exception):
    """The database could not be reached or did not answer; nothing was written."""


# ---------------------------------------------------------------------------- time


def utc_now() -> datetime:
    """Now, as an aware UTC datetime (the only clock the stored times come from)."""
    return datetime.now(timezone.utc)


def to_ts(moment: datetime) -> str:
    """The stored form of a time: UTC ISO 8601 with a fixed width, so text order is time order."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------------------- which database


# The parse is config's (KB_DATABASE is checked at start with every other setting); these
# names stay because every caller of the store says "parse_database".
parse_database = config.database_url


def describe(url: URL) -> str:
    """The URL as it may be shown in messages and logs: never the password."""
    return url.render_as_string(hide_password=True)


# ---------------------------------------------------------------------------- the Database


class Database:
    """One database (SQLite file or PostgreSQL) behind a pool of connections, migrated on first use."""

    def __init__(self, value: str | Path | URL) -> None:
        self.url = value if isinstance(value, URL) else parse_database(value)
        self.backend = "postgresql" if self.url.drivername.startswith("postgresql") else "sqlite"
        self.engine = _postgresql_engine(self.url) if self.backend == "postgresql" else _sqlite_engine(self.url)
        self._migrated = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Database({describe(self.url)!r})"

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction, rolled back at the end. Raises DatabaseUnavailable."""
        self.ensure_migrated()
        with _unavailable_as(self), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction: committed at the end, rolled back on any error.

        Raises DatabaseUnavailable when the database cannot be reached (nothing was written).
        """
        self.ensure_migrated()
        with _unavailable_as(self), self.engine.connect() as conn:
            conn.execution_options(kb_write=True)
            with conn.begin():
                yield conn

    def ensure_migrated(self) -> None:
        """Bring the schema to the current revision, once per Database (and per process)."""
        if self._migrated:
            return
        with self._lock:
            if not self._migrated:
                with _unavailable_as(self):
                    migrate(self)
                self._migrated = True

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


@contextmanager
def _unavailable_as(db: Database) -> Iterator[None]:
    # OperationalError and InterfaceError are what both drivers raise for a server that is gone,
    # a refused connection or a locked file that outlived the busy timeout: the request did not
    # happen. Integrity and programming errors are bugs or rules and pass through unchanged.
    try:
        yield
    except (exc.OperationalError, exc.InterfaceError) as error:
        if db.backend == "sqlite" and "no such " in str(error.orig):
            raise  # SQLite files a missing table or column under OperationalError too: a bug, not an outage
        raise DatabaseUnavailable(f"{describe(db.url)}: {error.orig or error}") from error


def _sqlite_engine(url: URL) -> Engine:
    path = Path(url.database or "")
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}, pool_pre_ping=False
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling is switched off so that "begin" below decides.
        dbapi_connection.isolation_level = None
        dbapi_connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        _use_wal(dbapi_connection)
        dbapi_connection.execute("PRAGMA synchronous = FULL")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("kb_write") else "BEGIN")

    return engine


def _postgresql_engine(url: URL) -> Engine:
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})


def _use_wal(dbapi_connection: Any) -> None:
    """Switch the file to WAL once; tolerate other processes doing the same at the same moment.

    Switching needs an exclusive lock, and SQLite reports "database is locked" at once (without
    calling the busy handler) when another connection holds the file while it switches, so
    several workers starting on a fresh file retry here until the first one has finished.
    """
    import sqlite3

    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            if dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            dbapi_connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def connect(value: str | Path | URL) -> Database:
    """The database `value` names (path or URL), migrated to the current schema.

    Raises BadDatabaseSetting for a value kb does not accept, SchemaTooNew when the database
    comes from a newer kb and DatabaseUnavailable when it cannot be reached.
    """
    db = Database(value)
    try:
        db.ensure_migrated()
    except BaseException:
        db.close()
        raise
    return db


# ---------------------------------------------------------------------------- migrations


def _alembic_config(conn: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def head_revision() -> str:
    """The revision this kb's schema is at."""
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory(str(MIGRATIONS)).get_current_head())


def current_revision(conn: Connection) -> str | None:
    """The revision the database on `conn` is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def migrate(db: Database) -> str:
    """Bring `db` to the head revision under the migration lock; returns the revision.

    Raises SchemaTooNew when the database is at a revision this kb does not have.
    """
    from alembic import command
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS))
    head = str(script.get_current_head())
    known = {rev.revision for rev in script.walk_revisions()}
    with db.engine.connect() as conn:
        conn.execution_options(kb_write=True)
        with conn.begin():
            if db.backend == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            revision = current_revision(conn)
            if revision == head:
                return head
            if revision is not None and revision not in known:
                raise SchemaTooNew(f"database schema {revision} is newer than this kb ({head}): upgrade kb")
            config = _alembic_config(conn)
            if revision is None and db.backend == "sqlite":
                legacy = conn.exec_driver_sql("PRAGMA user_version").scalar_one()
                if legacy:
                    if f"r{legacy}" not in known:
                        raise SchemaTooNew(f"database schema v{legacy} is newer than this kb ({head}): upgrade kb")
                    # A file from before Alembic: its tables are revision r<user_version> exactly.
                    command.stamp(config, f"r{legacy}")
            command.upgrade(config, "head")
    return head


def get_db() -> Database:
    """This app's Database (`KB_DATABASE`), shared by its requests."""
    return current_app.extensions[EXTENSION]


def init_app(app: Flask) -> None:
    """Give `app` its Database; raises BadDatabaseSetting at once for a bad KB_DATABASE.

    Nothing connects yet: the first request that needs the database migrates it, so a host
    whose database is briefly unreachable still starts and answers from its index.
    """
    app.extensions[EXTENSION] = Database(app.config["DATABASE"])


# ---------------------------------------------------------------------------- retention


def prune(db: Database, before: str) -> tuple[int, int, int]:
    """Delete query log rows, feedback and article views older than `before`; returns the three counts deleted.

    On SQLite, deleted rows are overwritten, not just unlinked (secure_delete), and the WAL is
    checkpointed so the old pages leave the write-ahead log too: retention means the bytes are
    gone. On PostgreSQL the space of deleted rows is reclaimed by (auto)vacuum.
    """
    from kbserver.store.schema import article_views, feedback, query_log

    with db.write() as conn:
        if db.backend == "sqlite":
            conn.exec_driver_sql("PRAGMA secure_delete = ON")
        queries = conn.execute(query_log.delete().where(query_log.c.ts < before)).rowcount
        removed = conn.execute(feedback.delete().where(feedback.c.ts < before)).rowcount
        views = conn.execute(article_views.delete().where(article_views.c.ts < before)).rowcount
    if db.backend == "sqlite":
        # Best effort: a reader still open elsewhere can keep the checkpoint from finishing; the
        # next checkpoint (automatic, every ~1000 pages) completes it.
        raw = db.engine.raw_connection()  # outside any transaction, or the checkpoint cannot finish
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        finally:
            raw.close()
    return queries, removed, views
