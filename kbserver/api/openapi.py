"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json.

Kept as Python data beside the code it describes; tests check that every API route is in
it, that every error code the code can raise is listed, and schemathesis checks every
response against it. Limits come from the app's settings and enums from the one place each
is defined (article types, feedback outcomes, error codes), so the document cannot drift.
"""

from __future__ import annotations

from typing import Any, Mapping

from flask import Response, current_app, jsonify

from indexer.article import TYPES
from kbserver.api.blueprint import bp
from kbserver.config import defaults
from kbserver.errors import ERROR_CODES
from kbserver.service import (
    DEFAULT_GAPS_LIMIT,
    DEFAULT_SEARCH_LIMIT,
    DEFAULT_SUGGEST_LIMIT,
    MAX_ARTICLE_ID_CHARS,
    NOT_BLANK_PATTERN,
    TICKET_ID_PATTERN,
)
from kbserver.store.activity import DEFAULT_WEEKS, MAX_WEEKS, NO_RESULTS_LIMIT
from kbserver.store.feedback import OUTCOMES

_err = {"$ref": "#/components/responses/Error"}

# The document is open to anyone, so its examples are fixed text that names no real article
# (an example once named an internal one: issue 21).
EXAMPLE_ARTICLE = {
    "id": "area/example-article",
    "title": "An example article",
    "type": "procedure",
    "summary": "What the article is for, in one sentence.",
    "owner": "Example team",
    "url": "/articles/area/example-article",
    "lang": "en",
}


def errs(*codes: int) -> dict[str, Any]:
    return {str(c): _err for c in codes}


article_ref = {
    "type": "object",
    "required": ["id", "title", "type", "summary", "owner", "url", "lang"],
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "type": {"enum": list(TYPES)},
        "summary": {"type": "string"},
        "owner": {"type": "string"},
        "url": {"type": "string"},
        "lang": {"type": "string", "description": "The article's language (BCP 47 primary subtag, e.g. en, ta, te, fa)"},
    },
}
message_language = {
    "type": "object",
    "description": "The customer message's language as kb detected it, and the encoder that ranked it (docs/languages.md)",
    "required": ["code", "name", "confidence", "script", "mixed", "encoder", "covered"],
    "properties": {
        "code": {"type": "string", "description": "BCP 47 primary subtag; und when the message is too short to tell"},
        "name": {"type": "string"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "script": {"type": "string", "description": "The script most of its letters are in (Latin, Tamil, Arabic...)"},
        "mixed": {"type": "boolean", "description": "A second script holds at least a fifth of the letters"},
        "encoder": {"type": "string", "description": "all-MiniLM-L6-v2 (English), multilingual-e5-small, or both"},
        "covered": {
            "type": "boolean",
            "description": "False: no encoder of this build knows the language; no_confident_match is then true and "
            "the suggestions are only the closest articles",
        },
    },
}
policy = {
    "allOf": [
        {"$ref": "#/components/schemas/ArticleRef"},
        {
            "type": "object",
            "required": ["exceptions", "what_you_can_offer", "section_items"],
            "properties": {
                "exceptions": {"type": ["string", "null"]},
                "what_you_can_offer": {"type": ["string", "null"]},
                "section_items": {
                    "type": "object",
                    "description": "exceptions and what_you_can_offer as lists of items (Markdown inline text), [] when absent",
                    "required": ["exceptions", "what_you_can_offer"],
                    "properties": {k: {"type": "array", "items": {"type": "string"}}
                                   for k in ["exceptions", "what_you_can_offer"]},
                },
            },
        },
    ]
}
change = {
    "type": "object",
    "description": "One commit's change to an article, from the git history of the articles folder",
    "required": ["commit", "date", "author", "subject", "path", "kind", "public", "steps_removed", "steps_added"],
    "properties": {
        "commit": {"type": "string"},
        "date": {"type": "string", "format": "date-time"},
        "author": {"type": "string", "description": "The author's name (never the e-mail address)"},
        "subject": {"type": "string"},
        "path": {"type": "string"},
        "kind": {"enum": ["added", "modified"]},
        "public": {"type": "boolean", "description": "Both sides of the change were public articles"},
        "steps_removed": {"type": "array", "items": {"type": "string"}},
        "steps_added": {"type": "array", "items": {"type": "string"}},
        "diff_hidden": {"type": "boolean", "description": "The steps diff is withheld from this caller"},
    },
}
step = {
    "type": "object",
    "required": ["n", "text", "details"],
    "properties": {
        "n": {"type": "integer", "minimum": 1},
        "text": {"type": "string"},
        "details": {"type": "array", "items": {"type": "string"}},
    },
}
link = {
    "type": "object",
    "required": ["id", "title"],
    "properties": {"id": {"type": "string"}, "title": {"type": "string"}, "url": {"type": "string"}},
}
section = {
    "type": "object",
    "required": ["name", "key", "text", "html"],
    "properties": {k: {"type": "string"} for k in ["name", "key", "text", "html"]},
}
CUSTOMER_REPLY = {
    "type": "string",
    "description": "Plain text safe to paste into a reply to the customer: the public policies' summaries and what "
    "may be offered; never steps, exceptions, escalation notes or internal articles. Empty when nothing public applies.",
}
suggestion = {
    "type": "object",
    "required": [
        "article",
        "score",
        "confidence",
        "why",
        "steps",
        "policies",
        "escalation",
        "section_items",
        "follow_up",
        "related",
        "customer_reply",
    ],
    "properties": {
        "article": {
            "allOf": [
                {"$ref": "#/components/schemas/ArticleRef"},
                {"type": "object", "properties": {"updated": {"type": ["string", "null"]}}},
            ]
        },
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "confidence": {"enum": ["high", "medium", "low"]},
        "why": {"type": "string"},
        "matched_section": {"type": "string"},
        "steps": {"type": "array", "items": {"$ref": "#/components/schemas/Step"}},
        "policies": {"type": "array", "items": {"$ref": "#/components/schemas/Policy"}},
        "exceptions": {"type": ["string", "null"]},
        "what_you_can_offer": {"type": ["string", "null"]},
        "escalation": {"type": ["string", "null"]},
        "section_items": {
            "type": "object",
            "description": "exceptions, what_you_can_offer and escalation as lists of items, the way steps are structured: "
            "a section's list items, or its paragraphs; [] when the article has no such section",
            "required": ["exceptions", "what_you_can_offer", "escalation"],
            "properties": {k: {"type": "array", "items": {"type": "string"}}
                           for k in ["exceptions", "what_you_can_offer", "escalation"]},
        },
        "follow_up": {"type": "array", "items": {"type": "string"}},
        "related": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}},
        "sections": {"type": "array", "items": {"$ref": "#/components/schemas/Section"}},
        "customer_reply": CUSTOMER_REPLY,
    },
}
rate = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
count = {"type": "integer", "minimum": 0}
article_stats = {
    "type": "object",
    "required": ["id", "title", "owner", "views", "impressions", "suggestions", "feedback", "helpful", "not_helpful",
                 "resolved_first_contact", "escalated", "helpful_rate", "fcr_rate", "review_by", "is_stale"],
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "owner": {"type": "string"},
        **{k: count for k in ["views", "impressions", "suggestions", "feedback", "helpful", "not_helpful",
                               "resolved_first_contact", "escalated"]},
        "helpful_rate": rate,
        "fcr_rate": rate,
        "review_by": {"type": ["string", "null"]},
        "is_stale": {"type": "boolean"},
    },
}
team_stats = {
    "type": "object",
    "required": ["team", "articles", "views", "impressions", "suggestions", "feedback", "resolved_first_contact",
                 "escalated", "open_feedback", "handled_feedback", "stale_articles", "fcr_rate"],
    "properties": {
        "team": {"type": "string"},
        **{k: count for k in ["articles", "views", "impressions", "suggestions", "feedback", "resolved_first_contact",
                               "escalated", "open_feedback", "handled_feedback"]},
        "fcr_rate": rate,
        "stale_articles": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "title", "review_by"],
                "properties": {k: {"type": "string"} for k in ["id", "title", "review_by"]},
            },
        },
    },
}
agent_stats = {
    "type": "object",
    "required": ["agent", "suggestions", "searches", "feedback", "helpful", "not_helpful", "resolved_first_contact",
                 "escalated", "handled", "fcr_rate"],
    "properties": {
        "agent": {"type": "string", "description": "A signed-in person (e-mail or pseudonym) or a token's name"},
        **{k: count for k in ["suggestions", "searches", "feedback", "helpful", "not_helpful", "resolved_first_contact",
                               "escalated", "handled"]},
        "fcr_rate": rate,
    },
}
gap = {
    "type": "object",
    "required": ["count", "examples", "no_confident_match", "not_helpful", "article", "closest_article", "team",
                 "routed_to", "last_seen"],
    "properties": {
        "count": {"type": "integer", "minimum": 1},
        "examples": {"type": "array", "items": {"type": "string"}, "description": "Redacted query texts"},
        "no_confident_match": count,
        "not_helpful": count,
        "article": {"oneOf": [{"$ref": "#/components/schemas/Link"}, {"type": "null"}],
                    "description": "The article the gap was given against (marked not helpful), if any"},
        "closest_article": {"oneOf": [{"$ref": "#/components/schemas/Link"}, {"type": "null"}],
                            "description": "`article`, else the weak top result: a hint, never used for routing"},
        "team": {"type": ["string", "null"], "description": "The owner of `article`; null when unassigned"},
        "routed_to": {"type": "string", "description": "`team`, or `unassigned`"},
        "last_seen": {"type": "string"},
    },
}
no_result = {
    "type": "object",
    "required": ["text", "count", "searches", "suggests", "last_seen"],
    "properties": {
        "text": {"type": "string", "description": "Redacted, lower-cased query text"},
        "count": {"type": "integer", "minimum": 1},
        "searches": count,
        "suggests": count,
        "last_seen": {"type": "string"},
    },
}
week = {
    "type": "object",
    "required": ["start", "end", "searches", "suggests", "no_match", "views", "feedback", "helpful", "helpful_rate"],
    "properties": {
        "start": {"type": "string"},
        "end": {"type": "string"},
        **{k: count for k in ["searches", "suggests", "no_match", "views", "feedback", "helpful"]},
        "helpful_rate": rate,
    },
}
click_through = {
    "type": "object",
    "required": ["kind", "answers_with_results", "opened", "rate"],
    "properties": {
        "kind": {"enum": ["search", "suggest"]},
        "answers_with_results": count,
        "opened": {**count, "description": "Answers with at least one result opened from them"},
        "rate": rate,
    },
}
handled_example = {
    "id": 42,
    "article_id": "returns/start-a-return",
    "owner": "Returns team",
    "outcome": "not_helpful",
    "handled_ts": "2026-11-24T09:12:03.000000Z",
    "handled_by": "returns-lead",
    "handled_note": "label step rewritten",
}
handled_path = {
    "post": {
        "operationId": "reportFeedbackHandled",
        "summary": "Mark one open (not helpful or escalated) feedback handled by this caller (scope: reports)",
        "parameters": [{"name": "feedback_id", "in": "path", "required": True,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}, "example": 42}],
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"note": {"type": ["string", "null"], "description": "Redacted before storage"}},
                    },
                    "example": {"note": "label step rewritten"},
                }
            },
        },
        "responses": {
            "200": {
                "description": "Handled: it leaves the open list and counts in `handled_feedback`",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": list(handled_example),
                            "properties": {
                                "id": {"type": "integer"},
                                "article_id": {"type": "string"},
                                "owner": {"type": "string"},
                                "outcome": {"enum": ["not_helpful", "escalated"]},
                                "handled_ts": {"type": "string"},
                                "handled_by": {"type": "string", "description": "The token's name, or anonymous"},
                                "handled_note": {"type": ["string", "null"]},
                            },
                        },
                        "example": handled_example,
                    }
                },
            },
            **errs(400, 401, 403, 404, 409, 413, 415, 429, 503),
        },
    }
}
open_feedback_item = {
    "type": "object",
    "required": ["id", "ts", "article_id", "owner", "outcome", "request_id", "comment", "ticket_id"],
    "properties": {
        "id": {"type": "integer"},
        "ts": {"type": "string"},
        "article_id": {"type": "string"},
        "owner": {"type": "string", "description": "The team it was routed to"},
        "outcome": {"enum": ["not_helpful", "escalated"]},
        "request_id": {"type": ["string", "null"]},
        "comment": {"type": ["string", "null"], "description": "Redacted; null when withheld from this reader"},
        "ticket_id": {"type": ["string", "null"], "description": "The helpdesk ticket it was given on"},
    },
}
report_parameters = [
    {
        "name": "since",
        "in": "query",
        "description": "Window: up to five digits and h, d or w",
        "allowEmptyValue": True,
        "schema": {"type": "string", "pattern": "^[0-9]{1,5}[hdw]$", "default": "30d"},
        "example": "30d",
    },
    {
        "name": "team",
        "in": "query",
        "description": "An owner team, exactly as in the articles' `owner`; 400 invalid_team if it owns no article "
        "the caller may see",
        "allowEmptyValue": True,
        "schema": {"type": "string"},
    },
]


def report_path(operation_id: str, summary: str, key: str, item: str, extra: list | None = None) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id,
            "summary": f"{summary} (scope: reports)",
            "parameters": [*report_parameters, *(extra or [])],
            "responses": {
                "200": {
                    "description": summary,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["since", "window", "team", key],
                                "properties": {
                                    "since": {"type": "string"},
                                    "window": {"type": "string"},
                                    "team": {"type": ["string", "null"]},
                                    key: {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
                                },
                            }
                        }
                    },
                },
                **errs(400, 401, 403, 429, 503),
            },
        }
    }


def trends_path() -> dict[str, Any]:
    """`/reports/trends`: per-week counts, oldest first, and click-through over the same weeks."""
    team = report_parameters[1]
    weeks = {"name": "weeks", "in": "query", "allowEmptyValue": True, "description": "How many 7-day weeks, ending now",
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_WEEKS, "default": DEFAULT_WEEKS}, "example": 8}
    return {
        "get": {
            "operationId": "reportTrends",
            "summary": "Week-over-week searches, suggests, no-match answers, views and helpful rate (scope: reports)",
            "parameters": [weeks, team],
            "responses": {
                "200": {
                    "description": "One entry per week",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["weeks", "since", "team", "trends", "click_through"],
                                "properties": {
                                    "weeks": {"type": "integer"},
                                    "since": {"type": "string"},
                                    "team": {"type": ["string", "null"]},
                                    "trends": {"type": "array", "items": {"$ref": "#/components/schemas/Week"}},
                                    "click_through": {"type": "array", "items": {"$ref": "#/components/schemas/ClickThrough"}},
                                },
                            }
                        }
                    },
                },
                **errs(400, 401, 403, 429, 503),
            },
        }
    }


def document(settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The OpenAPI document for an app with these settings (`app.config`; the defaults if None)."""
    settings = {**defaults(), **(settings or {})}
    max_text_chars = int(settings["MAX_TEXT_CHARS"])
    max_limit = int(settings["MAX_LIMIT"])
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "kb API",
            "version": "1",
            "description": 'Search the knowledge base and get the full procedure for a customer\'s message. Every error is `{"error": {"code", "message"}}` with a 4xx status. Error codes: ' + ', '.join(ERROR_CODES) + '. An optional query parameter sent empty (`?limit=`), or an optional JSON field sent as null, counts as not given.',
        },
        # Paths below are relative to this: without it a client resolves /search against the host root.
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `kb token create`, or a side panel's session (`kbs_...`, docs/auth.md). "
                    "Without one, a signed-in browser's session cookie is used, else the scopes in KB_ANONYMOUS_SCOPES.",
                }
            },
            "responses": {
                "Error": {
                    "description": "A JSON error",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/Error"},
                            "example": {
                                "error": {"code": "article_not_found", "message": "no article 'area/no-such-article'"}
                            },
                        }
                    },
                }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                        }
                    },
                },
                "ArticleRef": article_ref,
                "Policy": policy,
                "Step": step,
                "Link": link,
                "Section": section,
                "Change": change,
                "Suggestion": suggestion,
                "ArticleStats": article_stats,
                "TeamStats": team_stats,
                "AgentStats": agent_stats,
                "Gap": gap,
                "OpenFeedback": open_feedback_item,
                "NoResult": no_result,
                "Week": week,
                "ClickThrough": click_through,
            },
        },
        "security": [{}, {"bearer": []}],
        "paths": {
            "/search": {
                "get": {
                    "operationId": "search",
                    "summary": "Search articles (scope: search)",
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "required": True,
                            "description": "The query; it must contain a non-space character. Plain words rank loosely; "
                            "agents can steer with \"a phrase\", -word or NOT word, title:/tag:/type:/owner:word, "
                            "word* (prefix) and word~ (fuzzy). Anything else is read as plain words.",
                            "schema": {"type": "string", "minLength": 1, "maxLength": max_text_chars, "pattern": NOT_BLANK_PATTERN},
                            "example": "refund not received",
                        },
                        {
                            "name": "mode",
                            "in": "query",
                            "allowEmptyValue": True,
                            "schema": {"enum": ["hybrid", "keyword", "semantic"], "default": "hybrid"},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "allowEmptyValue": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": max_limit, "default": DEFAULT_SEARCH_LIMIT},
                        },
                        {
                            "name": "type",
                            "in": "query",
                            "allowEmptyValue": True,
                            "schema": {"enum": list(TYPES)},
                        },
                        {"name": "tag", "in": "query", "allowEmptyValue": True, "schema": {"type": "string"}},
                        {
                            "name": "as_you_type",
                            "in": "query",
                            "allowEmptyValue": True,
                            "description": "1 (or true) for a keystroke search: ranked the same, not written to the "
                            "query log; any other value is an ordinary search",
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "Ranked results, one per article",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["query", "mode", "results", "did_you_mean", "no_confident_match", "steered"],
                                        "properties": {
                                            "request_id": {"type": "string"},
                                            "query": {"type": "string"},
                                            "mode": {"type": "string"},
                                            "did_you_mean": {"type": ["string", "null"]},
                                            "no_confident_match": {"type": "boolean"},
                                            "steered": {
                                                "type": "boolean",
                                                "description": "The query used search syntax (a quoted phrase, -word or NOT word, "
                                                "title:/tag:/type:/owner:, word* or word~), read by Whoosh: the results are the "
                                                "articles that satisfy it, ranked by its remaining words.",
                                            },
                                            "results": {
                                                "type": "array",
                                                "items": {
                                                    "type": "object",
                                                    "required": ["article", "score", "section", "snippet"],
                                                    "properties": {
                                                        "article": {"$ref": "#/components/schemas/ArticleRef"},
                                                        "score": {"type": "number"},
                                                        "section": {"type": "string"},
                                                        "snippet": {
                                                            "type": "string",
                                                            "description": "HTML-escaped text with <mark> around matched terms",
                                                        },
                                                    },
                                                },
                                            },
                                        },
                                    },
                                    "example": {
                                        "request_id": "4f1c...",
                                        "query": "refund not recieved",
                                        "mode": "hybrid",
                                        "did_you_mean": "refund not received",
                                        "no_confident_match": False,
                                        "steered": False,
                                        "results": [
                                            {
                                                "article": EXAMPLE_ARTICLE,
                                                "score": 0.81,
                                                "section": "Steps",
                                                "snippet": 'Check the <mark class="hl t0">refund</mark> status...',
                                            }
                                        ],
                                    },
                                }
                            },
                        },
                        **errs(400, 401, 403, 429, 503),
                    },
                }
            },
            "/suggest": {
                "post": {
                    "operationId": "suggest",
                    "summary": "The full procedure for a customer's message (scope: suggest)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["text"],
                                    "properties": {
                                        "text": {
                                            "type": "string", "minLength": 1, "maxLength": max_text_chars, "pattern": NOT_BLANK_PATTERN,
                                            "description": "The customer's message, as received: greetings, order numbers, "
                                            "a quoted email thread, signature and disclaimer may stay in (kb ignores them). "
                                            f"The {max_text_chars:,}-character limit (KB_MAX_TEXT_CHARS) counts the customer's own words, "
                                            "so a longer email is accepted when its quoted part brings it under.",
                                        },
                                        "limit": {"type": ["integer", "null"], "minimum": 1, "maximum": max_limit, "default": DEFAULT_SUGGEST_LIMIT},
                                    },
                                },
                                "example": {
                                    "text": "Hi, I sent the boots back two weeks ago and still no refund. Order LK-4829133",
                                    "limit": 3,
                                },
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Suggestions, best first",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["request_id", "no_confident_match", "ambiguous", "ambiguity", "suggestions",
                                                     "language"],
                                        "properties": {
                                            "request_id": {"type": "string"},
                                            "no_confident_match": {"type": "boolean"},
                                            "ambiguous": {
                                                "type": "boolean",
                                                "description": "kb is confident the answer is among the first suggestions but not which: "
                                                "show `ambiguity.articles` as a choice before any one procedure. Never true with "
                                                "no_confident_match, nor with limit 1.",
                                            },
                                            "ambiguity": {
                                                "type": ["object", "null"],
                                                "required": ["reason", "articles"],
                                                "properties": {
                                                    "reason": {
                                                        "type": "string", "enum": ["close_scores", "fact_page_first"],
                                                        "description": "close_scores: the runner-up scores within the ambiguity margin of the top; "
                                                        "fact_page_first: a policy or product page tops a procedure that scores close to it.",
                                                    },
                                                    "articles": {
                                                        "type": "array", "items": {"type": "string"}, "minItems": 2,
                                                        "description": "The ids to choose between: the first suggestions, in order.",
                                                    },
                                                },
                                            },
                                            "suggestions": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Suggestion"},
                                            },
                                            "language": message_language,
                                        },
                                    }
                                }
                            },
                        },
                        **errs(400, 401, 403, 413, 415, 429, 503),
                    },
                }
            },
            "/articles/{article_id}": {
                "get": {
                    "operationId": "getArticle",
                    "summary": "One article: front matter, structured sections and sanitised HTML (scope: search)",
                    "parameters": [
                        {
                            "name": "article_id",
                            "in": "path",
                            "required": True,
                            "schema": {
                                "type": "string",
                                "maxLength": MAX_ARTICLE_ID_CHARS,
                                "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]*(/[A-Za-z0-9][A-Za-z0-9_-]*)*$",
                            },
                            "example": EXAMPLE_ARTICLE["id"],
                        },
                        {
                            "name": "from",
                            "in": "query",
                            "allowEmptyValue": True,
                            "description": "The request_id of the search or suggest answer the article was opened from: "
                            "counted as a click-through in the reports",
                            "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The article",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["article", "sections", "steps", "policies", "related", "customer_reply"],
                                        "properties": {
                                            "article": {"$ref": "#/components/schemas/ArticleRef"},
                                            "customer_reply": CUSTOMER_REPLY,
                                            "intro_html": {"type": "string"},
                                            "sections": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Section"},
                                            },
                                            "steps": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Step"},
                                            },
                                            "policies": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Policy"},
                                            },
                                            "related": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Link"},
                                            },
                                            "changes": {
                                                "description": "Its recent commits, newest first; null when the articles are not in git",
                                                "oneOf": [
                                                    {"type": "array", "items": {"$ref": "#/components/schemas/Change"}},
                                                    {"type": "null"},
                                                ],
                                            },
                                        },
                                    }
                                }
                            },
                        },
                        **errs(400, 401, 403, 404, 429, 503),
                    },
                }
            },
            "/changes": {
                "get": {
                    "operationId": "changes",
                    "summary": "Articles changed since a moment, for the agents' briefing (scope: search)",
                    "parameters": [
                        {
                            "name": "since",
                            "in": "query",
                            "allowEmptyValue": True,
                            "schema": {"anyOf": [{"type": "string", "pattern": "^[0-9]{1,5}[hdw]$"},
                                                 {"type": "string", "format": "date"}], "default": "7d"},
                            "description": "A window (12h, 7d, 2w: up to five digits and h, d or w) or a date (2026-11-25)",
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "Changed articles, most recently changed first",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["since", "available", "head", "changes"],
                                        "properties": {
                                            "since": {"type": "string"},
                                            "available": {"type": "boolean", "description": "false: the articles folder is not in git"},
                                            "head": {"type": ["string", "null"], "description": "The commit the build was made from"},
                                            "changes": {
                                                "type": "array",
                                                "items": {
                                                    "type": "object",
                                                    "required": ["article", "changes"],
                                                    "properties": {
                                                        "article": {"$ref": "#/components/schemas/ArticleRef"},
                                                        "changes": {"type": "array", "items": {"$ref": "#/components/schemas/Change"}},
                                                    },
                                                },
                                            },
                                        },
                                    }
                                }
                            },
                        },
                        **errs(400, 401, 403, 429, 503),
                    },
                }
            },
            "/me": {
                "get": {
                    "operationId": "me",
                    "summary": "Who kb takes the caller to be: a person, a token or anonymous (no scope needed)",
                    "responses": {
                        "200": {
                            "description": "The caller",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["name", "display_name", "kind", "roles", "scopes"],
                                        "properties": {
                                            "name": {"type": "string", "description": "What feedback and the query log record"},
                                            "display_name": {"type": "string"},
                                            "kind": {"enum": ["anonymous", "token", "browser", "panel", "delegated", "proxy"]},
                                            "roles": {"type": "array", "items": {"enum": ["agent", "author", "lead", "admin"]}},
                                            "scopes": {"type": "array", "items": {"type": "string"}},
                                        },
                                    },
                                    "example": {"name": "alice@example.com", "display_name": "Alice", "kind": "delegated",
                                                "roles": ["agent"], "scopes": ["feedback", "internal", "search", "suggest"]},
                                }
                            },
                        },
                        **errs(401, 429, 503),
                    },
                }
            },
            "/sessions": {
                "post": {
                    "operationId": "start_session",
                    "summary": "A helpdesk's server signs its agent in for the side panel (scope: delegate)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["person"],
                                    "properties": {
                                        "person": {"type": "string", "maxLength": 254, "pattern": "^[^\\s]+$",
                                                   "description": "The agent's e-mail (or id): what their feedback will carry"},
                                        "name": {"type": ["string", "null"], "description": "Shown in the panel"},
                                        "roles": {"type": "array", "minItems": 1, "items": {"enum": ["agent", "author", "lead"]},
                                                  "default": ["agent"]},
                                        "expires_in": {"type": "integer", "minimum": 60, "maximum": 2592000, "default": 3600,
                                                       "description": "Seconds; never beyond KB_SESSION_HOURS"},
                                    },
                                },
                                "example": {"person": "alice@example.com", "name": "Alice", "roles": ["agent"], "expires_in": 28800},
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "A session for the panel: post it to the panel as {type: 'kb:session', token}",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["token", "expires", "person", "roles"],
                                        "properties": {
                                            "token": {"type": "string", "pattern": "^kbs_"},
                                            "expires": {"type": "string"},
                                            "person": {"type": "string"},
                                            "roles": {"type": "array", "items": {"type": "string"}},
                                        },
                                    }
                                }
                            },
                        },
                        **errs(400, 401, 403, 413, 415, 429, 503),
                    },
                }
            },
            "/feedback": {
                "post": {
                    "operationId": "feedback",
                    "summary": "Say how an article did; stored and routed to its owner team (scope: feedback)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["article_id", "outcome"],
                                    "properties": {
                                        "article_id": {
                                            "type": "string",
                                            "maxLength": MAX_ARTICLE_ID_CHARS,
                                            "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]*(/[A-Za-z0-9][A-Za-z0-9_-]*)*$",
                                        },
                                        "outcome": {"enum": list(OUTCOMES)},
                                        "request_id": {"type": ["string", "null"], "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                                        "comment": {"type": ["string", "null"], "maxLength": max_text_chars},
                                        "ticket_id": {
                                            "type": ["string", "null"],
                                            "pattern": TICKET_ID_PATTERN,
                                            "description": "The helpdesk ticket the agent was working on; shown in the reports",
                                        },
                                    },
                                },
                                "example": {
                                    "article_id": EXAMPLE_ARTICLE["id"],
                                    "outcome": "resolved_first_contact",
                                    "request_id": "4f1c0d9e",
                                    "comment": "customer happy with the label by email",
                                    "ticket_id": "ZD-48213",
                                },
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "Stored; comments are redacted before storage",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["id", "article_id", "outcome", "routed_to"],
                                        "properties": {
                                            "id": {"type": "integer"},
                                            "article_id": {"type": "string"},
                                            "outcome": {"type": "string"},
                                            "routed_to": {"type": "string", "description": "The article's owner team"},
                                            "ticket_id": {"type": ["string", "null"]},
                                        },
                                    }
                                }
                            },
                        },
                        **errs(400, 401, 403, 404, 413, 415, 429, 503),
                    },
                }
            },
            "/reports/articles": report_path("reportArticles", "Per-article views, suggestions, helpful and FCR rates", "articles", "ArticleStats"),
            "/reports/teams": report_path("reportTeams", "Per-team FCR, open feedback and stale articles", "teams", "TeamStats"),
            "/reports/agents": report_path("reportAgents", "Per agent: questions, feedback by outcome, FCR and handled (leads)",
                                           "agents", "AgentStats"),
            "/reports/feedback": report_path(
                "reportFeedback", "The latest not helpful and escalated feedback, newest first, with its ticket",
                "feedback", "OpenFeedback",
            ),
            "/reports/gaps": report_path(
                "reportGaps",
                "Questions without a good article, clustered (`team=unassigned`: the gaps routed to no team)",
                "gaps",
                "Gap",
                [
                    {
                        "name": "limit",
                        "in": "query",
                        "allowEmptyValue": True,
                        "schema": {"type": "integer", "minimum": 1, "maximum": max_limit, "default": DEFAULT_GAPS_LIMIT},
                    }
                ],
            ),
            "/reports/no-results": report_path(
                "reportNoResults",
                "Searches and suggests that found nothing or no confident match, grouped, most frequent first",
                "no_results",
                "NoResult",
                [
                    {
                        "name": "limit",
                        "in": "query",
                        "allowEmptyValue": True,
                        "schema": {"type": "integer", "minimum": 1, "maximum": max_limit, "default": NO_RESULTS_LIMIT},
                    }
                ],
            ),
            "/reports/trends": trends_path(),
            "/reports/feedback/{feedback_id}/handled": handled_path,
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.1",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
    }


# The document under the default settings.
SPEC: dict[str, Any] = document()


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document(current_app.config))
