"""What owner teams read: per-article and per-team numbers and the content gaps. No Flask here.

Definitions (docs/feedback.md explains them for readers):

    views          times the article was opened: its page, or fetched through the API (activity.py)
    impressions    logged searches whose top results listed the article
    suggestions    logged suggest answers that listed the article
    feedback       feedback rows about the article (any outcome)
    helpful_rate   (helpful + resolved_first_contact) / feedback
    fcr_rate       resolved_first_contact / feedback: of the contacts where an agent used the
                   article and said how it went, the share resolved without a second contact
    open_feedback  not_helpful + escalated feedback routed to the team that no lead marked handled
    handled        not_helpful + escalated feedback routed to the team and marked handled
    click-through  of the logged answers that listed results, the share with a result opened from them
    stale          review_by is before today
    per agent      for each signed-in person (or token) who used kb in the window: suggestions and
                   searches asked, feedback given by outcome, fcr_rate, and feedback they marked
                   handled. Leads read it (the `reports` scope); it counts, it quotes nothing.

Every number covers one window (`since`), and only the articles the caller may see.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from indexer.article import Article
from kbserver.store import activity
from kbserver.store.activity import ClickThrough, NoResult, Week
from kbserver.store.db import Database, to_ts, utc_now
from kbserver.store.feedback import OPEN_OUTCOMES, feedback_counts, feedback_items
from kbserver.store.gaps import Gap, gap_report
from kbserver.store.querylog import result_counts

_WINDOW_RE = re.compile(r"(\d{1,5})([hdw])")  # the same pattern is in openapi.py
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


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
    impressions: int = 0
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
    impressions: int
    suggestions: int
    feedback: int
    resolved_first_contact: int
    escalated: int
    open_feedback: int
    handled_feedback: int
    stale_articles: tuple[dict[str, str], ...] = field(default=())

    @property
    def fcr_rate(self) -> float | None:
        return _rate(self.resolved_first_contact, self.feedback)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["stale_articles"] = list(self.stale_articles)
        return {**out, "fcr_rate": self.fcr_rate}


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
            counts[row.article_id]["impressions" if row.kind == "search" else "suggestions"] += row.n
    for article_id, n in activity.view_counts(db, since).items():
        if article_id in counts:
            counts[article_id]["views"] += n
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
            impressions=c["impressions"],
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
    return sorted(rows, key=lambda r: (r.owner, -r.feedback, -r.views - r.impressions - r.suggestions, r.id))


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
    handled_by_team: Counter[str] = Counter()
    for row in feedback_counts(db, since):
        # Routed owner (at the time of the feedback), for articles this caller may see.
        if row.article_id in articles and row.outcome in OPEN_OUTCOMES:
            open_by_team[row.owner] += row.n - row.handled
            handled_by_team[row.owner] += row.handled
    teams: dict[str, list[ArticleStats]] = {}
    for stats in per_article:
        teams.setdefault(stats.owner, []).append(stats)
    return [
        TeamStats(
            team=name,
            articles=len(rows),
            views=sum(r.views for r in rows),
            impressions=sum(r.impressions for r in rows),
            suggestions=sum(r.suggestions for r in rows),
            feedback=sum(r.feedback for r in rows),
            resolved_first_contact=sum(r.resolved_first_contact for r in rows),
            escalated=sum(r.escalated for r in rows),
            open_feedback=open_by_team[name],
            handled_feedback=handled_by_team[name],
            stale_articles=tuple(
                {"id": r.id, "title": r.title, "review_by": r.review_by or ""}
                for r in sorted(rows, key=lambda r: r.review_by or "")
                if r.is_stale
            ),
        )
        for name, rows in sorted(teams.items())
    ]


@dataclass(frozen=True)
class AgentStats:
    """One row of the per-agent report: what one person (or token) asked and said in the window."""

    agent: str  # the caller kb recorded: an e-mail or pseudonym, or a token's name
    suggestions: int
    searches: int
    feedback: int
    helpful: int
    not_helpful: int
    resolved_first_contact: int
    escalated: int
    handled: int  # feedback this person marked handled (leads)

    @property
    def fcr_rate(self) -> float | None:
        return _rate(self.resolved_first_contact, self.feedback)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fcr_rate": self.fcr_rate}


def agent_report(db: Database, articles: Mapping[str, Article], since: str, *, team: str | None = None,
                 limit: int = 200) -> list[AgentStats]:
    """One row per caller other than "anonymous" who asked or gave feedback since `since`, most active first.

    Feedback counts only articles the reader may see (of `team`, if given); questions count
    whole (a question is not about one team's article until it is answered).
    """
    from sqlalchemy import func, select

    from kbserver.store.schema import feedback, query_log

    counts: dict[str, Counter[str]] = {}
    with db.read() as conn:
        asked = conn.execute(
            select(query_log.c.caller, query_log.c.kind, func.count().label("n"))
            .where(query_log.c.ts >= since, query_log.c.caller != "anonymous")
            .group_by(query_log.c.caller, query_log.c.kind)
        ).all()
        said = conn.execute(
            select(feedback.c.caller, feedback.c.article_id, feedback.c.owner, feedback.c.outcome, func.count().label("n"))
            .where(feedback.c.ts >= since, feedback.c.caller != "anonymous")
            .group_by(feedback.c.caller, feedback.c.article_id, feedback.c.owner, feedback.c.outcome)
        ).all()
        handled = conn.execute(
            select(feedback.c.handled_by, feedback.c.article_id, feedback.c.owner, func.count().label("n"))
            .where(feedback.c.handled_ts >= since, feedback.c.handled_by.is_not(None))
            .group_by(feedback.c.handled_by, feedback.c.article_id, feedback.c.owner)
        ).all()
    for caller, kind, n in asked:
        counts.setdefault(caller, Counter())["suggestions" if kind == "suggest" else "searches"] += n
    for caller, article_id, owner, outcome, n in said:
        if article_id in articles and (team is None or owner == team):
            counts.setdefault(caller, Counter())[outcome] += n
            counts[caller]["feedback"] += n
    for caller, article_id, owner, n in handled:
        if article_id in articles and (team is None or owner == team) and caller != "anonymous":
            counts.setdefault(caller, Counter())["handled"] += n
    rows = [
        AgentStats(agent, c["suggestions"], c["searches"], c["feedback"], c["helpful"], c["not_helpful"],
                   c["resolved_first_contact"], c["escalated"], c["handled"])
        for agent, c in counts.items()
    ]
    rows.sort(key=lambda r: (-(r.suggestions + r.searches + r.feedback), r.agent))
    return rows[:limit]


def open_feedback(
    db: Database, articles: Mapping[str, Article], since: str, *, team: str | None = None, limit: int = 20,
    include_internal: bool = True,
) -> list[dict[str, Any]]:
    """The latest not_helpful/escalated feedback routed to `team` (or any) that no lead marked
    handled, for visible articles; without `include_internal`, comments about internal callers'
    answers are withheld."""
    # Fetch extra rows: feedback on articles this caller may not see is dropped after the query.
    rows = feedback_items(db, since, owner=team, outcomes=OPEN_OUTCOMES, limit=limit * 4,
                          include_internal=include_internal, is_open=True)
    visible = [asdict(r) for r in rows if r.article_id in articles]
    return visible[:limit]


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
    trends: list[Week] = field(default_factory=list)
    no_results: list[NoResult] = field(default_factory=list)
    click_through: list[ClickThrough] = field(default_factory=list)
    agents: list[AgentStats] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "window": self.window,
            "team": self.team,
            "teams": [t.to_dict() for t in self.teams],
            "articles": [a.to_dict() for a in self.articles],
            "gaps": [g.to_dict() for g in self.gaps],
            "open_feedback": self.open_feedback,
            "trends": [w.to_dict() for w in self.trends],
            "no_results": [n.to_dict() for n in self.no_results],
            "click_through": [c.to_dict() for c in self.click_through],
            "agents": [a.to_dict() for a in self.agents],
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
    weeks: int = activity.DEFAULT_WEEKS,
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
        trends=activity.weekly_trends(db, weeks, now=now, visible=team_articles(articles, team),
                                      include_internal=include_internal),
        no_results=activity.no_result_queries(db, since, include_internal=include_internal),
        click_through=activity.click_through(db, since, include_internal=include_internal),
        agents=agent_report(db, articles, since, team=team),
    )


def team_articles(articles: Mapping[str, Article], team: str | None) -> set[str]:
    """The ids of `articles` owned by `team` (all of them when None)."""
    return {a.id for a in articles.values() if team is None or a.owner == team}


def teams_of(articles: Iterable[Article]) -> list[str]:
    """The owner teams of `articles`, sorted."""
    return sorted({a.owner for a in articles})
