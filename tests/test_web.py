"""The agents' web page over plain HTTP: what works without JavaScript, what it never shows,
and the headers it runs under. The browser behaviour is in test_web_browser.py."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from markupsafe import escape

from kbserver.access.headers import content_security_policy
from kbserver.web import pages as web

from conftest import make_app

INTERNAL_ID = "returns/wrong-size-exchange"
EXCHANGE_MESSAGE = "Hi, the walking boots I ordered are too small. Can I swap them for a bigger size? Thanks, Sam"
OFF_TOPIC_MESSAGE = "What will the weather be like on Mars tomorrow afternoon?"
CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'self'"
)


# ---------------------------------------------------------------------------- a tiny DOM


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag = tag
        self.attrs = attrs
        self.children: list[Node | str] = []

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return re.sub(r"\s+", " ", "".join(parts)).strip()

    def iter(self):
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.iter()

    def select(self, tag: str | None = None, cls: str | None = None, **attrs: str | bool) -> list[Node]:
        """Descendants matching a tag, a class and attributes (True: the attribute is present)."""
        found = []
        for node in self.iter():
            if tag and node.tag != tag:
                continue
            if cls and cls not in node.classes:
                continue
            wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
            if all((k in node.attrs) if v is True else node.attrs.get(k) == v for k, v in wanted.items()):
                found.append(node)
        return found

    def one(self, tag: str | None = None, cls: str | None = None, **attrs: str | bool) -> Node:
        found = self.select(tag, cls, **attrs)
        assert len(found) == 1, f"expected one <{tag or '*'} class={cls} {attrs}>, found {len(found)}"
        return found[0]


class _TreeBuilder(HTMLParser):
    VOID = frozenset(
        {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, dict(attrs)))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(response) -> Node:
    builder = _TreeBuilder()
    builder.feed(response.get_data(as_text=True))
    return builder.root


def result_ids(page: Node) -> list[str]:
    return [a.attrs["href"].split("?")[0].removeprefix("/articles/") for a in page.select("a", "result-link")]


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture
def public_client(kb_index, tmp_path):
    """A caller without the `internal` scope."""
    return make_app(kb_index, tmp_path, ANONYMOUS_SCOPES="search,suggest,feedback").test_client()


# ---------------------------------------------------------------------------- search


@pytest.mark.parametrize("path", ["/", "/search"])
def test_search_without_js_lists_the_api_results_as_article_links(client, path):
    response = client.get(path, query_string={"q": "refund"})
    api = client.get("/api/v1/search", query_string={"q": "refund", "limit": web.SEARCH_LIMIT}).get_json()
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = parse(response)
    assert result_ids(page) == [r["article"]["id"] for r in api["results"]]
    assert result_ids(page)[0] == "returns/refund-policy"
    assert page.one(id="result-status").text() == f"{len(api['results'])} results for “refund”"


def test_result_links_open_the_article_and_remember_the_search(client):
    page = parse(client.get("/", query_string={"q": "refund"}))
    href = page.select("a", "result-link")[0].attrs["href"]
    assert re.fullmatch(r"/articles/returns/refund-policy\?q=refund&rid=[0-9a-f]{32}", href)
    article = parse(client.get(href))
    assert article.one("h1").text() == "Refund policy"
    assert article.one("p", "back").one("a").attrs["href"] == "/search?q=refund"


def test_home_without_query_focuses_an_empty_search_box(client):
    page = parse(client.get("/"))
    box = page.one("input", id="q")
    assert box.attrs["type"] == "search" and box.attrs["name"] == "q"
    assert "autofocus" in box.attrs
    assert box.attrs["value"] == ""
    assert page.select("a", "result-link") == []
    assert page.one(cls="empty-state")


def test_query_text_is_escaped_in_the_page(client):
    payload = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    response = client.get("/", query_string={"q": payload})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<script>alert(1)" not in body
    assert "<img src=x" not in body
    assert str(escape(payload)) in body
    assert parse(response).one("input", id="q").attrs["value"] == payload


def test_snippet_keeps_only_highlight_marks(client):
    page = parse(client.get("/", query_string={"q": "refund"}))
    snippet_tags = {n.tag for s in page.select("p", "snippet") for n in s.iter()}
    assert snippet_tags == {"mark"}


def test_did_you_mean_links_to_the_corrected_search(client):
    page = parse(client.get("/", query_string={"q": "refnd", "type": "policy"}))
    link = page.one("p", "did-you-mean").one("a")
    assert link.text() == "refund"
    assert link.attrs["href"] == "/search?q=refund&type=policy"


def test_type_filter_keeps_only_that_type(client):
    page = parse(client.get("/", query_string={"q": "refund", "type": "procedure"}))
    types = [m.one("span", "badge").text() for m in page.select("p", "result-meta")]
    assert types and set(types) == {"procedure"}
    assert "selected" in page.one("option", value="procedure").attrs


def test_tag_filter_lists_tags_and_filters_results(client):
    page = parse(client.get("/", query_string={"q": "refund", "tag": "exchange"}))
    assert result_ids(page) == [INTERNAL_ID]
    assert "selected" in page.one("option", value="exchange").attrs


def test_invalid_filter_is_a_400_page_naming_the_problem(client):
    response = client.get("/", query_string={"q": "refund", "type": "recipe"})
    assert response.status_code == 400
    assert "'type' must be one of: policy, product, procedure" in parse(response).one(role="alert").text()


# ---------------------------------------------------------------------------- article


def test_article_shows_steps_in_order_with_their_details(client):
    page = parse(client.get(f"/articles/{INTERNAL_ID}"))
    steps = page.one("section", id="section-steps").one("ol")
    items = [li for li in steps.children if isinstance(li, Node) and li.tag == "li"]
    assert len(items) == 8
    assert items[0].text().startswith("Confirm the order number, the item, the size they have")
    assert "final sale" in items[0].one("ul").text()
    assert items[7].text().startswith("Log the exchange reference")


def test_article_shows_front_matter_and_sets_apart_the_callouts(client):
    page = parse(client.get(f"/articles/{INTERNAL_ID}"))
    facts = {d.one("dt").text(): d.one("dd").text() for d in page.one("dl", "facts").select("div")}
    assert facts["Owner"] == "Returns team"
    assert facts["Updated"] == "14 Sep 2026"
    assert facts["Review by"] == "30 Apr 2027"
    assert page.one("span", "badge-procedure").text() == "procedure"
    assert page.one("span", "badge-internal").text() == "Internal only"
    aside = page.one("aside", "article-aside")
    callouts = [s.attrs["id"] for s in aside.select("section", "callout")]
    assert callouts == ["section-exceptions", "section-what_you_can_offer", "section-escalation", "section-follow_up"]
    assert page.select(cls="badge-stale") == []


def test_article_links_its_policies_and_related_articles(client):
    page = parse(client.get(f"/articles/{INTERNAL_ID}"))
    policies = page.one("section", "linked", aria_labelledby="h-policies").select("a")
    related = page.one("section", "linked", aria_labelledby="h-related").select("a")
    assert [(a.text(), a.attrs["href"]) for a in policies] == [("Returns policy", "/articles/returns/returns-policy")]
    assert [(a.text(), a.attrs["href"]) for a in related] == [("Start a return", "/articles/returns/start-a-return")]


def test_follow_up_is_a_checklist(client):
    page = parse(client.get("/articles/returns/start-a-return"))
    follow_up = page.one("section", id="section-follow_up")
    labels = [label.text() for label in follow_up.select("label")]
    assert labels == [
        "Confirm the customer has received the returns email.",
        'Check the return reference shows as "In transit" after the drop-off date.',
        "Close the case once the refund shows as issued in the Returns portal.",
    ]
    assert len(follow_up.select("input", type="checkbox")) == 3


def test_copy_button_carries_the_steps_as_plain_text(client):
    page = parse(client.get(f"/articles/{INTERNAL_ID}"))
    text = page.one("button", "copy-button", data_copy_kind="steps").attrs["data-copy"]
    lines = text.splitlines()
    assert lines[0] == "1. Confirm the order number, the item, the size they have and the size they need."
    assert lines[1].startswith("   - If they bought in store")
    assert lines[-1].startswith("8. Log the exchange reference")


def test_stale_badge_shows_once_review_date_has_passed(client, monkeypatch):
    monkeypatch.setattr(web, "today", lambda: dt.date(2027, 5, 1))
    page = parse(client.get(f"/articles/{INTERNAL_ID}"))
    assert page.one("span", "badge-stale").text() == "Stale: review overdue"


@pytest.mark.parametrize("article_id", ["nope/nothing", "returns", "..%2Fsecrets", "returns/refund-policy/extra"])
def test_unknown_article_is_an_html_404_page(client, article_id):
    response = client.get(f"/articles/{article_id}")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    page = parse(response)
    assert page.one("h1").text() == "Page not found"
    assert page.one("a", "button").attrs["href"] == "/"


# ---------------------------------------------------------------------------- audience


def test_internal_article_is_hidden_from_search_for_a_public_caller(client, public_client):
    assert INTERNAL_ID in result_ids(parse(client.get("/", query_string={"q": "exchange for a different size"})))
    page = parse(public_client.get("/", query_string={"q": "exchange for a different size"}))
    assert INTERNAL_ID not in result_ids(page)
    assert "exchange" not in [o.attrs["value"] for o in page.select("option")]  # its tag is internal-only


def test_internal_article_page_is_404_for_a_public_caller(public_client):
    response = public_client.get(f"/articles/{INTERNAL_ID}")
    assert response.status_code == 404
    assert "Exchange an item" not in response.get_data(as_text=True)


def test_internal_article_is_never_suggested_to_a_public_caller(client, public_client):
    internal = parse(client.post("/suggest", data={"text": EXCHANGE_MESSAGE}))
    assert internal.one("article", "suggestion-top").attrs["data-article-id"] == INTERNAL_ID
    body = public_client.post("/suggest", data={"text": EXCHANGE_MESSAGE}).get_data(as_text=True)
    assert INTERNAL_ID not in body
    assert "Exchange an item for a different size" not in body


def test_page_needs_the_search_scope(kb_index, tmp_path):
    # Anonymous: the sign-in page, coming back to the same search after (docs/auth.md).
    response = make_app(kb_index, tmp_path, ANONYMOUS_SCOPES="").test_client().get("/", query_string={"q": "x"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/signin?next=/?q%3Dx"


# ---------------------------------------------------------------------------- suggest


def test_suggest_form_works_without_js_and_shows_every_step(client):
    response = client.post("/suggest", data={"text": EXCHANGE_MESSAGE})
    api = client.post("/api/v1/suggest", json={"text": EXCHANGE_MESSAGE, "limit": web.SUGGEST_LIMIT}).get_json()
    assert response.status_code == 200
    page = parse(response)
    top = page.one("article", "suggestion-top")
    assert top.attrs["data-article-id"] == api["suggestions"][0]["article"]["id"] == INTERNAL_ID
    steps = [li for li in top.one("ol", "steps").children if isinstance(li, Node)]
    assert steps[0].text().startswith("Confirm the order number")
    assert len(steps) == len(api["suggestions"][0]["steps"]) == 8
    assert [s.attrs["class"].split()[1] for s in top.select("section", "callout")] == [
        "callout-exceptions",
        "callout-what_you_can_offer",
        "callout-escalation",
        "callout-follow_up",
    ]
    assert [a.text() for a in top.one("section", aria_labelledby="top-policies").select("a")] == ["Returns policy"]
    runner_ups = [li.one("a").attrs["href"].split("?")[0] for li in page.select("li", "runner-up")]
    assert runner_ups == [s["article"]["url"] for s in api["suggestions"][1:]]
    assert page.one("textarea", id="message").text() == EXCHANGE_MESSAGE


def test_no_confident_match_says_what_to_do(client):
    page = parse(client.post("/suggest", data={"text": OFF_TOPIC_MESSAGE}))
    notice = page.one(cls="no-match")
    assert notice.one("h2").text() == "No confident match"
    assert "Search manually" in notice.text()
    assert "report a content gap" in notice.text()
    assert page.select("article", "suggestion-top") == []


def test_a_message_no_encoder_covers_is_said_above_the_answer(client):
    """The ten-article test index is English-only: a Tamil message is not covered (without JS)."""
    tamil = "நான் திருப்பி அனுப்பிய பொருளுக்கு இன்னும் பணம் வரவில்லை, ஆர்டர் எண் LK-4829133"
    page = parse(client.post("/suggest", data={"text": tamil}))
    line = page.one("p", cls="lang-notice")
    assert line.attrs["data-lang-notice"] == "uncovered"
    assert line.text().startswith("This message is in Tamil (Tamil script), which kb's encoders do not cover")
    assert page.one("textarea", id="message").attrs["dir"] == "auto"
    assert page.select(cls="no-match")


def test_an_english_answer_marks_its_article_text_english_left_to_right(client):
    page = parse(client.post("/suggest", data={"text": EXCHANGE_MESSAGE}))
    assert page.select("p", cls="lang-notice") == []
    steps = page.one("article", "suggestion-top").one("ol", cls="steps")
    assert (steps.attrs["lang"], steps.attrs["dir"]) == ("en", "ltr")


def test_empty_message_is_a_400_with_the_reason(client):
    response = client.post("/suggest", data={"text": "   "})
    assert response.status_code == 400
    assert parse(response).one(role="alert").text() == "'text' must not be empty"


def test_suggest_page_starts_with_a_focused_message_box(client):
    page = parse(client.get("/suggest"))
    box = page.one("textarea", id="message")
    assert "autofocus" in box.attrs
    assert page.one("label", **{"for": "message"}).text() == "Customer's message"


# ---------------------------------------------------------------------------- feedback controls


def test_feedback_controls_render_when_the_endpoint_exists(app):
    if "api.feedback" not in app.view_functions:
        app.add_url_rule("/api/v1/feedback", "api.feedback", lambda: ("", 204), methods=["POST"])
    page = parse(app.test_client().get("/articles/returns/start-a-return?rid=" + "a" * 32))
    box = page.one("div", "feedback")
    assert box.attrs["data-article-id"] == "returns/start-a-return"
    assert box.attrs["data-request-id"] == "a" * 32
    assert [b.attrs["data-outcome"] for b in box.select("button")] == [o for o, _ in web.FEEDBACK_OUTCOMES]
    assert page.one("body").attrs["data-feedback-url"] == "/api/v1/feedback"


@pytest.mark.parametrize("outcome", [o for o, _ in web.FEEDBACK_OUTCOMES])
def test_feedback_endpoint_accepts_every_outcome_the_page_sends(client, app, outcome):
    if "api.feedback" not in app.view_functions:
        pytest.skip("this app has no feedback endpoint, so the page shows no controls")
    body = {"article_id": "returns/start-a-return", "outcome": outcome, "request_id": "a" * 32}
    response = client.post("/api/v1/feedback", json=body)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["outcome"] == outcome


def test_feedback_controls_are_absent_without_the_endpoint(app):
    app.view_functions.pop("api.feedback", None)
    page = parse(app.test_client().get("/articles/returns/start-a-return"))
    assert page.select(cls="feedback") == []
    assert page.one("body").attrs["data-feedback-url"] == ""


# ---------------------------------------------------------------------------- CSP and headers


PAGES = [
    ("get", "/", {}),
    ("get", "/?q=refund", {}),
    ("get", f"/articles/{INTERNAL_ID}", {}),
    ("get", "/suggest", {}),
    ("post", "/suggest", {"data": {"text": EXCHANGE_MESSAGE}}),
    ("post", "/suggest", {"data": {"text": OFF_TOPIC_MESSAGE}}),
    ("get", "/articles/nope/nothing", {}),
]


@pytest.mark.parametrize("method, path, kwargs", PAGES)
def test_pages_have_no_inline_script_style_or_handlers(client, method, path, kwargs):
    page = parse(getattr(client, method)(path, **kwargs))
    for node in page.iter():
        assert not (node.tag == "script" and "src" not in node.attrs), "inline <script>"
        assert node.tag != "style", "inline <style>"
        assert "style" not in node.attrs, f"style attribute on <{node.tag}>"
        assert not [a for a in node.attrs if a.startswith("on")], f"event handler on <{node.tag}>"
    scripts = page.select("script")
    assert [s.attrs["src"] for s in scripts] == ["/static/kb.js"]


@pytest.mark.parametrize(
    "path",
    ["/", f"/articles/{INTERNAL_ID}", "/articles/nope", "/api/v1/search?q=refund", "/static/kb.css", "/no-such-page"],
)
def test_every_response_carries_the_security_headers(client, path):
    with client.get(path) as response:  # closes the static file's handle
        headers = response.headers
    assert headers["Content-Security-Policy"] == CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_frame_ancestors_setting_lets_a_helpdesk_embed_the_page(kb_index, tmp_path):
    app = make_app(kb_index, tmp_path, FRAME_ANCESTORS="'self' https://helpdesk.example.com")
    csp = app.test_client().get("/").headers["Content-Security-Policy"]
    assert csp.endswith("; frame-ancestors 'self' https://helpdesk.example.com")


@pytest.mark.parametrize(
    "value", ["'self'; script-src *", "https://a.example, script-src *", "", "'self'\r\nX-Evil: 1"]
)
def test_frame_ancestors_cannot_inject_another_directive(value):
    with pytest.raises(ValueError, match="FRAME_ANCESTORS"):
        content_security_policy(value)


def test_page_is_a_503_html_page_before_any_index_is_published(tmp_path):
    app = make_app(tmp_path / "empty-index", tmp_path)
    response = app.test_client().get("/", query_string={"q": "refund"})
    assert response.status_code == 503
    page = parse(response)
    assert page.one("h1").text() == "The knowledge base is not ready"
    assert str(tmp_path) not in response.get_data(as_text=True)
