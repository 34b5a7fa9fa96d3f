"""The agents' web page: server-rendered search, article and suggest views.

Every view calls the same functions as the JSON API (`service.run_search`, `service.run_suggest`,
`service.get_article_or_404`, `service.article_payload`), so the page is never a second
implementation of search and sees exactly what the caller's scopes allow. The page works
without JavaScript; `static/kb.js` only adds search-as-you-type, keyboard navigation, the
copy button and the feedback controls on top.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

import nh3
from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from indexer.article import CONVENTIONAL_SECTIONS, TYPES, bullet_items
from indexer.chunking import plain_text
from kbserver import service
from kbserver.access.auth import current_caller, require
from kbserver.errors import ApiError
from kbserver.retrieval.reader import AudienceView
from kbserver.store.feedback import OUTCOMES
from kbserver.web import languages

bp = Blueprint("web", __name__)

SEARCH_LIMIT = 20
SUGGEST_LIMIT = 3
# Sections shown apart from the body, in this order, so an agent sees them at a glance.
CALLOUT_KEYS = ("exceptions", "what_you_can_offer", "escalation", "follow_up")
# What the agent reads on the feedback controls, for the three outcomes the page offers; the
# outcomes themselves, and their order, are OUTCOMES.
FEEDBACK_LABELS = {
    "helpful": "Helpful",
    "not_helpful": "Not helpful",
    "resolved_first_contact": "Resolved on first contact",
}
FEEDBACK_OUTCOMES = tuple((o, FEEDBACK_LABELS[o]) for o in OUTCOMES if o in FEEDBACK_LABELS)
ERROR_TITLES = {
    400: "That request did not make sense",
    401: "Sign-in needed",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed here",
    413: "That was too long",
    429: "Too many requests",
    503: "The knowledge base is not ready",
}


def today() -> dt.date:
    """Today's date (a function so tests can move the clock for the stale badge)."""
    return dt.date.today()


# ---------------------------------------------------------------------------- template helpers


@bp.app_template_filter("snippet")
def snippet_filter(html: str) -> Markup:
    """A search snippet as markup: only the <mark> highlights survive, everything else is text."""
    return Markup(nh3.clean(html or "", tags={"mark"}, attributes={"mark": {"class"}}))


@bp.app_template_filter("plain")
def plain_filter(markdown: str) -> str:
    """Markdown reduced to text (for step lines, checklist items and the copied steps)."""
    return plain_text(markdown or "")


@bp.app_template_filter("nice_date")
def nice_date_filter(value: str | None) -> str:
    """`2026-09-14` -> `14 Sep 2026`; anything unparsable is shown as it is."""
    try:
        return dt.date.fromisoformat(str(value)).strftime("%-d %b %Y")
    except ValueError:
        return str(value or "")


def is_stale(review_by: str | None, on: dt.date | None = None) -> bool:
    """True when the article's review-by date has passed."""
    if not review_by:
        return False
    try:
        return dt.date.fromisoformat(str(review_by)) < (on or today())
    except ValueError:
        return False


def steps_as_text(steps: list[dict[str, Any]]) -> str:
    """The steps as plain text for the clipboard: `1. text` lines with indented details."""
    lines = []
    for step in steps:
        lines.append(f"{step['n']}. {plain_text(step['text'])}")
        lines.extend(f"   - {plain_text(d)}" for d in step["details"])
    return "\n".join(lines)


@bp.app_template_filter("absolute_url")
def absolute_url_filter(path: str) -> str:
    """`/articles/x` as the full URL an agent can paste into a ticket (this request's scheme and host)."""
    return request.host_url.rstrip("/") + path


@bp.app_template_global()
def article_href(url: str, q: str = "", request_id: str | None = None) -> str:
    """An article link that remembers the search it came from (for "back to results" and feedback)."""
    params = {k: v for k, v in (("q", q), ("rid", request_id)) if v}
    return f"{url}?{urlencode(params)}" if params else url


@bp.app_template_global()
def text_attrs(lang: str | None) -> Markup:
    """` lang="fa" dir="rtl"` for article text in `lang` (kbserver.web.languages)."""
    return languages.text_attrs(lang)


