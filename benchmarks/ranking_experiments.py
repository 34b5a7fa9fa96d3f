"""Ranking experiments behind docs/quality.md: score each idea on the labelled set.

Computes each query's chunk similarities and BM25F hits once, then re-scores them under
each variant in numpy, so a sweep of dozens of variants takes seconds.

    python benchmarks/ranking_experiments.py --index var/index --queries tests/eval/queries.jsonl
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.embedding import get_encoder, onnx_file
from kbserver.retrieval import scoring as ranking
from kbserver.retrieval.embedder import QueryEmbedder
from kbserver.retrieval.evaluation import load_cases
from kbserver.retrieval.reader import open_snapshot


@dataclass
class Features:
    relevant: tuple[str, ...]
    sims: np.ndarray  # (chunks, 1 + sentences)
    raw_sims: np.ndarray  # (chunks,) query without cleaning
    kw: np.ndarray  # (chunks,) BM25F score (0 = no hit)


def collect(view, embedder, cases) -> list[Features]:
    snap = view.snapshot
    out = []
    for case in cases:
        cleaned = ranking.clean_query(case.query) or case.query
        sentences = ranking.content_sentences(cleaned)
        vectors = embedder.embed(cleaned, sentences)
        sims = (vectors @ snap.vectors_t).T
        raw = embedder.embed(case.query)[0] @ snap.vectors_t
        kw = view.keyword_scores(view.analyse(cleaned)).astype(np.float32)
        out.append(Features(case.relevant, sims, raw, kw))
    return out


def score(snap, f: Features, p: dict) -> np.ndarray:
    kinds = p["kind_weight"]
    chunk = f.raw_sims if p.get("no_clean") else f.sims[:, 0]
    if p["sentence_weight"] and f.sims.shape[1] > 1:
        chunk = np.maximum(chunk, p["sentence_weight"] * f.sims[:, 1:].max(axis=1))
    chunk = chunk * kinds
    sem = np.maximum.reduceat(chunk, snap.group_starts)
    if p["topk_mean"]:
        # mean of the top-3 chunk scores per article, blended with the max
        top = np.array([np.sort(chunk[s:e])[-3:].mean() for s, e in zip(snap.group_starts, list(snap.group_starts[1:]) + [len(chunk)])])
        sem = (1 - p["topk_mean"]) * sem + p["topk_mean"] * top
    kw = np.maximum.reduceat(f.kw, snap.group_starts)
    if p["kw_norm"] == "squash":
        kwn = kw / (kw + p["kw_half"])
    else:
        kwn = kw / kw.max() if kw.max() > 0 else kw
    fused = sem + p["kw_weight"] * kwn + p["prior"] * snap_types(snap)
    if p.get("rrf"):
        r_sem = np.argsort(np.argsort(-sem))
        r_kw = np.argsort(np.argsort(-kw))
        fused = 1 / (60 + r_sem) + p["rrf"] / (60 + r_kw)
    return fused, sem


_types = {}


def snap_types(snap):
    if id(snap) not in _types:
        _types[id(snap)] = np.array([snap.articles[a].type == "procedure" for a in snap.article_ids], dtype=np.float32)
    return _types[id(snap)]


def metrics(snap, feats, p, threshold=None):
    h1 = h3 = rr = n = 0
    off_scores, on_scores = [], []
    for f in feats:
        fused, sem = score(snap, f, p)
        order = np.argsort(-fused)
        top_score = float(fused[order[0]]) if not p.get("rrf") else float(sem.max())
        if not f.relevant:
            off_scores.append(top_score)
            continue
        n += 1
        on_scores.append(top_score)
        ids = [snap.article_ids[i] for i in order[:10]]
        pos = next((i for i, a in enumerate(ids) if a in f.relevant), None)
        h1 += pos == 0
        h3 += pos is not None and pos < 3
        rr += 1 / (pos + 1) if pos is not None else 0
    off, on = np.array(off_scores), np.array(on_scores)
    # best threshold with <= 5% false flags
    best = None
    for t in np.arange(0.2, 0.8, 0.005):
        ff = (on < t).mean()
        if ff <= 0.05:
            flagged = (off < t).mean()
            if best is None or flagged > best[1]:
                best = (round(float(t), 3), float(flagged), float(ff))
    return {"hit1": h1 / n, "hit3": h3 / n, "mrr": rr / n, "threshold": best}


BASE = {"sentence_weight": 0.9, "kw_weight": 0.25, "kw_half": 12.0, "kw_norm": "squash", "prior": 0.02,
        "topk_mean": 0.0, "kind_weight": None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", default="var/index")
    ap.add_argument("--queries", default="tests/eval/queries.jsonl")
    ap.add_argument("--grid", action="store_true")
    args = ap.parse_args()
    snap = open_snapshot(Path(args.index))
    view = snap.view(True)
    encoder = get_encoder(onnx_path=onnx_file(Path(args.index) / "models"))
    embedder = QueryEmbedder(encoder, cache_size=100000)
    feats = collect(view, embedder, load_cases(Path(args.queries)))
    kinds = np.array([c.kind for c in snap.chunks])

    def kindw(overview=1.0, alias=1.0, section=1.0):
        return np.where(kinds == "overview", overview, np.where(kinds == "alias", alias, section)).astype(np.float32)

    base = dict(BASE, kind_weight=kindw())
    variants = {
        "semantic only (cleaned, max chunk)": dict(base, kw_weight=0, sentence_weight=0, prior=0),
        "semantic only, uncleaned query": dict(base, kw_weight=0, sentence_weight=0, prior=0, no_clean=True),
        "semantic + sentence max 0.9": dict(base, kw_weight=0, prior=0),
        "keyword only (BM25F)": dict(base, kw_weight=1, sentence_weight=0, prior=0, kind_weight=kindw(0, 0, 0)),
        "hybrid: RRF k=60": dict(base, rrf=1.0, prior=0),
        "hybrid: max-normalised BM25 w=0.25": dict(base, kw_norm="max", prior=0),
        "hybrid: squashed BM25 w=0.25 half=12": dict(base, prior=0),
        "hybrid + procedure prior 0.02 (current)": base,
        "hybrid + top-3 mean 0.3": dict(base, topk_mean=0.3),
        "hybrid, aliases x0.95": dict(base, kind_weight=kindw(alias=0.95)),
        "hybrid, sections x0.95": dict(base, kind_weight=kindw(section=0.95)),
    }
    for name, p in variants.items():
        print(f"{name:<45} {json.dumps(metrics(snap, feats, p))}")
    if args.grid:
        rows = []
        for sw, kw, half, prior, tk in itertools.product([0, 0.9], [0.1, 0.2, 0.3, 0.4], [5, 12, 25], [0, 0.02, 0.04, 0.06, 0.08], [0, 0.3]):
            p = dict(base, sentence_weight=sw, kw_weight=kw, kw_half=half, prior=prior, topk_mean=tk)
            m = metrics(snap, feats, p)
            rows.append((m["hit1"], m["hit3"], m["mrr"], sw, kw, half, prior, tk, m["threshold"]))
        rows.sort(reverse=True)
        for r in rows[:15]:
            print(r)


if __name__ == "__main__":
    main()
