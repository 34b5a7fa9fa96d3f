"""Feedback and the query log, over a real server and a real SQLite file."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from kbserver.access import tokens
from kbserver.store.db import SCHEMA_VERSION, connect

from conftest import ROOT, LiveServer, make_app

RAW_EMAIL = "jane.doe@example.com"
RAW_CARD = "4111 1111 1111 1111"
RAW_MESSAGE = f"Hi, I'm {RAW_EMAIL}, card {RAW_CARD} was charged twice for 2 jackets, order LK-4829133"


def assert_api_error(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def db_rows(app, sql: str, params: tuple = ()) -> list[dict]:
    db = connect(app.config["DATABASE"])
    try:
        return [dict(row) for row in db.execute(sql, params)]
    finally:
        db.close()


def bytes_on_disk(folder: Path) -> bytes:
    """Every byte of every file under `folder` (the database, its WAL and anything else)."""
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_feedback_round_trip_stores_row_routed_to_owner(app, live_server):
    response = requests.post(
        f"{live_server.url}/api/v1/feedback",
        json={
            "article_id": "returns/start-a-return",
            "outcome": "resolved_first_contact",
            "request_id": "abc123",
            "comment": f"customer {RAW_EMAIL} was happy",
        },
        timeout=30,
    )
    assert response.status_code == 201
    body = response.json()
    assert body["routed_to"] == "Returns team"
    assert body["article_id"] == "returns/start-a-return"
    rows = db_rows(app, "SELECT * FROM feedback WHERE id = ?", (body["id"],))
    assert len(rows) == 1
    row = rows[0]
    assert (row["article_id"], row["owner"], row["outcome"], row["request_id"]) == (
        "returns/start-a-return",
        "Returns team",
        "resolved_first_contact",
        "abc123",
    )
    assert row["comment"] == "customer <email> was happy"
    assert row["caller"] == "anonymous"


@pytest.mark.parametrize(
    "body, code",
    [
        ({"article_id": "returns/start-a-return", "outcome": "great"}, "invalid_outcome"),
        ({"article_id": "returns/start-a-return"}, "missing_outcome"),
        ({"outcome": "helpful"}, "missing_article_id"),
        ({"article_id": 7, "outcome": "helpful"}, "invalid_article_id"),
        ({"article_id": "../etc/passwd", "outcome": "helpful"}, "invalid_article_id"),
        ({"article_id": "returns/start-a-return", "outcome": "helpful", "request_id": "a b"}, "invalid_request_id"),
        ({"article_id": "returns/start-a-return", "outcome": "helpful", "comment": ["x"]}, "invalid_comment"),
        ({"article_id": "returns/start-a-return", "outcome": "helpful", "comment": "x" * 9000}, "comment_too_long"),
    ],
)
def test_feedback_rejects_bad_fields_with_400(client, body, code):
    response = client.post("/api/v1/feedback", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code


@pytest.mark.parametrize("data", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_feedback_rejects_malformed_json_with_400(live_server, data):
    response = requests.post(
        f"{live_server.url}/api/v1/feedback", data=data, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert_api_error(response, 400, "malformed_json")


def test_feedback_for_unknown_article_is_404(live_server):
    response = requests.post(
        f"{live_server.url}/api/v1/feedback", json={"article_id": "returns/no-such-thing", "outcome": "helpful"}, timeout=30
    )
    assert_api_error(response, 404, "article_not_found")


def test_feedback_on_internal_article_is_404_for_public_token(app, live_server):
    db = connect(app.config["DATABASE"])
    _, secret = tokens.create(db, "public-desk", "feedback")
    db.close()
    response = requests.post(
        f"{live_server.url}/api/v1/feedback",
        json={"article_id": "returns/wrong-size-exchange", "outcome": "helpful"},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=30,
    )
    assert_api_error(response, 404, "article_not_found")
    assert db_rows(app, "SELECT * FROM feedback") == []


def test_search_and_suggest_log_only_redacted_text(app, live_server, tmp_path):
    search = requests.get(f"{live_server.url}/api/v1/search", params={"q": RAW_MESSAGE}, timeout=60)
    suggest = requests.post(f"{live_server.url}/api/v1/suggest", json={"text": RAW_MESSAGE}, timeout=60)
    assert search.status_code == 200 and suggest.status_code == 200
    rows = db_rows(app, "SELECT * FROM query_log ORDER BY kind")
    assert [(r["kind"], r["request_id"]) for r in rows] == [
        ("search", search.json()["request_id"]),
        ("suggest", suggest.json()["request_id"]),
    ]
    expected = "Hi, I'm <email>, card <card> was charged twice for 2 jackets, order <order>"
    assert all(r["text"] == expected for r in rows)
    search_top = [r["article"]["id"] for r in search.json()["results"]]
    assert [r["id"] for r in json.loads(rows[0]["results"])] == search_top[:10]
    suggest_scores = [s["score"] for s in suggest.json()["suggestions"]]
    assert [r["score"] for r in json.loads(rows[1]["results"])] == suggest_scores
    assert rows[1]["no_confident_match"] == int(suggest.json()["no_confident_match"])
    on_disk = bytes_on_disk(tmp_path)
    for raw in (RAW_EMAIL, RAW_CARD, "4111111111111111", "LK-4829133"):
        assert raw.encode() not in on_disk
    assert expected.encode() in on_disk


def test_off_topic_search_is_logged_as_no_confident_match(app, client):
    response = client.get("/api/v1/search", query_string={"q": "zzzz qqqq xxxx"})
    assert response.status_code == 200
    (row,) = db_rows(app, "SELECT no_confident_match, mode FROM query_log")
    assert row == {"no_confident_match": 1, "mode": "hybrid"}


def test_concurrent_feedback_from_two_servers_all_lands(app, kb_index, tmp_path, live_server):
    # A second app (its own connections, like a second gunicorn worker) on the same file.
    other = make_app(kb_index, tmp_path)
    assert other.config["DATABASE"] == app.config["DATABASE"]
    outcomes = ("helpful", "not_helpful", "resolved_first_contact", "escalated")

    with LiveServer(other) as second:
        urls = [live_server.url, second.url]

        def send(worker: int) -> list[int]:
            ids = []
            with requests.Session() as session:
                for i in range(25):
                    response = session.post(
                        f"{urls[worker % 2]}/api/v1/feedback",
                        json={"article_id": "delivery/where-is-my-order", "outcome": outcomes[i % 4],
                              "request_id": f"w{worker}-{i}"},
                        timeout=60,
                    )
                    assert response.status_code == 201, response.text
                    ids.append(response.json()["id"])
            return ids

        with ThreadPoolExecutor(max_workers=8) as pool:
            ids = [i for batch in pool.map(send, range(8)) for i in batch]

    assert len(ids) == len(set(ids)) == 200
    rows = db_rows(app, "SELECT request_id FROM feedback")
    assert sorted(r["request_id"] for r in rows) == sorted(f"w{w}-{i}" for w in range(8) for i in range(25))


WRITER = """
import sys
from kbserver.store.db import SCHEMA_VERSION, connect, to_ts, utc_now
from kbserver.store.feedback import FeedbackRecord, insert_feedback

