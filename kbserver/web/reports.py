"""The owner teams' report page at /reports: teams, articles, a chart and the content gaps.

Everything is rendered on the server, the chart too (inline SVG built from numbers, no
script and no style attribute), so the page works under `default-src 'self'`. It reads the
same `service.build_report` as the API, with the caller's `reports` scope and audience.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from flask import Blueprint, abort, render_template, request
from werkzeug.exceptions import HTTPException

from kbserver import service
from kbserver.access.auth import require
from kbserver.errors import ApiError
from kbserver.store import reports
from kbserver.store.activity import Week
from kbserver.store.gaps import UNASSIGNED, Gap
from kbserver.web import pages

bp = Blueprint("reports_web", __name__)

WINDOWS = ("7d", "30d", "90d", "365d")


@dataclass(frozen=True)
class Bar:
    """One bar: its label, the text after it, its top edge and its length."""

    label: str
    value_text: str
    y: int
    width: int


@dataclass(frozen=True)
class BarChart:
    """Geometry of a horizontal bar chart, in SVG user units; the template only draws it."""

    title: str
    bars: tuple[Bar, ...]
    width: int
    height: int
    label_width: int
    bar_height: int
    max_bar_width: int


def bar_chart(title: str, rows: list[tuple[str, float | None]], *, label_width: int = 190, max_bar_width: int = 340, bar_height: int = 22) -> BarChart:
    """Bars for values in [0, 1] (None is drawn as an empty bar labelled 'no feedback')."""
    gap = 8
    bars = tuple(
        Bar(
            label=label,
            value_text="no feedback" if value is None else f"{value:.0%}",
            y=i * (bar_height + gap),
            width=0 if value is None else max(1, round(max(0.0, min(1.0, value)) * max_bar_width)),
        )
        for i, (label, value) in enumerate(rows)
    )
    height = max(1, len(bars) * (bar_height + gap) - gap)
    return BarChart(title, bars, label_width + max_bar_width + 90, height, label_width, bar_height, max_bar_width)


@dataclass(frozen=True)
class Series:
    """One line of the trend chart: its name, its SVG `points` and the dots on it."""

    name: str
    points: str
    dots: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class LineChart:
    """Geometry of the week-by-week chart, in SVG user units; the template only draws it."""

    title: str
    description: str
    series: tuple[Series, ...]
    ticks: tuple[tuple[float, str], ...]
    max_value: int
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int


TREND_SERIES = (("Questions asked", lambda w: w.searches + w.suggests), ("No match", lambda w: w.no_match),
                ("Article views", lambda w: w.views))


def trend_chart(weeks: Sequence[Week], *, width: int = 640, height: int = 200) -> LineChart:
    """Lines for questions asked, no-match answers and views per week, oldest week on the left,
    with a text description of the last week against the one before (what a screen reader reads)."""
    left, right, top, bottom = 44, width - 16, 12, height - 28
    values = {name: [get(w) for w in weeks] for name, get in TREND_SERIES}
    peak = max([1, *(v for vs in values.values() for v in vs)])
    step = (right - left) / max(1, len(weeks) - 1)

    def xy(i: int, v: int) -> tuple[float, float]:
        return round(left + i * step, 1), round(bottom - (bottom - top) * v / peak, 1)

    series = tuple(
        Series(name, " ".join(f"{x},{y}" for x, y in (xy(i, v) for i, v in enumerate(vs))),
               tuple(xy(i, v) for i, v in enumerate(vs)))
        for name, vs in values.items()
    )
    ticks = tuple((xy(i, 0)[0], w.start[5:10]) for i, w in enumerate(weeks))
    if len(weeks) >= 2:
        changes = [f"{name.lower()} {vs[-2]} → {vs[-1]}" for name, vs in values.items()]
        description = "Last week against the week before: " + ", ".join(changes) + "."
    else:
        description = "One week: " + ", ".join(f"{name.lower()} {vs[-1]}" for name, vs in values.items()) + "."
    return LineChart(f"The last {len(weeks)} weeks", description, series, ticks, peak, width, height,
                     left, right, top, bottom)


def gaps_by_team(gaps: Sequence[Gap]) -> list[tuple[str, list[Gap]]]:
    """The gaps grouped by the team they are routed to, teams by name and Unassigned last."""
    groups: dict[str, list[Gap]] = {}
    for gap in gaps:
        groups.setdefault(gap.routed_to, []).append(gap)
    return sorted(groups.items(), key=lambda item: (item[0] == UNASSIGNED, item[0]))


@bp.get("/reports")
def reports_page():
    """Teams, per-article numbers and gaps for `?since=` (default 30d), optionally one `?team=`."""
    require("reports")
    window = request.args.get("since") or service.DEFAULT_WINDOW
    try:
        view = service.current_view()
    except ApiError as exc:
        abort(503, exc.description)
    try:
        team = service.report_team(request.args, view.articles)
    except ApiError:
        abort(400, f"No article you may see is owned by '{request.args.get('team')}'.")
    try:
        report = service.build_report(view, window, team)
    except ValueError as exc:
        abort(400, f"since: {exc}")
    chart = bar_chart(
        "First-contact resolution by team",
        [(t.team, t.fcr_rate) for t in report.teams],
    )
    return render_template(
        "reports.html",
        report=report,
        chart=chart,
        trend=trend_chart(report.trends),
        gap_groups=gaps_by_team(report.gaps),
        all_teams=reports.teams_of(view.articles.values()),
        windows=WINDOWS if window in WINDOWS else (*WINDOWS, window),
        active="reports",
    )


@bp.errorhandler(HTTPException)
def _error_page(exc: HTTPException):
    redirected = pages.sign_in_redirect(exc)
    if redirected is not None:
        return redirected
    status = exc.code or 500
    return render_template("error.html", status=status, title=exc.name, message=exc.description), status
