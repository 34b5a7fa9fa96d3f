"""`kb report`: the owner-team report of the web page, for a weekly email or a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING

import click

from kbserver.cli.options import database_option, index_option

if TYPE_CHECKING:
    from kbserver.store.reports import Report

ARTICLE_COLUMNS = (
    "id", "title", "owner", "views", "impressions", "suggestions", "feedback", "helpful", "not_helpful",
    "resolved_first_contact", "escalated", "helpful_rate", "fcr_rate", "review_by", "is_stale",
)


def register(group: click.Group) -> None:
    group.add_command(report)


@click.command()
@click.option("--team", default=None, help="Owner team, exactly as in the articles' `owner` (default: every team).")
@click.option("--since", default="30d", show_default=True, help="Window: 12h, 30d, 2w.")
@click.option(
    "--format", "fmt", type=click.Choice(["md", "csv", "json"]), default="md", show_default=True,
    help="md: every table (for an email); csv: the per-article table; json: everything.",
)
@database_option
@index_option
def report(team: str | None, since: str, fmt: str, database: str, index_dir: str) -> None:
    """Per-article FCR and feedback, open feedback routed to the team, stale articles and content gaps.

    The same numbers as /reports and /api/v1/reports/* (definitions in docs/feedback.md), over
    every article including internal ones.

    Example: kb report --team "Returns team" --since 7d --format md
    """
    from kbserver import config
    from kbserver.cli.options import database_exists, open_database
    from kbserver.retrieval.message import clean_query
    from kbserver.retrieval.reader import IndexUnavailable
    from kbserver.runtime import Services
    from kbserver.store import reports

    try:
        reports.parse_window(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    if not database_exists(database):
        raise click.ClickException(f"{database}: no database here (set --database or KB_DATABASE)")
    # The index and the database are read directly: a report needs neither the web app nor a request.
    settings = config.from_env({"INDEX_DIR": index_dir, "DATABASE": database})
    try:
        services = Services.from_settings(settings)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        view = services.reader.get().view(True)
    except IndexUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    known = reports.teams_of(view.articles.values())
    if team is not None and team not in known:
        raise click.ClickException(f"no articles are owned by '{team}'; teams: {', '.join(known)}")
    with open_database(database, must_exist=True) as db:
        result = reports.build_report(db, view.articles, services.embedder.embed_texts, since, clean=clean_query, team=team)
    click.echo({"md": as_markdown, "csv": as_csv, "json": as_json}[fmt](result), nl=False)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: tuple[str, ...], rows: list[tuple]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def as_markdown(result: Report) -> str:
    """Every table as Markdown, for a weekly email."""
    title = f"kb report: {result.team}" if result.team else "kb report: all teams"
    lines = [f"# {title}", "", f"Last {result.window}, since {result.since[:16].replace('T', ' ')} UTC.", ""]
    lines += ["## Teams", ""]
    lines += _table(
        ("Team", "Articles", "Views", "Impressions", "Suggestions", "Feedback", "FCR", "Open feedback", "Handled",
         "Stale articles"),
        [
            (t.team, t.articles, t.views, t.impressions, t.suggestions, t.feedback, _pct(t.fcr_rate), t.open_feedback,
             t.handled_feedback,
             ", ".join(f"{s['id']} ({s['review_by']})" for s in t.stale_articles) or "none")
            for t in result.teams
        ],
    )
    lines += ["", "## Articles", ""]
    lines += _table(
        ("Article", "Owner", "Views", "Impressions", "Suggestions", "Feedback", "Helpful", "FCR", "Escalations",
         "Review by"),
        [
            (a.id, a.owner, a.views, a.impressions, a.suggestions, a.feedback, _pct(a.helpful_rate), _pct(a.fcr_rate), a.escalated,
             f"{a.review_by or '–'}{' (overdue)' if a.is_stale else ''}")
            for a in result.articles
        ],
    )
    lines += ["", "## Open feedback", ""]
    lines += [
        f"- {f['ts'][:16].replace('T', ' ')} {f['article_id']}: {f['outcome'].replace('_', ' ')}"
        + (f" \"{_cell(f['comment'])}\"" if f["comment"] else "")
        for f in result.open_feedback
    ] or ["None."]
    lines += ["", "## Content gaps", ""]
    lines += [
        f"{i}. {g.count}× \"{_cell(g.examples[0])}\""
        + (f" (also: {'; '.join(_cell(e) for e in g.examples[1:])})" if len(g.examples) > 1 else "")
        + f"; routed to {g.routed_to}"
        + (f" (given against {g.article['id']})" if g.article else
           f" (closest: {g.closest_article['id']})" if g.closest_article else "")
        for i, g in enumerate(result.gaps, 1)
    ] or ["None."]
    lines += ["", "## Searches that found nothing", ""]
    lines += [f"- {n.count}× \"{_cell(n.text)}\"" for n in result.no_results] or ["None."]
    lines += ["", "## Week by week", ""]
    lines += _table(
        ("Week from", "Searches", "Suggests", "No match", "Views", "Helpful"),
        [(w.start[:10], w.searches, w.suggests, w.no_match, w.views, _pct(w.helpful_rate)) for w in result.trends],
    )
    return "\n".join(lines) + "\n"


def as_csv(result: Report) -> str:
    """The per-article table as CSV, one row per article."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=ARTICLE_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in result.articles:
        writer.writerow(row.to_dict())
    return out.getvalue()


def as_json(result: Report) -> str:
    """Everything, with the API's field names."""
    return json.dumps(result.to_dict(), indent=1, ensure_ascii=False) + "\n"
