from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from kbserver.cli.options import index_option, json_option


def register(group: click.Group) -> None:
    group.add_command(eval_command)


@click.command("eval")
@click.option("--queries", "queries", default="tests/eval/queries.jsonl", show_default=True,
              type=click.Path(exists=True, dir_okay=False, path_type=str), help="JSONL: {\"query\", \"relevant\": [ids]} per line.")
@index_option
@click.option("--mode", type=click.Choice(["suggest", "hybrid", "keyword", "semantic", "all"]), default="all", show_default=True)
@click.option("--calibrate", is_flag=True, help="Print the no-match threshold that keeps false flags at or under 5%.")
@click.option("--worst", default=10, show_default=True, help="How many of the worst misses to print.")
@click.option("--explain", "explain_text", metavar="TEXT",
              help="Rank one message instead and print every part of each top result's score.")
@click.option("--top", default=5, show_default=True, type=click.IntRange(1, 50), help="Results shown by --explain.")
@click.option("--encoder", type=click.Choice(["auto", "minilm", "me5"]), default="auto", show_default=True,
              help="auto: each message's language picks its encoder, as the API does; minilm or me5 force one "
                   "(me5 needs a multilingual build: docs/languages.md).")
@json_option
def eval_command(queries: str, index_dir: str, mode: str, calibrate: bool, worst: int, explain_text: str | None,
                 top: int, encoder: str, as_json: bool) -> None:
    """Measure relevance on a labelled query file: hit@1, hit@3, MRR@10, nDCG@10, off-topic flags.

    Ranks exactly as the API does, on the index folder, without starting the server.

    With --explain TEXT, ranks that one message (suggest unless --mode says otherwise) and
    prints each top result's score part by part: why an article won, and by how much.

    Example: kb eval --queries tests/eval/queries.jsonl --index var/index --mode all

    Example: kb eval --index var/index --explain "my parcel never arrived" --mode suggest
    """
    from indexer.embedding import ModelError, build_model, query_encoder
    from kbserver import config
    from kbserver.retrieval import evaluation
    from kbserver.retrieval.embedder import QueryEmbedder
    from kbserver.retrieval.evaluation import EVAL_MODES, QueryFileError, evaluate, load_cases
    from kbserver.retrieval.reader import IndexUnavailable, open_snapshot
    from kbserver.retrieval.settings import rank_params

    settings = config.from_env({"INDEX_DIR": index_dir})  # every setting checked: a bad one is one line
    try:
        cases = [] if explain_text is not None else load_cases(Path(queries))
        snapshot = open_snapshot(Path(index_dir))
    except (QueryFileError, IndexUnavailable) as exc:
        raise click.ClickException(str(exc)) from exc
    if explain_text is not None and calibrate:
        raise click.UsageError("--explain ranks one message; it does not go with --calibrate")
    unknown = evaluation.unknown_ids(cases, snapshot.article_ids)
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        click.echo(f"warning: {len(unknown)} 'relevant' id(s) name no article of this index, so their cases"
                   f" can never be a hit: {shown}", err=True)
    # The same query encoder as the service (KB_QUERY_ENCODER), so eval ranks as the API does.
    precision = config.query_encoder(settings["QUERY_ENCODER"])
    # ...and the model that embedded the build (the packaged one, or one `kb learn train` adapted).
    manifest = snapshot.manifest
    model = build_model(Path(index_dir), manifest.model_id, manifest.model_sha256, manifest.model_path)
    try:
        query_model = query_encoder(Path(index_dir), model, precision)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc
    embedder = QueryEmbedder(query_model, cache_size=4096)
    view = snapshot.view(allow_internal=True)

    # The same settings as the service: KB_LEARNING=off ranks without learned examples,
    # KB_NO_MATCH_THRESHOLD moves the no-match threshold.
    params = rank_params(settings["LEARNING"], settings["NO_MATCH_THRESHOLD"])
    if encoder != "auto":
        if encoder == "me5" and "me5" not in snapshot.spaces:
            raise click.ClickException(f"build {snapshot.build_id} has no multilingual vectors: index it with "
                                       "KB_MULTILINGUAL=on (the default)")
        params = dataclasses.replace(params, encoder=encoder)
    if explain_text is not None:
        if not explain_text.strip():
            raise click.UsageError("--explain needs a message to rank")
        explained = evaluation.explain(view, embedder, explain_text, "suggest" if mode == "all" else mode, params, top)
        click.echo(json.dumps(explained, indent=1) if as_json else _explained_table(explained))
        return
    if calibrate:
        click.echo(json.dumps(evaluation.calibrate(view, embedder, cases, params=params), indent=1))
        return
    modes = EVAL_MODES if mode == "all" else (mode,)
    reports = {m: evaluate(view, embedder, cases, m, params) for m in modes}
    if as_json:
        out = {m: r.as_dict(worst) for m, r in reports.items()}
        click.echo(json.dumps(out[mode] if mode != "all" else out, indent=1))
        return
    click.echo(
        f"{len(cases)} cases from {queries} on build {snapshot.build_id}"
        f" ({len(snapshot.examples)} learned examples, learning {'on' if params.use_examples else 'off'})"
    )
    click.echo(f"{'mode':<10}{'hit@1':>8}{'hit@3':>8}{'MRR@10':>8}{'nDCG@10':>9}{'offtopic':>10}{'false':>8}")
    for m, r in reports.items():
        click.echo(f"{m:<10}{r.hit_at_1:>8.3f}{r.hit_at_3:>8.3f}{r.mrr_at_10:>8.3f}{r.ndcg_at_10:>9.3f}"
                   f"{r.offtopic_flagged:>10.3f}{r.false_flags:>8.3f}")
    for m, r in reports.items():
        if r.misses and worst:
            click.echo(f"\nworst misses ({m}):")
            for miss in r.misses[:worst]:
                rank = "not in top 10" if miss["rank"] is None else f"rank {miss['rank']}"
                expected = ", ".join(miss["expected"]) or "(no answer)"
                click.echo(f"  line {miss['line']}: {expected}: {rank}; got {', '.join(miss['got'])}")
                click.echo(f"    {miss['query'][:140]}")


