"""How suggest holds up on articles written without aliases or tags (docs/quality.md).

The bundled articles list customer phrasings (`aliases`) and tags; procedures from other
teams often have neither. This copies the articles twice, strips the aliases of every other
article from one copy and the aliases and tags of all from the other, builds an index of each
copy (embeddings of unchanged text are reused from `--index`, so only the changed overview
and alias chunks are embedded), and evaluates suggest on both labelled sets, beside the
same evaluation on `--index`; then the same for a copy holding the procedures only (their
policies and products deleted, with and without aliases), on the labelled cases whose answer
is a procedure. It also prints the no-match threshold each index would need
for at most 5 % false flags, to show how far the calibrated one is off on the stripped copy.

    python benchmarks/without_aliases.py --index var/index
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shutil
import tempfile
from pathlib import Path

from indexer.build import build_index
from indexer.embedding import get_encoder, onnx_file
from kbserver.retrieval.embedder import QueryEmbedder
from kbserver.retrieval.evaluation import calibrate, evaluate, load_cases
from kbserver.retrieval.reader import open_snapshot

ROOT = Path(__file__).resolve().parent.parent
SETS = ("queries", "learning")


def strip(folder: Path, *, every: int = 1, tags: bool = True) -> int:
    """Remove the `aliases:` block of every `every`-th article under `folder` (sorted), and
    with `tags` empty every article's tags; returns the number of articles left without aliases."""
    changed = 0
    for i, path in enumerate(sorted(folder.rglob("*.md"))):
        text = path.read_text(encoding="utf-8")
        stripped = text
        if i % every == 0:
            stripped = re.sub(r"^aliases:[ \t]*\n(?:[ \t]+-.*\n)+|^aliases:[ \t]*\[.*\]\n", "", text, flags=re.M)
            changed += stripped != text
        if tags:
            stripped = re.sub(r"^tags:.*\n", "tags: []\n", stripped, flags=re.M)
        if stripped != text:
            path.write_text(stripped, encoding="utf-8")
    return changed


def procedures_only(folder: Path) -> int:
    """Delete every policy and product under `folder` and the `policies`/`related` lists that
    named them: a knowledge base of procedures alone, as other teams often have. Returns how
    many procedures are left."""
    left = 0
    for path in sorted(folder.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        if not re.search(r"^type:\s*procedure\s*$", text, flags=re.M):
            path.unlink()
            continue
        path.write_text(re.sub(r"^(?:policies|related):.*\n(?:[ \t]+-.*\n)*", "", text, flags=re.M), encoding="utf-8")
        left += 1
    return left


def answerable_here(cases: list, article_ids: set[str]) -> list:
    """The cases whose answer is still in the index (with only those ids), and the off-topic ones."""
    out = []
    for case in cases:
        kept = tuple(r for r in case.relevant if r in article_ids)
        if kept or not case.relevant:
            out.append(dataclasses.replace(case, relevant=kept))
    return out


def measure(index: Path, encoder) -> list[str]:
    snapshot = open_snapshot(index)
    view = snapshot.view(True)
    embedder = QueryEmbedder(encoder, cache_size=100_000)
    cells = []
    every = []
    for name in SETS:
        cases = answerable_here(load_cases(ROOT / "tests" / "eval" / f"{name}.jsonl"), set(snapshot.article_ids))
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
    rows = [["bundled articles", *measure(args.index, encoder)]]
    variants = [("aliases removed from every other article", False, dict(every=2, tags=False)),
                ("aliases and tags removed from all", False, dict(every=1, tags=True)),
                ("procedures only", True, None),
                ("procedures only, aliases and tags removed", True, dict(every=1, tags=True))]
    with tempfile.TemporaryDirectory(prefix="kb-noalias-") as tmp:
        for n, (label, only_procedures, how) in enumerate(variants):
            articles, index = Path(tmp) / f"articles-{n}", Path(tmp) / f"index-{n}"
            shutil.copytree(args.articles, articles)
            count = procedures_only(articles) if only_procedures else None
            stripped = strip(articles, **how) if how else 0
            shutil.copytree(args.index, index)  # start from its vectors: only changed chunks are embedded
            build_index(articles, index, encoder_factory=lambda: encoder)
            rows.append([f"{label} ({count if only_procedures else stripped} articles)", *measure(index, encoder)])
    head = ["articles", "hit@1", "hit@3", "false flags", "off-topic flagged", "B hit@1", "B hit@3", "B false flags",
            "threshold for 5 %"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
