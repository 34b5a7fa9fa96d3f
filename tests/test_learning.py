"""Learning from resolved contacts, end to end: import/feedback -> database -> build -> ranking."""

from __future__ import annotations

import json
import shutil

import pytest
import requests
from click.testing import CliRunner

from indexer.build import build_index
from indexer.embedding import get_encoder
from kbserver.access import tokens
from kbserver.cli import main
from kbserver.store import learning
from kbserver.store.db import connect
from kbserver.store.learning import ExampleRecord, insert_examples, list_examples

from conftest import DATA_ARTICLES, LiveServer, build_into, make_app

# The database tests run on both backends; the three that build an index take their examples
# from a SQLite file (what they test is ranking, and an index build is the expensive part).
pytestmark = pytest.mark.store

# A phrasing no article in tests/data/articles uses: only a learned example can tie it to one.
ODD_MESSAGE = "the purple zebra gizmo is doing the wobbly thing again"
TARGET = "products/gift-cards"


def kb(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def database(database_url) -> str:
    return database_url


@pytest.fixture
def sqlite_database(tmp_path) -> str:
    return str(tmp_path / "kb.sqlite3")


def test_import_reports_bad_lines_as_file_line_and_imports_the_rest(tmp_path, database):
    source = tmp_path / "tickets.jsonl"
    source.write_text(
        json.dumps({"text": "where is my parcel", "article_id": "delivery/where-is-my-order", "outcome": "resolved_first_contact"}) + "\n"
        + json.dumps({"text": "help", "article_id": "nope/missing"}) + "\n"
        + "{not json\n"
        + json.dumps({"text": "", "article_id": TARGET}) + "\n"
        + json.dumps({"text": "card declined", "article_id": TARGET, "outcome": "escalated"}) + "\n"
        + json.dumps({"text": "gift card balance is wrong", "article_id": TARGET, "outcome": "helpful"}) + "\n",
        encoding="utf-8",
    )
    result = kb("learn", "import", str(source), "--articles", str(DATA_ARTICLES), "--database", database)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines == [
        f"{source}:2: unknown article_id 'nope/missing'",
        f"{source}:3: not valid JSON: Expecting property name enclosed in double quotes",
        f"{source}:4: 'text' must be a non-empty string",
        f"{source}:5: outcome 'escalated' teaches nothing (use resolved_first_contact or helpful)",
    ]
    assert "2 examples imported, 0 already known, 4 lines skipped" in result.stderr


def test_import_keeps_a_record_whole_when_its_text_holds_a_unicode_line_separator(tmp_path, database):
    source = tmp_path / "tickets.jsonl"
    record = {"text": "gift card\u2028balance wrong", "article_id": TARGET}
    source.write_text(json.dumps(record, ensure_ascii=False) + "\r\n", encoding="utf-8")
    result = kb("learn", "import", str(source), "--articles", str(DATA_ARTICLES), "--database", database)
    assert result.stdout == ""
    assert "1 examples imported" in result.stderr


def test_reimporting_the_same_file_adds_nothing_twice(tmp_path, database):
    source = tmp_path / "tickets.jsonl"
    write_jsonl(source, [{"text": "my gift card says zero", "article_id": TARGET}])
    kb("learn", "import", str(source), "--articles", str(DATA_ARTICLES), "--database", database)
    result = kb("learn", "import", str(source), "--articles", str(DATA_ARTICLES), "--database", database)
    assert "0 examples imported, 1 already known" in result.stderr
    db = connect(database)
    assert len(list_examples(db)) == 1


def test_import_reads_csv_and_redacts_personal_data(tmp_path, database):
    source = tmp_path / "tickets.csv"
    source.write_text(
        "text,article_id,outcome\n"
        '"email me at jo.bloggs@example.com, card 4111 1111 1111 1111",products/gift-cards,resolved_first_contact\n',
        encoding="utf-8",
    )
    kb("learn", "import", str(source), "--articles", str(DATA_ARTICLES), "--database", database)
    db = connect(database)
    (row,) = list_examples(db)
    assert "jo.bloggs" not in row.text and "4111" not in row.text
    assert "<email>" in row.text and "<card>" in row.text


def test_list_remove_and_stats_let_owners_prune(tmp_path, database):
    source = tmp_path / "tickets.jsonl"
    write_jsonl(source, [{"text": f"gift card question {i}", "article_id": TARGET} for i in range(3)])
    kb("learn", "import", str(source), "--articles", str(DATA_ARTICLES), "--database", database)
    listed = json.loads(kb("learn", "list", "--article", TARGET, "--json", "--database", database).stdout)
    assert [r["article_id"] for r in listed] == [TARGET] * 3
    assert kb("learn", "remove", str(listed[0]["id"]), "--database", database).stdout.strip() == "1 examples removed"
    stats = json.loads(kb("learn", "stats", "--json", "--database", database).stdout)
    assert stats["articles"] == [{"article_id": TARGET, "source": "import", "active": 2, "removed": 1}]
    assert stats["used_by_next_build"] == 2


def _learned_index(tmp_path, onnx_model, examples):
    articles = tmp_path / "articles"
    shutil.copytree(DATA_ARTICLES, articles)
    root = tmp_path / "index"
    build_into(articles, root, onnx_model)
    build_index(articles, root, encoder_factory=lambda: get_encoder(onnx_path=onnx_model), examples=examples)
    return articles, root


def _examples_for(database, rows):
    db = connect(database)
    records = [
        ExampleRecord("2026-11-01T00:00:00.000000Z", a, t, "resolved_first_contact", "import", learning.source_key(a, t), "import")
        for a, t in rows
    ]
    insert_examples(db, records)
    return learning.active_examples(db)


@pytest.mark.slow  # builds its own index
def test_learned_examples_lift_the_article_they_resolved(tmp_path, onnx_model, sqlite_database):
    phrasings = [ODD_MESSAGE, "purple zebra gizmo wobbling again", "my zebra gizmo (the purple one) wobbles"]
    examples = _examples_for(sqlite_database, [(TARGET, p) for p in phrasings])
    _, root = _learned_index(tmp_path, onnx_model, examples)
    client = make_app(root, tmp_path).test_client()
    top = client.post("/api/v1/suggest", json={"text": ODD_MESSAGE}).get_json()["suggestions"][0]
    assert top["article"]["id"] == TARGET
    # The explanation still points at the article's own text, never at an example.
    assert ODD_MESSAGE not in top["why"]

    off = make_app(root, tmp_path, LEARNING="off").test_client()
    top_off = off.post("/api/v1/suggest", json={"text": ODD_MESSAGE}).get_json()["suggestions"][0]
    assert top_off["article"]["id"] != TARGET


@pytest.mark.slow  # builds its own index
def test_examples_for_deleted_articles_are_dropped_at_build(tmp_path, onnx_model, sqlite_database):
    examples = _examples_for(sqlite_database, [(TARGET, ODD_MESSAGE), ("returns/start-a-return", "send it back please")])
    articles, root = _learned_index(tmp_path, onnx_model, examples)
    (articles / "products" / "gift-cards.md").unlink()
    report = build_index(articles, root, encoder_factory=lambda: get_encoder(onnx_path=onnx_model), examples=examples)
    assert report.examples == 1


@pytest.mark.slow  # builds its own index
def test_internal_articles_learned_examples_never_reach_public_callers(tmp_path, onnx_model, sqlite_database):
    internal = "account/suspected-account-takeover"
    examples = _examples_for(sqlite_database, [(internal, ODD_MESSAGE)] * 1 + [(internal, "zebra gizmo purple wobbling")])
    _, root = _learned_index(tmp_path, onnx_model, examples)
    public = make_app(root, tmp_path, ANONYMOUS_SCOPES="search,suggest").test_client()
    body = public.post("/api/v1/suggest", json={"text": ODD_MESSAGE, "limit": 10}).get_json()
    assert internal not in json.dumps(body)


def test_feedback_teaches_only_when_two_agents_agree(tmp_path, kb_index, database):
    app = make_app(kb_index, tmp_path, ANONYMOUS_SCOPES="", DATABASE=database)
    db = connect(app.config["DATABASE"])
    secrets = [tokens.create(db, name, "search,suggest,feedback,internal")[1] for name in ("agent-1", "agent-2")]
    with LiveServer(app) as server:

        def resolve(secret: str, text: str) -> dict:
            headers = {"Authorization": f"Bearer {secret}"}
            answer = requests.post(f"{server.url}/api/v1/suggest", json={"text": text}, headers=headers, timeout=30).json()
            feedback = {"article_id": TARGET, "outcome": "resolved_first_contact", "request_id": answer["request_id"]}
            return requests.post(f"{server.url}/api/v1/feedback", json=feedback, headers=headers, timeout=30).json()

        assert resolve(secrets[0], "my voucher card from my aunt shows nothing on it")["learned"] is True
        assert learning.active_examples(db) == []  # one agent alone teaches nothing yet
        assert resolve(secrets[1], "the present card I was given won't work at the till")["learned"] is True
        taught = learning.active_examples(db)
    assert sorted(e.text for e in taught) == [
        "my voucher card from my aunt shows nothing on it",
        "the present card I was given won't work at the till",
    ]
    assert {e.article_id for e in taught} == {TARGET}


def test_one_agent_cannot_flood_an_article(tmp_path, kb_index, monkeypatch, database):
    monkeypatch.setattr(learning, "MAX_PER_CALLER", 2)
    app = make_app(kb_index, tmp_path, DATABASE=database)
    client = app.test_client()
    learned = []
    for i in range(4):
        answer = client.post("/api/v1/suggest", json={"text": f"gift card problem number {i}"}).get_json()
        body = {"article_id": TARGET, "outcome": "helpful", "request_id": answer["request_id"]}
        learned.append(client.post("/api/v1/feedback", json=body).get_json()["learned"])
    assert learned == [True, True, False, False]


def test_not_helpful_feedback_teaches_nothing(tmp_path, kb_index, database):
    client = make_app(kb_index, tmp_path, DATABASE=database).test_client()
    answer = client.post("/api/v1/suggest", json={"text": "gift card is broken"}).get_json()
    body = {"article_id": TARGET, "outcome": "not_helpful", "request_id": answer["request_id"]}
    assert client.post("/api/v1/feedback", json=body).get_json()["learned"] is False