@bp.app_template_global()
def language_notice(answer: dict[str, Any]) -> dict[str, str] | None:
    """The line above a suggest answer when the message's language differs or is not covered."""
    return languages.language_notice(answer)


@bp.app_context_processor
def _page_globals() -> dict[str, Any]:
    return {
        # The direction and names tables kb.js renders answers with (the server's own).
        "lang_data": languages.page_language_data(),
        # The feedback controls appear only in an app that registers the feedback endpoint.
        "feedback_enabled": "api.feedback" in current_app.view_functions,
        "feedback_outcomes": FEEDBACK_OUTCOMES,
        "types": TYPES,
        # The helpdesk origins the page takes a ticket from by postMessage (CORS_ORIGINS, checked at start).
        "embed_origins": current_app.extensions.get("kb_cors_origins", ()),
        # The Reports link only for a caller who may open it; the caller as this request resolved
        # it (an error page for a refused token has none, and must not ask again).
        "show_reports_link": "reports" in getattr(g.get("kb_caller"), "scopes", ()),
        "show_admin_link": "admin" in getattr(g.get("kb_caller"), "scopes", ()),
        # Who is signed in (a person, not a token), for the header's name and "Sign out".
        "signed_in": g.get("kb_caller") if getattr(g.get("kb_caller"), "is_person", False) else None,
        "sign_in_offered": bool(current_app.config.get("OIDC_ISSUER")),
    }


# ---------------------------------------------------------------------------- errors


@bp.errorhandler(HTTPException)
def _error_page(exc: HTTPException):
    return sign_in_redirect(exc) or _render_error(exc.code or 500, exc.description)


def sign_in_redirect(exc: HTTPException) -> Any:
    """For a page an anonymous browser may not see: the sign-in page, coming back here after (or None)."""
    if getattr(exc, "error_code", None) != "sign_in_required" or request.method != "GET":
        return None
    return redirect(url_for("signin.signin", next=request.full_path.rstrip("?")))


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    current_app.logger.exception("unhandled error on the web page")
    return _render_error(500, None)


def is_framed() -> bool:
    """Whether the browser is loading this page inside a frame (a helpdesk's side panel)."""
    return request.headers.get("Sec-Fetch-Dest") in ("iframe", "frame")


def _render_error(status: int, message: str | None):
    title = ERROR_TITLES.get(status, "Something went wrong")
    return render_template("error.html", status=status, title=title, message=message), status


# ---------------------------------------------------------------------------- views


def _tags(view: AudienceView) -> list[str]:
    """Every tag of the articles this caller may see (so filters never name an internal tag)."""
    seen: dict[str, str] = {}
    for article in view.articles.values():
        for tag in article.tags:
            seen.setdefault(tag.lower(), tag)
    return [seen[k] for k in sorted(seen)]


def _request_id(value: str | None) -> str | None:
    return value if value and service.REQUEST_ID_RE.match(value) else None


def _search_page():
    require("search")
    q = request.args.get("q", "")
    filters = {"type": request.args.get("type", ""), "tag": request.args.get("tag", "")}
    result, error, status = None, None, 200
    if q.strip():
        try:
            result = service.run_search({"q": q, **filters, "limit": SEARCH_LIMIT}).to_json()
        except ApiError as exc:
            if exc.code != 400:
                raise
            error, status = exc.description, 400
    did_you_mean_url = None
    if result and result["did_you_mean"]:
        kept: dict[str, Any] = {k: v for k, v in filters.items() if v}
        did_you_mean_url = url_for("web.search", q=result["did_you_mean"], **kept)
    page = render_template(
        "search.html",
        q=q,
        filters=filters,
        tags=_tags(service.current_view()),
        result=result,
        error=error,
        did_you_mean_url=did_you_mean_url,
    )
    return page, status


@bp.get("/")
def index():
    """Home: the search box, and the results when `?q=` is given."""
    return _search_page()


@bp.get("/search")
def search():
    """Server-rendered search results (the same page as `/?q=`)."""
    return _search_page()


