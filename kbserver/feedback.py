"""Record what agents tell kb: the query log (every search and suggest) and article feedback.

Both go through `redact()` before they reach `storage`: the raw query or comment is never
written anywhere. Views call these two functions and nothing else from here.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from typing import Any, Mapping

from indexer.article import Article
from kbserver import storage
from kbserver.auth import current_caller
from kbserver.redact import redact

log = logging.getLogger(__name__)

OUTCOMES = ("helpful", "not_helpful", "resolved_first_contact", "escalated")
TOP_RESULTS_LOGGED = 10


@dataclass(frozen=True)
class Receipt:
    """What the feedback API answers: the stored id and the team it was routed to."""

    id: int
    routed_to: str


def is_no_confident_match(result: Mapping[str, Any]) -> bool:
    """Search and suggest answers both say so themselves (ranking calibrates it per mode)."""
    return bool(result["no_confident_match"])


def log_query(kind: str, text: str, result: Mapping[str, Any]) -> None:
    """Log one search or suggest answer: redacted text, top results with scores, no_confident_match."""
    items = result.get("results" if kind == "search" else "suggestions") or []
    top = [{"id": item["article"]["id"], "score": item["score"]} for item in items[:TOP_RESULTS_LOGGED]]
    record = storage.QueryRecord(
        request_id=result["request_id"],
        ts=storage.to_ts(storage.utc_now()),
        kind=kind,
        mode=result.get("mode", "hybrid"),
        text=redact(text),
        results_json=json.dumps(top),
        no_confident_match=is_no_confident_match(result),
        caller=current_caller().name,
    )
    try:
        storage.insert_query(storage.get_db(), record)
    except sqlite3.Error:
        # The agent's answer matters more than its log row: answer anyway. The busy timeout
        # already absorbed ordinary contention, so this is a broken disk or file; it is logged
        # (without the text) for the operator.
        log.exception("could not log %s request %s", kind, record.request_id)


def record_feedback(article: Article, outcome: str, request_id: str | None, comment: str | None) -> Receipt:
    """Store one feedback about `article`, routed to its owner team. Raises sqlite3.Error if it cannot."""
    record = storage.FeedbackRecord(
        ts=storage.to_ts(storage.utc_now()),
        article_id=article.id,
        owner=article.owner,
        outcome=outcome,
        request_id=request_id,
        comment=redact(comment) if comment else None,
        caller=current_caller().name,
    )
    return Receipt(storage.insert_feedback(storage.get_db(), record), article.owner)
