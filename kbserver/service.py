"""What the JSON API and the web page share: request parameters, search, suggest, article fetch.

Both edges call these functions and nothing below them, so the page is never a second
implementation of search and sees exactly what the caller's scopes allow. Every function
raises `ApiError` with a stable code (listed in `errors.ERROR_CODES`); the API turns it into
its JSON error and the page into a 400 or an error page.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime, timezone
from typing import Any, Callable, Mapping

from flask import current_app, request, url_for

from indexer.article import TYPES, Article
from kbserver.access.auth import current_caller
from kbserver.errors import ApiError
from kbserver.retrieval import answers
from kbserver.retrieval.answers import SearchAnswer, SuggestAnswer
from kbserver.retrieval.message import clean_message, clean_query
from kbserver.retrieval.reader import AudienceView, IndexUnavailable
from kbserver.retrieval.scoring import MODES
from kbserver.runtime import get_view, services
from kbserver.store import activity, gaps, reports
from kbserver.store.db import get_db, utc_now
from kbserver.store.querylog import log_query

ARTICLE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(?:/[A-Za-z0-9][A-Za-z0-9_-]*)*$")
MAX_ARTICLE_ID_CHARS = 200
DEFAULT_SEARCH_LIMIT = 10
DEFAULT_SUGGEST_LIMIT = 3
DEFAULT_GAPS_LIMIT = 20
DEFAULT_WINDOW = "30d"
SUGGEST_FIELDS = ("text", "limit")
FEEDBACK_FIELDS = ("article_id", "outcome", "request_id", "comment", "ticket_id")
# A kb body is one flat object; 32 levels is generous, and far below the ~1,000 at which the
# json module's recursion would raise RecursionError (a 500) on a 2 KB body of brackets.
MAX_JSON_DEPTH = 32
# What counts as blank, for "must not be empty": every character Python's str.isspace() and
# JSON Schema's (ECMA-262) \s call whitespace, so the server and the OpenAPI `pattern` agree
# (\x1c-\x1f and \x85 are space to Python only, \ufeff to ECMA only).
BLANK_CHARS = "\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
NOT_BLANK_PATTERN = f"[^{BLANK_CHARS}]"  # the OpenAPI `pattern` of q and text, read by ECMA and Python alike
_NOT_BLANK_RE = re.compile(NOT_BLANK_PATTERN)
_SURROGATE_RE = re.compile("[\\ud800-\\udfff]")
_JSON_STRING_RE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_JSON_BRACKET_RE = re.compile(rb"[\[\]{}]")


def new_request_id() -> str:
    """The id a search or suggest answer carries (and feedback refers back to)."""
    return uuid.uuid4().hex


def article_url(article_id: str) -> str:
    """The article page's URL: what every answer links to."""
    return url_for("web.article", article_id=article_id)


def current_view() -> AudienceView:
    """The live index as this request's caller may see it. Raises ApiError(503) when none is published."""
    try:
        return get_view(current_caller().allow_internal)
    except IndexUnavailable as exc:
        raise ApiError(503, "index_unavailable", str(exc)) from exc


def caller_audience() -> str:
    """'internal' when this request's caller holds the `internal` scope, else 'public': what the query log records."""
    return "internal" if current_caller().allow_internal else "public"


# ---------------------------------------------------------------------------- parameters


def is_blank(value: str) -> bool:
    """True when `value` holds nothing but whitespace (BLANK_CHARS), as the OpenAPI pattern says."""
    return _NOT_BLANK_RE.search(value) is None


def check_unicode(value: str, name: str) -> str:
    """`value`, if it is valid Unicode. Raises ApiError(400) `invalid_unicode` naming the field.

    JSON's `\\ud800` escape decodes to a lone surrogate, a str that cannot be encoded as UTF-8:
    SQLite, the tokenizer and the log would each fail on it (a 500)."""
    if _SURROGATE_RE.search(value):
        raise ApiError(400, "invalid_unicode", f"'{name}' holds a lone surrogate: send valid Unicode (UTF-8)", field=name)
    return value


