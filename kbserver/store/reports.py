"""What owner teams read: per-article and per-team numbers and the content gaps. No Flask here.

Definitions (docs/feedback.md explains them for readers):

    views          logged searches whose top results listed the article
    suggestions    logged suggest answers that listed the article
    feedback       feedback rows about the article (any outcome)
    helpful_rate   (helpful + resolved_first_contact) / feedback
    fcr_rate       resolved_first_contact / feedback: of the contacts where an agent used the
                   article and said how it went, the share resolved without a second contact
    open_feedback  not_helpful + escalated feedback routed to the team
    stale          review_by is before today

Every number covers one window (`since`), and only the articles the caller may see.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from indexer.article import Article
from kbserver.store.db import Database, to_ts, utc_now
from kbserver.store.feedback import OPEN_OUTCOMES, feedback_counts, feedback_items
from kbserver.store.querylog import gap_queries, result_counts

GAP_SIMILARITY = 0.5  # cosine to a cluster's centroid; measured on paraphrase sets, see docs/feedback.md
GAP_MAX_QUERIES = 2000  # the most recent gap queries clustered per report
GAP_EXAMPLES = 5
EMBED_BATCH = 256  # below the query embedder's LRU size, so one call never evicts its own texts
_WINDOW_RE = re.compile(r"(\d{1,5})([hdw])")  # the same pattern is in openapi.py
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_PLACEHOLDER_RE = re.compile(r"<[a-z]+>")


def parse_window(value: str) -> timedelta:
    """'12h', '30d' or '2w' (up to five digits) as a timedelta. Raises ValueError for anything else."""
    match = _WINDOW_RE.fullmatch(value or "")
    if not match:
        raise ValueError(f"'{value}' is not a window like 12h, 30d or 2w")
    return int(match.group(1)) * _UNITS[match.group(2)]


def window_start(window: timedelta, now: datetime | None = None) -> str:
    """The stored-time form of `now - window`: rows at or after it are in the report."""
    return to_ts((now or utc_now()) - window)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


@dataclass(frozen=True)
class ArticleStats:
    """One row of the per-article report (definitions in the module docstring)."""

    id: str
    title: str
    owner: str
    views: int = 0
    suggestions: int = 0
    feedback: int = 0
    helpful: int = 0
    not_helpful: int = 0
    resolved_first_contact: int = 0
    escalated: int = 0
    review_by: str | None = None
    is_stale: bool = False

    @property
    def helpful_rate(self) -> float | None:
        return _rate(self.helpful + self.resolved_first_contact, self.feedback)

    @property
    def fcr_rate(self) -> float | None:
        return _rate(self.resolved_first_contact, self.feedback)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "helpful_rate": self.helpful_rate, "fcr_rate": self.fcr_rate}


@dataclass(frozen=True)
class TeamStats:
    """One row of the per-team report: its articles' totals, open feedback and stale articles."""

    team: str
    articles: int
    views: int
    suggestions: int
    feedback: int
    resolved_first_contact: int
    escalated: int
    open_feedback: int
    stale_articles: tuple[dict[str, str], ...] = field(default=())

    @property
    def fcr_rate(self) -> float | None:
        return _rate(self.resolved_first_contact, self.feedback)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["stale_articles"] = list(self.stale_articles)
        return {**out, "fcr_rate": self.fcr_rate}


@dataclass(frozen=True)
class Gap:
    """One content gap: a cluster of queries asking the same thing."""

    count: int
    examples: tuple[str, ...]
    no_confident_match: int
    not_helpful: int
    closest_article: dict[str, str] | None
    team: str | None
    last_seen: str

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "examples": list(self.examples)}


def article_report(
    db: Database,
    articles: Mapping[str, Article],
    since: str,
    *,
    team: str | None = None,
    today: date | None = None,
) -> list[ArticleStats]:
    """One row per visible article (of `team`, if given), by owner, then most feedback first."""
    today_s = (today or utc_now().date()).isoformat()
    counts: dict[str, Counter[str]] = {aid: Counter() for aid in articles}
    for row in result_counts(db, since):
        if row.article_id in counts:
            counts[row.article_id]["views" if row.kind == "search" else "suggestions"] += row.n
    for fb in feedback_counts(db, since):
        if fb.article_id in counts:
            counts[fb.article_id][fb.outcome] += fb.n
            counts[fb.article_id]["feedback"] += fb.n
    rows = [
        ArticleStats(
            id=a.id,
            title=a.title,
            owner=a.owner,
            views=c["views"],
            suggestions=c["suggestions"],
            feedback=c["feedback"],
            helpful=c["helpful"],
            not_helpful=c["not_helpful"],
            resolved_first_contact=c["resolved_first_contact"],
            escalated=c["escalated"],
            review_by=a.review_by,
            is_stale=bool(a.review_by and a.review_by < today_s),
        )
        for a, c in ((articles[aid], counts[aid]) for aid in articles)
        if team is None or a.owner == team
    ]
    return sorted(rows, key=lambda r: (r.owner, -r.feedback, -r.views - r.suggestions, r.id))


