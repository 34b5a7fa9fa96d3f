"""`GET /api/v1/reports/{articles,teams,gaps}`: what owner teams read, as JSON (scope `reports`).

Each takes `?since=30d` (also `12h`, `2w`) and `?team=` (400 `invalid_team` when no visible article
has that owner); gaps also take `?limit=` (default 20); definitions are in kbserver/reports.py
and docs/feedback.md. Routes live on `kbserver.api.bp` (imported at the bottom of api.py).
"""

from __future__ import annotations

from typing import Mapping

from flask import jsonify, request

from indexer.article import Article
from kbserver import reports
from kbserver.api import _limit_param, _view, bp
from kbserver.auth import require
from kbserver.errors import ApiError
from kbserver.reader_app import services
from kbserver.storage import get_db

DEFAULT_WINDOW = "30d"


def report_window() -> tuple[str, str]:
    """(`since` as given, the UTC timestamp it starts at). Raises ApiError(400) for a bad window."""
    window = request.args.get("since") or DEFAULT_WINDOW
    try:
        return window, reports.window_start(reports.parse_window(window))
    except ValueError as exc:
        raise ApiError(400, "invalid_since", f"'since' {exc}") from exc


def report_team(articles: Mapping[str, Article]) -> str | None:
    """`?team=`, if given. Raises ApiError(400) when no article the caller may see has that owner."""
    team = request.args.get("team") or None
    if team is not None and team not in reports.teams_of(articles.values()):
        raise ApiError(400, "invalid_team", f"no article you may see is owned by '{team}'")
    return team


def _envelope(window: str, since: str, team: str | None, key: str, rows: list) -> dict:
    return {"since": since, "window": window, "team": team, key: [row.to_dict() for row in rows]}


@bp.get("/reports/articles")
def report_articles():
    """Per-article views, suggestions, feedback, helpful and FCR rates."""
    require("reports")
    window, since = report_window()
    articles = _view().articles
    team = report_team(articles)
    rows = reports.article_report(get_db(), articles, since, team=team)
    return jsonify(_envelope(window, since, team, "articles", rows))


@bp.get("/reports/teams")
def report_teams():
    """Per-team FCR, open feedback and stale articles."""
    require("reports")
    window, since = report_window()
    articles = _view().articles
    team = report_team(articles)
    rows = reports.team_report(get_db(), articles, since, team=team)
    return jsonify(_envelope(window, since, team, "teams", rows))


@bp.get("/reports/gaps")
def report_gaps():
    """Content gaps, biggest first, at most `?limit=` (default 20)."""
    require("reports")
    window, since = report_window()
    articles = _view().articles
    team = report_team(articles)
    limit = _limit_param(request.args.get("limit"), 20)
    gaps = reports.gap_report(get_db(), articles, services().embedder.embed_texts, since, team=team)
    return jsonify(_envelope(window, since, team, "gaps", gaps[:limit]))
