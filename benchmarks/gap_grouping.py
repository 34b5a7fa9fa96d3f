"""Measure how well content gaps are grouped, on tests/data/gaps.jsonl (docs/feedback.md#content-gaps).

Each line is one gap message as a customer or agent wrote it, the group it belongs to (the
question it asks) and the article it was marked not helpful on (null: no confident match). The
messages go through the report's own path: redaction, the clustering text, routing by the
owner of the article (from articles/), the sentence encoder and the clustering. Prints pairwise
precision and recall for the method kb used before issue 20 (greedy centroid over every gap,
0.5) and for today's (routed by team, average linkage) over a grid of thresholds, and a
two-fold check: each half of the groups picks the threshold that the other half is scored on.

    .venv/bin/python benchmarks/gap_grouping.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer.embedding import get_encoder  # noqa: E402
from indexer.parse import parse_article  # noqa: E402
from kbserver.retrieval.message import clean_query  # noqa: E402
from kbserver.store import gaps  # noqa: E402
from kbserver.store.redact import redact  # noqa: E402

GAPS_FILE = ROOT / "tests" / "data" / "gaps.jsonl"
THRESHOLDS = (0.45, 0.5, 0.55, 0.6, 0.65)
BONUSES = (0.0, 0.05, 0.1, 0.15, 0.2)
PRECISION_FLOOR = 0.9  # merging two questions hides one of them: precision first, then recall


def load(path: Path = GAPS_FILE, articles: Path = ROOT / "articles") -> tuple[list[dict], dict[str, str]]:
    """The labelled messages and {article id: owner} of the knowledge base they were given against."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    owners = {}
    for file in sorted(articles.rglob("*.md")):
        article, _ = parse_article(file, articles, today=date(2026, 1, 1))
        owners[article.id] = article.owner
    return rows, owners


def greedy_centroid(vectors: np.ndarray, threshold: float) -> list[list[int]]:
    """The clustering before issue 20: each row joins the most similar centroid at >= threshold."""
    centroids: list[np.ndarray] = []
    sums: list[np.ndarray] = []
    members: list[list[int]] = []
    for i, vector in enumerate(vectors):
        if centroids:
            sims = np.vstack(centroids) @ vector
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                members[best].append(i)
                sums[best] = sums[best] + vector
                centroids[best] = sums[best] / np.linalg.norm(sums[best])
                continue
        centroids.append(vector.copy())
        sums.append(vector.copy())
        members.append([i])
    return members


def measure(rows: list[dict], owners: dict[str, str], vectors: np.ndarray, keep: set[str] | None = None,
            threshold: float = gaps.GAP_SIMILARITY, bonus: float = gaps.GAP_SAME_ARTICLE_BONUS) -> gaps.PairScores:
    """Today's grouping of the rows whose group is in `keep` (all by default), scored against their groups."""
    index = [i for i, r in enumerate(rows) if keep is None or r["group"] in keep]
    teams = [owners[rows[i]["article"]] if rows[i]["article"] else gaps.UNASSIGNED for i in index]
    clusters = gaps.group_by_team(vectors[index], teams, [rows[i]["article"] for i in index], threshold, bonus)
    return gaps.pairwise_scores([rows[i]["group"] for i in index], clusters)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args()
    rows, owners = load()
    texts = [gaps.clustering_text(redact(r["text"]), clean_query) for r in rows]
    vectors = gaps.embed_in_batches(get_encoder().encode, texts)
    labels = [r["group"] for r in rows]
    before = gaps.pairwise_scores(labels, greedy_centroid(vectors, 0.5))
    grid = {(b, t): measure(rows, owners, vectors, threshold=t, bonus=b) for b in BONUSES for t in THRESHOLDS}
    groups = list(dict.fromkeys(labels))
    folds = [set(groups[0::2]), set(groups[1::2])]
    cross = []
    for k in (0, 1):
        tune, held = folds[k], folds[1 - k]
        tuned = {(b, t): measure(rows, owners, vectors, tune, t, b) for b in BONUSES for t in THRESHOLDS}
        ok = {key: s for key, s in tuned.items() if s.precision >= PRECISION_FLOOR}
        b, t = max(ok, key=lambda key: (ok[key].recall, key[1]))
        cross.append({"bonus": b, "threshold": t, "held_out": measure(rows, owners, vectors, held, t, b).to_dict()})
    result = {
        "messages": len(rows),
        "groups": len(groups),
        "before": before.to_dict(),
        "after": grid[(gaps.GAP_SAME_ARTICLE_BONUS, gaps.GAP_SIMILARITY)].to_dict(),
        "grid": [{"bonus": b, "threshold": t, **s.to_dict()} for (b, t), s in grid.items()],
        "two_fold": cross,
    }
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"{result['messages']} messages in {result['groups']} groups")
    print(f"before (greedy centroid, all teams, 0.5): {before}")
    print(f"after  (by team, average linkage, {gaps.GAP_SIMILARITY}, bonus {gaps.GAP_SAME_ARTICLE_BONUS}):"
          f" {result['after']}")
    print("bonus threshold precision recall clusters")
    for row in result["grid"]:
        print(f"{row['bonus']:5} {row['threshold']:9} {row['precision']:9} {row['recall']:6} {row['clusters']:8}")
    for k, fold in enumerate(cross):
        print(f"fold {k}: picked bonus {fold['bonus']} threshold {fold['threshold']}, held-out {fold['held_out']}")


if __name__ == "__main__":
    main()
