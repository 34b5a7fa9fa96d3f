"""`GET /api/v1/reports/{articles,teams,gaps,feedback}`: what owner teams read, as JSON (scope `reports`).

Each takes `?since=30d` (also `12h`, `2w`) and `?team=` (400 `invalid_team` when no visible article
has that owner); gaps also take `?limit=` (default 20); definitions are in kbserver/store/reports.py
and docs/feedback.md.
"""

from __future__ import annotations

from typing import Any, Sequence

from flask import Response, jsonify, request

from kbserver import service
from kbserver.access.auth import require
from kbserver.api.blueprint import bp
from kbserver.store import reports
from kbserver.store.db import get_db


def _envelope(window: str, since: str, team: str | None, key: str, rows: Sequence[Any]) -> dict[str, Any]:
    return {"since": since, "window": window, "team": team, key: [row.to_dict() for row in rows]}


@bp.get("/reports/articles")
def report_articles() -> Response:
    """Per-article views, suggestions, feedback, helpful and FCR rates."""
    require("reports")
    window, since = service.report_window(request.args)
    articles = service.current_view().articles
    team = service.report_team(request.args, articles)
    rows = reports.article_report(get_db(), articles, since, team=team)
    return jsonify(_envelope(window, since, team, "articles", rows))


@bp.get("/reports/teams")
def report_teams() -> Response:
    """Per-team FCR, open feedback and stale articles."""
    require("reports")
    window, since = service.report_window(request.args)
    articles = service.current_view().articles
    team = service.report_team(request.args, articles)
    rows = reports.team_report(get_db(), articles, since, team=team)
    return jsonify(_envelope(window, since, team, "teams", rows))


@bp.get("/reports/feedback")
def report_feedback() -> Response:
    """The latest not helpful and escalated feedback (the /reports page's list), each with its `ticket_id`."""
    require("reports")
    window, since = service.report_window(request.args)
    view = service.current_view()
    team = service.report_team(request.args, view.articles)
    rows = reports.open_feedback(get_db(), view.articles, since, team=team, include_internal=view.allow_internal)
    return jsonify({"since": since, "window": window, "team": team, "feedback": rows})


@bp.get("/reports/gaps")
def report_gaps() -> Response:
    """Content gaps, biggest first, at most `?limit=` (default 20)."""
    require("reports")
    window, since = service.report_window(request.args)
    view = service.current_view()
    team = service.report_team(request.args, view.articles)
    limit = service.limit_param(request.args.get("limit"), service.DEFAULT_GAPS_LIMIT)
    gaps = service.gap_report(view, since, team)
    return jsonify(_envelope(window, since, team, "gaps", gaps[:limit]))
