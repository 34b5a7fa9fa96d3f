"""Generate a synthetic knowledge base in kb's article format (valid for `kb lint`).

    .venv/bin/python benchmarks/synth.py --articles 5000 --out benchmarks/corpus/synthetic-5000
    .venv/bin/kb lint benchmarks/corpus/synthetic-5000

The generator itself is `kbbench.synth` (so `kb bench --synthetic N` works from any
install); this script is its command line. Same seed, same files. By default the bundled
sample articles are copied in and count towards N, so the labelled queries keep answers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    from kbbench.synth import generate_corpus

    parser = argparse.ArgumentParser(description="Generate a synthetic kb corpus.")
    parser.add_argument("--articles", type=int, default=5000, help="how many articles in all (default 5000)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "corpus" / "synthetic")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sample", type=Path, default=ROOT / "articles",
                        help="real articles to include (default: the bundled sample KB)")
    parser.add_argument("--no-sample", action="store_true", help="synthetic articles only")
    args = parser.parse_args(argv)
    written = generate_corpus(args.out, args.articles, seed=args.seed,
                              sample_articles=None if args.no_sample else args.sample)
    print(f"{written} articles written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
