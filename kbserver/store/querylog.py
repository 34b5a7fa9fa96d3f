"""The query log: every search and suggest answer, its text redacted before it is stored."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Protocol, Sequence

from sqlalchemy import exc, select, text

from kbserver.store.db import Database, DatabaseUnavailable, to_ts, utc_now
from kbserver.store.redact import redact
from kbserver.store.schema import query_log

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
    lang: str | None = None  # the message's detected language (suggest), BCP 47 primary subtag


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


def log_query(db: Database, kind: str, text: str, answer: Answer, caller: str, *, audience: str,
              lang: str | None = None) -> None:
    """Log one search or suggest answer: redacted text, top results with scores, no_confident_match,
    the caller's `audience` ('internal' if it held the `internal` scope, else 'public') and the
    message's detected language, when there is one."""
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
        lang=lang,
    )
    try:
        insert_query(db, record)
    except (DatabaseUnavailable, exc.SQLAlchemyError):
        # The agent's answer matters more than its log row: answer anyway (also while PostgreSQL
        # is unreachable). The busy timeout already absorbed ordinary contention, so this is a
        # broken disk, file or server; it is logged (without the text) for the operator.
        log.exception("could not log %s request %s", kind, record.request_id)


def insert_query(db: Database, record: QueryRecord) -> None:
    """Store one query log row."""
    with db.write() as conn:
        conn.execute(
            query_log.insert().values(
                request_id=record.request_id,
                ts=record.ts,
                kind=record.kind,
                mode=record.mode,
                text=record.text,
                results=record.results_json,
                no_confident_match=int(record.no_confident_match),
                caller=record.caller,
                audience=record.audience,
                lang=record.lang,
            )
        )


# The one query the two dialects spell differently: unnesting the JSON list of results.
_RESULT_COUNTS = {
    "sqlite": "SELECT j.value ->> '$.id' AS article_id, q.kind AS kind, COUNT(*) AS n"
    " FROM query_log AS q, json_each(q.results) AS j WHERE q.ts >= :since GROUP BY 1, 2",
    "postgresql": "SELECT j.value ->> 'id' AS article_id, q.kind AS kind, COUNT(*) AS n"
    " FROM query_log AS q, jsonb_array_elements(q.results::jsonb) AS j(value) WHERE q.ts >= :since GROUP BY 1, 2",
}


def result_counts(db: Database, since: str) -> list[ResultCount]:
    """How many logged searches/suggestions listed each article since `since`."""
    with db.read() as conn:
        rows = conn.execute(text(_RESULT_COUNTS[db.backend]), {"since": since}).all()
    return [ResultCount(r.article_id, r.kind, r.n) for r in rows]


def gap_queries(db: Database, since: str, limit: int) -> list[GapQuery]:
    """The latest logged queries since `since` that found no confident match or got "not helpful"."""
    sql = text(
        "SELECT q.request_id, q.ts, q.text, q.results, q.no_confident_match, q.audience,"
        " (SELECT f.article_id FROM feedback AS f WHERE f.request_id = q.request_id"
        "  AND f.outcome = 'not_helpful' ORDER BY f.id DESC LIMIT 1) AS not_helpful_article"
        " FROM query_log AS q"
        " WHERE q.ts >= :since AND (q.no_confident_match = 1 OR EXISTS ("
        "  SELECT 1 FROM feedback AS f WHERE f.request_id = q.request_id AND f.outcome = 'not_helpful'))"
        " ORDER BY q.ts DESC LIMIT :limit"
    )
    with db.read() as conn:
        rows = conn.execute(sql, {"since": since, "limit": limit}).all()
    return [
        GapQuery(r.request_id, r.ts, r.text, r.results, bool(r.no_confident_match), r.not_helpful_article, r.audience)
        for r in rows
    ]


def logged_query_text(db: Database, request_id: str) -> LoggedQuery | None:
    """The redacted text and kind of a logged request, or None."""
    with db.read() as conn:
        row = conn.execute(
            select(query_log.c.text, query_log.c.kind).where(query_log.c.request_id == request_id)
        ).first()
    return LoggedQuery(row.text, row.kind) if row else None
