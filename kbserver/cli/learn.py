"""`kb learn`: what kb learned from resolved contacts, and how owners see and prune it (issue 10)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from kbserver.cli.options import articles_option, database_option, json_option, open_database


def register(group: click.Group) -> None:
    group.add_command(learn)


@click.group()
def learn() -> None:
    """Learned examples: customer messages that an article resolved.

    `kb index` embeds the active ones into the next build; see docs/learning.md.
    """


@learn.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@articles_option
@database_option
def import_command(file: Path, articles_dir: str, database: str) -> None:
    """Import resolved tickets from a helpdesk export (JSONL or CSV: text, article_id, outcome).

    Unknown article ids and malformed lines are printed as FILE:line: message and skipped;
    re-importing a file adds nothing twice. Run `kb index` afterwards.

    Example: kb learn import exports/resolved-2026-10.jsonl
    """
    from indexer.lint import lint_articles
    from kbserver.store import learning

    known = {a.id for a in lint_articles(Path(articles_dir)).articles}
    if not known:
        raise click.ClickException(f"{articles_dir}: no articles to learn for (set --articles or KB_ARTICLES_DIR)")
    total = learning.count_lines(file)
    progress = None
    bar = None
    if sys.stderr.isatty() and total > 1000:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="line", desc="importing")
        progress = bar.update
    with open_database(database) as db:
        report = learning.import_file(db, file, known, progress=progress)
    if bar is not None:
        bar.close()
    for finding in report.findings:
        click.echo(finding)
    click.echo(
        f"{file}: {report.imported} examples imported, {report.duplicates} already known, "
        f"{len(report.findings)} lines skipped",
        err=True,
    )


@learn.command("list")
@click.option("--article", "article_id", help="Only this article's examples.")
@click.option("--removed", is_flag=True, help="Show removed examples instead of active ones.")
@click.option("--limit", default=50, show_default=True, help="At most this many, newest first.")
@database_option
@json_option
def list_command(article_id: str | None, removed: bool, limit: int, database: str, as_json: bool) -> None:
    """List learned examples (redacted text), newest first.

    Example: kb learn list --article returns/refund-not-received
    """
    from kbserver.store import learning

    with open_database(database) as db:
        rows = learning.describe(
            learning.list_examples(db, article_id=article_id, status="removed" if removed else "active", limit=limit)
        )
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    for row in rows:
        click.echo(f"{row['id']:>6}  {row['article_id']:<40} {row['source']:<8} {row['outcome']:<22} {row['text'][:80]}")


@learn.command("remove")
@click.argument("ids", nargs=-1, type=int)
@click.option("--article", "article_id", help="Remove every active example of this article.")
@click.option("--caller", help="Remove every active example taught by this token name (a noisy agent).")
@database_option
def remove_command(ids: tuple[int, ...], article_id: str | None, caller: str | None, database: str) -> None:
    """Stop using examples (kept, marked removed, for the audit trail). Run `kb index` afterwards.

    Example: kb learn remove 412 413 --caller agent-7
    """
    from kbserver.store import learning

    if not ids and article_id is None and caller is None:
        raise click.UsageError("name example ids, --article or --caller")
    with open_database(database) as db:
        changed = learning.remove_examples(db, ids=ids, article_id=article_id, caller=caller)
    click.echo(f"{changed} examples removed")


@learn.command("stats")
@database_option
@json_option
def stats_command(database: str, as_json: bool) -> None:
    """Active and removed examples per article and source, and what the next build will use.

    Example: kb learn stats
    """
    from kbserver.store import learning

    with open_database(database) as db:
        rows = learning.describe(learning.example_stats(db))
        used = len(learning.active_examples(db))
    if as_json:
        click.echo(json.dumps({"articles": rows, "used_by_next_build": used}, indent=1))
        return
    for row in rows:
        click.echo(f"{row['article_id']:<44} {row['source']:<8} active {row['active']:>5}  removed {row['removed']:>5}")
    click.echo(f"{used} examples will be used by the next `kb index`")
