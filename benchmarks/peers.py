"""kb side by side with what a team would otherwise pick, on the same chunks, queries and model.

Run it from the peers venv (benchmarks/setup-peers.sh makes it; the peers are not kb
dependencies):

    HF_HUB_OFFLINE=1 .venv-peers/bin/python benchmarks/peers.py --articles articles

It builds a kb index of --articles (timed), reads that build's chunks (`chunks.jsonl`:
`embed_text`, `article_id`), gives every peer exactly those texts, and asks each system the
labelled queries. A peer ranks chunks; its article ranking is the order in which articles
first appear in its chunk ranking. kb ranks articles itself (`kbserver.retrieval.scoring.rank`).

Systems: rank-bm25 (BM25Okapi), bm25s, sentence-transformers (cosine, best chunk per
article), txtai Embeddings dense and hybrid=True (maxlength 256, the model's own limit, so
both sides embed the same text), kb hybrid search and kb suggest. Quality: hit@1, hit@3,
MRR@10 over the answerable queries. Speed: build time, query p50/p95 (one client, no
cache), queries/s at 1 and 4 concurrent clients (threads).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CHUNK_DEPTH = 200  # chunks a peer returns before they are folded into articles
SYSTEMS = ("rank-bm25", "bm25s", "sentence-transformers", "txtai-dense", "txtai-hybrid", "kb-hybrid", "kb-suggest",
           "kb-hybrid-int8", "kb-suggest-int8")
_WORD_RE = re.compile(r"[a-z0-9]+")


def first_occurrence(article_ids: Sequence[str], limit: int = 10) -> list[str]:
    """Articles in the order they first appear in a chunk ranking."""
    out: list[str] = []
    seen: set[str] = set()
    for aid in article_ids:
        if aid not in seen:
            seen.add(aid)
            out.append(aid)
            if len(out) == limit:
                break
    return out


def quality(rankings: list[list[str]], relevant: list[set[str]]) -> dict[str, float]:
    """hit@1, hit@3 and MRR@10 of article rankings against the relevant ids (answerable cases only)."""
    hits1 = hits3 = rr = 0.0
    for ranked, rel in zip(rankings, relevant):
        first = next((i for i, aid in enumerate(ranked[:10]) if aid in rel), None)
        hits1 += first == 0
        hits3 += first is not None and first < 3
        rr += 1.0 / (first + 1) if first is not None else 0.0
    n = max(len(rankings), 1)
    return {"hit_at_1": round(hits1 / n, 4), "hit_at_3": round(hits3 / n, 4), "mrr_at_10": round(rr / n, 4)}


def percentiles_ms(samples: Sequence[float]) -> dict[str, float]:
    ms = np.asarray(samples) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2)}


def throughput(search: Callable[[str], list[str]], queries: Sequence[str], clients: int, duration_s: float) -> float:
    """Queries per second with `clients` threads each asking queries in turn for `duration_s`."""
    done = [0] * clients
    deadline = time.monotonic() + duration_s

    def worker(c: int) -> None:
        i = c * 7
        while time.monotonic() < deadline:
            search(queries[i % len(queries)])
            i += 1
            done[c] += 1

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return round(sum(done) / (time.perf_counter() - started), 1)


def tokenize(text: str, stopwords: frozenset[str]) -> list[str]:
    return [w for w in _WORD_RE.findall(text.lower()) if w not in stopwords]


# --------------------------------------------------------------------------- the systems
# Each factory builds its index over `texts` and returns search(query) -> article ids.


def make_rank_bm25(texts, owners, _model_path):
    from bm25s.stopwords import STOPWORDS_EN
    from rank_bm25 import BM25Okapi

    stop = frozenset(STOPWORDS_EN)
    bm25 = BM25Okapi([tokenize(t, stop) for t in texts])

    def search(query: str) -> list[str]:
        scores = bm25.get_scores(tokenize(query, stop))
        top = np.argsort(-scores)[:CHUNK_DEPTH]
        return first_occurrence([owners[i] for i in top if scores[i] > 0])

    return search


def make_bm25s(texts, owners, _model_path):
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(list(texts), stopwords="en", show_progress=False), show_progress=False)
    k = min(CHUNK_DEPTH, len(texts))
    lock = threading.Lock()  # bm25s.tokenize keeps a shared vocabulary; retrieval itself is numpy

    def search(query: str) -> list[str]:
        with lock:
            tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
        docs, scores = retriever.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return first_occurrence([owners[int(d)] for d, s in zip(docs[0], scores[0]) if s > 0])

    return search


def make_sentence_transformers(texts, owners, model_path):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
    model.max_seq_length = 256
    matrix = model.encode(list(texts), batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    owners_arr = np.asarray(owners)

    def search(query: str) -> list[str]:
        vector = model.encode([query], normalize_embeddings=True, show_progress_bar=False)[0]
        scores = matrix @ vector
        top = np.argsort(-scores)[:CHUNK_DEPTH]
        return first_occurrence(owners_arr[top].tolist())  # best chunk per article = first occurrence

    return search


def _make_txtai(hybrid: bool):
    def factory(texts, owners, model_path):
        from txtai import Embeddings

        config = {"path": str(model_path), "maxlength": 256, "content": False}
        if hybrid:
            config["hybrid"] = True
        embeddings = Embeddings(config)
        embeddings.index([(i, text, None) for i, text in enumerate(texts)])
        k = min(CHUNK_DEPTH, len(texts))

        def search(query: str) -> list[str]:
            return first_occurrence([owners[int(i)] for i, _score in embeddings.search(query, k)])

        return search

    return factory


SYSTEM_FACTORIES = {
    "rank-bm25": make_rank_bm25,
    "bm25s": make_bm25s,
    "sentence-transformers": make_sentence_transformers,
    "txtai-dense": _make_txtai(hybrid=False),
    "txtai-hybrid": _make_txtai(hybrid=True),
}


def build_kb(articles: Path, root: Path, onnx_model: Path, threads: int | None, *, reuse: Path | None = None):
    """A fresh kb index of `articles` (timed), or the index at `reuse`, and kb's searches over it."""
    from indexer.build import build_index
    from indexer.embedding import Encoder, onnx_file, query_model
    from kbserver.retrieval.embedder import QueryEmbedder
    from kbserver.retrieval.reader import open_snapshot
    from kbserver.retrieval.scoring import rank

    load = {}
    if reuse is not None:
        root, build_s = reuse, None
    else:
        if root.exists():
            shutil.rmtree(root)
        (root / "models").mkdir(parents=True)
        shutil.copyfile(onnx_model, onnx_file(root / "models"))

        def factory():
            started = time.perf_counter()
            encoder = Encoder(threads=threads, onnx_path=onnx_model)
            load["s"] = time.perf_counter() - started
            return encoder

        build_s = build_index(articles, root, encoder_factory=factory, full=True).seconds
    view = open_snapshot(root).view(allow_internal=True)
    encoder = Encoder(threads=threads, onnx_path=onnx_model)
    # KB_QUERY_ENCODER=int8: the per-channel int8 copy for queries, against the same fp32 index.
    fast = Encoder(threads=threads, onnx_path=query_model(root / "models", "int8"))

    def searcher(for_suggest: bool, query_encoder=encoder):
        def search(query: str) -> list[str]:
            # A fresh cache per query: every query pays its encoder call, like the peers do.
            ranked = rank(view, QueryEmbedder(query_encoder), query, mode="hybrid", for_suggest=for_suggest, top=10)
            return [r.article.id for r in ranked[:10]]

        return search

    return root, build_s, load.get("s", 0.0), {
        "kb-hybrid": searcher(False), "kb-suggest": searcher(True),
        "kb-hybrid-int8": searcher(False, fast), "kb-suggest-int8": searcher(True, fast),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=Path, default=ROOT / "articles")
    parser.add_argument("--queries", type=Path, default=ROOT / "tests" / "eval" / "queries.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    parser.add_argument("--onnx", type=Path, default=None, help="kb's ONNX export (default: export once under --out/models)")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated subset of {','.join(SYSTEMS)}")
    parser.add_argument("--clients", default="1,4")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per throughput measurement")
    parser.add_argument("--threads", type=int, default=0, help="inference threads for every system (0: each library's default)")
    parser.add_argument("--name", default=None, help="results name (default: the articles folder name)")
    parser.add_argument("--index", type=Path, default=None,
                        help="reuse this kb index root (e.g. one kb bench built) instead of building one; kb's build time is then not measured")
    parser.add_argument("--max-queries", type=int, default=None, help="evenly spaced subset of the queries")
    args = parser.parse_args(argv)

    import torch

    from indexer.embedding import export_onnx, model_path, onnx_file
    from kbbench.measure import load_average, machine_info

    if args.threads:
        torch.set_num_threads(args.threads)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    clients = [int(c) for c in args.clients.split(",")]
    name = args.name or args.articles.resolve().name
    work = args.out / f"peers-{name}"
    onnx_model = args.onnx or onnx_file(args.out / "models")
    if not onnx_model.exists():
        export_onnx(onnx_model)
    results = {"machine": machine_info(), "loadavg_start": load_average(), "articles": str(args.articles),
               "threads": args.threads or "library default", "torch_threads": torch.get_num_threads(), "systems": {}}

    print(f"building the kb index of {args.articles} ...", file=sys.stderr)
    root, kb_build_s, kb_load_s, kb_search = build_kb(args.articles, work / "index", onnx_model, args.threads or None,
                                                      reuse=args.index)
    from indexer.store import current_build_path, read_chunks

    chunks = read_chunks(current_build_path(root))
    texts = [c.embed_text for c in chunks]
    owners = [c.article_id for c in chunks]
    cases = [json.loads(line) for line in args.queries.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.max_queries and args.max_queries < len(cases):
        step = len(cases) / args.max_queries
        cases = [cases[int(i * step)] for i in range(args.max_queries)]
    answerable = [c for c in cases if c.get("relevant")]
    queries = [c["query"] for c in answerable]
    relevant = [set(c["relevant"]) for c in answerable]
    all_queries = [c["query"] for c in cases]
    results.update(chunks=len(chunks), articles_count=len(set(owners)), queries=len(cases), answerable=len(answerable))
    path = model_path()

    for system in systems:
        print(f"{system}: building", file=sys.stderr)
        loadavg = load_average()
        if system.startswith("kb-"):
            search, build_s, load_s = kb_search[system], kb_build_s, kb_load_s
        else:
            started = time.perf_counter()
            search = SYSTEM_FACTORIES[system](texts, owners, path)
            build_s, load_s = time.perf_counter() - started, None
        for q in all_queries[:5]:
            search(q)
        rankings, latencies = [], []
        for q in queries:
            started = time.perf_counter()
            rankings.append(search(q))
            latencies.append(time.perf_counter() - started)
        for q in all_queries:  # off-topic messages cost time too
            if q not in queries:
                started = time.perf_counter()
                search(q)
                latencies.append(time.perf_counter() - started)
        entry = {"build_s": None if build_s is None else round(build_s, 2),
                 "model_load_s": None if load_s is None else round(load_s, 2),
                 **quality(rankings, relevant), **percentiles_ms(latencies), "loadavg": loadavg}
        for n in clients:
            entry[f"qps_{n}"] = throughput(search, all_queries, n, args.duration)
        results["systems"][system] = entry
        print(f"{system}: {entry}", file=sys.stderr)
    results["loadavg_end"] = load_average()
    args.out.mkdir(parents=True, exist_ok=True)
    out_path = args.out / f"peers-{name}.json"
    out_path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(markdown(results))
    print(f"results written to {out_path}", file=sys.stderr)
    return 0


def markdown(results: dict) -> str:
    clients = sorted({k for s in results["systems"].values() for k in s if k.startswith("qps_")}, key=lambda k: int(k[4:]))
    head = ["system", "hit@1", "hit@3", "MRR@10", "build s", "p50 ms", "p95 ms", *[f"q/s @{k[4:]}" for k in clients], "load avg"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, s in results["systems"].items():
        row = [name, s["hit_at_1"], s["hit_at_3"], s["mrr_at_10"], s["build_s"], s["p50_ms"], s["p95_ms"],
               *[s[k] for k in clients], " ".join(str(x) for x in s["loadavg"])]
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return (f"{results['chunks']} chunks of {results['articles_count']} articles; {results['answerable']} answerable "
            f"of {results['queries']} queries; threads: {results['threads']}\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