def team_report(
    db: Database,
    articles: Mapping[str, Article],
    since: str,
    *,
    team: str | None = None,
    today: date | None = None,
) -> list[TeamStats]:
    """One row per owner team of the visible articles (or just `team`), by name."""
    per_article = article_report(db, articles, since, team=team, today=today)
    open_by_team: Counter[str] = Counter()
    for row in feedback_counts(db, since):
        # Routed owner (at the time of the feedback), for articles this caller may see.
        if row.article_id in articles and row.outcome in OPEN_OUTCOMES:
            open_by_team[row.owner] += row.n
    teams: dict[str, list[ArticleStats]] = {}
    for stats in per_article:
        teams.setdefault(stats.owner, []).append(stats)
    return [
        TeamStats(
            team=name,
            articles=len(rows),
            views=sum(r.views for r in rows),
            suggestions=sum(r.suggestions for r in rows),
            feedback=sum(r.feedback for r in rows),
            resolved_first_contact=sum(r.resolved_first_contact for r in rows),
            escalated=sum(r.escalated for r in rows),
            open_feedback=open_by_team[name],
            stale_articles=tuple(
                {"id": r.id, "title": r.title, "review_by": r.review_by or ""}
                for r in sorted(rows, key=lambda r: r.review_by or "")
                if r.is_stale
            ),
        )
        for name, rows in sorted(teams.items())
    ]


def open_feedback(
    db: Database, articles: Mapping[str, Article], since: str, *, team: str | None = None, limit: int = 20,
    include_internal: bool = True,
) -> list[dict[str, Any]]:
    """The latest not_helpful/escalated feedback routed to `team` (or any), for visible articles;
    without `include_internal`, comments about internal callers' answers are withheld."""
    # Fetch extra rows: feedback on articles this caller may not see is dropped after the query.
    rows = feedback_items(db, since, owner=team, outcomes=OPEN_OUTCOMES, limit=limit * 4, include_internal=include_internal)
    visible = [asdict(r) for r in rows if r.article_id in articles]
    return visible[:limit]


# ---------------------------------------------------------------------------- gaps


def cluster_vectors(vectors: np.ndarray, threshold: float = GAP_SIMILARITY) -> list[list[int]]:
    """Greedy centroid clustering of L2-normalised rows: each row joins the cluster whose
    centroid is most similar if that cosine is >= `threshold`, else starts a new cluster.

    Rows are taken in the order given (callers put the most frequent first, so a cluster's
    centroid starts from its most typical phrasing). O(rows x clusters), one matrix-vector
    product per row.
    """
    centroids: list[np.ndarray] = []
    sums: list[np.ndarray] = []
    members: list[list[int]] = []
    for i, vector in enumerate(vectors):
        if centroids:
            sims = np.vstack(centroids) @ vector
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                members[best].append(i)
                sums[best] = sums[best] + vector
                centroids[best] = sums[best] / np.linalg.norm(sums[best])
                continue
        centroids.append(vector.astype(np.float32, copy=True))
        sums.append(vector.astype(np.float32, copy=True))
        members.append([i])
    return members


def clustering_text(redacted: str, clean: Callable[[str], str]) -> str:
    """What is embedded for clustering: the query without greetings, sign-offs and placeholders.

    `clean` is ranking's message cleaner (`kbserver.retrieval.message.clean_query`), passed in
    so that the database layer does not reach up into retrieval."""
    cleaned = clean(_PLACEHOLDER_RE.sub(" ", redacted))
    return (cleaned or redacted).strip().lower()


