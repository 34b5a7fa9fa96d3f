"""Content-gap grouping measured on tests/data/gaps.jsonl: routing by team, then clustering within it.

The set is 182 gap messages written as customers and agents write them, in 38 intended groups,
each with the article it was marked not helpful on (null: no confident match). The floors
below are the numbers measured for today's method (benchmarks/gap_grouping.py, docs/feedback.md)
less 0.02, so a change that merges different questions, or splits one, fails here.
"""

from __future__ import annotations

import sys

import pytest

from indexer.embedding import get_encoder
from kbserver.retrieval.message import clean_query
from kbserver.store import gaps
from kbserver.store.redact import redact

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import gap_grouping  # noqa: E402  (the benchmark's loader and measure: one definition of the numbers)

PRECISION_FLOOR = 0.895  # measured 0.915
RECALL_FLOOR = 0.68  # measured 0.703


@pytest.fixture(scope="module")
def labelled(onnx_model):
    rows, owners = gap_grouping.load()
    texts = [gaps.clustering_text(redact(r["text"]), clean_query) for r in rows]
    vectors = gaps.embed_in_batches(get_encoder(onnx_path=onnx_model).encode, texts)
    return rows, owners, vectors, texts


def test_the_labelled_set_is_large_and_names_real_articles(labelled):
    rows, owners, _, _ = labelled
    assert len(rows) >= 150 and len({r["group"] for r in rows}) >= 30
    assert {r["article"] for r in rows if r["article"]} <= set(owners)


def test_gap_grouping_keeps_its_measured_precision_and_recall(labelled):
    rows, owners, vectors, _ = labelled
    scores = gap_grouping.measure(rows, owners, vectors)
    assert scores.precision >= PRECISION_FLOOR, scores
    assert scores.recall >= RECALL_FLOOR, scores


def test_gap_grouping_beats_the_greedy_centroid_it_replaced(labelled):
    rows, owners, vectors, _ = labelled
    before = gaps.pairwise_scores([r["group"] for r in rows], gap_grouping.greedy_centroid(vectors, 0.5))
    after = gap_grouping.measure(rows, owners, vectors)
    assert after.precision >= before.precision + 0.25 and after.recall >= before.recall


def _together(labelled, a: str, b: str) -> bool:
    rows, owners, vectors, texts = labelled
    teams = [owners[r["article"]] if r["article"] else gaps.UNASSIGNED for r in rows]
    clusters = gaps.group_by_team(vectors, teams, [r["article"] for r in rows])
    where = {i: k for k, c in enumerate(clusters) for i in c}
    index = {r["text"]: i for i, r in enumerate(rows)}
    return where[index[a]] == where[index[b]]


def test_refund_and_order_not_arrived_are_never_merged(labelled):
    # The trial's case: one was marked not helpful on a Returns article, the other on a Delivery one.
    assert not _together(labelled, "my refund hasn't arrived", "my order hasn't arrived")


def test_bitcoin_and_ethereum_are_merged(labelled):
    assert _together(labelled, "do you accept bitcoin", "can I pay in ethereum")


def test_pairwise_scores_count_each_pair_once():
    labels = ["a", "a", "a", "b"]
    assert gaps.pairwise_scores(labels, [[0, 1], [2, 3]]) == gaps.PairScores(0.5, 0.333, 2)
    assert gaps.pairwise_scores(labels, [[0, 1, 2], [3]]) == gaps.PairScores(1.0, 1.0, 2)
