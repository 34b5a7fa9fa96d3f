from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from kbserver.cli.index import _progress_factory, calibration_hook


def register(group: click.Group) -> None:
    group.add_command(suite_command)


@click.command("suite")
@click.option("--sets", "sets_file", default="tests/eval/suite/sets.json", show_default=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="JSON list of the suite's sets.")
@click.option("--only", multiple=True, help="Run only these sets (repeatable; '+learned' rows run with their set).")
@click.option("--work", "work_dir", default="var/suite", show_default=True, type=click.Path(path_type=Path),
              help="Where each set's index is built (incrementally: a second run re-embeds nothing).")
@click.option("--mode", type=click.Choice(["suggest", "hybrid", "keyword", "semantic", "all"]), default="all", show_default=True)
@click.option("--learned/--no-learned", default=True, show_default=True,
              help="Also run each set that has resolved tickets with them learned.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write every result (with per-message outcomes, for --compare) to this file.")
@click.option("--calibrate/--no-calibrate", default=True, show_default=True,
              help="Fit each build's thresholds as `kb index` does (--no-calibrate: the fixed constants).")
@click.option("--compare", "compare_to", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="An earlier --json file: print per-set hit@1 changes with paired 95 % intervals.")
def suite_command(sets_file: Path, only: tuple[str, ...], work_dir: Path, mode: str, learned: bool,
                  json_out: Path | None, compare_to: Path | None, calibrate: bool) -> None:
    """Build and evaluate every set of the relevance suite; print one table.

    Per set and mode: hit@1 with the 95 % interval the set's size allows, hit@3, MRR@10,
    off-topic flagged and false flags; then suggest against its best single signal. With
    --compare, each set's change in suggest hit@1 against an earlier run, and whether the
    change may be kept (the mean rises, no set falls beyond its noise). docs/quality.md
    explains the sets.

    Example: kb suite --json var/suite/after.json --compare var/suite/before.json
    """
    from indexer import multilingual
    from indexer.build import LintFailed, build_index
    from indexer.embedding import export_onnx, get_encoder, onnx_file
    from kbserver import config
    from kbserver.retrieval import suite
    from kbserver.retrieval.embedder import QueryEmbedder
    from kbserver.retrieval.evaluation import EVAL_MODES, QueryFileError
    from kbserver.retrieval.settings import rank_params

    settings = config.from_env()  # every setting checked: a bad one is one line
    params = rank_params(settings["LEARNING"], settings["NO_MATCH_THRESHOLD"])
    sets = suite.load_sets(sets_file, root=Path.cwd())
    names = {s.name for s in sets}
    unknown = [n for n in only if n.removesuffix("+learned") not in names]
    if unknown:
        raise click.ClickException(f"no such set: {', '.join(unknown)} (the suite has {', '.join(sorted(names))})")
    if only:
        sets = [s for s in sets if s.name in {n.removesuffix("+learned") for n in only}]
    modes = EVAL_MODES if mode == "all" else (mode,)

    onnx_path = onnx_file(work_dir / "models")
    if not onnx_path.exists():
        click.echo("exporting the model to ONNX, once per work folder...", err=True)
        export_onnx(onnx_path)
    encoder = get_encoder(onnx_path=onnx_path)
    embedder = QueryEmbedder(encoder, cache_size=20000)
    results = []
    for s in sets:
        for with_learning in (False, True) if learned and s.learning else (False,):
            label = f"{s.name}+learned" if with_learning else s.name
            root = work_dir / label
            click.echo(f"{label}: building...", err=True)
            try:
                examples = _learned_examples(s.learning, s.articles) if with_learning and s.learning else []
                report = build_index(s.articles, root, encoder_factory=lambda: encoder, examples=examples,
                                     progress_factory=_progress_factory(),
                                     multilingual_factory=multilingual.get_encoder if s.multilingual else None,
                                     finalize=calibration_hook(root, lambda: encoder) if calibrate else None)
                click.echo(f"{label}: {report.summary()}", err=True)
                result = suite.evaluate_set(s, root, embedder, learned=with_learning, modes=modes, params=params)
            except (LintFailed, QueryFileError, ValueError) as exc:
                raise click.ClickException(f"{label}: {exc}") from exc
            results.append(result)
            click.echo(f"{label}: {modes[0]} hit@1 {result.reports[modes[0]].hit_at_1:.3f}", err=True)
    click.echo(suite.summary(results))
    click.echo()
    click.echo(suite.table(results))
    if any("suggest" in r.reports for r in results):
        click.echo()
        click.echo(suite.choice_table(results))
    payload = {"sets": [r.as_dict() for r in results]}
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(payload), encoding="utf-8")
    if compare_to:
        before = json.loads(compare_to.read_text(encoding="utf-8"))
        text, keep = suite.compare(before, payload)
        click.echo()
        click.echo(text)
        sys.exit(0 if keep else 3)


def _learned_examples(learning: Path, articles: Path) -> list:
    """Import `learning` into a fresh database exactly as `kb learn import` does; the active examples."""
    import tempfile

    from indexer.lint import lint_articles
    from kbserver.store import db as storage
    from kbserver.store import learning as learn

    known = {a.id for a in lint_articles(articles, base=articles).articles}
    with tempfile.TemporaryDirectory() as tmp:
        db = storage.connect(Path(tmp) / "suite.sqlite3")
        try:
            report = learn.import_file(db, learning, known)
            if report.findings:
                raise ValueError(f"{learning}: {report.findings[0]} ({len(report.findings)} problems)")
            return learn.active_examples(db)
        finally:
            db.close()
