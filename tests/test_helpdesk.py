"""kb inside a helpdesk (issue 20, item 7), over HTTP: the CORS allow-list, `GET /suggest?text=`,
`ticket_id` on feedback and in the reports, the migration that adds it, and the customer-safe
reply text. The panel in a real browser, framed from another origin, is in test_helpdesk_browser.py."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text
from test_web import EXCHANGE_MESSAGE, INTERNAL_ID, parse

from indexer.chunking import plain_text
from kbserver.store import feedback
from kbserver.store.db import Database, _alembic_config, connect, head_revision

from conftest import ROOT, make_app, sql_rows

HELPDESK = "https://acme.helpdesk.example"
OTHER_SITE = "https://evil.example"
REFUND_MESSAGE = "Hi, I returned my jacket two weeks ago and still have no refund. When will I get my money back?"


@pytest.fixture
def helpdesk_app(kb_index, tmp_path):
    return make_app(kb_index, tmp_path, CORS_ORIGINS=f"{HELPDESK}, http://127.0.0.1:8123")


@pytest.fixture
def helpdesk(helpdesk_app):
    return helpdesk_app.test_client()


def query_log_rows(app) -> list[tuple[str, str]]:
    return [(r["kind"], r["text"]) for r in sql_rows(app.config["DATABASE"], "SELECT kind, text FROM query_log ORDER BY id")]


# ---------------------------------------------------------------------------- the setting


@pytest.mark.parametrize(
    "value",
    ["*", "https://*.example.com", "helpdesk.example.com", "https://helpdesk.example.com/", "https://h.example/app",
     "ftp://h.example", "https://h.example:443", "http://h.example:80", "https://h.example:port", "null",
     "https://user@h.example", "https://h.example?x=1"],
)
def test_a_bad_cors_origin_stops_the_app_at_start(kb_index, tmp_path, value):
    with pytest.raises(ValueError, match="KB_CORS_ORIGINS"):
        make_app(kb_index, tmp_path, CORS_ORIGINS=value)


def test_framing_forbidden_and_a_helpdesk_allowed_is_refused_at_start(kb_index, tmp_path):
    with pytest.raises(ValueError, match="FRAME_ANCESTORS"):
        make_app(kb_index, tmp_path, CORS_ORIGINS=HELPDESK, FRAME_ANCESTORS="'none'")


def test_cors_origins_arrive_from_the_environment(kb_index, tmp_path, monkeypatch):
    monkeypatch.setenv("KB_CORS_ORIGINS", f"{HELPDESK},http://localhost:3000")
    client = make_app(kb_index, tmp_path).test_client()
    response = client.get("/api/v1/search", query_string={"q": "refund"}, headers={"Origin": "http://localhost:3000"})
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


# ---------------------------------------------------------------------------- CORS on /api/v1


@pytest.mark.parametrize("path", ["/api/v1/suggest", "/api/v1/feedback", "/api/v1/search"])
def test_preflight_from_an_allowed_origin_gets_the_allow_headers(helpdesk, path):
    response = helpdesk.options(path, headers={
        "Origin": HELPDESK, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    })
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == HELPDESK
    assert {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")} == {
        "authorization", "content-type"}
    methods = {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")}
    assert methods == {m.strip() for m in response.headers["Allow"].split(",")}
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "Origin" in response.headers["Vary"]


@pytest.mark.parametrize("origin", [OTHER_SITE, "null", HELPDESK + ":8443", HELPDESK.replace("https", "http"), None])
def test_preflight_from_any_other_origin_gets_no_cors_header(helpdesk, origin):
    headers = {"Access-Control-Request-Method": "POST"} | ({"Origin": origin} if origin else {})
    response = helpdesk.options("/api/v1/suggest", headers=headers)
    assert not [h for h in response.headers.keys() if h.lower().startswith("access-control-")]


def test_an_allowed_origin_may_read_the_answer_and_its_rate_headers(helpdesk):
    response = helpdesk.post("/api/v1/suggest", json={"text": EXCHANGE_MESSAGE}, headers={"Origin": HELPDESK})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == HELPDESK
    assert "X-RateLimit-Remaining" in response.headers["Access-Control-Expose-Headers"]
    error = helpdesk.post("/api/v1/suggest", json={"text": ""}, headers={"Origin": HELPDESK})
    assert error.status_code == 400 and error.headers["Access-Control-Allow-Origin"] == HELPDESK


def test_without_the_setting_no_origin_gets_cors(client):
    response = client.options("/api/v1/suggest", headers={"Origin": HELPDESK, "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_the_page_is_not_a_cors_resource(helpdesk):
    response = helpdesk.get("/suggest", headers={"Origin": HELPDESK})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_an_allowed_helpdesk_may_frame_the_page(helpdesk):
    csp = helpdesk.get("/suggest").headers["Content-Security-Policy"]
    ancestors = next(d for d in csp.split("; ") if d.startswith("frame-ancestors")).split()[1:]
    assert ancestors == ["'self'", HELPDESK, "http://127.0.0.1:8123"]


def test_the_page_names_the_origins_it_takes_tickets_from(helpdesk):
    body = parse(helpdesk.get("/suggest")).one("body")
    assert body.attrs["data-embed-origins"] == f"{HELPDESK} http://127.0.0.1:8123"


# ---------------------------------------------------------------------------- GET /suggest?text=


def test_get_suggest_with_text_prefills_and_suggests_on_the_server(client, app):
    response = client.get("/suggest", query_string={"text": EXCHANGE_MESSAGE, "ticket_id": "ZD-48213"})
    assert response.status_code == 200
    page = parse(response)
    assert page.one("textarea", id="message").text() == EXCHANGE_MESSAGE
    assert page.one("input", name="ticket_id").attrs["value"] == "ZD-48213"
    assert page.one("article", "suggestion-top").attrs["data-article-id"] == INTERNAL_ID
    assert [kind for kind, _ in query_log_rows(app)] == ["suggest"]  # one load, one logged question


def test_get_suggest_logs_like_post_once_per_load(client, app):
    client.get("/suggest", query_string={"text": EXCHANGE_MESSAGE})
    client.get("/suggest", query_string={"text": EXCHANGE_MESSAGE})  # a reload
    client.post("/suggest", data={"text": EXCHANGE_MESSAGE})
    assert [kind for kind, _ in query_log_rows(app)] == ["suggest"] * 3


@pytest.mark.parametrize("query", [{}, {"text": ""}, {"text": "   \n "}])
def test_get_suggest_without_text_is_the_empty_form(client, app, query):
    response = client.get("/suggest", query_string=query)
    assert response.status_code == 200
    assert not parse(response).select("article", "suggestion-top")
    assert query_log_rows(app) == []


@pytest.mark.parametrize(
    "query, message",
    [
        ({"text": "refund " * 2000}, "longer than"),
        ({"text": EXCHANGE_MESSAGE, "ticket_id": "<script>"}, "ticket_id"),
        ({"text": EXCHANGE_MESSAGE, "ticket_id": "x" * 65}, "ticket_id"),
    ],
)
def test_get_suggest_rejects_bad_input_with_a_400_page(client, app, query, message):
    response = client.get("/suggest", query_string=query)
    assert response.status_code == 400
    assert message in parse(response).one("p", "notice-error").text()
    assert query_log_rows(app) == []


@pytest.mark.parametrize("raw", ["text=%ED%A0%80", "text=%FF%FE", "text=%00%00", "text=a&text=b&ticket_id=%ZZ"])
def test_get_suggest_never_answers_a_500_to_garbage(client, raw):
    assert client.get("/suggest?" + raw).status_code in (200, 400)


# ---------------------------------------------------------------------------- ticket_id on feedback


def test_feedback_stores_the_ticket_and_the_reports_show_it(client):
    sent = client.post("/api/v1/feedback", json={"article_id": "returns/refund-policy", "outcome": "not_helpful",
                                                  "ticket_id": "ZD-48213", "comment": "customer wanted a date"})
    assert sent.status_code == 201 and sent.get_json()["ticket_id"] == "ZD-48213"
    client.post("/api/v1/feedback", json={"article_id": "returns/refund-policy", "outcome": "escalated"})
    rows = client.get("/api/v1/reports/feedback").get_json()["feedback"]
    assert [(r["outcome"], r["ticket_id"]) for r in rows] == [("escalated", None), ("not_helpful", "ZD-48213")]
    page = parse(client.get("/reports"))
    assert [n.text() for n in page.select("span", "ticket-id")] == ["ZD-48213"]


@pytest.mark.parametrize("ticket_id", [12, "", " ZD-1", "ZD 1", "<b>1</b>", "ZD-1\n", "x" * 65, "é-1", ["ZD-1"]])
def test_a_malformed_ticket_id_is_a_400_naming_it(client, ticket_id):
    response = client.post("/api/v1/feedback", json={"article_id": "returns/refund-policy", "outcome": "helpful",
                                                      "ticket_id": ticket_id})
    if ticket_id == "":
        assert response.status_code == 201 and response.get_json()["ticket_id"] is None  # empty counts as not given
        return
    assert response.status_code == 400
    assert response.get_json()["error"] == {
        "code": "invalid_ticket_id", "field": "ticket_id", "message": response.get_json()["error"]["message"]}


@pytest.mark.store
def test_a_database_at_r3_gains_ticket_ids_without_losing_a_row(database_url):
    from alembic import command
    from sqlalchemy import inspect

    db = Database(database_url)
    with db.engine.connect() as conn, conn.begin():  # engine, not write(): write() would migrate to head
        command.upgrade(_alembic_config(conn), "r3")  # the schema before this issue
        conn.execute(text(
            "INSERT INTO feedback (ts, article_id, owner, outcome, request_id, comment, caller)"
            " VALUES (:ts, 'returns/refund-policy', 'Returns team', :outcome, NULL, :comment, 'anonymous')"),
            [{"ts": f"2026-11-0{i}T00:00:00.000000Z", "outcome": outcome, "comment": f"comment {i}"}
             for i, outcome in enumerate(["helpful", "not_helpful", "escalated"], start=1)])
        assert "ticket_id" not in {c["name"] for c in inspect(conn).get_columns("feedback")}
    db.close()

    migrated = connect(database_url)
    assert sql_rows(database_url, "SELECT version_num FROM alembic_version") == [{"version_num": head_revision()}]
    rows = feedback.feedback_items(migrated, "2000-01-01")
    assert [(r.outcome, r.comment, r.ticket_id) for r in rows] == [
        ("escalated", "comment 3", None), ("not_helpful", "comment 2", None), ("helpful", "comment 1", None)]


def test_a_sqlite_file_from_before_alembic_keeps_its_feedback_and_gains_ticket_ids(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as raw:
        raw.executescript((ROOT / "tests" / "data" / "legacy" / "kb-v2.sql").read_text(encoding="utf-8"))
    raw.close()
    db = connect(str(path))
    rows = feedback.feedback_items(db, "2000-01-01")
    assert len(rows) == 4 and {r.ticket_id for r in rows} == {None}


# ---------------------------------------------------------------------------- copy link, copy for reply


MESSAGES = [EXCHANGE_MESSAGE, REFUND_MESSAGE, "Where is my parcel? It was due on Monday.",
            "Can I return a gift card I was given?", "Someone changed the email on my account"]


def every_step_text(client) -> list[str]:
    folder = ROOT / "tests" / "data" / "articles"
    texts: list[str] = []
    for article_id in sorted(p.relative_to(folder).with_suffix("").as_posix() for p in folder.rglob("*.md")):
        article = client.get(f"/api/v1/articles/{article_id}").get_json()
        for step in article.get("steps", []):
            texts.append(plain_text(step["text"]))
            texts.extend(plain_text(d) for d in step["details"])
    return [t for t in texts if len(t) > 12]


@pytest.mark.parametrize("message", MESSAGES)
def test_the_reply_text_never_holds_a_step_or_an_internal_article(client, message):
    steps = every_step_text(client)
    assert len(steps) > 20
    internal = [client.get(f"/api/v1/articles/{i}").get_json()["article"]["summary"]
                for i in (INTERNAL_ID, "account/suspected-account-takeover", "account/data-privacy-policy",
                          "payments/payment-verification-policy")]
    for s in client.post("/api/v1/suggest", json={"text": message}).get_json()["suggestions"]:
        reply = s["customer_reply"]
        assert not [t for t in steps if t in reply], (s["article"]["id"], reply)
        assert not [t for t in internal if plain_text(t) in reply]
        for key in ("exceptions", "escalation"):
            assert not s[key] or plain_text(s[key])[:40] not in reply


def test_the_reply_for_an_internal_procedure_is_its_public_policy(client):
    top = client.post("/api/v1/suggest", json={"text": EXCHANGE_MESSAGE}).get_json()["suggestions"][0]
    assert top["article"]["id"] == INTERNAL_ID
    policy = client.get("/api/v1/articles/returns/returns-policy").get_json()
    assert top["customer_reply"].startswith(f"Returns policy: {policy['article']['summary']}")
    assert "- An exchange for a different size or colour, free of charge" in top["customer_reply"]


def test_suggestions_and_articles_offer_copy_link_and_copy_for_reply(client):
    page = parse(client.post("/suggest", data={"text": EXCHANGE_MESSAGE}))
    api = client.post("/api/v1/suggest", json={"text": EXCHANGE_MESSAGE, "limit": 3}).get_json()
    share = page.one("article", "suggestion-top").one("div", "share-actions")
    link, reply = share.select("button", "copy-button")
    assert link.attrs["data-copy"] == "http://localhost" + api["suggestions"][0]["article"]["url"]
    assert reply.attrs["data-copy-kind"] == "reply"
    assert reply.attrs["data-copy"] == api["suggestions"][0]["customer_reply"]
    article = parse(client.get("/articles/returns/returns-policy"))
    kinds = [b.attrs["data-copy-kind"] for b in article.one("div", "share-actions").select("button")]
    assert kinds == ["link", "reply"]
