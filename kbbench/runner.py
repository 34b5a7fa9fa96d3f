"""One benchmark run over one corpus: what `kb bench` does, as a function tests can call."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kbbench import measure

SECTIONS = ("build", "inprocess", "http", "oversubscription", "encoder")


@dataclass(frozen=True)
class BenchConfig:
    articles_dir: Path
    work_dir: Path  # the corpus, index and server logs go here
    onnx_model: Path
    queries_file: Path
    corpus_name: str = "sample"
    synthetic: int = 0  # >0: generate this many articles (the sample articles included)
    seed: int = 1
    clients: tuple[int, ...] = (1, 4, 16)
    duration_s: float = 8.0
    max_queries: int | None = None
    sections: tuple[str, ...] = SECTIONS
    http_caches: tuple[str, ...] = ("cold", "warm")
    oversubscription_threads: tuple[int, ...] = (1, 2)
    encoder_threads: tuple[int, ...] = (1, 2)
    with_torch: bool = True
    warm_up_s: float = 3.0
    extra: dict[str, Any] = field(default_factory=dict)


def load_queries(path: Path) -> list[str]:
    """The `query` of each line of a labelled JSONL file, in file order."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line)["query"] for line in fh if line.strip()]


def run(config: BenchConfig, log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Run the selected sections and return the results (a JSON-ready dict)."""
    work = Path(config.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    queries = load_queries(config.queries_file)
    if config.max_queries and config.max_queries < len(queries):
        # Evenly spaced, so a subset keeps the mix of short, chatty and off-topic messages.
        step = len(queries) / config.max_queries
        queries = [queries[int(i * step)] for i in range(config.max_queries)]
    results: dict[str, Any] = {
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": measure.machine_info(),
        "loadavg_start": measure.load_average(),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
    }
    articles = Path(config.articles_dir)
    if config.synthetic:
        from kbbench.synth import generate_corpus

        articles = work / "corpus"
        log(f"generating {config.synthetic} synthetic articles (seed {config.seed}) into {articles}")
        generate_corpus(articles, config.synthetic, seed=config.seed, sample_articles=Path(config.articles_dir))
    results["corpus"] = {"name": config.corpus_name, "articles_dir": str(articles),
                         "articles": sum(1 for _ in articles.rglob("*.md")), "synthetic": config.synthetic}

    index_root = work / "index"
    if "build" in config.sections or not (index_root / "CURRENT").exists():
        log(f"building the index of {results['corpus']['articles']} articles (full, then one edit)")
        results["build"] = measure.measure_build(articles, work, config.onnx_model)
    if "rebuild" in config.sections:
        log("one-edit rebuilds of the existing index, timed by step")
        results["rebuild"] = measure.measure_rebuild(work, config.onnx_model)
    measure.install_model(config.onnx_model, index_root)
    if "inprocess" in config.sections:
        log(f"in-process latency over {len(queries)} queries")
        results["inprocess"] = measure.measure_inprocess(index_root, queries)
        log("worker memory: a fresh process that opened the build and answered every query")
        results["inprocess"]["worker_memory"] = measure.measure_worker_memory(index_root, queries)
    if "http" in config.sections:
        from kbbench.http import measure_http

        log(f"HTTP load: gunicorn 2 workers, clients {config.clients}, {config.duration_s} s each")
        results["http"] = measure_http(index_root, work / "server", queries, clients=config.clients,
                                       duration_s=config.duration_s, caches=config.http_caches,
                                       warm_up_s=config.warm_up_s)
    if "oversubscription" in config.sections:
        from kbbench.http import measure_oversubscription

        log(f"oversubscription: inference threads {config.oversubscription_threads} per worker")
        results["oversubscription"] = measure_oversubscription(
            index_root, work / "server", queries, threads=config.oversubscription_threads,
            clients=[c for c in config.clients if c > 1] or list(config.clients), duration_s=config.duration_s,
            warm_up_s=config.warm_up_s,
        )
    if "encoder" in config.sections:
        log("encoder backends: single-query latency")
        results["encoder"] = measure.measure_encoders(
            config.onnx_model, queries, threads=config.encoder_threads, with_torch=config.with_torch,
            with_int8=config.extra.get("int8", True), work_dir=work / "models",
        )
        if config.extra.get("int8_quality", True):
            log("int8 query encoder: suggest quality against the fp32 index")
            results["encoder"]["int8_quality"] = measure.measure_int8_quality(
                index_root, config.onnx_model, config.queries_file, work / "models"
            )
    results["loadavg_end"] = measure.load_average()
    return results
