"""Keyword search p95 with and without steering, side by side (issue 20, item 2).

Each labelled message becomes a plain query and, from its own words, one query of each kind
an agent might steer with: a quoted phrase (its first two content words), an exclusion
(`-` one word of another message), a field (`title:` its first content word), a prefix (its
first content word cut to five letters and `*`) and a fuzzy term (that word with a letter
dropped and `~`). Every query is timed in process as the API runs it (`answers.search`,
keyword mode, then hybrid with a warm encoder cache), on an index built by `kb index` or
`kb bench --synthetic N`.

Run it with the code under test first on the path, then with the code before steering, on
the same index; the plain rows of both runs are the side-by-side "today" comparison:

    PYTHONPATH=. python benchmarks/steered_search.py --index benchmarks/out/synthetic-5000/index --label after
    PYTHONPATH=/path/to/checkout-before python benchmarks/steered_search.py --index ... --label before
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STOP = {"the", "a", "an", "my", "i", "to", "of", "and", "is", "it", "for", "in", "on", "me", "can", "you", "how",
        "do", "what", "with", "was", "have", "be", "but", "not", "hi", "please", "this", "that", "we", "our"}


def content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z]{3,}", text.lower()) if w not in STOP]


def variants(queries: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"plain": [], "phrase": [], "exclude": [], "field": [], "prefix": [], "fuzzy": []}
    for i, q in enumerate(queries):
        words = content_words(q)
        other = content_words(queries[(i + 7) % len(queries)])
        out["plain"].append(q)
        if len(words) >= 2:
            out["phrase"].append(f'"{words[0]} {words[1]}" ' + " ".join(words[2:]))
        if words and other:
            out["exclude"].append(f"{' '.join(words)} -{other[0]}")
        if words:
            out["field"].append(f"title:{words[0]} " + " ".join(words[1:]))
            if len(words[0]) >= 6:
                out["prefix"].append(f"{words[0][:5]}* " + " ".join(words[1:]))
                out["fuzzy"].append(f"{words[0][:2]}{words[0][3:]}~ " + " ".join(words[1:]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--queries", type=Path, default=REPO / "tests" / "eval" / "queries.jsonl")
    parser.add_argument("--label", default="after")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from indexer.embedding import Encoder, query_model
    from kbbench.measure import load_average, percentiles
    from kbserver.retrieval import answers
    from kbserver.retrieval.embedder import QueryEmbedder, limit_threads
    from kbserver.retrieval.reader import open_snapshot

    queries = [json.loads(line)["query"] for line in args.queries.read_text(encoding="utf-8").splitlines() if line.strip()]
    limit_threads(1)
    snapshot = open_snapshot(args.index)
    view = snapshot.view(allow_internal=True)
    encoder = Encoder(threads=1, onnx_path=query_model(args.index / "models", "fp32"))
    embedder = QueryEmbedder(encoder, cache_size=50_000)
    results = {"label": args.label, "articles": len(snapshot.articles), "chunks": len(snapshot.chunks),
               "loadavg_start": load_average(), "kinds": {}}
    for kind, qs in variants(queries).items():
        row = {"queries": len(qs)}
        for mode in ("keyword", "hybrid"):
            emb = None if mode == "keyword" else embedder
            for q in qs:  # warm-up: code paths, the Whoosh searcher, the encoder cache
                answers.search(view, emb, q, request_id="w", mode=mode, url_for_article=lambda i: i)
            times = []
            hits = 0
            for _ in range(args.repeat):
                for q in qs:
                    started = time.perf_counter()
                    answer = answers.search(view, emb, q, request_id="r", mode=mode, url_for_article=lambda i: i)
                    times.append(time.perf_counter() - started)
                    hits += bool(answer.results)
            row[mode] = {**percentiles(times), "with_results": round(hits / len(times), 3)}
        results["kinds"][kind] = row
        print(f"{kind:<8} n={len(qs):<4} keyword p95 {row['keyword']['p95_ms']:>7.2f} ms  "
              f"hybrid p95 {row['hybrid']['p95_ms']:>7.2f} ms  with results {row['keyword']['with_results']:.2f}",
              file=sys.stderr)
    results["loadavg_end"] = load_average()
    if args.out:
        args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
