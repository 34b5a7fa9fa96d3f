"""Learned examples at scale: the ANN graph a build writes from EXACT_BELOW examples on,
served memory-mapped, ranks as exact search does; rebuilt only when the examples change.

Real builds of clinc-work (an HR helpdesk kb was not tuned on) with its real resolved
tickets, the graph forced on with `exact_examples_below=1` (the default is 20,000).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from indexer import example_index, store
from indexer.build import build_index
from indexer.embedding import get_encoder
from indexer.store import Example
from kbserver.retrieval import scoring
from kbserver.retrieval.embedder import QueryEmbedder
from kbserver.retrieval.evaluation import evaluate, load_cases
from kbserver.retrieval.reader import open_snapshot

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "tests" / "eval" / "suite" / "clinc-work"


def tickets() -> list[Example]:
    out = []
    for i, line in enumerate((WORK / "learning.jsonl").read_text(encoding="utf-8").splitlines(), start=1):
        row = json.loads(line)
        out.append(Example(i, row["article_id"], row["text"], 1.0, hashlib.sha256(row["text"].encode()).hexdigest()))
    return out


def build(articles: Path, root: Path, onnx_model: Path, examples: list[Example], **kw):
    encoder = get_encoder(onnx_path=onnx_model)
    return build_index(articles, root, encoder_factory=lambda: encoder, examples=examples, **kw)


@pytest.fixture(scope="module")
def embedder(onnx_model):
    return QueryEmbedder(get_encoder(onnx_path=onnx_model), cache_size=5000)


@pytest.fixture(scope="module")
def graph_build(tmp_path_factory, onnx_model) -> Path:
    root = tmp_path_factory.mktemp("graph")
    build(WORK / "articles", root, onnx_model, tickets(), exact_examples_below=1)
    return root


def test_a_build_with_many_examples_writes_their_graph_and_serves_it_mapped(graph_build):
    build_path = store.current_build_path(graph_build)
    assert (build_path / example_index.FILE).stat().st_size > 0
    manifest = store.read_manifest(build_path)
    kept, _ = store.read_examples(build_path)
    assert manifest.stats["example_index"] == example_index.index_key([e.hash for e in kept])
    snap = open_snapshot(graph_build)
    assert snap.example_index is not None and len(snap.example_index) == len(snap.examples) == manifest.examples
    assert isinstance(snap.example_vectors, np.memmap)  # the float32 matrix is read only where rescored


def test_below_the_limit_no_graph_is_written(tmp_path, onnx_model):
    build(WORK / "articles", tmp_path, onnx_model, tickets()[:50])
    build_path = store.current_build_path(tmp_path)
    assert not (build_path / example_index.FILE).exists()
    assert "example_index" not in store.read_manifest(build_path).stats
    assert open_snapshot(tmp_path).example_index is None


def test_the_graph_ranks_as_exact_search_does(graph_build, embedder):
    view = open_snapshot(graph_build).view(allow_internal=True)
    cases = load_cases(WORK / "queries.jsonl")
    approximate = evaluate(view, embedder, cases, "suggest")
    exact = evaluate(view, embedder, cases, "suggest", dataclasses.replace(scoring.DEFAULT_PARAMS, example_search="exact"))
    # The same first article for (almost) every message, and hit@1 within half a point.
    same = sum(a == b for a, b in zip(approximate.outcomes, exact.outcomes)) / len(cases)
    assert same >= 0.98
    assert abs(approximate.hit_at_1 - exact.hit_at_1) <= 0.005


def test_the_candidates_hold_the_exact_nearest(tmp_path):
    # Clustered like real examples (300 topics, many phrasings of each), not uniform noise.
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((300, 384)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = centres[rng.integers(0, 300, 30_000)] + 0.04 * rng.standard_normal((30_000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    example_index.write(tmp_path / example_index.FILE, vectors)
    graph = example_index.open_view(tmp_path / example_index.FILE, len(vectors))
    queries = vectors[rng.choice(len(vectors), 50, replace=False)] + 0.03 * rng.standard_normal((50, 384)).astype(np.float32)
    found = 0
    for q in queries:
        exact = set(np.argsort(-(vectors @ q))[:10])
        found += len(exact & set(example_index.candidates(graph, q[None, :], len(vectors))))
    assert found / (10 * len(queries)) >= 0.95


def test_an_article_edit_reuses_the_graph_and_new_examples_rebuild_it(tmp_path, onnx_model):
    articles = tmp_path / "articles"
    subprocess.run(["cp", "-r", str(WORK / "articles"), str(articles)], check=True)
    root = tmp_path / "index"
    examples = tickets()[:400]
    build(articles, root, onnx_model, examples, exact_examples_below=1)
    first = store.current_build_path(root) / example_index.FILE
    page = next(articles.rglob("*.md"))
    page.write_text(page.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    build(articles, root, onnx_model, examples, exact_examples_below=1)
    second = store.current_build_path(root) / example_index.FILE
    assert second != first and second.stat().st_ino == first.stat().st_ino  # hard-linked, not rebuilt
    for name in ("examples.npy", "examples.jsonl"):  # and the examples themselves, not rewritten
        assert (second.parent / name).stat().st_ino == (first.parent / name).stat().st_ino
    build(articles, root, onnx_model, tickets()[:401], exact_examples_below=1)
    third = store.current_build_path(root) / example_index.FILE
    assert third.stat().st_ino != second.stat().st_ino
    assert (third.parent / "examples.npy").stat().st_ino != (second.parent / "examples.npy").stat().st_ino
    assert len(store.read_examples(third.parent)[0]) == 401
    assert len(example_index.open_view(third, 401)) == 401


def test_a_graph_of_other_examples_is_refused(graph_build, tmp_path):
    with pytest.raises(ValueError, match="holds"):
        example_index.open_view(store.current_build_path(graph_build) / example_index.FILE, 3)


@pytest.mark.parametrize("first, second", [("usearch.index", "onnxruntime"), ("onnxruntime", "usearch.index")])
def test_usearch_and_onnxruntime_import_in_either_order(first, second):
    # usearch 2.26 aborts the process when imported before onnxruntime: the pin keeps us off it.
    result = subprocess.run([sys.executable, "-c", f"import {first}, {second}"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
