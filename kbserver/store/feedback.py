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
    ticket_id: str | None = None


@dataclass(frozen=True)
class FeedbackCount:
    """How many feedbacks of one outcome one article got (routed to `owner`), and how many of them are handled."""

    article_id: str
    owner: str
    outcome: str
    n: int
    handled: int = 0


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
    ticket_id: str | None = None


@dataclass(frozen=True)
class Handled:
    """A feedback a lead marked handled: when, by whom (the caller) and the redacted note."""

    id: int
    article_id: str
    owner: str
    outcome: str
    handled_ts: str
    handled_by: str
    handled_note: str | None


class AlreadyHandled(Exception):
    """The feedback was marked handled before; `handled` says when and by whom."""

    def __init__(self, handled: Handled) -> None:
        super().__init__(f"feedback {handled.id} was handled by {handled.handled_by} at {handled.handled_ts}")
        self.handled = handled


def record_feedback(
    db: Database, article: Article, outcome: str, request_id: str | None, comment: str | None, caller: str,
    ticket_id: str | None = None,
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
        ticket_id=ticket_id,
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
                ticket_id=record.ticket_id,
            )
            .returning(feedback.c.id)
        ).scalar_one()
    return int(new_id)


def feedback_counts(db: Database, since: str) -> list[FeedbackCount]:
    """Per article, owner and outcome: the feedback given since `since`."""
    c = feedback.c
    handled = func.sum(case((c.handled_ts.is_not(None), 1), else_=0))
    query = (
        select(c.article_id, c.owner, c.outcome, func.count().label("n"), handled.label("handled"))
        .where(c.ts >= since)
        .group_by(c.article_id, c.owner, c.outcome)
    )
    with db.read() as conn:
        rows = conn.execute(query).all()
    return [FeedbackCount(r.article_id, r.owner, r.outcome, r.n, int(r.handled or 0)) for r in rows]


def feedback_items(
    db: Database, since: str, *, owner: str | None = None, outcomes: Iterable[str] = (), limit: int = 50,
    include_internal: bool = True, is_open: bool = False,
) -> list[FeedbackItem]:
    """The latest feedback since `since`, optionally for one owner team and some outcomes, and
    with `is_open` only those no lead has marked handled.

    Without `include_internal`, the comment is withheld (None) when the answer it is about was
    asked by a caller with the `internal` scope (`query_log.audience`): their words may quote an
    internal procedure."""
    c = feedback.c
    comment: Any = c.comment
    if not include_internal:
        asked_by = select(query_log.c.audience).where(query_log.c.request_id == c.request_id).scalar_subquery()
        comment = case((func.coalesce(asked_by, "public") == "public", c.comment), else_=None)
    query = select(c.id, c.ts, c.article_id, c.owner, c.outcome, c.request_id, comment.label("comment"), c.ticket_id).where(
        c.ts >= since
    )
    if owner is not None:
        query = query.where(c.owner == owner)
    if is_open:
        query = query.where(c.handled_ts.is_(None))
    outcomes = list(outcomes)
    if outcomes:
        query = query.where(c.outcome.in_(outcomes))
    query = query.order_by(c.ts.desc(), c.id.desc()).limit(limit)
    with db.read() as conn:
        return [FeedbackItem(*tuple(r)) for r in conn.execute(query).all()]


def _handled(row: Any) -> Handled:
    return Handled(row.id, row.article_id, row.owner, row.outcome, row.handled_ts, row.handled_by, row.handled_note)


def feedback_article(db: Database, feedback_id: int) -> tuple[str, str] | None:
    """(article id, outcome) of one stored feedback, or None when there is none with that id."""
    with db.read() as conn:
        row = conn.execute(select(feedback.c.article_id, feedback.c.outcome).where(feedback.c.id == feedback_id)).first()
    return (row.article_id, row.outcome) if row else None


def mark_handled(db: Database, feedback_id: int, by: str, note: str | None) -> Handled | None:
    """Mark one open feedback handled, now, by `by`, with `note` (redacted here); None when there is
    no such feedback. Raises AlreadyHandled when it was marked before (the first mark is kept).

    The UPDATE only touches a row that is still open, in one transaction, so two leads clicking
    at once get one success and one AlreadyHandled, never two marks."""
    c = feedback.c
    columns = (c.id, c.article_id, c.owner, c.outcome, c.handled_ts, c.handled_by, c.handled_note)
    with db.write() as conn:
        changed = conn.execute(
            feedback.update()
            .where(c.id == feedback_id, c.handled_ts.is_(None))
            .values(handled_ts=to_ts(utc_now()), handled_by=by, handled_note=redact(note) if note else None)
        ).rowcount
        row = conn.execute(select(*columns).where(c.id == feedback_id)).first()
    if row is None:
        return None
    if not changed:
        raise AlreadyHandled(_handled(row))
    return _handled(row)