PART_COLUMNS = ("score", "semantic", "text", "alias", "overview", "section", "top3", "learned", "keyword_part", "prior")


def _explained_table(explained: dict) -> str:
    """`kb eval --explain` as text: one row per result, one column per part of its score."""
    threshold = explained["threshold"]
    head = (f"{explained['mode']}: {explained['text']!r}\n"
            f"threshold {'-' if threshold is None else f'{threshold:.4f}'} ({explained['calibration']}); "
            f"{'no confident match' if explained['no_confident_match'] else 'confident'}"
            + (f"; a choice ({explained['ambiguity']['reason']}): {', '.join(explained['ambiguity']['articles'])}"
               if explained.get("ambiguity") else "") + "\n")
    width = {c: max(9, len(c) + 1) for c in PART_COLUMNS}
    name_width = max([len(f"{r['id']} ({r['type']})") for r in explained["results"]] + [7]) + 1
    lines = [head, f"{'#':<3}{'article':<{name_width}}" + "".join(f"{c:>{width[c]}}" for c in PART_COLUMNS)
             + f"{'keyword':>9}"]
    for i, row in enumerate(explained["results"], start=1):
        name = f"{row['id']} ({row['type']})"
        lines.append(f"{i:<3}{name:<{name_width}}" + "".join(f"{row[c]:>{width[c]}.4f}" for c in PART_COLUMNS)
                     + f"{row['keyword']:>9.2f}")
    lines.append("score = semantic + keyword_part + prior; semantic = text lifted by learned;"
                 " text = mean(alias, overview, section, top3); keyword = raw BM25F of the best chunk")
    return "\n".join(lines)
