"""Article feedback: how an article did for an agent, stored redacted and routed to its owner team."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import case, func, select

from indexer.article import Article
from kbserver.store.db import Database, to_ts, utc_now
from kbserver.store.redact import redact
from kbserver.store.schema import feedback, query_log

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
    db: Database, article: Article, outcome: str, request_id: str | None, comment: str | None, caller: str
) -> Receipt:
    """Store one feedback about `article`, routed to its owner team. Raises DatabaseUnavailable if it cannot."""
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


def insert_feedback(db: Database, record: FeedbackRecord) -> int:
    """Store one feedback; returns its id."""
    with db.write() as conn:
        new_id = conn.execute(
            feedback.insert()
            .values(
                ts=record.ts,
                article_id=record.article_id,
                owner=record.owner,
                outcome=record.outcome,
                request_id=record.request_id,
                comment=record.comment,
                caller=record.caller,
            )
            .returning(feedback.c.id)
        ).scalar_one()
    return int(new_id)


def feedback_counts(db: Database, since: str) -> list[FeedbackCount]:
    """Per article, owner and outcome: the feedback given since `since`."""
    c = feedback.c
    query = (
        select(c.article_id, c.owner, c.outcome, func.count().label("n"))
        .where(c.ts >= since)
        .group_by(c.article_id, c.owner, c.outcome)
    )
    with db.read() as conn:
        rows = conn.execute(query).all()
    return [FeedbackCount(r.article_id, r.owner, r.outcome, r.n) for r in rows]


def feedback_items(
    db: Database, since: str, *, owner: str | None = None, outcomes: Iterable[str] = (), limit: int = 50,
    include_internal: bool = True,
) -> list[FeedbackItem]:
    """The latest feedback since `since`, optionally for one owner team and some outcomes.

    Without `include_internal`, the comment is withheld (None) when the answer it is about was
    asked by a caller with the `internal` scope (`query_log.audience`): their words may quote an
    internal procedure."""
    c = feedback.c
    comment: Any = c.comment
    if not include_internal:
        asked_by = select(query_log.c.audience).where(query_log.c.request_id == c.request_id).scalar_subquery()
        comment = case((func.coalesce(asked_by, "public") == "public", c.comment), else_=None)
    query = select(c.id, c.ts, c.article_id, c.owner, c.outcome, c.request_id, comment.label("comment")).where(
        c.ts >= since
    )
    if owner is not None:
        query = query.where(c.owner == owner)
    outcomes = list(outcomes)
    if outcomes:
        query = query.where(c.outcome.in_(outcomes))
    query = query.order_by(c.ts.desc(), c.id.desc()).limit(limit)
    with db.read() as conn:
        return [FeedbackItem(*tuple(r)) for r in conn.execute(query).all()]
