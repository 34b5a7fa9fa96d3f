"""Article opens, click-through, week-over-week trends and the searches that found nothing.

A *view* is an article opened: the article page, or the article fetched through the API (a
helpdesk showing it). It is recorded on the server when the article is answered, with the
search or suggest answer it was opened from when the link carried one (`?rid=` on the page,
`?from=` on the API), so click-through needs no script. Search appearances are counted apart,
as *impressions* (reports.py). Nothing here stores text.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exc, func, select

from kbserver.store.db import Database, DatabaseUnavailable, to_ts, utc_now
from kbserver.store.schema import article_views, feedback, query_log

log = logging.getLogger(__name__)

VIEW_KINDS = ("page", "api")
DEFAULT_WEEKS = 8
MAX_WEEKS = 52
NO_RESULTS_LIMIT = 20
_NO_RESULTS = "[]"  # how query_log.results spells "nothing found"
_KIND_FIELDS = {"search": "searches", "suggest": "suggests"}


def record_view(db: Database, article_id: str, kind: str, from_request_id: str | None, caller: str) -> None:
    """Record one article opened (`kind` page or api), from the answer `from_request_id` if any.

    A view is a count, not the answer: when the database cannot take it the article is still
    served, and the failure is logged for the operator (as the query log does)."""
    if kind not in VIEW_KINDS:
        raise ValueError(f"kind must be one of {VIEW_KINDS}, not {kind!r}")
    try:
        with db.write() as conn:
            conn.execute(article_views.insert().values(
                ts=to_ts(utc_now()), article_id=article_id, kind=kind, from_request_id=from_request_id, caller=caller,
            ))
    except (DatabaseUnavailable, exc.SQLAlchemyError):
        log.exception("could not record a view of %s", article_id)


def view_counts(db: Database, since: str) -> dict[str, int]:
    """{article id: times opened since `since`}."""
    c = article_views.c
    with db.read() as conn:
        rows = conn.execute(select(c.article_id, func.count()).where(c.ts >= since).group_by(c.article_id)).all()
    return {article_id: int(n) for article_id, n in rows}


@dataclass(frozen=True)
class ClickThrough:
    """Of the logged answers of one kind that listed results, how many had a result opened from them."""

    kind: str  # search | suggest
    answers_with_results: int
    opened: int  # answers at least one of whose results was opened

    @property
    def rate(self) -> float | None:
        return round(self.opened / self.answers_with_results, 3) if self.answers_with_results else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rate": self.rate}


def click_through(db: Database, since: str, *, include_internal: bool = True) -> list[ClickThrough]:
    """Click-through per kind (search, suggest) for the answers logged since `since`; without
    `include_internal`, only public callers' answers count."""
    q, v = query_log.c, article_views.c
    opened = select(v.from_request_id).where(v.from_request_id == q.request_id).exists()
    query = (
        select(q.kind, func.count(), func.sum(case((opened, 1), else_=0)))
        .where(q.ts >= since, q.results != _NO_RESULTS)
        .group_by(q.kind)
    )
    if not include_internal:
        query = query.where(q.audience == "public")
    with db.read() as conn:
        found = {kind: (int(n), int(o or 0)) for kind, n, o in conn.execute(query).all()}
    return [ClickThrough(kind, *found.get(kind, (0, 0))) for kind in ("search", "suggest")]


# ---------------------------------------------------------------------------- trends


@dataclass(frozen=True)
class Week:
    """One week's counts (the 7 days from `start`, UTC)."""

    start: str
    end: str
    searches: int = 0
    suggests: int = 0
    no_match: int = 0  # searches and suggests that found nothing or no confident match
    views: int = 0
    feedback: int = 0
    helpful: int = 0  # helpful + resolved on first contact

    @property
    def helpful_rate(self) -> float | None:
        return round(self.helpful / self.feedback, 3) if self.feedback else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "helpful_rate": self.helpful_rate}