def text_param(value: Any, name: str, *, measured: str | None = None) -> str:
    """A required non-empty string of at most MAX_TEXT_CHARS (counted on `measured` when given).

    Raises ApiError(400) `missing_<name>`, `invalid_<name>`, `empty_<name>`, `<name>_too_long`
    or `invalid_unicode`.
    """
    if value is None:
        raise ApiError(400, f"missing_{name}", f"'{name}' is required")
    if not isinstance(value, str):
        raise ApiError(400, f"invalid_{name}", f"'{name}' must be a string")
    check_unicode(value, name)
    if is_blank(value):
        raise ApiError(400, f"empty_{name}", f"'{name}' must not be empty")
    max_chars = int(current_app.config["MAX_TEXT_CHARS"])
    if len(value) > max_chars and len(measured if measured is not None else value) > max_chars:
        what = "once quoted replies, signatures and disclaimers are removed" if measured is not None else ""
        raise ApiError(400, f"{name}_too_long", f"'{name}' is longer than {max_chars} characters {what}".rstrip())
    return value


def limit_param(value: Any, default: int, *, is_json: bool = False) -> int:
    """`limit`, from 1 to MAX_LIMIT; `default` when absent. In a JSON body (`is_json`) it must be
    a JSON number: "3" is refused there, as the schema says. Raises ApiError(400) `invalid_limit`."""
    if value is None or (value == "" and not is_json):
        return default
    max_limit = int(current_app.config["MAX_LIMIT"])
    if isinstance(value, bool) or (is_json and isinstance(value, str)):
        value = None
    elif isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON has one number type: 3.0 is the integer 3 (as JSON Schema says)
    if isinstance(value, str):
        # ASCII digits only: int() would also read "٣", "３", " 3", "+3" and "1_0".
        value = int(value) if re.fullmatch(r"[0-9]{1,6}", value) else None
    limit = value if isinstance(value, int) else None
    if limit is None or not 1 <= limit <= max_limit:
        raise ApiError(400, "invalid_limit", f"'limit' must be an integer from 1 to {max_limit}")
    return limit


TICKET_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:#/-]{0,63}")
TICKET_ID_PATTERN = "^" + TICKET_ID_RE.pattern + "$"  # the OpenAPI `pattern`, read by ECMA and Python alike


def ticket_id_param(value: Any) -> str | None:
    """A helpdesk ticket id (`ZD-48213`, `#4821`, `INC0012345`): 1 to 64 ASCII letters, digits and `._:#/-`,
    starting with a letter or digit; None when absent or empty. Raises ApiError(400) `invalid_ticket_id`.

    Nothing else is accepted because the id is stored, shown in the reports and handed back to
    the helpdesk: it must never carry a customer's words or markup."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not TICKET_ID_RE.fullmatch(value):
        raise ApiError(400, "invalid_ticket_id", "'ticket_id' must be 1 to 64 letters, digits or ._:#/- (a helpdesk ticket id)",
                       field="ticket_id")
    return value


def json_depth(raw: bytes) -> int:
    """How deeply `raw` JSON nests arrays and objects, found without parsing it (linear, no recursion).

    Strings are removed first, so brackets inside them do not count; for malformed JSON the
    number is a bound the parser will reject anyway."""
    depth = deepest = 0
    for bracket in _JSON_BRACKET_RE.findall(_JSON_STRING_RE.sub(b'""', raw)):
        depth += 1 if bracket in (b"[", b"{") else -1
        deepest = max(deepest, depth)
    return deepest


def _check_strings(value: Any, name: str) -> None:
    """Every key and string under `value` is valid Unicode (`check_unicode`), named by its path."""
    if isinstance(value, str):
        check_unicode(value, name)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_strings(item, f"{name}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_unicode(key, f"{name}.{key}" if name else key)
            _check_strings(item, f"{name}.{key}" if name else key)


def json_body(fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    """This request's JSON object: the one place a JSON body is decoded.

    Raises ApiError 415 (not JSON), 400 `malformed_json`, 400 `json_too_deep` (nested more than
    MAX_JSON_DEPTH levels, checked before parsing), 400 `invalid_unicode` (a lone surrogate in
    any key or string, naming it) or, when `fields` is given, 400 `unknown_field` naming a key
    outside them (a misspelt "limt" would otherwise be silently ignored)."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send JSON with Content-Type: application/json")
    raw = request.get_data(cache=True) or b"null"
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise ApiError(400, "json_too_deep", f"the body nests arrays or objects more than {MAX_JSON_DEPTH} levels deep")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "the body must be a JSON object")
    _check_strings(body, "")
    unknown = [key for key in body if fields is not None and key not in fields]
    if unknown:
        raise ApiError(400, "unknown_field", f"unknown field '{unknown[0]}': the body takes {', '.join(fields or ())}",
                       field=unknown[0])
    return body


