"""Feedback and the query log, over a real server and a real database: each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from kbserver.access import tokens
from kbserver.store.db import connect, head_revision

from conftest import ROOT, LiveServer, make_app, sql_rows

pytestmark = pytest.mark.store

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


def db_rows(app, sql: str, **params) -> list[dict]:
    return sql_rows(app.config["DATABASE"], sql, **params)


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
    rows = db_rows(app, "SELECT * FROM feedback WHERE id = :id", id=body["id"])
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


def test_search_and_suggest_log_only_redacted_text(app, live_server, tmp_path, backend, request):
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
    if backend == "postgresql":  # the server's files: tables and write-ahead log
        on_disk += bytes_on_disk(request.getfixturevalue("postgres").data)
    for raw in (RAW_EMAIL, RAW_CARD, "4111111111111111", "LK-4829133"):
        assert raw.encode() not in on_disk
    assert expected.encode() in on_disk


def test_off_topic_search_is_logged_as_no_confident_match(app, client):
    response = client.get("/api/v1/search", query_string={"q": "zzzz qqqq xxxx"})
    assert response.status_code == 200
    (row,) = db_rows(app, "SELECT no_confident_match, mode FROM query_log")
    assert row == {"no_confident_match": 1, "mode": "hybrid"}


def test_concurrent_feedback_from_two_servers_all_lands(app, kb_index, tmp_path, live_server):
    # A second app (its own connections, like a second gunicorn worker) on the same database.
    other = make_app(kb_index, tmp_path, DATABASE=app.config["DATABASE"])
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
from kbserver.store.db import connect, to_ts, utc_now
from kbserver.store.feedback import FeedbackRecord, insert_feedback

path, worker = sys.argv[1], sys.argv[2]
db = connect(path)
for i in range(50):
    insert_feedback(db, FeedbackRecord(
        to_ts(utc_now()), "returns/refund-policy", "Returns team", "helpful", f"p{worker}-{i}", None, "t"))
db.close()
"""


def test_concurrent_writer_processes_on_a_fresh_database_all_land(tmp_path, backend, database_url):
    # Folder, file and schema are created by whoever comes first; the others wait on the
    # migration lock (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL).
    path = str(tmp_path / "fresh" / "kb.sqlite3") if backend == "sqlite" else database_url
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, path, str(w)], cwd=ROOT) for w in range(4)]
    assert [p.wait(timeout=120) for p in writers] == [0, 0, 0, 0]
    assert sql_rows(path, "SELECT COUNT(DISTINCT request_id) AS n FROM feedback") == [{"n": 200}]
    assert sql_rows(path, "SELECT version_num FROM alembic_version") == [{"version_num": head_revision()}]
    if backend == "sqlite":
        assert sql_rows(path, "PRAGMA journal_mode") == [{"journal_mode": "wal"}]


def test_an_unreachable_database_fails_writes_with_503_while_the_index_answers(kb_index, tmp_path):
    # A real PostgreSQL URL on a port nothing listens on: every connection is refused.
    from servers import free_port as closed_port

    down = make_app(kb_index, tmp_path, DATABASE=f"postgresql://kb@127.0.0.1:{closed_port()}/kb")
    client = down.test_client()
    suggest = client.post("/api/v1/suggest", json={"text": "my parcel never arrived"})
    assert suggest.status_code == 200 and suggest.get_json()["suggestions"]
    assert client.get("/api/v1/search", query_string={"q": "refund"}).get_json()["results"]
    refused = client.post("/api/v1/feedback", json={"article_id": "returns/refund-policy", "outcome": "helpful"})
    assert refused.status_code == 503
    assert refused.get_json()["error"]["code"] == "database_unavailable"
    assert client.get("/api/v1/reports/articles").get_json()["error"]["code"] == "database_unavailable"
    page = client.get("/reports")
    assert page.status_code == 503 and b"The database is unreachable" in page.data
