"""Learned examples at scale (issue 19, item 4): suggest with 600,000 learned examples.

A team with 2,000 articles and 300 resolved tickets per article. The articles are the
synthetic corpus of `kb bench --synthetic` (the 48 sample articles among them, so the 230
labelled messages still have answers); the tickets are the 400 real resolved messages of
tests/eval/learning.jsonl for the sample articles, and for every article synthetic ones up
to 300: each the vector of one of its real tickets (or, for an article without any, one of
its chunks) moved by Gaussian noise to a cosine of about 0.8, as paraphrases are. Synthetic
vectors go through the real build (`build_index`, graph included) by an encoder that knows
them; only the real texts are embedded by the model.

Then, with the approximate graph and with exact search over the same build: suggest p50/p95
in process (cold: a new message, the encoder included; warm: a repeated one), hit@1 of the
230 labelled messages, how often both give the same first article, and the worker RSS of a
fresh process serving 230 suggests. `--real` also compares both on a suite build with real
tickets (e.g. var/suite/clinc-bank+learned, 3,000 of them) by building its graph on the side.

    python benchmarks/examples_at_scale.py --out benchmarks/out/examples-at-scale
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def synthetic_examples(snapshot, real_texts: dict[str, list[str]], real_vectors: dict[str, np.ndarray],
                       per_article: int, seed: int):
    """(examples, {text: vector}): per article, its real tickets and synthetic neighbours up to `per_article`."""
    from indexer.store import Example

    rng = np.random.default_rng(seed)
    examples, vectors = [], {}
    sigma = 0.036  # per dimension: a noise vector of norm ~0.7, a cosine of ~0.8 to the ticket it moves
    for a, article_id in enumerate(snapshot.article_ids):
        texts = real_texts.get(article_id, [])
        base = real_vectors.get(article_id)
        if base is None:
            lo, hi = snapshot.group_starts[a], snapshot.group_ends[a]
            base = np.ascontiguousarray(snapshot.vectors_t[:, lo:hi].T)
        for text in texts[:per_article]:
            examples.append(Example(len(examples) + 1, article_id, text, 1.0, hashlib.sha256(text.encode()).hexdigest()))
        need = per_article - min(len(texts), per_article)
        picks = base[rng.integers(0, len(base), need)] + sigma * rng.standard_normal((need, base.shape[1])).astype(np.float32)
        picks /= np.linalg.norm(picks, axis=1, keepdims=True)
        for v in picks:
            text = f"synthetic ticket {len(examples) + 1} for {article_id}"
            vectors[text] = v
            examples.append(Example(len(examples) + 1, article_id, text, 1.0, hashlib.sha256(text.encode()).hexdigest()))
    return examples, vectors


class KnownVectors:
    """An encoder for build_index: synthetic texts get their vectors, real texts the model's."""

    def __init__(self, encoder, known: dict[str, np.ndarray]) -> None:
        self.encoder, self.known = encoder, known

    def itself(self) -> KnownVectors:
        """As an encoder factory: build_index calls it once, when something needs embedding."""
        return self

    def encode(self, texts, **kwargs):
        out = np.zeros((len(texts), 384), dtype=np.float32)
        real = [i for i, t in enumerate(texts) if t not in self.known]
        for i, t in enumerate(texts):
            if t in self.known:
                out[i] = self.known[t]
        if real:
            out[real] = self.encoder.encode([texts[i] for i in real])
        return out


def time_suggest(view, encoder, queries, params) -> dict:
    from kbbench.measure import percentiles
    from kbserver.retrieval import answers
    from kbserver.retrieval.embedder import QueryEmbedder
    from kbserver.retrieval.message import clean_message

    def run(emb, q):
        answers.suggest(view, emb, clean_message(q), request_id="b", limit=3, url_for_article=lambda i: i, params=params)

    shared = QueryEmbedder(encoder, cache_size=len(queries) * 8 + 16)
    for q in queries:
        run(shared, q)  # warm-up, and fills the warm cache
    cold, warm = [], []
    for q in queries:
        fresh = QueryEmbedder(encoder)
        started = time.perf_counter()
        run(fresh, q)
        cold.append(time.perf_counter() - started)
        started = time.perf_counter()
        run(shared, q)
        warm.append(time.perf_counter() - started)
    return {"cold": percentiles(cold), "warm": percentiles(warm)}