def report_window(args: Mapping[str, Any]) -> tuple[str, str]:
    """(`since` as given, the UTC timestamp it starts at). Raises ApiError(400) `invalid_since`."""
    window = args.get("since") or DEFAULT_WINDOW
    try:
        return window, reports.window_start(reports.parse_window(window))
    except ValueError as exc:
        raise ApiError(400, "invalid_since", f"'since' {exc}") from exc


def report_team(args: Mapping[str, Any], articles: Mapping[str, Article], *, unassigned: bool = False) -> str | None:
    """`team`, if given. Raises ApiError(400) `invalid_team` when no article the caller may see has that owner.

    With `unassigned` (the gap report), `team=unassigned` is also accepted: the gaps routed to no team."""
    team = args.get("team") or None
    if unassigned and team == gaps.UNASSIGNED:
        return team
    if team is not None and team not in reports.teams_of(articles.values()):
        raise ApiError(400, "invalid_team", f"no article you may see is owned by '{team}'")
    return team


# ---------------------------------------------------------------------------- search and suggest


def run_search(args: Mapping[str, Any]) -> SearchAnswer:
    """Validate search parameters, rank and log (redacted); shared by the API and the web page.

    `as_you_type=1` marks a keystroke search from the page: ranked the same, but not logged,
    so half-typed words ("refu") never show up in the query log or the content-gap report.
    """
    q = text_param(args.get("q"), "q")
    mode = args.get("mode") or "hybrid"
    if mode not in MODES:
        raise ApiError(400, "invalid_mode", f"'mode' must be one of: {', '.join(MODES)}")
    type_ = args.get("type") or None
    if type_ is not None and type_ not in TYPES:
        raise ApiError(400, "invalid_type", f"'type' must be one of: {', '.join(TYPES)}")
    tag = args.get("tag") or None
    limit = limit_param(args.get("limit"), DEFAULT_SEARCH_LIMIT)
    view = current_view()
    as_you_type = args.get("as_you_type") in ("1", "true", 1, True)
    embedder = services().embedder_for(view.snapshot) if mode != "keyword" else None
    answer = answers.search(
        view, embedder, q, request_id=new_request_id(), mode=mode, limit=limit, type_=type_, tag=tag,
        url_for_article=article_url, params=services().params,
    )
    if not as_you_type:
        log_query(get_db(), "search", q, answer, current_caller().name, audience=caller_audience())
    return answer


def run_suggest(body: Mapping[str, Any]) -> SuggestAnswer:
    """Validate a suggest body, rank and log (redacted); shared by the API and the web page."""
    raw = body.get("text")
    message = clean_message(raw) if isinstance(raw, str) and not is_blank(raw) and not _SURROGATE_RE.search(raw) else None
    # A helpdesk sends the whole email: the limit counts the customer's own words, not the
    # quoted thread under them (the body itself stays within MAX_CONTENT_LENGTH).
    text_param(raw, "text", measured=message.own_words if message else None)
    assert message is not None  # text_param raised for anything else
    limit = limit_param(body.get("limit"), DEFAULT_SUGGEST_LIMIT, is_json=True)
    view = current_view()
    answer = answers.suggest(
        view, services().embedder_for(view.snapshot), message, request_id=new_request_id(), limit=limit,
        url_for_article=article_url, params=services().params,
    )
    # The question, not the thread it came in.
    log_query(get_db(), "suggest", message.own_words, answer, current_caller().name, audience=caller_audience(),
              lang=answer.language["code"] if answer.language else None)
    return answer


# ---------------------------------------------------------------------------- articles