def embed_in_batches(embed: Callable[[list[str]], np.ndarray], texts: Sequence[str]) -> np.ndarray:
    """One row per text, embedded EMBED_BATCH at a time."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.vstack([embed(list(texts[i : i + EMBED_BATCH])) for i in range(0, len(texts), EMBED_BATCH)])


@dataclass
class _Phrasing:
    text: str  # clustering text
    examples: Counter[str]
    articles: Counter[str]
    no_confident_match: int = 0
    not_helpful: int = 0
    last_seen: str = ""

    @property
    def count(self) -> int:
        return sum(self.examples.values())


def gap_report(
    db: Database,
    articles: Mapping[str, Article],
    embed: Callable[[list[str]], np.ndarray],
    since: str,
    *,
    clean: Callable[[str], str],
    team: str | None = None,
    threshold: float = GAP_SIMILARITY,
    include_internal: bool = True,
) -> list[Gap]:
    """Queries that found no confident match or got "not helpful", one Gap per question asked
    in several ways, biggest first. A gap's team owns its closest article: the one marked not
    helpful, else the (weak) top result.

    Without `include_internal` (a reader without the `internal` scope), a query is left out when
    its caller held `internal` or its closest article is not among `articles`: an internal
    agent's words about an internal procedure are that procedure's text, in other words."""
    phrasings: dict[str, _Phrasing] = {}
    for row in gap_queries(db, since, GAP_MAX_QUERIES):
        closest = row.not_helpful_article or next(iter(r["id"] for r in json.loads(row.results)), None)
        if not include_internal and (row.audience != "public" or (closest is not None and closest not in articles)):
            continue
        key = clustering_text(row.text, clean)
        p = phrasings.setdefault(key, _Phrasing(key, Counter(), Counter()))
        p.examples[row.text] += 1
        p.no_confident_match += int(row.no_confident_match)
        p.not_helpful += int(row.not_helpful_article is not None)
        p.last_seen = max(p.last_seen, row.ts)
        if closest is not None and closest in articles:
            p.articles[closest] += 1
    ordered = sorted(phrasings.values(), key=lambda p: (-p.count, p.text))
    vectors = embed_in_batches(embed, [p.text for p in ordered])
    gaps = []
    for members in cluster_vectors(vectors, threshold) if ordered else []:
        group = [ordered[i] for i in members]
        examples: Counter[str] = sum((p.examples for p in group), Counter())
        article_votes: Counter[str] = sum((p.articles for p in group), Counter())
        closest = articles[article_votes.most_common(1)[0][0]] if article_votes else None
        gaps.append(
            Gap(
                count=sum(p.count for p in group),
                examples=tuple(text for text, _ in examples.most_common(GAP_EXAMPLES)),
                no_confident_match=sum(p.no_confident_match for p in group),
                not_helpful=sum(p.not_helpful for p in group),
                closest_article={"id": closest.id, "title": closest.title} if closest else None,
                team=closest.owner if closest else None,
                last_seen=max(p.last_seen for p in group),
            )
        )
    if team is not None:
        gaps = [g for g in gaps if g.team == team]
    gaps.sort(key=lambda g: g.last_seen, reverse=True)
    return sorted(gaps, key=lambda g: -g.count)  # stable: equal counts stay most recent first


# ---------------------------------------------------------------------------- everything at once


@dataclass(frozen=True)
class Report:
    """What the web page and `kb report` show: every table for one window (and team)."""

    since: str
    window: str
    team: str | None
    teams: list[TeamStats]
    articles: list[ArticleStats]
    gaps: list[Gap]
    open_feedback: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "window": self.window,
            "team": self.team,
            "teams": [t.to_dict() for t in self.teams],
            "articles": [a.to_dict() for a in self.articles],
            "gaps": [g.to_dict() for g in self.gaps],
            "open_feedback": self.open_feedback,
        }


def build_report(
    db: Database,
    articles: Mapping[str, Article],
    embed: Callable[[list[str]], np.ndarray],
    window: str,
    *,
    clean: Callable[[str], str],
    team: str | None = None,
    today: date | None = None,
    now: datetime | None = None,
    include_internal: bool = True,
) -> Report:
    """Every table for `window` ('30d'). Raises ValueError for a bad window. `include_internal`
    False (a reader without the `internal` scope) hides internal callers' text (`gap_report`)."""
    since = window_start(parse_window(window), now)
    return Report(
        since=since,
        window=window,
        team=team,
        teams=team_report(db, articles, since, team=team, today=today),
        articles=article_report(db, articles, since, team=team, today=today),
        gaps=gap_report(db, articles, embed, since, clean=clean, team=team, include_internal=include_internal),
        open_feedback=open_feedback(db, articles, since, team=team, include_internal=include_internal),
    )


def teams_of(articles: Iterable[Article]) -> list[str]:
    """The owner teams of `articles`, sorted."""
    return sorted({a.owner for a in articles})
