"""Suggest latency for non-English messages beside English ones, on the same multilingual build.

Both series run in one process, one inference thread (as one gunicorn worker), cold: every
message gets a fresh query cache, so its encoder runs every time. English messages are ranked
by MiniLM, the others by multilingual-e5-small (kbserver.retrieval.routing); the encoders'
own time is measured alone too. With --synthetic N, a multilingual build of N synthetic
articles (the bundled ones included, kbbench.synth) is made first, and its build time and
size by encoder are reported.

    .venv/bin/python benchmarks/multilingual_speed.py --index var/index
    .venv/bin/python benchmarks/multilingual_speed.py --synthetic 5000 --work var/bench-ml

docs/benchmarks.md ("Messages in other languages") records the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load(path: Path, limit: int) -> list[str]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(json.loads(line)["query"])
    step = max(1, len(out) // limit)
    return out[::step][:limit]


def build(articles: Path, root: Path) -> dict:
    from indexer import multilingual
    from indexer.build import build_index
    from kbserver.cli.index import make_encoder_factory

    factory = make_encoder_factory(root)
    report = build_index(articles, root, encoder_factory=factory, full=True, multilingual_factory=multilingual.get_encoder)
    build_dir = root / "builds" / report.build_id
    sizes = {p.name: p.stat().st_size for p in build_dir.iterdir() if p.is_file()}
    minilm_bytes = sum(v for k, v in sizes.items() if k.startswith("vector"))
    e5_bytes = sum(v for k, v in sizes.items() if k.startswith("me5-"))
    return {"articles": report.articles, "chunks": report.chunks, "seconds": round(report.seconds, 1),
            "phases": report.phases, "minilm_vector_bytes": minilm_bytes, "e5_vector_bytes": e5_bytes,
            "build_bytes": sum(p.stat().st_size for p in build_dir.rglob("*") if p.is_file())}


def measure(root: Path, series: dict[str, list[str]], repeats: int) -> dict:
    from indexer import multilingual
    from indexer.embedding import Encoder, query_model
    from kbbench.measure import load_average, percentiles
    from kbserver.retrieval import answers, scoring
    from kbserver.retrieval.embedder import QueryEmbedder, limit_threads
    from kbserver.retrieval.message import clean_message, clean_query, content_sentences
    from kbserver.retrieval.reader import open_snapshot

    limit_threads(1)
    snapshot = open_snapshot(root)
    view = snapshot.view(allow_internal=True)
    minilm = Encoder(threads=1, onnx_path=query_model(root / "models", "fp32"))
    e5 = multilingual.get_encoder(threads=1)
    spaces = {multilingual.SPACE: lambda: e5}
    params = scoring.DEFAULT_PARAMS
    out: dict = {"loadavg_start": load_average(), "articles": len(snapshot.articles), "chunks": len(snapshot.chunks)}
    for q in [m for ms in series.values() for m in ms[:3]]:  # warm-up: every path once
        answers.suggest(view, QueryEmbedder(minilm, spaces=spaces), clean_message(q), request_id="r",
                        url_for_article=lambda i: i, params=params)
    for name, messages in series.items():
        times, encoder_times, routes = [], [], {}
        for _ in range(repeats):
            for q in messages:
                embedder = QueryEmbedder(minilm, spaces=spaces)
                started = time.perf_counter()
                answer = answers.suggest(view, embedder, clean_message(q), request_id="r",
                                         url_for_article=lambda i: i, params=params)
                times.append(time.perf_counter() - started)
                encoder = answer.language["encoder"] if answer.language else "?"
                routes[encoder] = routes.get(encoder, 0) + 1
                cleaned = clean_query(q) or q.strip()
                sentences = content_sentences(cleaned)
                started = time.perf_counter()
                if encoder == "multilingual-e5-small":
                    e5.encode_message(cleaned, sentences[:scoring.E5_SENTENCES])  # what rank() embeds
                else:
                    minilm.encode_message(cleaned, sentences)
                encoder_times.append(time.perf_counter() - started)
        out[name] = {"messages": len(messages), "suggest": percentiles(times), "encoder_only": percentiles(encoder_times),
                     "routes": routes}
    out["loadavg_end"] = load_average()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, help="A published multilingual build (kb index, KB_MULTILINGUAL=on)")
    parser.add_argument("--synthetic", type=int, default=0, help="Build this many synthetic articles first")
    parser.add_argument("--work", type=Path, default=Path("var/bench-multilingual"))
    parser.add_argument("--messages", type=int, default=40, help="Messages per language")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--build-only", action="store_true", help="With --synthetic: build, do not measure")
    args = parser.parse_args()
    os.environ.setdefault("KB_INFERENCE_THREADS", "1")
    result: dict = {}
    root = args.index
    if args.synthetic:
        from kbbench.synth import generate_corpus

        articles = args.work / "articles"
        if not articles.is_dir():
            generate_corpus(articles, args.synthetic, seed=0, sample_articles=ROOT / "articles")
        root = args.work / "index"
        result["build"] = build(articles, root)
        if args.build_only:
            print(json.dumps(result, indent=1))
            return
    assert root is not None, "--index or --synthetic"
    data = ROOT / "tests" / "eval"
    series = {
        "en": load(data / "queries.jsonl", args.messages),
        **{lang: load(data / "multilingual" / lang / "queries-larkspur.jsonl", args.messages) for lang in ("ta", "te", "fa")},
    }
    result["suggest"] = measure(root, series, args.repeats)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
