"""`kb learn`: what kb learned from resolved contacts, and how owners see and prune it (issue 10)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from kbserver.cli.options import (
    articles_option,
    database_exists,
    database_option,
    index_option,
    json_option,
    open_database,
)


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


@learn.command("train")
@articles_option
@index_option
@database_option
@click.option("--kb-text", is_flag=True, help="Also train on the articles' own text (section piece -> title + summary).")
@click.option("--max-pairs", default=4000, show_default=True, type=click.IntRange(1), help="At most this many --kb-text pairs.")
@click.option("--epochs", default=1, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(2))
@click.option("--learning-rate", default=2e-5, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--seed", default=18, show_default=True, type=int)
@click.option("--held-out", "held_out_share", default=0.1, show_default=True, type=click.FloatRange(0, 0.5, max_open=True),
              help="Share of each article's examples (from articles with 5 or more) kept out of training to check on.")
@click.option("--reset", is_flag=True, help="Go back to the packaged model for the next `kb index`; trains nothing.")
@json_option
def train_command(articles_dir: str, index_dir: str, database: str, kb_text: bool, max_pairs: int, epochs: int,
                  batch_size: int, learning_rate: float, seed: int, held_out_share: float, reset: bool,
                  as_json: bool) -> None:
    """Fine-tune the encoder on the active learned examples; publish it only if it does not lose.

    Holds a share of the examples out, trains the packaged all-MiniLM-L6-v2 on the rest
    (CPU, fixed seed), and compares hit@1 of both models on the held-out ones. A model that
    scores below the base model is refused (exit 1, nothing changes). An accepted one is
    written under INDEX/models/adapted/ and the next `kb index` embeds everything, and every
    query, with it. See docs/learning.md.

    Example: kb learn train --index var/index && kb index
    """
    from indexer import adapt
    from indexer.embedding import ModelError
    from indexer.lint import lint_articles
    from indexer.store import BuildLocked
    from kbserver.cli.index import _progress_factory, make_encoder_factory
    from kbserver.store import learning

    root = Path(index_dir)
    try:
        if reset:
            name = adapt.reset(root)
            click.echo(f"{root}: back to the packaged model (was {name}); run `kb index`" if name
                       else f"{root}: already on the packaged model")
            return
        articles = lint_articles(Path(articles_dir)).articles
        if not articles:
            raise click.ClickException(f"{articles_dir}: no articles (set --articles or KB_ARTICLES_DIR)")
        examples = []
        if database_exists(database):  # a SQLite file that exists, or a PostgreSQL server
            with open_database(database) as db:
                examples = learning.active_examples(db)
        settings = adapt.Settings(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed,
                                  held_out_share=held_out_share, kb_text=kb_text, max_pairs=max_pairs)

        def progress(what: str, total: int):
            return _progress_factory(what, "step" if what == "training" else "text")(total)

        report = adapt.adapt(articles, examples, root, base_encoder=make_encoder_factory(root), settings=settings,
                             progress=progress, say=lambda line: click.echo(line, err=True))
    except adapt.AdaptRefused as exc:
        _print_scores(exc.report, as_json)
        click.echo(str(exc), err=True)
        sys.exit(1)
    except (adapt.NothingToLearn, ModelError, BuildLocked) as exc:
        raise click.ClickException(str(exc)) from exc
    _print_scores(report, as_json)
    click.echo(f"published {report.folder} (sha256 {report.model_sha256[:16]}); run `kb index` to embed with it", err=True)


def _print_scores(report, as_json: bool) -> None:
    from dataclasses import asdict

    if as_json:
        click.echo(json.dumps(asdict(report), indent=1))
        return
    for name, score in report.scores.items():
        click.echo(f"held-out {name}: {int(score['cases'])} cases, hit@1 base {score['base_hit_at_1']:.3f}"
                   f" adapted {score['adapted_hit_at_1']:.3f}")
    click.echo(f"trained on {report.pairs} pairs in {report.train_seconds:.1f} s; checked in {report.eval_seconds:.1f} s")
