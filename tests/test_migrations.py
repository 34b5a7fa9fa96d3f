"""KB_DATABASE, the Alembic migrations and `kb db upgrade|copy`, on SQLite and a real PostgreSQL."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect

from kbserver.cli import main
from kbserver.store import feedback, learning, tokens
from kbserver.store.db import BadDatabaseSetting, Database, SchemaTooNew, connect, head_revision, parse_database
from kbserver.store.schema import TABLES

from conftest import ROOT, make_app, sql_rows

pytestmark = pytest.mark.store

LEGACY_DUMP = ROOT / "tests" / "data" / "legacy" / "kb-v2.sql"
LEGACY_ROWS = {"tokens": 2, "sessions": 0, "query_log": 5, "feedback": 4, "learned_examples": 2, "article_views": 0}


def kb(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def legacy_file(tmp_path) -> str:
    """A SQLite file exactly as kb wrote it before Alembic (schema v2, PRAGMA user_version = 2)."""
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as raw:
        raw.executescript(LEGACY_DUMP.read_text(encoding="utf-8"))
    raw.close()
    return str(path)


def counts(database: str) -> dict[str, int]:
    return {t.name: sql_rows(database, f"SELECT COUNT(*) AS n FROM {t.name}")[0]["n"] for t in TABLES}


# ---------------------------------------------------------------------------- which database


@pytest.mark.parametrize(
    "value, kind",
    [
        ("var/kb.sqlite3", "sqlite"),
        ("/srv/kb/kb.sqlite3", "sqlite"),
        ("sqlite:///var/kb.sqlite3", "sqlite"),
        ("postgresql://kb:secret@db.internal:5432/kb", "postgresql"),
        ("postgresql+psycopg://kb@127.0.0.1/kb", "postgresql"),
    ],
)
def test_kb_database_accepts_a_path_or_a_sqlite_or_postgresql_url(value, kind):
    url = parse_database(value)
    assert url.drivername == ("sqlite" if kind == "sqlite" else "postgresql+psycopg")


@pytest.mark.parametrize(
    "value", ["mysql://kb@127.0.0.1/kb", "postgresql:/typo", "postgresql://kb@127.0.0.1", "sqlite:/kb.sqlite3", "", "redis://x"]
)
def test_kb_database_refuses_anything_else_and_creates_no_file(value, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BadDatabaseSetting, match="KB_DATABASE"):
        parse_database(value)
    result = kb("token", "create", "--name", "helpdesk", "--scopes", "search", "--database", value)
    assert result.exit_code == 1
    assert "KB_DATABASE" in result.stderr and "postgresql://user:password@host:5432/dbname" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_bad_kb_database_stops_the_app_and_kb_serve_at_start(kb_index, tmp_path, monkeypatch):
    with pytest.raises(BadDatabaseSetting, match="postgresql:/typo"):
        make_app(kb_index, tmp_path, DATABASE="postgresql:/typo")
    monkeypatch.setenv("KB_DATABASE", "mysql://kb@127.0.0.1/kb")
    result = kb("serve", "--index", str(kb_index), "--port", "0")
    assert result.exit_code == 1
    assert "kb cannot store in mysql" in result.stderr


def test_messages_never_show_the_password():
    db = Database("postgresql://kb:s3cret-pw@127.0.0.1:1/kb")
    assert "s3cret-pw" not in repr(db)
    db.close()


# ---------------------------------------------------------------------------- migrations


def test_a_sqlite_file_from_before_alembic_migrates_without_losing_a_row(legacy_file):
    db = connect(legacy_file)
    assert counts(legacy_file) == LEGACY_ROWS
    assert sql_rows(legacy_file, "SELECT version_num FROM alembic_version") == [{"version_num": head_revision()}]
    assert [t.name for t in tokens.all_tokens(db)] == ["helpdesk", "old-desk"]
    assert [s.active for s in learning.example_stats(db)] == [1, 1]
    assert len(feedback.feedback_items(db, "2000-01-01")) == 4
    # r5: every feedback stored before a lead could mark one handled is still open.
    assert sql_rows(legacy_file, "SELECT COUNT(*) AS n FROM feedback WHERE handled_ts IS NULL") == [{"n": 4}]


def test_a_version_2_file_migrates_to_query_log_audiences_without_losing_a_row(legacy_file):
    # Issue 21's r3: text logged by internal callers (a token holding `internal` now, or
    # anonymous, whose default scopes include it) is marked internal; everyone else's public.
    with sqlite3.connect(legacy_file) as raw:
        raw.executemany(
            "INSERT INTO tokens (name, hash, scopes, created) VALUES (?, ?, ?, '2026-01-01')",
            [("owner", "h1", "search,reports,internal"), ("internalish", "h3", "internalx")],
        )
        raw.executemany(
            "INSERT INTO query_log (request_id, ts, kind, mode, text, results, no_confident_match, caller)"
            " VALUES (?, '2026-11-01T00:00:00.000000Z', 'search', 'hybrid', ?, '[]', 1, ?)",
            [(f"x{i}", f"question {i}", caller) for i, caller in enumerate(["owner", "anonymous", "internalish", "gone"])],
        )
    raw.close()
    connect(legacy_file).close()
    rows = sql_rows(legacy_file, "SELECT request_id, caller, audience FROM query_log ORDER BY request_id")
    assert [tuple(r.values()) for r in rows] == [
        *[(f"req{i}", "helpdesk", "public") for i in range(5)],  # helpdesk holds no `internal`
        ("x0", "owner", "internal"),
        ("x1", "anonymous", "internal"),
        ("x2", "internalish", "public"),
        ("x3", "gone", "public"),
    ]
    assert counts(legacy_file) == {**LEGACY_ROWS, "tokens": 4, "query_log": 9}


def test_the_migrated_tables_are_the_schema_the_queries_use(database_url):
    db = connect(database_url)
    with db.read() as conn:
        found = inspect(conn)
        for table in TABLES:
            assert {c["name"] for c in found.get_columns(table.name)} == set(table.c.keys()), table.name
            assert {i["name"] for i in found.get_indexes(table.name)} >= {i.name for i in table.indexes}


def test_kb_db_upgrade_brings_either_backend_to_the_head_revision(database_url):
    result = kb("db", "upgrade", "--database", database_url)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(f"is at schema {head_revision()}")
    assert "secret" not in result.stdout
    again = kb("db", "upgrade", "--database", database_url)
    assert again.exit_code == 0 and again.stdout == result.stdout


def test_a_database_from_a_newer_kb_is_refused(database_url):
    connect(database_url).close()
    sql_rows(database_url, "UPDATE alembic_version SET version_num = 'r999'")
    with pytest.raises(SchemaTooNew, match="r999"):
        connect(database_url)
    result = kb("token", "list", "--database", database_url)
    assert result.exit_code == 1 and "newer than this kb" in result.stderr


# ---------------------------------------------------------------------------- kb db copy


def test_kb_db_copy_moves_every_row_and_keeps_ids(legacy_file, database_url, tmp_path):
    if database_url.endswith(".sqlite3"):
        database_url = str(tmp_path / "copy.sqlite3")  # not the legacy file's own tmp_path name
    result = kb("db", "copy", "--from", legacy_file, "--to", database_url)
    assert result.exit_code == 0, result.output
    assert "counts match" in result.stderr
    assert counts(database_url) == LEGACY_ROWS
    query = "SELECT id, outcome, comment FROM feedback ORDER BY id"
    assert sql_rows(database_url, query) == sql_rows(legacy_file, query)
    # The next feedback gets an id after the copied ones (PostgreSQL's sequence was moved on).
    db = connect(database_url)
    new_id = feedback.insert_feedback(
        db, feedback.FeedbackRecord("2026-12-01T00:00:00.000000Z", "a/b", "Team", "helpful", None, None, "t")
    )
    assert new_id == max(r["id"] for r in sql_rows(legacy_file, query)) + 1


def test_kb_db_copy_refuses_a_target_that_holds_rows(legacy_file, database_url, tmp_path):
    if database_url.endswith(".sqlite3"):
        database_url = str(tmp_path / "copy.sqlite3")
    assert kb("db", "copy", "--from", legacy_file, "--to", database_url).exit_code == 0
    again = kb("db", "copy", "--from", legacy_file, "--to", database_url)
    assert again.exit_code == 1
    assert "the target database is not empty: tokens (2 rows)" in again.stderr
    assert counts(database_url) == LEGACY_ROWS


def test_kb_db_copy_needs_an_existing_source(tmp_path, database_url):
    result = kb("db", "copy", "--from", str(tmp_path / "missing.sqlite3"), "--to", database_url)
    assert result.exit_code == 1 and "no database here" in result.stderr
    assert not (tmp_path / "missing.sqlite3").exists()


def test_kb_index_reads_learned_examples_from_either_backend(database_url):
    db = connect(database_url)
    learning.insert_examples(db, [learning.ExampleRecord(
        "2026-11-01T00:00:00.000000Z", "products/gift-cards", "zebra gizmo", "resolved_first_contact", "import",
        learning.source_key("products/gift-cards", "zebra gizmo"), "import",
    )])
    from kbserver.cli.index import _learned_examples

    (example,) = _learned_examples(database_url)
    assert (example.article_id, example.text) == ("products/gift-cards", "zebra gizmo")


def test_a_database_at_r4_gains_views_and_handled_without_losing_a_row(database_url):
    from alembic import command
    from sqlalchemy import text

    from kbserver.store.db import _alembic_config

    db = Database(database_url)
    with db.engine.connect() as conn, conn.begin():  # engine, not write(): write() would migrate to head
        command.upgrade(_alembic_config(conn), "r4")  # the schema before issue 20, item 6
        conn.execute(text(
            "INSERT INTO feedback (ts, article_id, owner, outcome, request_id, comment, caller, ticket_id)"
            " VALUES (:ts, 'returns/refund-policy', 'Returns team', :outcome, NULL, :comment, 'anonymous', 'ZD-1')"),
            [{"ts": f"2026-11-0{i}T00:00:00.000000Z", "outcome": outcome, "comment": f"comment {i}"}
             for i, outcome in enumerate(["helpful", "not_helpful", "escalated"], start=1)])
    db.close()

    migrated = connect(database_url)
    assert sql_rows(database_url, "SELECT version_num FROM alembic_version") == [{"version_num": head_revision()}]
    rows = sql_rows(database_url, "SELECT outcome, comment, ticket_id, handled_ts FROM feedback ORDER BY id")
    assert rows == [{"outcome": o, "comment": f"comment {i}", "ticket_id": "ZD-1", "handled_ts": None}
                    for i, o in enumerate(["helpful", "not_helpful", "escalated"], start=1)]
    assert [r.outcome for r in feedback.feedback_items(migrated, "2000-01-01", is_open=True)] == [
        "escalated", "not_helpful", "helpful"]
    assert sql_rows(database_url, "SELECT COUNT(*) AS n FROM article_views") == [{"n": 0}]