def week_bounds(weeks: int, now: datetime | None = None) -> list[tuple[str, str]]:
    """(start, end) of each of the last `weeks` 7-day spans ending now, oldest first."""
    end = now or utc_now()
    return [(to_ts(end - timedelta(weeks=i + 1)), to_ts(end - timedelta(weeks=i))) for i in reversed(range(weeks))]


def _bucket(ts: Any, bounds: list[tuple[str, str]]) -> Any:
    """A SQL expression: the index of the week `ts` falls in (bounds oldest first), NULL outside."""
    return case(*((and_(ts >= start, ts < end), i) for i, (start, end) in enumerate(bounds)), else_=None)


def weekly_trends(
    db: Database, weeks: int = DEFAULT_WEEKS, *, now: datetime | None = None, visible: set[str] | None = None,
    include_internal: bool = True,
) -> list[Week]:
    """Counts for each of the last `weeks` weeks, oldest first. `visible` keeps views and feedback
    to those article ids; without `include_internal` only public callers' queries count."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks must be from 1 to {MAX_WEEKS}")
    bounds = week_bounds(weeks, now)
    since = bounds[0][0]
    q, v, f = query_log.c, article_views.c, feedback.c
    counts: list[dict[str, int]] = [{} for _ in bounds]
    queries = select(_bucket(q.ts, bounds).label("week"), q.kind, func.count(),
                     func.sum(case((q.no_confident_match == 1, 1), else_=0))).where(q.ts >= since)
    if not include_internal:
        queries = queries.where(q.audience == "public")
    with db.read() as conn:
        for week, kind, n, no_match in conn.execute(queries.group_by("week", q.kind)).all():
            if week is not None:
                counts[week][_KIND_FIELDS[kind]] = int(n)
                counts[week]["no_match"] = counts[week].get("no_match", 0) + int(no_match or 0)
        views = select(_bucket(v.ts, bounds).label("week"), v.article_id, func.count()).where(v.ts >= since)
        for week, article_id, n in conn.execute(views.group_by("week", v.article_id)).all():
            if week is not None and (visible is None or article_id in visible):
                counts[week]["views"] = counts[week].get("views", 0) + int(n)
        given = select(_bucket(f.ts, bounds).label("week"), f.article_id, f.outcome, func.count()).where(f.ts >= since)
        for week, article_id, outcome, n in conn.execute(given.group_by("week", f.article_id, f.outcome)).all():
            if week is not None and (visible is None or article_id in visible):
                counts[week]["feedback"] = counts[week].get("feedback", 0) + int(n)
                if outcome in ("helpful", "resolved_first_contact"):
                    counts[week]["helpful"] = counts[week].get("helpful", 0) + int(n)
    return [Week(start, end, **c) for (start, end), c in zip(bounds, counts)]


# ---------------------------------------------------------------------------- no results


@dataclass(frozen=True)
class NoResult:
    """A query (redacted, lower-cased) that found nothing or no confident match, and how often."""

    text: str
    count: int
    searches: int
    suggests: int
    last_seen: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def no_result_queries(
    db: Database, since: str, *, limit: int = NO_RESULTS_LIMIT, include_internal: bool = True,
) -> list[NoResult]:
    """Queries since `since` that returned nothing or `no_confident_match`, grouped by their
    lower-cased text, most frequent first (then most recent). Without `include_internal`, only
    public callers' text is shown (internal callers' words may quote an internal procedure)."""
    q = query_log.c
    text = func.lower(func.trim(q.text)).label("text")
    n = func.count().label("n")
    query = (
        select(text, n, func.sum(case((q.kind == "search", 1), else_=0)), func.max(q.ts).label("last"))
        .where(q.ts >= since, (q.no_confident_match == 1) | (q.results == _NO_RESULTS))
        .group_by(text)
        .order_by(n.desc(), func.max(q.ts).desc(), text)
        .limit(limit)
    )
    if not include_internal:
        query = query.where(q.audience == "public")
    with db.read() as conn:
        rows = conn.execute(query).all()
    return [NoResult(r[0], int(r[1]), int(r[2] or 0), int(r[1]) - int(r[2] or 0), r[3]) for r in rows]

