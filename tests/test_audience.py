"""Audience: a public caller never sees an internal article's id, title or text, on any path (issue 9).

The index is tests/data/articles with a canary word planted in every field of each internal
article (title, summary, alias, tag, intro, a section of its own, step 1), one public
procedure naming an internal policy, and one article (`FLIPPED`) published as public first
and made internal by an incremental rebuild, as an author would. Every probe sends what
should reach internal content (its symptoms, its words, its canary, a misspelling of a word
only it uses) through one path, as a public caller (`KB_ANONYMOUS_SCOPES=search,suggest,
feedback`), and scans every response body for the internal articles' ids, titles, owner,
canaries and sentences. The same probe sent with the `internal` scope must find them, so no
probe passes by never reaching internal content.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from indexer.chunking import plain_text
from indexer.lint import lint_articles
from kbserver.access import tokens
from kbserver.retrieval.reader import open_snapshot
from kbserver.store.db import connect

from conftest import DATA_ARTICLES, build_into, make_app, sql_rows

PUBLIC_SCOPES = "search,suggest,feedback"
# One made-up word per internal article: it exists nowhere else, so finding it anywhere is a leak.
CANARIES = {
    "account/data-privacy-policy": "quillfeather",
    "account/suspected-account-takeover": "marrowgrange",
    "payments/payment-verification-policy": "thistlewick",
    "returns/wrong-size-exchange": "bramblecourt",
}
FLIPPED = "returns/wrong-size-exchange"  # public in the first build, internal in the second
NAMES_INTERNAL_POLICY = "returns/start-a-return"  # a public procedure whose `policies:` names an internal one
INTERNAL_POLICY = "payments/payment-verification-policy"

TAKEOVER = "Someone got into my account, changed my password and placed orders I didn't make"
PRIVACY = "I want a copy of all the personal data you hold about me, and then delete it"
EXCHANGE = "The walking boots are too small, can I swap them for a bigger size?"
VERIFY = "Why do you need to ask me security questions before we talk about my payment?"
# The canaries themselves, as someone who heard them would type them.
CANARY_WORDS = " ".join(CANARIES.values())
# Policies the query points at strongly are attached to a suggestion even when it does not name them.
STRONG_POLICY = "Caller asking about a refund on their wife's account"
QUERIES = (TAKEOVER, PRIVACY, EXCHANGE, VERIFY, CANARY_WORDS, STRONG_POLICY)
# Misspellings of words only internal articles use; the second belongs to the flipped article.
MISSPELLED = ("quilfeather", "bramblecort")


# ---------------------------------------------------------------------------- the corpus


def plant_canary(source: str, canary: str) -> str:
    """`source` with `canary` in its title, summary, aliases, tags, intro, a section and step 1."""
    head, front, body = source.split("---\n", 2)
    lines = []
    for line in front.splitlines():
        if line.startswith("title: "):
            line += f" ({canary.title()})"
        elif line.startswith("summary: "):
            line += f" Ask the {canary} desk."
        elif line.startswith("tags: ["):
            line = line.replace("]", f", {canary}]")
        elif line == "aliases:":
            line += f"\n  - ask the {canary} desk"
        lines.append(line)
    body = re.sub(r"^1\. (.*)$", rf"1. \1 Note it for the {canary} desk.", body, count=1, flags=re.MULTILINE)
    body = f"Only the {canary} desk reads this article in full.\n\n{body.lstrip()}"
    body += f"\n\n## {canary.title()} notes\n\nThe {canary} desk keeps its own ledger of these cases.\n"
    return f"{head}---\n" + "\n".join(lines) + f"\n---\n{body}"


def set_front_matter(path: Path, key: str, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert f"\n{key}: {old}\n" in text, (path, key, old)
    path.write_text(text.replace(f"\n{key}: {old}\n", f"\n{key}: {new}\n", 1), encoding="utf-8")


@pytest.fixture(scope="module")
def audience_corpus(kb_index, onnx_model, tmp_path_factory) -> tuple[Path, Path]:
    """(index root, articles folder): the canary corpus, published twice like an author would."""
    tmp = tmp_path_factory.mktemp("audience")
    articles = tmp / "articles"
    shutil.copytree(DATA_ARTICLES, articles)
    root = tmp / "index"
    shutil.copytree(kb_index, root)  # so both builds below are incremental, as in production
    for article_id, canary in CANARIES.items():
        path = articles / f"{article_id}.md"
        path.write_text(plant_canary(path.read_text(encoding="utf-8"), canary), encoding="utf-8")
    set_front_matter(
        articles / f"{NAMES_INTERNAL_POLICY}.md",
        "policies",
        "[returns/returns-policy, returns/refund-policy]",
        f"[returns/returns-policy, returns/refund-policy, {INTERNAL_POLICY}]",
    )
    set_front_matter(articles / f"{FLIPPED}.md", "audience", "internal", "public")
    # In git, like the authors' folder, so /changes has each article's history to leak or not.
    commit(tmp, "Plant the canaries", init=True)
    build_into(articles, root, onnx_model)
    set_front_matter(articles / f"{FLIPPED}.md", "audience", "public", "internal")
    commit(tmp, "Make the exchange article internal")
    build_into(articles, root, onnx_model)
    return root, articles


def commit(repo: Path, subject: str, *, init: bool = False) -> None:
    env = {"GIT_AUTHOR_NAME": "Ann Author", "GIT_AUTHOR_EMAIL": "ann@example.com", "GIT_COMMITTER_NAME": "Ann Author",
           "GIT_COMMITTER_EMAIL": "ann@example.com", "HOME": str(repo), "PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1"}
    for args in ([["init", "-q", "-b", "main"]] if init else []) + [["add", "-A"], ["commit", "-qm", subject]]:
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


# ---------------------------------------------------------------------------- what must not leak


def normalise(text: str) -> str:
    """Text as a reader sees it: tags dropped, entities decoded, Markdown emphasis gone, spaces folded."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return " ".join(re.sub(r"[*_`]", "", text).split()).lower()


@dataclass(frozen=True)
class Secrets:
    """Normalised strings that only internal articles contain."""

    phrases: frozenset[str]

    def found_in(self, text: str) -> list[str]:
        seen = normalise(text)
        return sorted(p for p in self.phrases if p in seen)


@pytest.fixture(scope="module")
def secrets(audience_corpus) -> Secrets:
    """Each internal article's id, title, canary and every sentence no public article also has."""
    _, articles = audience_corpus
    lint = lint_articles(articles, base=articles)
    internal = [a for a in lint.articles if not a.is_public]
    public = [a for a in lint.articles if a.is_public]
    assert sorted(a.id for a in internal) == sorted(CANARIES)
    # What public articles show (not their front matter's references, which must be dropped).
    public_text = normalise(
        " ".join(
            " ".join([a.title, a.summary, a.owner, *a.aliases, *a.tags, a.intro, *(s.markdown for s in a.sections)])
            for a in public
        )
    )
    phrases = set(CANARIES.values()) | {normalise(a.id) for a in internal} | {normalise(a.title) for a in internal}
    phrases |= {normalise(a.owner) for a in internal} - {normalise(a.owner) for a in public}
    for article in internal:
        text = plain_text("\n\n".join([article.summary, article.intro, *(s.markdown for s in article.sections)]))
        phrases |= {normalise(s) for s in re.split(r"(?<=[.!?:;])\s+", text) if len(s) >= 30}
    # A sentence a public article also contains is not a secret (start-a-return names the exchange).
    return Secrets(frozenset(p for p in phrases if p not in public_text))


# ---------------------------------------------------------------------------- callers and probes


@pytest.fixture(scope="module")
def audience_app(audience_corpus, tmp_path_factory):
    root, _ = audience_corpus
    return make_app(root, tmp_path_factory.mktemp("audience-db"), ANONYMOUS_SCOPES=PUBLIC_SCOPES)


def new_token(app, name: str, scopes: str) -> str:
    db = connect(app.config["DATABASE"])
    try:
        return tokens.create(db, name, scopes)[1]
    finally:
        db.close()


@pytest.fixture(scope="module")
def internal_headers(audience_app) -> dict[str, str]:
    secret = new_token(audience_app, "internal-agent", "search,suggest,feedback,reports,internal")
    return {"Authorization": f"Bearer {secret}"}


@dataclass(frozen=True)
class Exchange:
    """One response and the texts its request carried (echoing those back is not a leak)."""

    status: int
    body: str
    sent: tuple[str, ...]

    def visible_text(self) -> str:
        """The body without the request's own texts, however the page encoded them."""
        body = self.body
        for text in sorted(self.sent, key=len, reverse=True):
            for form in (text, html.escape(text), html.escape(text, quote=False), quote_plus(text), quote(text)):
                body = body.replace(form, " ")
        return body


def body_text(response) -> str:
    """Every string of a JSON body, one per line; an HTML page as it is."""
    if response.is_json:
        strings: list[str] = []

        def walk(value) -> None:
            if isinstance(value, str):
                strings.append(value)
            elif isinstance(value, dict):
                for key, item in value.items():
                    walk(key)
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

        walk(response.get_json())
        return "\n".join(strings)
    return response.get_data(as_text=True)


Send = Callable[[object, dict], list[Exchange]]


def get(path: str, params: dict | None = None) -> Send:
    def send(client, headers) -> list[Exchange]:
        response = client.get(path, query_string=params or {}, headers=headers)
        sent = tuple(str(v) for k, v in (params or {}).items() if k in ("q", "tag"))  # what pages echo
        if "/articles/" in path:
            sent += (path.split("/articles/", 1)[1],)
        return [Exchange(response.status_code, body_text(response), sent)]

    return send


def each(*sends: Send) -> Send:
    return lambda client, headers: [e for send in sends for e in send(client, headers)]


def api_search(mode: str, **filters: str) -> Send:
    return each(*(get("/api/v1/search", {"q": q, "mode": mode, "limit": 50, **filters}) for q in QUERIES))


def api_suggest(client, headers) -> list[Exchange]:
    out = []
    for text in QUERIES:
        response = client.post("/api/v1/suggest", json={"text": text, "limit": 10}, headers=headers)
        out.append(Exchange(response.status_code, body_text(response), (text,)))
    return out


def api_feedback(client, headers) -> list[Exchange]:
    out = []
    for article_id in CANARIES:
        body = {"article_id": article_id, "outcome": "not_helpful", "comment": "did not help"}
        response = client.post("/api/v1/feedback", json=body, headers=headers)
        out.append(Exchange(response.status_code, body_text(response), (article_id,)))
    return out


def web_suggest(client, headers) -> list[Exchange]:
    out = []
    for text in QUERIES:
        response = client.post("/suggest", data={"text": text}, headers=headers)
        out.append(Exchange(response.status_code, body_text(response), (text,)))
    return out


PUBLIC_IDS = (
    "delivery/delivery-policy",
    "delivery/where-is-my-order",
    "products/gift-cards",
    "returns/refund-policy",
    "returns/returns-policy",
    "returns/start-a-return",
)

PROBES: dict[str, Send] = {
    **{f"api-search-{mode}": api_search(mode) for mode in ("hybrid", "keyword", "semantic")},
    "api-search-type-policy": api_search("hybrid", type="policy"),
    "api-search-type-procedure": api_search("keyword", type="procedure"),
    "api-search-canary-tag": each(*(get("/api/v1/search", {"q": "help", "tag": c}) for c in CANARIES.values())),
    "api-search-internal-tag": get("/api/v1/search", {"q": "hacked account", "tag": "account takeover"}),
    "api-did-you-mean": each(*(get("/api/v1/search", {"q": f"{word} desk", "mode": m}) for word in MISSPELLED for m in ("hybrid", "keyword"))),
    "api-suggest": api_suggest,
    "api-public-articles-links": each(*(get(f"/api/v1/articles/{a}") for a in PUBLIC_IDS)),
    "api-internal-article": each(*(get(f"/api/v1/articles/{a}") for a in CANARIES)),
    "api-feedback-internal": api_feedback,
    "web-home-filters": get("/"),
    "web-home-search": each(*(get("/", {"q": q}) for q in QUERIES)),
    "web-search-filters": each(
        *(get("/search", {"q": q, "type": t}) for q in QUERIES for t in ("policy", "procedure")),
        *(get("/search", {"q": "help", "tag": c}) for c in CANARIES.values()),
    ),
    "web-did-you-mean": each(*(get("/search", {"q": f"{word} desk"}) for word in MISSPELLED)),
    "web-suggest": web_suggest,
    "web-public-articles-links": each(*(get(f"/articles/{a}") for a in PUBLIC_IDS)),
    "web-internal-article": each(*(get(f"/articles/{a}") for a in CANARIES)),
    "api-changes": each(get("/api/v1/changes", {"since": "3650d"}), get("/api/v1/changes", {"since": "2000-01-01"})),
    "web-changes": get("/changes", {"since": "3650d"}),
}


# ---------------------------------------------------------------------------- tests


@pytest.mark.parametrize("probe", list(PROBES))
def test_public_caller_never_sees_an_internal_article(audience_app, secrets, probe):
    exchanges = PROBES[probe](audience_app.test_client(), {})

    assert exchanges
    for exchange in exchanges:
        assert exchange.status in (200, 404), (exchange.status, exchange.body[:300])
        assert secrets.found_in(exchange.visible_text()) == [], exchange.body[:300]


@pytest.mark.parametrize("probe", list(PROBES))
def test_same_probe_reaches_internal_articles_with_the_internal_scope(audience_app, internal_headers, secrets, probe):
    exchanges = PROBES[probe](audience_app.test_client(), internal_headers)

    found = {s for exchange in exchanges for s in secrets.found_in(exchange.visible_text())}
    assert found, f"{probe} never reached internal content, so its public run proves nothing"


def test_secrets_cover_every_internal_article(secrets):
    for article_id, canary in CANARIES.items():
        assert {article_id, canary} <= secrets.phrases
    assert "accounts team" in secrets.phrases  # owns only internal articles
    assert len(secrets.phrases) > 100


@pytest.mark.parametrize(
    "prefix, missing_status",
    [("/api/v1/articles/", 404), ("/articles/", 404)],
    ids=["api", "web"],
)
@pytest.mark.parametrize("article_id", list(CANARIES))
def test_internal_article_is_the_same_404_as_a_missing_one(audience_app, prefix, missing_status, article_id):
    client = audience_app.test_client()
    missing_id = "returns/no-such-article"
    internal = client.get(prefix + article_id)
    missing = client.get(prefix + missing_id)

    assert internal.status_code == missing.status_code == missing_status
    assert internal.headers["Content-Type"] == missing.headers["Content-Type"]
    assert internal.get_data(as_text=True).replace(article_id, "<id>") == missing.get_data(as_text=True).replace(
        missing_id, "<id>"
    )


@pytest.mark.parametrize("article_id", list(CANARIES))
def test_feedback_on_an_internal_article_is_404_and_stores_nothing(audience_app, article_id):
    client = audience_app.test_client()
    count = "SELECT count(*) AS n FROM feedback WHERE article_id = :article_id"
    before = sql_rows(audience_app.config["DATABASE"], count, article_id=article_id)
    response = client.post("/api/v1/feedback", json={"article_id": article_id, "outcome": "helpful"})
    missing = client.post("/api/v1/feedback", json={"article_id": "returns/nope", "outcome": "helpful"})
    after = sql_rows(audience_app.config["DATABASE"], count, article_id=article_id)

    assert response.status_code == missing.status_code == 404
    assert response.get_json()["error"]["code"] == missing.get_json()["error"]["code"] == "article_not_found"
    assert after == before


@pytest.mark.parametrize("word, canary", [("quilfeather", "quillfeather"), ("bramblecort", "bramblecourt")])
def test_did_you_mean_offers_an_internal_word_only_to_internal_callers(audience_app, internal_headers, word, canary):
    client = audience_app.test_client()
    public = client.get("/api/v1/search", query_string={"q": f"{word} desk"}).get_json()
    internal = client.get("/api/v1/search", query_string={"q": f"{word} desk"}, headers=internal_headers).get_json()

    assert canary in (internal["did_you_mean"] or "")
    assert canary not in (public["did_you_mean"] or "")


@pytest.mark.parametrize("word, canary", [("quilfeather", "quillfeather"), ("bramblecort", "bramblecourt")])
def test_typos_are_corrected_towards_an_internal_word_only_for_internal_callers(audience_corpus, word, canary):
    root, _ = audience_corpus
    snapshot = open_snapshot(root)

    assert snapshot.view(allow_internal=True).fix_typos(f"my {word} desk") == f"my {canary} desk"
    assert snapshot.view(allow_internal=False).fix_typos(f"my {word} desk") == f"my {word} desk"


def test_named_internal_policy_is_dropped_from_a_public_suggestion(audience_app, internal_headers):
    client = audience_app.test_client()
    text = "I want to send back a jacket I don't want any more"
    public = client.post("/api/v1/suggest", json={"text": text, "limit": 1}).get_json()["suggestions"][0]
    internal = client.post("/api/v1/suggest", json={"text": text, "limit": 1}, headers=internal_headers).get_json()

    assert public["article"]["id"] == NAMES_INTERNAL_POLICY
    assert INTERNAL_POLICY in [p["id"] for p in internal["suggestions"][0]["policies"]]
    assert [p["id"] for p in public["policies"]] == ["returns/returns-policy", "returns/refund-policy"]
    assert [r["id"] for r in public["related"]] == []


def test_strongly_related_internal_policy_is_attached_only_for_internal_callers(audience_app, internal_headers):
    client = audience_app.test_client()
    internal = client.post("/api/v1/suggest", json={"text": STRONG_POLICY, "limit": 3}, headers=internal_headers)
    public = client.post("/api/v1/suggest", json={"text": STRONG_POLICY, "limit": 3})

    def attached(body) -> set[str]:
        return {p["id"] for s in body["suggestions"] for p in s["policies"]} - {s["article"]["id"] for s in body["suggestions"]}

    # With the internal scope the verification policy rides along unnamed (the "strong" path) ...
    unnamed = {
        p["id"]
        for s in internal.get_json()["suggestions"]
        for p in s["policies"]
        if p["id"] in CANARIES and s["article"]["id"] != NAMES_INTERNAL_POLICY
    }
    assert unnamed
    # ... and for a public caller no internal article is attached by any path.
    assert not attached(public.get_json()) & set(CANARIES)


# ---------------------------------------------------------------------------- reports


@pytest.fixture
def reports_app(audience_corpus, tmp_path):
    """A fresh database with internal agents' searches, suggestions and feedback about internal articles."""
    root, _ = audience_corpus
    app = make_app(root, tmp_path, ANONYMOUS_SCOPES=PUBLIC_SCOPES)
    internal = {"Authorization": "Bearer " + new_token(app, "internal-agent", "search,suggest,feedback,reports,internal")}
    client = app.test_client()
    for text in (TAKEOVER, PRIVACY, EXCHANGE, VERIFY):
        assert client.get("/api/v1/search", query_string={"q": text}, headers=internal).status_code == 200
        assert client.post("/api/v1/suggest", json={"text": text}, headers=internal).status_code == 200
    for article_id in CANARIES:
        body = {"article_id": article_id, "outcome": "not_helpful", "comment": "the steps are out of date"}
        assert client.post("/api/v1/feedback", json=body, headers=internal).status_code == 201
    return app


REPORT_PATHS = ("/reports", "/api/v1/reports/articles", "/api/v1/reports/teams", "/api/v1/reports/gaps",
                "/api/v1/reports/feedback", "/api/v1/reports/no-results", "/api/v1/reports/trends")


def test_reports_without_internal_scope_show_no_internal_article(reports_app, secrets):
    client = reports_app.test_client()
    reader = {"Authorization": "Bearer " + new_token(reports_app, "team-lead", "search,reports")}
    internal = {"Authorization": "Bearer " + new_token(reports_app, "kb-owner", "search,reports,internal")}

    for path in REPORT_PATHS:
        public = client.get(path, headers=reader)
        assert public.status_code == 200, path
        assert secrets.found_in(body_text(public)) == [], path
    assert any(secrets.found_in(body_text(client.get(path, headers=internal))) for path in REPORT_PATHS)
    assert client.get("/api/v1/reports/teams", query_string={"team": "Accounts team"}, headers=reader).status_code == 400


def test_reports_are_refused_to_the_public_scopes(reports_app):
    client = reports_app.test_client()
    for path in REPORT_PATHS:
        # Anonymous: the API asks for a sign-in or a token (401); the page sends to the sign-in page.
        assert client.get(path).status_code == (302 if path == "/reports" else 401), path


def test_gap_report_hides_an_internal_agents_message_from_readers_without_internal(reports_app):
    """Issue 21's reproduction: an agent with `internal` asks about an internal article and marks it
    not helpful; a `reports` reader without `internal` must not see the message, anywhere."""
    client = reports_app.test_client()
    internal_agent = {"Authorization": "Bearer " + new_token(reports_app, "desk-agent", "suggest,feedback,internal")}
    message = "The zanderquill customer says someone changed the password on the account and ordered things"
    answer = client.post("/api/v1/suggest", json={"text": message}, headers=internal_agent).get_json()
    feedback = {"article_id": "account/suspected-account-takeover", "outcome": "not_helpful",
                "request_id": answer["request_id"], "comment": "zanderquill: the takeover steps are out of date"}
    assert client.post("/api/v1/feedback", json=feedback, headers=internal_agent).status_code == 201
    # A public caller's unanswered question is still a gap every reader sees (the control).
    public_question = "Do you sell zanderquill garden furniture?"
    assert client.post("/api/v1/suggest", json={"text": public_question}).status_code == 200
    reader = {"Authorization": "Bearer " + new_token(reports_app, "team-lead-2", "reports")}
    owner = {"Authorization": "Bearer " + new_token(reports_app, "kb-owner-2", "reports,internal")}

    for path in ("/api/v1/reports/gaps", "/reports"):
        public = client.get(path, headers=reader).get_data(as_text=True)
        internal = client.get(path, headers=owner).get_data(as_text=True)
        assert "zanderquill customer" not in public and "takeover steps" not in public, path
        assert "zanderquill customer" in html.unescape(internal), path
        assert "zanderquill garden furniture" in html.unescape(public), path
    public = client.get("/api/v1/reports/feedback", headers=reader).get_data(as_text=True)
    internal = client.get("/api/v1/reports/feedback", headers=owner).get_data(as_text=True)
    assert "takeover steps" not in public and "suspected-account-takeover" not in public
    assert "takeover steps" in internal


def test_no_result_searches_hide_internal_text_from_readers_without_internal(reports_app):
    client = reports_app.test_client()
    internal_agent = {"Authorization": "Bearer " + new_token(reports_app, "desk-agent", "search,internal")}
    assert client.get("/api/v1/search", query_string={"q": "zanderquill quokka"}, headers=internal_agent).status_code == 200
    reader = {"Authorization": "Bearer " + new_token(reports_app, "team-lead", "reports")}
    owner = {"Authorization": "Bearer " + new_token(reports_app, "kb-owner", "reports,internal")}
    for path in ("/api/v1/reports/no-results", "/reports"):
        assert "zanderquill" not in client.get(path, headers=reader).get_data(as_text=True), path
        assert "zanderquill" in client.get(path, headers=owner).get_data(as_text=True), path


def test_trends_count_no_internal_callers_for_readers_without_internal(reports_app):
    client = reports_app.test_client()
    internal_agent = {"Authorization": "Bearer " + new_token(reports_app, "desk-agent", "search,internal")}
    client.get("/api/v1/search", query_string={"q": "refund"}, headers=internal_agent)
    client.get("/articles/account/suspected-account-takeover", headers=internal_agent)
    reader = {"Authorization": "Bearer " + new_token(reports_app, "team-lead", "reports")}
    owner = {"Authorization": "Bearer " + new_token(reports_app, "kb-owner", "reports,internal")}
    public = client.get("/api/v1/reports/trends", headers=reader).get_json()["trends"][-1]
    internal = client.get("/api/v1/reports/trends", headers=owner).get_json()["trends"][-1]
    assert (public["searches"], public["views"]) == (0, 0)
    assert (internal["searches"], internal["views"]) == (5, 1)  # the fixture's four internal searches, and this one


def test_handled_is_404_for_an_internal_article_without_internal(reports_app):
    client = reports_app.test_client()
    internal_agent = {"Authorization": "Bearer " + new_token(reports_app, "desk-agent", "feedback,internal")}
    given = client.post("/api/v1/feedback", json={"article_id": "account/suspected-account-takeover",
                                                   "outcome": "not_helpful"}, headers=internal_agent).get_json()
    reader = {"Authorization": "Bearer " + new_token(reports_app, "team-lead", "reports")}
    owner = {"Authorization": "Bearer " + new_token(reports_app, "kb-owner", "reports,internal")}
    refused = client.post(f"/api/v1/reports/feedback/{given['id']}/handled", headers=reader)
    assert refused.status_code == 404 and "suspected-account-takeover" not in refused.get_data(as_text=True)
    assert client.post(f"/api/v1/reports/feedback/{given['id']}/handled", headers=owner).status_code == 200


def test_healthz_counts_only_the_articles_the_caller_may_see(audience_app, internal_headers, secrets):
    client = audience_app.test_client()
    public = client.get("/healthz").get_json()
    internal = client.get("/healthz", headers=internal_headers).get_json()
    bad_token = client.get("/healthz", headers={"Authorization": "Bearer kb_nope"})

    assert public["articles"] == len(PUBLIC_IDS) < internal["articles"] == len(PUBLIC_IDS) + len(CANARIES)
    assert bad_token.status_code == 200 and bad_token.get_json()["articles"] == len(PUBLIC_IDS)


def test_openapi_examples_name_no_internal_article(audience_app, secrets):
    from indexer.parse import parse_text
    from kbserver.api.openapi import EXAMPLE_ARTICLE

    from conftest import SAMPLE_ARTICLES

    document = audience_app.test_client().get("/api/v1/openapi.json").get_data(as_text=True)
    internal = []
    for folder in (SAMPLE_ARTICLES, DATA_ARTICLES):
        for path in folder.rglob("*.md"):
            article_id = path.relative_to(folder).with_suffix("").as_posix()
            article, _ = parse_text(path.read_text(encoding="utf-8"), article_id, str(path))
            if article is not None and not article.is_public:
                internal += [article.id, article.title]
    assert len(internal) > 40
    assert [name for name in internal if name in document] == []
    assert secrets.found_in(document) == []
    assert EXAMPLE_ARTICLE["id"] in document


# ---------------------------------------------------------------------------- every route has an audience check

# Each route of the app, and how the tests above check its audience: the probes that send
# public callers through it, or why it holds no article content. A route added without an
# entry here fails `test_every_route_has_an_audience_check`.
ROUTE_CHECKS: dict[str, tuple[str, ...] | str] = {
    "/static/<path:filename>": "the page's own files: no article content",
    "/healthz": "test_healthz_counts_only_the_articles_the_caller_may_see",
    "/api/v1/openapi.json": "test_openapi_examples_name_no_internal_article",
    "/api/v1/search": ("api-search-hybrid", "api-search-keyword", "api-search-semantic", "api-search-type-policy",
                       "api-search-type-procedure", "api-search-canary-tag", "api-search-internal-tag", "api-did-you-mean"),
    "/api/v1/suggest": ("api-suggest",),
    "/api/v1/articles/<path:article_id>": ("api-public-articles-links", "api-internal-article"),
    "/api/v1/feedback": ("api-feedback-internal",),
    "/api/v1/changes": ("api-changes",),
    "/api/v1/reports/articles": "test_reports_without_internal_scope_show_no_internal_article",
    "/api/v1/reports/teams": "test_reports_without_internal_scope_show_no_internal_article",
    "/api/v1/reports/gaps": "test_gap_report_hides_an_internal_agents_message_from_readers_without_internal",
    "/api/v1/reports/feedback": "test_gap_report_hides_an_internal_agents_message_from_readers_without_internal",
    "/api/v1/reports/no-results": "test_no_result_searches_hide_internal_text_from_readers_without_internal",
    "/api/v1/reports/trends": "test_trends_count_no_internal_callers_for_readers_without_internal",
    "/api/v1/reports/agents": "test_every_route_answers_each_kind_of_caller_as_its_role_allows",
    "/api/v1/reports/feedback/<int:feedback_id>/handled": "test_handled_is_404_for_an_internal_article_without_internal",
    "/": ("web-home-filters", "web-home-search"),
    "/search": ("web-search-filters", "web-did-you-mean"),
    "/suggest": ("web-suggest",),
    "/articles/<path:article_id>": ("web-public-articles-links", "web-internal-article"),
    "/changes": ("web-changes",),
    "/reports": "test_gap_report_hides_an_internal_agents_message_from_readers_without_internal",
    # Issue 29: signing in. These show who the caller is and never an article (tests/test_auth.py).
    "/signin": "test_every_route_answers_each_kind_of_caller_as_its_role_allows",
    "/signin/start": "test_every_route_answers_each_kind_of_caller_as_its_role_allows",
    "/signin/callback": "test_every_route_answers_each_kind_of_caller_as_its_role_allows",
    "/signin/panel": "test_every_route_answers_each_kind_of_caller_as_its_role_allows",
    "/signout": "test_every_route_answers_each_kind_of_caller_as_its_role_allows",
    "/api/v1/me": "test_every_route_answers_each_kind_of_caller_as_its_role_allows",
    "/api/v1/sessions": "test_every_route_answers_each_kind_of_caller_as_its_role_allows",
    "/admin": "test_every_route_answers_each_kind_of_caller_as_its_role_allows",
    "/admin/tokens": "test_every_route_answers_each_kind_of_caller_as_its_role_allows",
    "/admin/tokens/<name>/revoke": "test_every_route_answers_each_kind_of_caller_as_its_role_allows",
    "/admin/people/sign-out": "test_every_route_answers_each_kind_of_caller_as_its_role_allows",
}


AUTH_TESTS = {"test_every_route_answers_each_kind_of_caller_as_its_role_allows"}  # in tests/test_auth.py


def test_every_route_has_an_audience_check(audience_app):
    routes = {rule.rule for rule in audience_app.url_map.iter_rules()}

    assert routes - set(ROUTE_CHECKS) == set(), "a route without an audience check: add probes and list it here"
    assert set(ROUTE_CHECKS) - routes == set(), "a listed route no longer exists"
    for route, check in ROUTE_CHECKS.items():
        if isinstance(check, tuple):
            assert set(check) <= set(PROBES), route
        elif check.startswith("test_"):
            assert check in globals() or check in AUTH_TESTS, route
