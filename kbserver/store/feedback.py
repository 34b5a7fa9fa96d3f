"""Article feedback: how an article did for an agent, stored redacted and routed to its owner team."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, Iterable

from indexer.article import Article
from kbserver.store.db import to_ts, utc_now
from kbserver.store.redact import redact

# Every outcome feedback may carry: the API's enum, the page's controls and the reports read
# these. Migration 1's CHECK constraint spells the same four (a test keeps them equal).
OUTCOMES = ("helpful", "not_helpful", "resolved_first_contact", "escalated")
OPEN_OUTCOMES = ("not_helpful", "escalated")


@dataclass(frozen=True)
class Receipt:
    """What the feedback API answers: the stored id and the team it was routed to."""

    id: int
    routed_to: str


@dataclass(frozen=True)
class FeedbackRecord:
    """One feedback, ready to store (comment already redacted)."""

    ts: str
    article_id: str
    owner: str
    outcome: str
    request_id: str | None
    comment: str | None  # already redacted
    caller: str


@dataclass(frozen=True)
class FeedbackCount:
    """How many feedbacks of one outcome one article got (routed to `owner`)."""

    article_id: str
    owner: str
    outcome: str
    n: int


@dataclass(frozen=True)
class FeedbackItem:
    """One stored feedback, as the reports list it."""

    id: int
    ts: str
    article_id: str
    owner: str
    outcome: str
    request_id: str | None
    comment: str | None


def record_feedback(
    db: sqlite3.Connection, article: Article, outcome: str, request_id: str | None, comment: str | None, caller: str
) -> Receipt:
    """Store one feedback about `article`, routed to its owner team. Raises sqlite3.Error if it cannot."""
    record = FeedbackRecord(
        ts=to_ts(utc_now()),
        article_id=article.id,
        owner=article.owner,
        outcome=outcome,
        request_id=request_id,
        comment=redact(comment) if comment else None,
        caller=caller,
    )
    return Receipt(insert_feedback(db, record), article.owner)


def insert_feedback(db: sqlite3.Connection, record: FeedbackRecord) -> int:
    """Store one feedback; returns its id."""
    cursor = db.execute(
        "INSERT INTO feedback (ts, article_id, owner, outcome, request_id, comment, caller)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (record.ts, record.article_id, record.owner, record.outcome, record.request_id, record.comment, record.caller),
    )
    return int(cursor.lastrowid or 0)


def feedback_counts(db: sqlite3.Connection, since: str) -> list[FeedbackCount]:
    """Per article, owner and outcome: the feedback given since `since`."""
    rows = db.execute(
        "SELECT article_id, owner, outcome, COUNT(*) AS n FROM feedback WHERE ts >= ? GROUP BY 1, 2, 3",
        (since,),
    ).fetchall()
    return [FeedbackCount(r["article_id"], r["owner"], r["outcome"], r["n"]) for r in rows]


def feedback_items(
    db: sqlite3.Connection, since: str, *, owner: str | None = None, outcomes: Iterable[str] = (), limit: int = 50,
    include_internal: bool = True,
) -> list[FeedbackItem]:
    """The latest feedback since `since`, optionally for one owner team and some outcomes.

    Without `include_internal`, the comment is withheld (None) when the answer it is about was
    asked by a caller with the `internal` scope (`query_log.audience`): their words may quote an
    internal procedure."""
    sql = (
        "SELECT f.id, f.ts, f.article_id, f.owner, f.outcome, f.request_id,"
        " CASE WHEN ? OR COALESCE((SELECT q.audience FROM query_log AS q WHERE q.request_id = f.request_id),"
        " 'public') = 'public' THEN f.comment END AS comment"
        " FROM feedback AS f WHERE f.ts >= ?"
    )
    params: list[Any] = [int(include_internal), since]
    if owner is not None:
        sql += " AND owner = ?"
        params.append(owner)
    outcomes = list(outcomes)
    if outcomes:
        sql += f" AND outcome IN ({', '.join('?' * len(outcomes))})"
        params.extend(outcomes)
    sql += " ORDER BY ts DESC, id DESC LIMIT ?"
    params.append(limit)
    return [FeedbackItem(*tuple(r)) for r in db.execute(sql, params).fetchall()]
