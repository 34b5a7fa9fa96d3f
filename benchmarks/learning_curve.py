"""The learning curve behind docs/learning.md: held-out quality vs learned examples per article.

Learning part: tests/eval/learning.jsonl (400 realistic resolved messages). Held-out part:
tests/eval/queries.jsonl (230 labelled messages, 30 off-topic). For each cap n, the first n
messages per article (after a seeded shuffle) go through the real path: `kb learn import`'s
`learning.import_file` into a fresh database, `learning.active_examples`, an incremental
build with the examples, then suggest evaluated on the held-out part.

Also times the import of 10,000 examples and the rebuild that embeds them.

    python benchmarks/learning_curve.py --index var/index [--plot docs/learning-curve.png]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

from indexer.build import build_index
from indexer.embedding import get_encoder, onnx_file
from kbserver.retrieval.embedder import QueryEmbedder
from kbserver.retrieval.evaluation import evaluate, load_cases
from kbserver.retrieval.reader import open_snapshot
from kbserver.store import learning
from kbserver.store.db import connect

ROOT = Path(__file__).resolve().parent.parent


def write_import_file(path: Path, cases, per_article: int) -> int:
    counts: dict[str, int] = {}
    rows = 0
    with open(path, "w", encoding="utf-8") as fh:
        for case in cases:
            article = case.relevant[0]
            if counts.get(article, 0) >= per_article:
                continue
            counts[article] = counts.get(article, 0) + 1
            fh.write(json.dumps({"text": case.query, "article_id": article, "outcome": "resolved_first_contact"}) + "\n")
            rows += 1
    return rows


def run_point(index: Path, articles: Path, work: Path, cases, held, per_article: int, encoder) -> dict:
    root = work / f"index-{per_article}"
    shutil.copytree(index, root)
    db = connect(work / f"kb-{per_article}.sqlite3")
    source = work / f"examples-{per_article}.jsonl"
    write_import_file(source, cases, per_article)
    known = {a.id for a in open_snapshot(index).articles.values()}
    learning.import_file(db, source, known)
    examples = learning.active_examples(db)
    build_index(articles, root, encoder_factory=lambda: encoder, examples=examples)
    snapshot = open_snapshot(root)
    view = snapshot.view(True)
    embedder = QueryEmbedder(encoder, cache_size=100_000)
    report = evaluate(view, embedder, held, "suggest")
    return {
        "per_article": per_article,
        "examples": len(snapshot.examples),
        "hit_at_1": round(report.hit_at_1, 4),
        "hit_at_3": round(report.hit_at_3, 4),
        "mrr_at_10": round(report.mrr_at_10, 4),
        "offtopic_flagged": round(report.offtopic_flagged, 4),
        "false_flags": round(report.false_flags, 4),
    }


def time_bulk(index: Path, articles: Path, work: Path, cases, encoder, n: int = 10_000) -> dict:
    """Import `n` distinct ticket texts and rebuild; ticket texts vary like real exports do."""
    rng = random.Random(11)
    # Ticket references made of words: numbers would be redacted to <order> and collapse duplicates.
    words = "amber birch cedar delta ember fable grove harbor iris juniper kestrel lumen maple nova orchid".split()
    openers = ["", "Hi, ", "Hello, ", "Hiya, ", "Good morning, ", "Hi team, "]
    closers = ["", " Thanks.", " Cheers.", " Thanks in advance.", " Kind regards."]
    path = work / "bulk.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            case = cases[i % len(cases)]
            tag = "-".join(words[(i // len(words) ** k) % len(words)] for k in range(4))
            text = f"{rng.choice(openers)}{case.query}{rng.choice(closers)} (ref {tag})"
            fh.write(json.dumps({"text": text, "article_id": case.relevant[0]}) + "\n")
    db = connect(work / "bulk.sqlite3")
    known = {a.id for a in open_snapshot(index).articles.values()}
    started = time.perf_counter()
    report = learning.import_file(db, path, known)
    import_s = time.perf_counter() - started
    root = work / "index-bulk"
    shutil.copytree(index, root)
    started = time.perf_counter()
    examples = learning.active_examples(db)
    build = build_index(articles, root, encoder_factory=lambda: encoder, examples=examples)
    rebuild_s = time.perf_counter() - started
    return {
        "imported": report.imported,
        "import_s": round(import_s, 1),
        "rebuild_s": round(rebuild_s, 1),
        "examples_in_build": build.examples,
        "embedded": build.embedded,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", default="var/index", type=Path)
    ap.add_argument("--articles", default=ROOT / "articles", type=Path)
    ap.add_argument("--caps", default="0,3,5,10,1000")
    ap.add_argument("--plot", type=Path)
    ap.add_argument("--bulk", type=int, default=10_000, help="examples for the import + rebuild timing (0 skips)")
    args = ap.parse_args()
    cases = load_cases(ROOT / "tests/eval/learning.jsonl")
    random.Random(7).shuffle(cases)
    held = load_cases(ROOT / "tests/eval/queries.jsonl")
    encoder = get_encoder(onnx_path=onnx_file(args.index / "models"))
    points = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for cap in (int(c) for c in args.caps.split(",")):
            point = run_point(args.index, args.articles, work, cases, held, cap, encoder)
            points.append(point)
            print(json.dumps(point), flush=True)
        bulk = time_bulk(args.index, args.articles, work, cases, encoder, args.bulk) if args.bulk else None
        if bulk:
            print(json.dumps({"bulk": bulk}), flush=True)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        xs = [p["examples"] for p in points]
        fig, ax = plt.subplots(figsize=(6, 3.6))
        ax.plot(xs, [p["hit_at_1"] for p in points], marker="o", label="suggest hit@1")
        ax.plot(xs, [p["hit_at_3"] for p in points], marker="s", label="suggest hit@3")
        ax.plot(xs, [p["offtopic_flagged"] for p in points], marker="^", label="off-topic flagged")
        ax.set_xlabel("learned examples in the build (held-out: tests/eval/queries.jsonl)")
        ax.set_ylim(0.6, 1.0)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)


if __name__ == "__main__":
    main()