def get_article_or_404(view: AudienceView, article_id: str) -> Article:
    """The article this caller may see. Raises ApiError 400 for a malformed id and 404 when the
    article does not exist or is internal to a public caller (the response never confirms it exists)."""
    if not ARTICLE_ID_RE.match(article_id) or len(article_id) > MAX_ARTICLE_ID_CHARS:
        raise ApiError(400, "invalid_article_id", "article ids look like 'area/slug'")
    article = view.get(article_id)
    if article is None:
        raise ApiError(404, "article_not_found", f"no article '{article_id}'")
    return article


REQUEST_ID_RE = re.compile(r"^[0-9a-f]{32}$")  # new_request_id()'s form


def from_request_id(value: Any) -> str | None:
    """The answer an article was opened from (`?from=` on the API): None when absent or empty.
    Raises ApiError(400) `invalid_from` for anything but a request_id kb hands out."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not REQUEST_ID_RE.fullmatch(value):
        raise ApiError(400, "invalid_from", "'from' must be the request_id of a search or suggest answer", field="from")
    return value


def record_article_view(article: Article, kind: str, opened_from: str | None) -> None:
    """Count one opening of `article` (`kind` page or api), from the answer `opened_from` if any."""
    activity.record_view(get_db(), article.id, kind, opened_from, current_caller().name)


def article_payload(view: AudienceView, article: Article) -> dict[str, Any]:
    """The article API's answer, which the article page renders too."""
    return answers.article_page(view, article, article_url)


# ---------------------------------------------------------------------------- what changed

CHANGES_WINDOW = "7d"  # the agents' weekly briefing


def changes_since_param(args: Mapping[str, Any]) -> tuple[str, datetime]:
    """`since` as given (a window like 7d or 2w, or a date like 2026-11-25, as OpenAPI says) and the UTC moment it
    starts at. Raises ApiError(400) `invalid_since`."""
    value = args.get("since") or CHANGES_WINDOW
    try:
        return value, utc_now() - reports.parse_window(value)
    except ValueError:
        pass
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "invalid_since", "'since' must be a window like 7d or 2w, or a date like 2026-11-25") from None
    return value, datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def changes_since(view: AudienceView, since: datetime) -> dict[str, Any]:
    """The articles this caller may see that changed at or after `since`, most recent first,
    each with its changes in the window (`available` false when the build has no git history)."""
    if view.snapshot.history is None:
        return {"available": False, "head": None, "changes": []}
    rows: list[dict[str, Any]] = []
    for article_id in view.articles:
        changes = [c for c in view.changes(article_id) or [] if datetime.fromisoformat(c["date"]) >= since]
        if changes:
            rows.append({"article": answers.ArticleRef.of(view.articles[article_id], article_url).to_json(),
                         "changes": changes})
    # Newest first: by date, then (commits of the same second) by git's own order.
    position = {c: i for i, c in enumerate(view.snapshot.history.get("commits", []))}
    rows.sort(key=lambda r: (-datetime.fromisoformat(r["changes"][0]["date"]).timestamp(),
                             position.get(r["changes"][0]["commit"], len(position)), r["article"]["id"]))
    return {"available": True, "head": view.snapshot.history["head"], "changes": rows}


# ---------------------------------------------------------------------------- reports


def embed_texts() -> Callable[[list[str]], Any]:
    """The process's encoder, batch-embedding texts for the gap report."""
    return services().embedder.embed_texts


def build_report(view: AudienceView, window: str, team: str | None) -> reports.Report:
    """Every report table for this caller. Raises ValueError for a bad window."""
    return reports.build_report(
        get_db(), view.articles, embed_texts(), window, clean=clean_query, team=team, include_internal=view.allow_internal
    )


def weeks_param(value: Any) -> int:
    """`weeks`, from 1 to activity.MAX_WEEKS (default DEFAULT_WEEKS). Raises ApiError(400) `invalid_weeks`."""
    if value is None or value == "":
        return activity.DEFAULT_WEEKS
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,3}", value) and 1 <= int(value) <= activity.MAX_WEEKS:
        return int(value)
    raise ApiError(400, "invalid_weeks", f"'weeks' must be an integer from 1 to {activity.MAX_WEEKS}", field="weeks")


def gap_report(view: AudienceView, since: str, team: str | None) -> list[gaps.Gap]:
    """The content gaps this caller may see."""
    return gaps.gap_report(
        get_db(), view.articles, embed_texts(), since, clean=clean_query, team=team, include_internal=view.allow_internal
    )
