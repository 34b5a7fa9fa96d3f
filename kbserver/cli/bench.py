from __future__ import annotations

import json
from pathlib import Path

import click

from kbserver.cli.options import articles_option, json_option

SECTION_NAMES = ("build", "rebuild", "inprocess", "http", "oversubscription", "encoder")
# `rebuild` re-times one-edit rebuilds of an index an earlier run built (`--only rebuild`).
DEFAULT_SECTIONS = tuple(name for name in SECTION_NAMES if name != "rebuild")


def register(group: click.Group) -> None:
    group.add_command(bench)


def _int_list(_ctx, _param, value: str) -> tuple[int, ...]:
    try:
        numbers = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError as exc:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from exc
    if not numbers or any(n < 1 for n in numbers):
        raise click.BadParameter("expected one or more positive integers")
    return numbers


@click.command()
@articles_option
@click.option("--synthetic", "synthetic", default=0, show_default=True, type=click.IntRange(min=0),
              help="Benchmark a generated corpus of N articles (the --articles ones included) instead.")
@click.option("--seed", default=1, show_default=True, help="Seed of the synthetic corpus.")
@click.option("--queries", "queries", default="tests/eval/queries.jsonl", show_default=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Labelled JSONL queries to send.")
@click.option("--out", "out_dir", default="benchmarks/out", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Where the corpus, index, server logs and results-<corpus>.json go.")
@click.option("--clients", default="1,4,16", show_default=True, callback=_int_list,
              help="Concurrent HTTP clients, comma-separated.")
@click.option("--duration", "duration_s", default=8.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds of load per HTTP row.")
@click.option("--max-queries", "max_queries", default=None, type=click.IntRange(min=1),
              help="Send only this many of the labelled queries (evenly spaced); all by default.")
@click.option("--only", "only", multiple=True, type=click.Choice(SECTION_NAMES),
              help="Run only these sections (repeatable); the index is built when missing.")
@click.option("--onnx", "onnx_path", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="An existing ONNX export of the model (default: exported once under --out/models).")
@click.option("--quick", is_flag=True,
              help="A smoke run: 20 queries (unless --max-queries), 1 s per row, clients 1,4, no torch or int8.")
@json_option
def bench(articles_dir: str, synthetic: int, seed: int, queries: Path, out_dir: Path, clients: tuple[int, ...],
          duration_s: float, max_queries: int | None, only: tuple[str, ...], onnx_path: Path | None, quick: bool,
          as_json: bool) -> None:
    """Measure speed: index build, search/suggest latency in process and over HTTP, memory.

    Builds the index (full, then one edited article), times every search mode and suggest
    over the labelled queries in process (encoder cache cold and warm), then starts
    `kb serve --workers 2` and loads it with 1, 4 and 16 concurrent clients; it also
    compares one vs two inference threads per worker and the encoder backends. Results go
    to --out/results-<corpus>.json and are printed as Markdown tables.

    Example: kb bench --synthetic 5000 --out benchmarks/out
    """
    from indexer.embedding import ModelError, export_onnx, onnx_file
    from kbbench.report import markdown
    from kbbench.runner import BenchConfig, run

    if not Path(articles_dir).is_dir():
        raise click.ClickException(f"{articles_dir}: no such articles folder")
    corpus = f"synthetic-{synthetic}" if synthetic else "sample"
    work = out_dir / corpus
    if onnx_path is None:
        onnx_path = onnx_file(out_dir / "models")
        if not onnx_path.exists():
            click.echo(f"exporting the model to ONNX ({onnx_path})...", err=True)
            try:
                export_onnx(onnx_path)
            except ModelError as exc:
                raise click.ClickException(str(exc)) from exc
    config = BenchConfig(
        articles_dir=Path(articles_dir),
        work_dir=work,
        onnx_model=onnx_path,
        queries_file=queries,
        corpus_name=corpus,
        synthetic=synthetic,
        seed=seed,
        clients=(1, 4) if quick and clients == (1, 4, 16) else clients,
        duration_s=1.0 if quick else duration_s,
        max_queries=max_queries or (20 if quick else None),
        sections=only or DEFAULT_SECTIONS,
        http_caches=("cold",) if quick else ("cold", "warm"),
        encoder_threads=(1,) if quick else (1, 2),
        with_torch=not quick,
        warm_up_s=1.0 if quick else 3.0,
        extra={"int8_quality": not quick, "int8": not quick},
    )
    try:
        results = run(config, log=lambda message: click.echo(message, err=True))
    except (ModelError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"results-{corpus}.json"
    if only and path.exists():
        # --only re-measures some sections: keep the others from the last full run of this corpus.
        previous = json.loads(path.read_text(encoding="utf-8"))
        fresh = {k: v for k, v in results.items() if k in SECTION_NAMES}
        results = {**previous, **fresh,
                   "rerun": {**previous.get("rerun", {}), **{k: results["created_at"] for k in fresh}}}
    path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    click.echo(f"results written to {path}", err=True)
    click.echo(json.dumps(results, indent=1) if as_json else markdown(results))