path, worker = sys.argv[1], sys.argv[2]
db = connect(path)
for i in range(50):
    insert_feedback(db, FeedbackRecord(
        to_ts(utc_now()), "returns/refund-policy", "Returns team", "helpful", f"p{worker}-{i}", None, "t"))
db.close()
"""


def test_concurrent_writer_processes_on_a_fresh_file_all_land(tmp_path):
    path = tmp_path / "fresh" / "kb.sqlite3"  # folder and schema are created by whoever comes first
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w)], cwd=ROOT) for w in range(4)]
    assert [p.wait(timeout=120) for p in writers] == [0, 0, 0, 0]
    db = connect(path)
    try:
        assert db.execute("SELECT COUNT(DISTINCT request_id) FROM feedback").fetchone()[0] == 200
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        db.close()


def test_a_version_2_database_migrates_to_query_log_audiences_without_losing_a_row(tmp_path):
    import sqlite3

    from kbserver.store.db import MIGRATIONS

    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    for statements in MIGRATIONS[:2]:
        for statement in statements:
            old.execute(statement)
    old.execute("PRAGMA user_version = 2")
    old.executemany(
        "INSERT INTO tokens (name, hash, scopes, created) VALUES (?, ?, ?, '2026-01-01')",
        [("owner", "h1", "search,reports,internal"), ("helpdesk", "h2", "search,suggest"), ("internalish", "h3", "internalx")],
    )
    callers = ["owner", "helpdesk", "anonymous", "internalish", "gone-token"]
    old.executemany(
        "INSERT INTO query_log (request_id, ts, kind, mode, text, results, no_confident_match, caller)"
        " VALUES (?, '2026-11-01T00:00:00.000000Z', 'search', 'hybrid', ?, '[]', 1, ?)",
        [(f"r{i}", f"question {i}", caller) for i, caller in enumerate(callers)],
    )
    old.execute("INSERT INTO feedback (ts, article_id, owner, outcome, request_id, comment, caller)"
                " VALUES ('2026-11-01T00:00:00.000000Z', 'returns/refund-policy', 'Returns team', 'helpful', 'r1', 'ok', 'helpdesk')")
    old.commit()
    old.close()

    db = connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        rows = db.execute("SELECT request_id, text, caller, audience FROM query_log ORDER BY request_id").fetchall()
        assert [tuple(r) for r in rows] == [
            ("r0", "question 0", "owner", "internal"),
            ("r1", "question 1", "helpdesk", "public"),
            ("r2", "question 2", "anonymous", "internal"),  # the default anonymous scopes include internal
            ("r3", "question 3", "internalish", "public"),
            ("r4", "question 4", "gone-token", "public"),
        ]
        assert db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 1
        assert db.execute("SELECT COUNT(*) FROM tokens").fetchone()[0] == 3
        column = next(c for c in db.execute("PRAGMA table_info(query_log)") if c["name"] == "audience")
        assert (column["type"], column["notnull"], column["dflt_value"]) == ("TEXT", 1, "'public'")
    finally:
        db.close()
