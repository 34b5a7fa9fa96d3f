"""`GET /api/v1/reports/{articles,teams,gaps,feedback,no-results,trends}`: what owner teams read, as
JSON, and `POST /api/v1/reports/feedback/<id>/handled`, a lead closing one open feedback (scope `reports`).

Each GET takes `?since=30d` (also `12h`, `2w`) and `?team=` (400 `invalid_team` when no visible
article has that owner); gaps and no-results also take `?limit=` (default 20), trends `?weeks=`
instead of `since`; definitions are in kbserver/store/reports.py and docs/feedback.md.
"""

from __future__ import annotations

from typing import Any, Sequence

from flask import Response, jsonify, request

from kbserver import service
from kbserver.access.auth import require
from kbserver.api.blueprint import bp
from kbserver.errors import ApiError
from kbserver.store import activity, feedback, reports
from kbserver.store.db import get_db

HANDLED_FIELDS = ("note",)
MAX_FEEDBACK_ID = 2**31 - 1  # the id column is a 32-bit integer on PostgreSQL: a larger one is no feedback


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


@bp.get("/reports/agents")
def report_agents() -> Response:
    """Per agent (a signed-in person, or a token): questions asked, feedback by outcome, FCR, handled."""
    require("reports")
    window, since = service.report_window(request.args)
    articles = service.current_view().articles
    team = service.report_team(request.args, articles)
    rows = reports.agent_report(get_db(), articles, since, team=team)
    return jsonify(_envelope(window, since, team, "agents", rows))


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
    team = service.report_team(request.args, view.articles, unassigned=True)
    limit = service.limit_param(request.args.get("limit"), service.DEFAULT_GAPS_LIMIT)
    gaps = service.gap_report(view, since, team)
    return jsonify(_envelope(window, since, team, "gaps", gaps[:limit]))


@bp.get("/reports/no-results")
def report_no_results() -> Response:
    """Searches and suggests that found nothing or no confident match, grouped by text, most frequent first."""
    require("reports")
    window, since = service.report_window(request.args)
    view = service.current_view()
    team = service.report_team(request.args, view.articles)
    limit = service.limit_param(request.args.get("limit"), activity.NO_RESULTS_LIMIT)
    rows = activity.no_result_queries(get_db(), since, limit=limit, include_internal=view.allow_internal)
    return jsonify(_envelope(window, since, team, "no_results", rows))


@bp.get("/reports/trends")
def report_trends() -> Response:
    """Week-over-week counts for the last `?weeks=` weeks (default 8), oldest first, and click-through."""
    require("reports")
    weeks = service.weeks_param(request.args.get("weeks"))
    view = service.current_view()
    team = service.report_team(request.args, view.articles)
    rows = activity.weekly_trends(get_db(), weeks, visible=reports.team_articles(view.articles, team),
                                  include_internal=view.allow_internal)
    since = rows[0].start
    clicks = activity.click_through(get_db(), since, include_internal=view.allow_internal)
    return jsonify({"weeks": weeks, "since": since, "team": team, "trends": [w.to_dict() for w in rows],
                    "click_through": [c.to_dict() for c in clicks]})


@bp.post("/reports/feedback/<int:feedback_id>/handled")
def report_feedback_handled(feedback_id: int) -> Response:
    """Mark one open feedback handled by this caller, with an optional `{"note"}`; 200 with when and by whom.

    404 `feedback_not_found` when there is no such feedback or its article is one the caller may
    not see (never confirming it exists); 409 `already_handled` when a lead marked it before."""
    caller = require("reports")
    body = service.json_body(HANDLED_FIELDS) if request.get_data(cache=True) else {}
    note = body.get("note")
    if isinstance(note, str) and not note.strip():
        note = None
    if note is not None:
        note = service.text_param(note, "note")
    view = service.current_view()
    found = feedback.feedback_article(get_db(), feedback_id) if feedback_id <= MAX_FEEDBACK_ID else None
    if found is None or found[0] not in view.articles or found[1] not in feedback.OPEN_OUTCOMES:
        raise ApiError(404, "feedback_not_found", f"no open feedback {feedback_id}")
    try:
        handled = feedback.mark_handled(get_db(), feedback_id, caller.name, note)
    except feedback.AlreadyHandled as exc:
        raise ApiError(409, "already_handled", str(exc)) from exc
    if handled is None:  # removed (kb prune) between the two statements
        raise ApiError(404, "feedback_not_found", f"no open feedback {feedback_id}")
    return jsonify({"id": handled.id, "article_id": handled.article_id, "owner": handled.owner,
                    "outcome": handled.outcome, "handled_ts": handled.handled_ts,
                    "handled_by": handled.handled_by, "handled_note": handled.handled_note})
