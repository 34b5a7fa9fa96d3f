"""Reports (API, page, `kb report`), gap clustering and `kb prune`, over a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from datetime import date, timedelta

import pytest
import requests
from click.testing import CliRunner

from kbserver.access import tokens
from kbserver.cli import main
from kbserver.store import gaps, reports
from kbserver.store.db import connect, to_ts, utc_now
from kbserver.store.feedback import FeedbackRecord, insert_feedback
from kbserver.store.querylog import QueryRecord, insert_query

from conftest import sql_rows

pytestmark = pytest.mark.store

CRYPTO = [
    "can I pay with crypto",
    "do you accept bitcoin",
    "is cryptocurrency accepted as payment",
    "pay using ethereum?",
    "Hi, I'm <email>. Can customers pay in bitcoin or other crypto? Thanks",
]
SPACE = ["do you deliver to the moon", "shipping to mars", "can you ship to space"]


@pytest.fixture
def db(app):
    connection = connect(app.config["DATABASE"])
    yield connection
    connection.close()


def ago(days: float) -> str:
    return to_ts(utc_now() - timedelta(days=days))


def log_query(db, text: str, results: list[tuple[str, float]] = (), *, kind: str = "suggest",
              no_match: bool = True, days: float = 1) -> str:
    request_id = uuid.uuid4().hex
    insert_query(db, QueryRecord(
        request_id, ago(days), kind, "hybrid", text,
        json.dumps([{"id": a, "score": s} for a, s in results]), no_match, "test",
    ))
    return request_id


def give_feedback(db, article_id: str, owner: str, outcome: str, *, request_id: str | None = None,
                  comment: str | None = None, days: float = 1) -> int:
    return insert_feedback(
        db, FeedbackRecord(ago(days), article_id, owner, outcome, request_id, comment, "test")
    )


@pytest.fixture
def seeded(db):
    """Refund policy: 2 searches, 1 suggestion, 4 feedback (2 FCR, 1 helpful, 1 escalated);
    start-a-return: 1 not helpful; plus a 60-day-old feedback outside the 30-day window."""
    log_query(db, "refund time", [("returns/refund-policy", 0.7), ("returns/returns-policy", 0.5)], kind="search", no_match=False)
    log_query(db, "refund rules", [("returns/refund-policy", 0.6)], kind="search", no_match=False)
    rid = log_query(db, "when do I get my money", [("returns/refund-policy", 0.65)], no_match=False)
    for outcome in ("resolved_first_contact", "resolved_first_contact", "helpful", "escalated"):
        give_feedback(db, "returns/refund-policy", "Returns team", outcome, request_id=rid)
    give_feedback(db, "returns/start-a-return", "Returns team", "not_helpful", comment="steps out of date")
    give_feedback(db, "returns/refund-policy", "Returns team", "escalated", days=60)
    return db


# ---------------------------------------------------------------------------- articles and teams


def test_articles_report_counts_impressions_suggestions_and_rates(client, seeded):
    response = client.get("/api/v1/reports/articles", query_string={"team": "Returns team"})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["team"], body["window"]) == ("Returns team", "30d")
    rows = {r["id"]: r for r in body["articles"]}
    assert set(rows) == {"returns/refund-policy", "returns/returns-policy", "returns/start-a-return",
                         "returns/wrong-size-exchange"}
    refund = rows["returns/refund-policy"]
    assert (refund["impressions"], refund["suggestions"], refund["feedback"], refund["escalated"]) == (2, 1, 4, 1)
    assert refund["views"] == 0  # listed in results, never opened
    assert (refund["helpful_rate"], refund["fcr_rate"]) == (0.75, 0.5)
    assert rows["returns/returns-policy"]["impressions"] == 1
    assert rows["returns/returns-policy"]["fcr_rate"] is None
    assert body["articles"][0]["id"] == "returns/refund-policy"  # most feedback first


def test_articles_report_window_includes_older_feedback_when_widened(client, seeded):
    rows = client.get("/api/v1/reports/articles", query_string={"since": "90d"}).get_json()["articles"]
    refund = next(r for r in rows if r["id"] == "returns/refund-policy")
    assert (refund["feedback"], refund["escalated"]) == (5, 2)


def test_teams_report_has_fcr_open_feedback_per_team(client, seeded):
    teams = {t["team"]: t for t in client.get("/api/v1/reports/teams").get_json()["teams"]}
    assert set(teams) == {"Accounts team", "Delivery team", "Payments team", "Returns team"}
    returns = teams["Returns team"]
    assert (returns["articles"], returns["feedback"], returns["resolved_first_contact"]) == (4, 5, 2)
    assert returns["fcr_rate"] == 0.4
    assert returns["open_feedback"] == 2  # one escalated + one not helpful inside 30 days
    assert teams["Delivery team"]["fcr_rate"] is None and teams["Delivery team"]["open_feedback"] == 0


def test_teams_report_lists_articles_past_review_by(seeded):
    # tests/data review_by dates are in 2027; report as if it were 1 March 2027.
    articles = _data_articles()
    teams = {t.team: t for t in reports.team_report(seeded, articles, ago(30), today=date(2027, 3, 1))}
    assert [s["id"] for s in teams["Delivery team"].stale_articles] == ["delivery/delivery-policy"]
    assert [s["id"] for s in teams["Payments team"].stale_articles] == ["products/gift-cards"]
    assert teams["Returns team"].stale_articles == ()


def _data_articles():
    from indexer.parse import parse_article

    from conftest import DATA_ARTICLES

    articles = {}
    for path in sorted(DATA_ARTICLES.rglob("*.md")):
        article, _ = parse_article(path, DATA_ARTICLES, today=date(2026, 1, 1))
        articles[article.id] = article
    return articles


def test_reports_hide_internal_articles_from_a_token_without_internal_scope(app, client, seeded):
    _, secret = tokens.create(seeded, "reporter", "reports")
    body = client.get("/api/v1/reports/articles", headers={"Authorization": f"Bearer {secret}"}).get_json()
    ids = {r["id"] for r in body["articles"]}
    assert "returns/refund-policy" in ids
    assert "returns/wrong-size-exchange" not in ids and "account/data-privacy-policy" not in ids


@pytest.mark.parametrize("path", ["/api/v1/reports/articles", "/api/v1/reports/teams", "/api/v1/reports/gaps"])
@pytest.mark.parametrize("since", ["30", "30y", "-1d", "100000d", "30d\n"])
def test_reports_reject_a_bad_window_with_400(client, path, since):
    response = client.get(path, query_string={"since": since})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_since"


@pytest.mark.parametrize("path", ["/api/v1/reports/articles", "/api/v1/reports/teams", "/api/v1/reports/gaps"])
def test_reports_reject_a_team_that_owns_no_visible_article_with_400(app, client, path):
    db = connect(app.config["DATABASE"])
    _, public = tokens.create(db, "reporter", "reports")
    db.close()
    # Accounts team owns only internal articles: to a public caller it does not exist.
    for team, headers in (("Nobody", {}), ("Accounts team", {"Authorization": f"Bearer {public}"})):
        response = client.get(path, query_string={"team": team}, headers=headers)
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "invalid_team"


# ---------------------------------------------------------------------------- gaps


def test_gaps_cluster_phrasings_of_one_question(live_server, db):
    for text in [*CRYPTO, "do you accept bitcoin", *SPACE]:
        log_query(db, text, [("payments/payment-verification-policy", 0.3)])
    log_query(db, "my parcel never arrived", [("delivery/where-is-my-order", 0.35)])
    response = requests.get(f"{live_server.url}/api/v1/reports/gaps", timeout=120)
    assert response.status_code == 200
    gaps = response.json()["gaps"]
    assert [g["count"] for g in gaps] == [6, 3, 1]
    crypto, space, parcel = gaps
    assert crypto["examples"][0] == "do you accept bitcoin"  # asked twice: the most common phrasing leads
    assert set(crypto["examples"]) == set(CRYPTO)
    assert set(space["examples"]) == set(SPACE)
    assert crypto["no_confident_match"] == 6 and crypto["not_helpful"] == 0
    # No confident match: given against no article, so no team's, whatever the weak top result was.
    assert crypto["closest_article"]["id"] == "payments/payment-verification-policy"
    assert (crypto["article"], crypto["team"], crypto["routed_to"]) == (None, None, "unassigned")
    assert (parcel["team"], parcel["routed_to"]) == (None, "unassigned")


def test_not_helpful_answer_is_a_gap_routed_to_the_article_owner(client, db):
    rid = log_query(db, "how do I exchange a gift card for cash", [("products/gift-cards", 0.7)], no_match=False)
    log_query(db, "refund time", [("returns/refund-policy", 0.7)], no_match=False)  # confident, no feedback
    give_feedback(db, "products/gift-cards", "Payments team", "not_helpful", request_id=rid)
    gaps = client.get("/api/v1/reports/gaps", query_string={"team": "Payments team"}).get_json()["gaps"]
    assert gaps == [
        {
            "count": 1,
            "examples": ["how do I exchange a gift card for cash"],
            "no_confident_match": 0,
            "not_helpful": 1,
            "article": {"id": "products/gift-cards", "title": "Larkspur gift cards"},
            "closest_article": {"id": "products/gift-cards", "title": "Larkspur gift cards"},
            "team": "Payments team",
            "routed_to": "Payments team",
            "last_seen": gaps[0]["last_seen"],
        }
    ]
    assert client.get("/api/v1/reports/gaps", query_string={"team": "Returns team"}).get_json()["gaps"] == []


def test_team_unassigned_keeps_the_gaps_routed_to_no_team(client, db):
    rid = log_query(db, "how do I exchange a gift card for cash", [("products/gift-cards", 0.7)], no_match=False)
    give_feedback(db, "products/gift-cards", "Payments team", "not_helpful", request_id=rid)
    log_query(db, "what are your store opening hours", [("payments/payment-declined", 0.2)], no_match=True)
    everything = client.get("/api/v1/reports/gaps").get_json()["gaps"]
    assert sorted(g["routed_to"] for g in everything) == ["Payments team", "unassigned"]
    answer = client.get("/api/v1/reports/gaps", query_string={"team": "unassigned"})
    assert answer.status_code == 200 and answer.get_json()["team"] == "unassigned"
    [gap] = answer.get_json()["gaps"]
    assert gap["examples"] == ["what are your store opening hours"] and gap["team"] is None
    # Only the gap report knows the unassigned pile; the other reports still want a real owner.
    assert client.get("/api/v1/reports/teams", query_string={"team": "unassigned"}).status_code == 400


def test_cluster_vectors_groups_by_mean_cosine_threshold():
    import numpy as np

    vectors = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0.95, 0.05], [0, 0, 1]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert gaps.cluster_vectors(vectors, 0.9) == [[0, 1], [2, 3], [4]]
    assert gaps.cluster_vectors(vectors, -1.0) == [[0, 1, 2, 3, 4]]


# ---------------------------------------------------------------------------- the page


def test_reports_page_shows_teams_chart_articles_and_gaps(client, seeded):
    log_query(seeded, "do you accept bitcoin", [("products/gift-cards", 0.2)])
    response = client.get("/reports", query_string={"team": "Returns team"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<svg" in page and 'role="img"' in page
    assert re.search(r'<rect x="190" y="0" width="136" height="22" fill="#2e6b4f"/>', page)  # 40% of 340
    assert "Refund policy" in page and "steps out of date" in page
    # No inline script or style: the page runs under CSP default-src 'self'.
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert "style=" not in page and "<style" not in page
    assert "do you accept bitcoin" in client.get("/reports").get_data(as_text=True)


def test_reports_page_needs_reports_scope(kb_index, tmp_path):
    from conftest import make_app

    app = make_app(kb_index, tmp_path, ANONYMOUS_SCOPES="search,suggest")
    refused = app.test_client().get("/reports")  # anonymous: sign in first (a signed-in agent gets 403)
    assert refused.status_code == 302 and refused.headers["Location"] == "/signin?next=/reports"


@pytest.mark.parametrize("args, echoed", [({"since": "forever"}, "forever"), ({"team": "Nobody"}, "Nobody")])
def test_reports_page_rejects_a_bad_window_or_team(client, args, echoed):
    response = client.get("/reports", query_string=args)
    assert response.status_code == 400
    assert echoed in response.get_data(as_text=True)


# ---------------------------------------------------------------------------- kb report and kb prune


def kb(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.parametrize("fmt", ["md", "csv", "json"])
def test_kb_report_prints_the_team_report(app, kb_index, seeded, fmt):
    result = kb("report", "--team", "Returns team", "--since", "30d", "--format", fmt,
                "--database", app.config["DATABASE"], "--index", str(kb_index))
    assert result.exit_code == 0, result.output
    if fmt == "md":
        assert result.stdout.startswith("# kb report: Returns team\n")
        assert "| Returns team | 4 | 0 | 3 | 1 | 5 | 40% | 2 | 0 | none |" in result.stdout
        assert "| returns/refund-policy | Returns team | 0 | 2 | 1 | 4 | 75% | 50% | 1 | 2027-03-31 |" in result.stdout
        assert 'returns/start-a-return: not helpful "steps out of date"' in result.stdout
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        refund = next(r for r in rows if r["id"] == "returns/refund-policy")
        assert (refund["fcr_rate"], refund["helpful_rate"], refund["owner"]) == ("0.5", "0.75", "Returns team")
        assert {r["owner"] for r in rows} == {"Returns team"}
    else:
        body = json.loads(result.stdout)
        assert body["team"] == "Returns team"
        assert [t["team"] for t in body["teams"]] == ["Returns team"]
        assert body["open_feedback"][0]["comment"] == "steps out of date"


def test_kb_report_unknown_team_exits_1_naming_the_teams(app, kb_index, db):
    result = kb("report", "--team", "Nobody", "--database", app.config["DATABASE"], "--index", str(kb_index))
    assert result.exit_code == 1
    assert "no articles are owned by 'Nobody'; teams: Accounts team, Delivery team" in result.stderr


def test_kb_prune_deletes_only_rows_older_than_the_window(app, db, tmp_path, backend):
    log_query(db, "old question about <order>", days=120)
    log_query(db, "recent question", days=2)
    give_feedback(db, "returns/refund-policy", "Returns team", "helpful", comment="old comment", days=100)
    give_feedback(db, "returns/refund-policy", "Returns team", "helpful", days=5)
    from kbserver.store.sessions import StoredSession, insert_session

    for key, expires in (("gone", "2020-01-01T00:00:00.000000Z"), ("live", "2999-01-01T00:00:00.000000Z")):
        insert_session(db, key, StoredSession("a@x", "A", "agent", "browser", "2020-01-01", "2020-01-01", expires, None))
    result = kb("prune", "--older-than", "90d", "--database", app.config["DATABASE"])
    assert result.exit_code == 0
    assert result.stdout.startswith("deleted 1 logged queries, 1 feedback and 0 article views from before ")
    assert result.stdout.strip().endswith(", and 1 expired sign-in sessions")
    assert sql_rows(app.config["DATABASE"], "SELECT hash FROM sessions") == [{"hash": "live"}]
    assert sql_rows(app.config["DATABASE"], "SELECT text FROM query_log") == [{"text": "recent question"}]
    assert sql_rows(app.config["DATABASE"], "SELECT COUNT(*) AS n FROM feedback") == [{"n": 1}]
    db.close()
    if backend == "sqlite":  # secure_delete: the bytes are gone too (PostgreSQL's vacuum reclaims them later)
        on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
        assert b"old question" not in on_disk and b"old comment" not in on_disk


def test_kb_prune_rejects_a_bad_window(app):
    result = kb("prune", "--older-than", "soon", "--database", app.config["DATABASE"])
    assert result.exit_code == 2
    assert "'soon' is not a window" in result.stderr


# ---------------------------------------------------------------------------- views and click-through


def test_opening_an_article_counts_a_view_and_a_click_through(client, db):
    shown = client.get("/api/v1/search", query_string={"q": "refund policy"}).get_json()
    assert shown["results"], "the search must show results"
    opened = shown["results"][0]["article"]["id"]
    client.get("/api/v1/search", query_string={"q": "exchange a size"})  # shown, never opened
    assert client.get(f"/articles/{opened}", query_string={"rid": shown["request_id"]}).status_code == 200
    assert client.get(f"/api/v1/articles/{opened}").status_code == 200  # an API fetch, typed: a view, no click
    rows = {r["id"]: r for r in client.get("/api/v1/reports/articles").get_json()["articles"]}
    assert rows[opened]["views"] == 2
    assert rows[opened]["impressions"] >= 1
    trends = client.get("/api/v1/reports/trends", query_string={"weeks": "2"}).get_json()
    search = next(c for c in trends["click_through"] if c["kind"] == "search")
    assert (search["answers_with_results"], search["opened"], search["rate"]) == (2, 1, 0.5)
    assert trends["trends"][-1]["views"] == 2 and trends["trends"][-1]["searches"] == 2
    stored = sql_rows(client.application.config["DATABASE"], "SELECT kind, from_request_id FROM article_views ORDER BY id")
    assert stored == [{"kind": "page", "from_request_id": shown["request_id"]}, {"kind": "api", "from_request_id": None}]


def test_api_article_fetch_from_a_result_counts_as_click_through(client):
    shown = client.post("/api/v1/suggest", json={"text": "my boots are too small, can I swap them"}).get_json()
    opened = shown["suggestions"][0]["article"]["id"]
    assert client.get(f"/api/v1/articles/{opened}", query_string={"from": shown["request_id"]}).status_code == 200
    clicks = client.get("/api/v1/reports/trends").get_json()["click_through"]
    assert next(c for c in clicks if c["kind"] == "suggest")["opened"] == 1


@pytest.mark.parametrize("value", ["nope", "A" * 32, "0" * 31, "<script>"])
def test_api_article_refuses_a_malformed_from_with_400(client, value):
    response = client.get("/api/v1/articles/returns/refund-policy", query_string={"from": value})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_from"


# ---------------------------------------------------------------------------- trends and no results


def test_trends_count_each_week_oldest_first(client, db):
    log_query(db, "refund time", [("returns/refund-policy", 0.7)], kind="search", no_match=False, days=1)
    log_query(db, "store hours", [], kind="search", no_match=True, days=8)
    log_query(db, "weather on mars", [], kind="suggest", no_match=True, days=9)
    give_feedback(db, "returns/refund-policy", "Returns team", "helpful", days=2)
    give_feedback(db, "returns/refund-policy", "Returns team", "not_helpful", days=2)
    body = client.get("/api/v1/reports/trends", query_string={"weeks": "3"}).get_json()
    weeks = [(w["searches"], w["suggests"], w["no_match"], w["feedback"], w["helpful_rate"]) for w in body["trends"]]
    assert weeks == [(0, 0, 0, 0, None), (1, 1, 2, 0, None), (1, 0, 0, 2, 0.5)]
    assert body["weeks"] == 3 and body["trends"][0]["start"] == body["since"]


@pytest.mark.parametrize("weeks", ["0", "53", "x", "1.5"])
def test_trends_refuse_a_bad_weeks_with_400(client, weeks):
    response = client.get("/api/v1/reports/trends", query_string={"weeks": weeks})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_weeks"


def test_no_result_searches_are_grouped_most_frequent_first(client, db):
    for text in ("Store hours", "store hours ", "store hours"):
        log_query(db, text, [], kind="search")
    log_query(db, "do you sell boats", [("products/gift-cards", 0.2)], kind="suggest", no_match=True)
    log_query(db, "refund time", [("returns/refund-policy", 0.7)], kind="search", no_match=False)
    rows = client.get("/api/v1/reports/no-results").get_json()["no_results"]
    assert [(r["text"], r["count"], r["searches"], r["suggests"]) for r in rows] == [
        ("store hours", 3, 3, 0), ("do you sell boats", 1, 0, 1),
    ]


def test_no_result_searches_hide_internal_callers_text_from_public_readers(app, client, db):
    insert_query(db, QueryRecord(uuid.uuid4().hex, ago(1), "search", "hybrid", "internal words", "[]", True, "x",
                                 audience="internal"))
    _, secret = tokens.create(db, "reader", "reports")
    public = client.get("/api/v1/reports/no-results", headers={"Authorization": f"Bearer {secret}"}).get_json()
    assert public["no_results"] == []
    assert [r["text"] for r in client.get("/api/v1/reports/no-results").get_json()["no_results"]] == ["internal words"]


# ---------------------------------------------------------------------------- handled


def test_a_lead_marks_open_feedback_handled_and_it_stays_countable(app, client, seeded):
    open_items = client.get("/api/v1/reports/feedback", query_string={"team": "Returns team"}).get_json()["feedback"]
    target = next(f for f in open_items if f["article_id"] == "returns/start-a-return")
    _, secret = tokens.create(seeded, "returns-lead", "reports")
    response = client.post(f"/api/v1/reports/feedback/{target['id']}/handled", json={"note": "call 07700 900123 back"},
                           headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["id"], body["handled_by"], body["handled_note"]) == (target["id"], "returns-lead", "call <phone> back")
    after = client.get("/api/v1/reports/feedback", query_string={"team": "Returns team"}).get_json()["feedback"]
    assert target["id"] not in [f["id"] for f in after]
    team = client.get("/api/v1/reports/teams", query_string={"team": "Returns team"}).get_json()["teams"][0]
    assert (team["open_feedback"], team["handled_feedback"]) == (1, 1)
    stored = sql_rows(app.config["DATABASE"], "SELECT handled_by, handled_note FROM feedback WHERE id = :id", id=target["id"])
    assert stored == [{"handled_by": "returns-lead", "handled_note": "call <phone> back"}]


def test_marking_feedback_handled_twice_is_409_and_keeps_the_first_mark(client, seeded):
    target = client.get("/api/v1/reports/feedback").get_json()["feedback"][0]["id"]
    assert client.post(f"/api/v1/reports/feedback/{target}/handled").status_code == 200
    again = client.post(f"/api/v1/reports/feedback/{target}/handled", json={"note": "me too"})
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "already_handled"


def test_handled_is_404_for_unknown_helpful_or_invisible_feedback(app, client, seeded):
    helpful = give_feedback(seeded, "returns/refund-policy", "Returns team", "helpful")
    internal = give_feedback(seeded, "returns/wrong-size-exchange", "Returns team", "not_helpful")
    _, secret = tokens.create(seeded, "public-lead", "reports")
    for feedback_id, headers in ((999999, {}), (helpful, {}), (internal, {"Authorization": f"Bearer {secret}"})):
        response = client.post(f"/api/v1/reports/feedback/{feedback_id}/handled", headers=headers)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "feedback_not_found"
    assert sql_rows(app.config["DATABASE"], "SELECT COUNT(*) AS n FROM feedback WHERE handled_ts IS NOT NULL") == [{"n": 0}]


def test_handled_needs_the_reports_scope(app, client, seeded):
    _, secret = tokens.create(seeded, "agent", "search,feedback")
    target = client.get("/api/v1/reports/feedback").get_json()["feedback"][0]["id"]
    response = client.post(f"/api/v1/reports/feedback/{target}/handled", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 403


# ---------------------------------------------------------------------------- the page, again


def test_reports_page_is_linked_from_the_navigation_for_readers_only(client, kb_index, tmp_path):
    from conftest import make_app

    page = client.get("/").get_data(as_text=True)
    assert re.search(r'<a href="/reports">Reports</a>', page)
    assert 'href="/reports" aria-current="page"' in client.get("/reports").get_data(as_text=True)
    agents = make_app(kb_index, tmp_path, ANONYMOUS_SCOPES="search,suggest").test_client()
    assert 'href="/reports"' not in agents.get("/").get_data(as_text=True)


def test_reports_page_shows_trends_no_results_and_routed_gaps(client, seeded):
    log_query(seeded, "what time does the leeds store open", [("products/gift-cards", 0.2)], kind="search")
    page = client.get("/reports").get_data(as_text=True)
    assert 'class="report-table"' in page and "Week by week" in page and "<polyline" in page
    assert "Last week against the week before" in page
    assert "Searches that found nothing" in page and "what time does the leeds store open" in page
    assert re.search(r'<h3 class="gap-team">Unassigned', page)
    assert "nearest article (weak match)" in page
    assert 'data-handle-button data-feedback-id="' in page


def test_handled_is_404_for_an_id_past_the_integer_column(client):
    # Found by schemathesis: an id past 2**31 - 1 overflowed PostgreSQL's integer (a 500).
    response = client.post(f"/api/v1/reports/feedback/{2**31}/handled")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "feedback_not_found"
