"""The JSON API under /api/v1. Views stay thin: parse, authorise, call ranking, log."""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from flask import Blueprint, current_app, jsonify, request, url_for

from kbserver import errors
from kbserver.retrieval import scoring as ranking
from kbserver.auth import current_caller, require
from kbserver.errors import ApiError
from kbserver.openapi import SPEC
from kbserver.feedback import log_query
from kbserver.message import strip_email_cruft
from kbserver.reader import IndexUnavailable
from kbserver.reader_app import get_view, services

bp = Blueprint("api", __name__)
errors.register(bp)

ARTICLE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(?:/[A-Za-z0-9][A-Za-z0-9_-]*)*$")
TYPES = ("policy", "product", "procedure")


def article_url(article_id: str) -> str:
    return url_for("web.article", article_id=article_id)


def _view():
    try:
        return get_view(current_caller().allow_internal)
    except IndexUnavailable as exc:
        raise ApiError(503, "index_unavailable", str(exc)) from exc


def _text_param(value: Any, name: str, *, measure: Callable[[str], str] | None = None) -> str:
    """A required non-empty string of at most MAX_TEXT_CHARS (counted on `measure(value)` when given)."""
    if value is None:
        raise ApiError(400, f"missing_{name}", f"'{name}' is required")
    if not isinstance(value, str):
        raise ApiError(400, f"invalid_{name}", f"'{name}' must be a string")
    if not value.strip():
        raise ApiError(400, f"empty_{name}", f"'{name}' must not be empty")
    max_chars = int(current_app.config["MAX_TEXT_CHARS"])
    if len(value) > max_chars and len(measure(value) if measure else value) > max_chars:
        what = "once quoted replies, signatures and disclaimers are removed" if measure else ""
        raise ApiError(400, f"{name}_too_long", f"'{name}' is longer than {max_chars} characters {what}".rstrip())
    return value


def _limit_param(value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    max_limit = int(current_app.config["MAX_LIMIT"])
    if isinstance(value, bool):
        value = None
    elif isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON has one number type: 3.0 is the integer 3 (as JSON Schema says)
    try:
        limit = int(value) if isinstance(value, (int, str)) else None
    except ValueError:
        limit = None
    if limit is None or not 1 <= limit <= max_limit:
        raise ApiError(400, "invalid_limit", f"'limit' must be an integer from 1 to {max_limit}")
    return limit


def _json_body() -> dict:
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send JSON with Content-Type: application/json")
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "the body must be a JSON object")
    return body


def run_search(args: Any) -> dict[str, Any]:
    """Validate search parameters, rank and log (redacted); shared by the API and the web page.

    `as_you_type=1` marks a keystroke search from the page: ranked the same, but not logged,
    so half-typed words ("refu") never show up in the query log or the content-gap report.
    """
    q = _text_param(args.get("q"), "q")
    mode = args.get("mode") or "hybrid"
    if mode not in ranking.MODES:
        raise ApiError(400, "invalid_mode", f"'mode' must be one of: {', '.join(ranking.MODES)}")
    type_ = args.get("type") or None
    if type_ is not None and type_ not in TYPES:
        raise ApiError(400, "invalid_type", f"'type' must be one of: {', '.join(TYPES)}")
    tag = args.get("tag") or None
    limit = _limit_param(args.get("limit"), 10)
    view = _view()
    as_you_type = args.get("as_you_type") in ("1", "true", 1, True)
    embedder = services().embedder if mode != "keyword" else None
    result = ranking.search(
        view, embedder, q, mode=mode, limit=limit, type_=type_, tag=tag, url_for_article=article_url,
        params=services().params,
    )
    if not as_you_type:
        log_query("search", q, result)
    return result


def run_suggest(body: dict) -> dict[str, Any]:
    """Validate a suggest body, rank and log (redacted); shared by the API and the web page."""
    # A helpdesk sends the whole email: the limit counts the customer's own words, not the
    # quoted thread under them (the body itself stays within MAX_CONTENT_LENGTH).
    text = _text_param(body.get("text"), "text", measure=strip_email_cruft)
    limit = _limit_param(body.get("limit"), 3)
    view = _view()
    result = ranking.suggest(
        view, services().embedder, text, limit=limit, url_for_article=article_url, params=services().params
    )
    log_query("suggest", strip_email_cruft(text), result)  # the question, not the thread it came in
    return result


@bp.get("/search")
def search():
    require("search")
    return jsonify(run_search(request.args))


@bp.post("/suggest")
def suggest():
    require("suggest")
    return jsonify(run_suggest(_json_body()))


def article_payload(view, article) -> dict[str, Any]:
    rendered = view.rendered(article.id)
    policies, related = ranking.policies_and_related(view, article)
    return {
        "article": {
            **ranking.article_ref(article, article_url),
            "tags": list(article.tags),
            "audience": article.audience,
            "updated": article.updated,
            "review_by": article.review_by,
            "aliases": list(article.aliases),
        },
        "intro_html": rendered.get("_intro", ""),
        "sections": [
            {"name": s.name, "key": s.key, "text": s.markdown, "html": rendered.get(s.key, "")}
            for s in article.sections
        ],
        "steps": [{"n": s.n, "text": s.text, "details": list(s.details)} for s in article.steps],
        "policies": [ranking.policy_payload(p, article_url) for p in policies],
        "related": [{"id": r.id, "title": r.title, "url": article_url(r.id)} for r in related],
    }


def get_article_or_404(view, article_id: str):
    """The article this caller may see. Raises ApiError 400 for a malformed id and 404 when the
    article does not exist or is internal to a public caller (the response never confirms it exists)."""
    if not ARTICLE_ID_RE.match(article_id) or len(article_id) > 200:
        raise ApiError(400, "invalid_article_id", "article ids look like 'area/slug'")
    article = view.get(article_id)
    if article is None:
        raise ApiError(404, "article_not_found", f"no article '{article_id}'")
    return article


@bp.get("/articles/<path:article_id>")
def article(article_id: str):
    require("search")
    view = _view()
    return jsonify(article_payload(view, get_article_or_404(view, article_id)))


@bp.get("/openapi.json")
def openapi():
    return jsonify(SPEC)


# Feedback and report routes are defined on `bp` in their own modules (issue 7).
from kbserver import api_feedback, api_reports  # noqa: E402,F401