@bp.get("/articles/<path:article_id>")
def article(article_id: str):
    """One whole article. Unknown, malformed and (for public callers) internal ids are all 404."""
    require("search")
    view = service.current_view()
    try:
        found = service.get_article_or_404(view, article_id)
    except ApiError:
        # A malformed id is a page that does not exist, like an unknown or forbidden one.
        abort(404, description=f"There is no article '{article_id}'.")
    request_id = _request_id(request.args.get("rid"))
    service.record_article_view(found, "page", request_id)
    payload = service.article_payload(view, found)
    sections = {s["key"]: s for s in payload["sections"]}
    follow_up = sections.get("follow_up")
    return render_template(
        "article.html",
        article=found,
        payload=payload,
        body_sections=[s for s in payload["sections"] if s["key"] not in CALLOUT_KEYS],
        callouts=[sections[k] for k in CALLOUT_KEYS if k in sections],
        follow_up_items=bullet_items(follow_up["text"]) if follow_up else [],
        steps_text=steps_as_text(payload["steps"]),
        is_stale=is_stale(found.review_by),
        q=request.args.get("q", ""),
        request_id=request_id,
    )


CHANGE_WINDOWS = (("1d", "Yesterday"), ("7d", "Last 7 days"), ("14d", "Last 2 weeks"), ("30d", "Last 30 days"))


@bp.get("/changes")
def changes():
    """Articles changed recently, from git history: the agents' weekly briefing."""
    require("search")
    try:
        since, moment = service.changes_since_param(request.args)
    except ApiError as exc:
        return render_template("changes.html", since=request.args.get("since", ""), windows=CHANGE_WINDOWS,
                               result=None, error=exc.description), 400
    result = service.changes_since(service.current_view(), moment)
    return render_template("changes.html", since=since, windows=CHANGE_WINDOWS, result=result, error=None)


@bp.route("/suggest", methods=["GET", "POST"])
def suggest():
    """Paste a customer's message, get the procedure (a plain form post; kb.js upgrades it).

    `GET /suggest?text=...&ticket_id=...` is the same suggestion for a helpdesk link or side
    panel: pre-filled, run on the server, validated and logged exactly like the POST (once per
    load). A blank or absent `text` shows the empty form.

    Opened as a helpdesk's side panel (in a frame) by a browser without a sign-in that lets it
    suggest, it is the empty panel, which signs in through a pop-up or takes a session from the
    helpdesk (docs/auth.md) and then asks the API: the frame holds no answer until then."""
    if request.method == "GET" and is_framed() and "suggest" not in current_caller().scopes:
        return render_template("suggest.html", text=request.args.get("text", "")[:100_000], ticket_id="",
                               result=None, error=None, rendered={}, steps_texts={},
                               section_names=CONVENTIONAL_SECTIONS, needs_sign_in=True)
    require("suggest")
    form = request.form if request.method == "POST" else request.args
    text = form.get("text", "")
    result, error, status = None, None, 200
    ticket_id = None
    try:
        ticket_id = service.ticket_id_param(form.get("ticket_id"))
    except ApiError as exc:
        error, status = exc.description, 400
    if error is None and (request.method == "POST" or not service.is_blank(text)):
        try:
            result = service.run_suggest({"text": text, "limit": SUGGEST_LIMIT}).to_json()
        except ApiError as exc:
            if exc.code != 400:
                raise
            error, status = exc.description, 400
    rendered: dict[str, dict[str, str]] = {}
    steps_texts: dict[str, str] = {}
    if result and result["suggestions"]:
        # The sanitised HTML of each suggestion's sections and of its policies, from the same
        # audience view the suggestion came from (a choice shows every suggestion in full).
        view = service.current_view()
        for s in result["suggestions"]:
            for article_id in (s["article"]["id"], *(p["id"] for p in s["policies"])):
                if article_id not in rendered:
                    rendered[article_id] = view.rendered(article_id)
            steps_texts[s["article"]["id"]] = steps_as_text(s["steps"])
    return (
        render_template(
            "suggest.html",
            text=text,
            ticket_id=ticket_id or "",
            result=result,
            error=error,
            rendered=rendered,
            steps_texts=steps_texts,
            section_names=CONVENTIONAL_SECTIONS,
        ),
        status,
    )