def quality(view, embedder, cases, params) -> tuple[float, list]:
    from kbserver.retrieval.evaluation import evaluate

    report = evaluate(view, embedder, cases, "suggest", params)
    return report.hit_at_1, report.outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "examples-at-scale")
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--per-article", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--real", type=Path, action="append", default=[], help="a suite build with real tickets (repeatable)")
    parser.add_argument("--real-queries", type=Path, action="append", default=[], help="its labelled messages, in --real order")
    parser.add_argument("--modes", default="auto,exact", help="example search modes to measure (auto: the graph)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from indexer import example_index, store
    from indexer.build import build_index
    from indexer.embedding import Encoder, export_onnx, onnx_file
    from kbbench.measure import install_model, load_average, machine_info, measure_worker_memory
    from kbbench.synth import generate_corpus
    from kbserver.retrieval import scoring
    from kbserver.retrieval.embedder import QueryEmbedder, limit_threads
    from kbserver.retrieval.evaluation import load_cases
    from kbserver.retrieval.reader import open_snapshot

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    onnx = onnx_file(out / "models")
    if not onnx.exists():
        export_onnx(onnx)
    corpus, root = out / "corpus", out / "index"
    if not corpus.exists():
        generate_corpus(corpus, args.articles, seed=args.seed, sample_articles=REPO / "articles")
    install_model(onnx, root)
    encoder = Encoder(onnx_path=onnx)
    results: dict = {"machine": machine_info(), "loadavg_start": load_average(), "articles": args.articles,
                     "per_article": args.per_article}
    if store.current_build_path(root) is None:
        started = time.perf_counter()
        build_index(corpus, root, encoder_factory=lambda: encoder)
        results["articles_build_s"] = round(time.perf_counter() - started, 1)
        print(f"articles built in {results['articles_build_s']} s", file=sys.stderr)
    snap = open_snapshot(root)
    real_texts: dict[str, list[str]] = {}
    for line in (REPO / "tests" / "eval" / "learning.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        for article_id in row["relevant"][:1]:
            real_texts.setdefault(article_id, []).append(row["query"])
    real_vectors = {a: encoder.encode(t) for a, t in real_texts.items() if a in snap.articles}
    examples, known = synthetic_examples(snap, real_texts, real_vectors, args.per_article, args.seed)
    results["examples"] = len(examples)
    started = time.perf_counter()
    knowing = KnownVectors(encoder, known)
    report = build_index(corpus, root, encoder_factory=knowing.itself, examples=examples)
    results["examples_build_s"] = round(time.perf_counter() - started, 1)
    build = store.current_build_path(root)
    results["graph_bytes"] = (build / example_index.FILE).stat().st_size
    results["examples_npy_bytes"] = (build / "examples.npy").stat().st_size
    print(f"examples built: {report.summary()} in {results['examples_build_s']} s", file=sys.stderr)
    del known, real_vectors

    cases = load_cases(REPO / "tests" / "eval" / "queries.jsonl")
    queries = [c.query for c in cases]
    limit_threads(1)
    one = Encoder(threads=1, onnx_path=onnx)
    snap = open_snapshot(root)
    view = snap.view(allow_internal=True)
    embedder = QueryEmbedder(one, cache_size=5000)
    modes = [m for m in args.modes.split(",") if m]
    for mode in modes:
        params = dataclasses.replace(scoring.DEFAULT_PARAMS, example_search=mode)
        hit, outcomes = quality(view, embedder, cases, params)
        results[mode] = {"hit_at_1": round(hit, 4), "suggest_ms": time_suggest(view, one, queries, params),
                         "rss": measure_worker_memory(root, queries, example_search=mode)}
        results[mode]["_outcomes"] = outcomes
        print(mode, json.dumps({k: v for k, v in results[mode].items() if k != "_outcomes"}), file=sys.stderr)
    if {"auto", "exact"} <= set(modes):
        a, e = results["auto"].pop("_outcomes"), results["exact"].pop("_outcomes")
        results["same_first_article"] = round(sum(x == y for x, y in zip(a, e)) / len(a), 4)
    for mode in modes:
        results[mode].pop("_outcomes", None)

    for real_root, real_queries in zip(args.real, args.real_queries):
        rsnap = open_snapshot(real_root)
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            example_index.write(Path(tmp) / example_index.FILE, np.asarray(rsnap.example_vectors))
            graph_s = time.perf_counter() - started
            rsnap.example_index = example_index.open_view(Path(tmp) / example_index.FILE, len(rsnap.examples))
            rview = rsnap.view(allow_internal=True)
            rcases = load_cases(real_queries)
            row = {"examples": len(rsnap.examples), "graph_s": round(graph_s, 2)}
            for mode in ("auto", "exact"):
                params = dataclasses.replace(scoring.DEFAULT_PARAMS, example_search=mode)
                row[mode], _ = quality(rview, embedder, rcases, params)
            results.setdefault("real", {})[real_root.name] = row
            print(real_root.name, row, file=sys.stderr)
    results["loadavg_end"] = load_average()
    (out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
