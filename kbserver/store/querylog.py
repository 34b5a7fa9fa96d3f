"""The query log: every search and suggest answer, its text redacted before it is stored."""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from typing import Protocol, Sequence

from kbserver.store.db import to_ts, utc_now
from kbserver.store.redact import redact

log = logging.getLogger(__name__)

TOP_RESULTS_LOGGED = 10


@dataclass(frozen=True)
class QueryRecord:
    """One logged search or suggest answer, ready to store (text already redacted)."""

    request_id: str
    ts: str
    kind: str  # search | suggest
    mode: str
    text: str  # already redacted
    results_json: str  # [{"id": ..., "score": ...}, ...] best first
    no_confident_match: bool
    caller: str
    audience: str = "public"  # internal: the caller held the `internal` scope (AUDIENCES)


AUDIENCES = ("public", "internal")


@dataclass(frozen=True)
class ResultCount:
    """How many logged answers of one kind listed one article."""

    article_id: str
    kind: str
    n: int


@dataclass(frozen=True)
class GapQuery:
    """A logged query that found no confident match or got "not helpful" (one row per query)."""

    request_id: str
    ts: str
    text: str
    results: str  # JSON, as logged
    no_confident_match: bool
    not_helpful_article: str | None  # the article marked not helpful, if any
    audience: str = "public"  # of the caller who sent it


@dataclass(frozen=True)
class LoggedQuery:
    """The redacted text and kind of one logged request."""

    text: str
    kind: str


class _Ref(Protocol):
    @property
    def id(self) -> str: ...


class _Item(Protocol):
    @property
    def article(self) -> _Ref: ...

    @property
    def score(self) -> float: ...


class Answer(Protocol):
    """What the log needs of a search or suggest answer (`kbserver.retrieval.answers`)."""

    @property
    def request_id(self) -> str: ...

    @property
    def mode(self) -> str: ...

    @property
    def no_confident_match(self) -> bool: ...

    @property
    def items(self) -> Sequence[_Item]: ...


def log_query(db: sqlite3.Connection, kind: str, text: str, answer: Answer, caller: str, *, audience: str) -> None:
    """Log one search or suggest answer: redacted text, top results with scores, no_confident_match,
    and the caller's `audience` ('internal' if it held the `internal` scope, else 'public')."""
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {AUDIENCES}, not {audience!r}")
    top = [{"id": item.article.id, "score": item.score} for item in answer.items[:TOP_RESULTS_LOGGED]]
    record = QueryRecord(
        request_id=answer.request_id,
        ts=to_ts(utc_now()),
        kind=kind,
        mode=answer.mode,
        text=redact(text),
        results_json=json.dumps(top),
        no_confident_match=answer.no_confident_match,
        caller=caller,
        audience=audience,
    )
    try:
        insert_query(db, record)
    except sqlite3.Error:
        # The agent's answer matters more than its log row: answer anyway. The busy timeout
        # already absorbed ordinary contention, so this is a broken disk or file; it is logged
        # (without the text) for the operator.
        log.exception("could not log %s request %s", kind, record.request_id)


def insert_query(db: sqlite3.Connection, record: QueryRecord) -> None:
    """Store one query log row."""
    db.execute(
        "INSERT INTO query_log (request_id, ts, kind, mode, text, results, no_confident_match, caller, audience)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.request_id,
            record.ts,
            record.kind,
            record.mode,
            record.text,
            record.results_json,
            int(record.no_confident_match),
            record.caller,
            record.audience,
        ),
    )


def result_counts(db: sqlite3.Connection, since: str) -> list[ResultCount]:
    """How many logged searches/suggestions listed each article since `since`."""
    rows = db.execute(
        "SELECT j.value ->> '$.id' AS article_id, q.kind AS kind, COUNT(*) AS n"
        " FROM query_log AS q, json_each(q.results) AS j"
        " WHERE q.ts >= ? GROUP BY 1, 2",
        (since,),
    ).fetchall()
    return [ResultCount(r["article_id"], r["kind"], r["n"]) for r in rows]


def gap_queries(db: sqlite3.Connection, since: str, limit: int) -> list[GapQuery]:
    """The latest logged queries since `since` that found no confident match or got "not helpful"."""
    rows = db.execute(
        "SELECT q.request_id, q.ts, q.text, q.results, q.no_confident_match, q.audience,"
        " (SELECT f.article_id FROM feedback AS f WHERE f.request_id = q.request_id"
        "  AND f.outcome = 'not_helpful' ORDER BY f.id DESC LIMIT 1) AS not_helpful_article"
        " FROM query_log AS q"
        " WHERE q.ts >= ? AND (q.no_confident_match = 1 OR EXISTS ("
        "  SELECT 1 FROM feedback AS f WHERE f.request_id = q.request_id AND f.outcome = 'not_helpful'))"
        " ORDER BY q.ts DESC LIMIT ?",
        (since, limit),
    ).fetchall()
    return [
        GapQuery(r["request_id"], r["ts"], r["text"], r["results"], bool(r["no_confident_match"]), r["not_helpful_article"],
                 r["audience"])
        for r in rows
    ]


def logged_query_text(db: sqlite3.Connection, request_id: str) -> LoggedQuery | None:
    """The redacted text and kind of a logged request, or None."""
    row = db.execute("SELECT text, kind FROM query_log WHERE request_id = ?", (request_id,)).fetchone()
    return LoggedQuery(row["text"], row["kind"]) if row else None
