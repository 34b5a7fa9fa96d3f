"""Score ranking variants on every set of the relevance suite, side by side.

Each variant is a set of `RankParams` overrides, ranked by the production code
(`kbserver.retrieval.scoring.rank`), so the variant that wins is exactly what ships. The indexes are
the ones `kb suite` built under --work (run it first); each query is embedded once and
reused by every variant.

    python benchmarks/suite_sweep.py '{}' '{"keyword_weight": 0.4}' '{"keyword_weight": 0.2}'

The first variant is the baseline: every other one gets, per set, the paired change in
suggest hit@1 and whether it is beyond that set's noise (kbserver.suite.compare's rule).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from indexer.embedding import get_encoder, onnx_file
from kbserver.retrieval import scoring as ranking
from kbserver.retrieval import suite
from kbserver.retrieval.embedder import QueryEmbedder
from kbserver.retrieval.evaluation import evaluate, load_cases
from kbserver.retrieval.reader import open_snapshot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", help="JSON objects of RankParams overrides; the first is the baseline")
    parser.add_argument("--sets", type=Path, default=Path("tests/eval/suite/sets.json"))
    parser.add_argument("--work", type=Path, default=Path("var/suite"))
    parser.add_argument("--only", nargs="*", default=None, help="labels of the rows to run (e.g. telecom clinc-bank+learned)")
    parser.add_argument("--mode", default="suggest")
    parser.add_argument("--singles", action="store_true", help="also print keyword and semantic hit@1 per set")
    args = parser.parse_args()

    variants = [json.loads(v) for v in args.variants]
    embedder = QueryEmbedder(get_encoder(onnx_path=onnx_file(args.work / "models")), cache_size=50000)
    rows = []
    for s in suite.load_sets(args.sets, root=Path.cwd()):
        for label in (s.name, f"{s.name}+learned") if s.learning else (s.name,):
            if args.only and label not in args.only or not (args.work / label).is_dir():
                continue
            rows.append((label, s, open_snapshot(args.work / label)))
    results: dict[str, list] = {}
    singles: dict[str, dict[str, float]] = {}
    for label, s, snap in rows:
        view = snap.view(allow_internal=True)
        cases = load_cases(s.queries)
        results[label] = []
        for overrides in variants:
            params = dataclasses.replace(ranking.DEFAULT_PARAMS, **overrides)
            results[label].append(evaluate(view, embedder, cases, args.mode, params))
        if args.singles:
            singles[label] = {m: evaluate(view, embedder, cases, m).hit_at_1 for m in ("keyword", "semantic")}
        line = " ".join(f"{r.hit_at_1:.3f}" for r in results[label])
        print(f"{label:<26} {line}", file=sys.stderr)

    head = f"{'set':<26}" + "".join(f"{'v' + str(i):>16}" for i in range(len(variants)))
    if args.singles:
        head += f"{'keyword':>9}{'semantic':>9}"
    print(head)
    means = [[] for _ in variants]
    flags = [[] for _ in variants]
    down = [[] for _ in variants]
    for label, reports in results.items():
        base = reports[0]
        cells = []
        for i, r in enumerate(reports):
            means[i].append(r.hit_at_1)
            if r.offtopic:
                flags[i].append((r.offtopic_flagged, r.false_flags))
            delta, noise, _ = suite.paired_delta(base.outcomes, r.outcomes)
            mark = "+" if delta > noise else "-" if -delta > noise else " "
            if mark == "-":
                down[i].append(label)
            cells.append(f"{r.hit_at_1:.3f} {delta:+.3f}{mark}" if i else f"{r.hit_at_1:.3f}")
        line = f"{label:<26}" + "".join(f"{c:>16}" for c in cells)
        if args.singles:
            line += f"{singles[label]['keyword']:>9.3f}{singles[label]['semantic']:>9.3f}"
        print(line)
    print(f"{'mean':<26}" + "".join(f"{sum(m) / len(m):>16.4f}" for m in means))
    for i, v in enumerate(variants):
        print(f"v{i}: {json.dumps(v)}" + (f"  DOWN beyond noise on: {', '.join(down[i])}" if down[i] else ""))


if __name__ == "__main__":
    main()
