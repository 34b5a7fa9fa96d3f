"""How suggest holds up on articles written without aliases or tags (docs/quality.md).

The bundled articles list customer phrasings (`aliases`) and tags; procedures from other
teams often have neither. This copies the articles, strips both, builds an index of the
copy (embeddings of unchanged text are reused from `--index`, so only the changed overview
and alias chunks are embedded), and evaluates suggest on both labelled sets, beside the
same evaluation on `--index`. It also prints the no-match threshold each index would need
for at most 5 % false flags, to show how far the calibrated one is off on the stripped copy.

    python benchmarks/without_aliases.py --index var/index
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
from pathlib import Path

from indexer.build import build_index
from indexer.embedding import get_encoder, onnx_file
from kbserver import ranking
from kbserver.evaluation import calibrate, evaluate, load_cases
from kbserver.reader import open_snapshot

ROOT = Path(__file__).resolve().parent.parent
SETS = ("queries", "learning")


def strip_aliases_and_tags(folder: Path) -> int:
    """Remove `aliases:` blocks and empty `tags:` in every article under `folder`; returns files changed."""
    changed = 0
    for path in folder.rglob("*.md"):
        text = path.read_text(encoding="utf-8")
        stripped = re.sub(r"^aliases:[ \t]*\n(?:[ \t]+-.*\n)+|^aliases:[ \t]*\[.*\]\n", "", text, flags=re.M)
        stripped = re.sub(r"^tags:.*\n", "tags: []\n", stripped, flags=re.M)
        if stripped != text:
            path.write_text(stripped, encoding="utf-8")
            changed += 1
    return changed


def measure(index: Path, encoder) -> list[str]:
    view = open_snapshot(index).view(True)
    embedder = ranking.QueryEmbedder(encoder, cache_size=100_000)
    cells = []
    every = []
    for name in SETS:
        cases = load_cases(ROOT / "tests" / "eval" / f"{name}.jsonl")
        every += cases
        report = evaluate(view, embedder, cases, "suggest")
        cells += [f"{report.hit_at_1:.3f}", f"{report.hit_at_3:.3f}", f"{report.false_flags:.3f}"]
        if name == "queries":
            cells.append(f"{report.offtopic_flagged:.3f}")
    cells.append(f"{calibrate(view, embedder, every)['threshold']:.4f}")
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=ROOT / "var" / "index")
    parser.add_argument("--articles", type=Path, default=ROOT / "articles")
    args = parser.parse_args()
    encoder = get_encoder(threads=1, onnx_path=onnx_file(args.index / "models"))
    with tempfile.TemporaryDirectory(prefix="kb-noalias-") as tmp:
        work = Path(tmp)
        articles = work / "articles"
        shutil.copytree(args.articles, articles)
        changed = strip_aliases_and_tags(articles)
        shutil.copytree(args.index, work / "index")  # start from its vectors: only changed chunks are embedded
        build_index(articles, work / "index", encoder_factory=lambda: encoder)
        rows = [["bundled articles", *measure(args.index, encoder)],
                [f"aliases and tags removed ({changed} files)", *measure(work / "index", encoder)]]
    head = ["articles", "hit@1", "hit@3", "false flags", "off-topic flagged", "B hit@1", "B hit@3", "B false flags",
            "threshold for 5 %"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
