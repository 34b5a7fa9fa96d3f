"""Relevance metrics over a labelled query file, ranking exactly as the API does."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from kbserver.retrieval import scoring as ranking
from kbserver.retrieval.embedder import QueryEmbedder
from kbserver.retrieval.reader import AudienceView
from kbserver.retrieval.scoring import RankParams

EVAL_MODES = ("suggest", "hybrid", "keyword", "semantic")
SUGGEST_CHOICE = 3  # the page asks suggest for three: a choice is at most that long


class QueryFileError(ValueError):
    """A line of the query file is not `{"query": str, "relevant": [ids]}`."""


@dataclass(frozen=True)
class Case:
    query: str
    relevant: tuple[str, ...]
    line: int


def article_ref(value: str) -> str:
    """An article id as a labeller may write it: `articles/returns/start-a-return.md` is `returns/start-a-return`."""
    ref = value.strip().replace("\\", "/")
    ref = ref.removeprefix("./").removeprefix("articles/")
    return ref.removesuffix(".md")


def load_cases(path: Path) -> list[Case]:
    """Read a JSONL query file. Raises QueryFileError naming `file:line` for a bad line.

    `relevant` is a list of article ids; a single id as a string and `null` (no answer) are
    read as what they mean, and ids written as paths (`articles/x/y.md`) as the ids they name.
    """
    cases = []
    with open(path, encoding="utf-8-sig") as fh:  # a byte-order mark (Windows tools) is not JSON
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise QueryFileError(f"{path}:{number}: not valid JSON: {exc.msg}") from exc
            if not isinstance(data, dict) or not isinstance(data.get("query"), str):
                raise QueryFileError(f"{path}:{number}: expected {{\"query\": \"...\", \"relevant\": [...]}}")
            relevant = data.get("relevant") or []
            if isinstance(relevant, str):
                relevant = [relevant]
            if not isinstance(relevant, list) or not all(isinstance(r, str) for r in relevant):
                raise QueryFileError(f"{path}:{number}: 'relevant' must be a list of article ids")
            cases.append(Case(data["query"], tuple(article_ref(r) for r in relevant if r.strip()), number))
    return cases


def unknown_ids(cases: list[Case], article_ids: Iterable[str]) -> list[str]:
    """The `relevant` ids no article of the index has: each case naming one can never be a hit."""
    known = set(article_ids)
    return sorted({r for case in cases for r in case.relevant if r not in known})


@dataclass
class ModeReport:
    mode: str
    cases: int = 0
    answerable: int = 0
    offtopic: int = 0
    hit_at_1: float = 0.0
    hit_at_3: float = 0.0
    mrr_at_10: float = 0.0
    ndcg_at_10: float = 0.0
    offtopic_flagged: float = 0.0
    false_flags: float = 0.0
    misses: list[dict[str, Any]] = field(default_factory=list)
    # Per case, in file order: the 0-based rank of its first relevant article (-1: not in the top
    # 10; None: an off-topic case) and whether it was flagged no-match. Paired comparisons use these.
    outcomes: list[tuple[int | None, bool]] = field(default_factory=list)
    # Suggest only: of the answerable messages, the share shown as a choice (`ranking.ambiguity`,
    # at the page's three suggestions), hit@1 among those and among the rest, and how often the
    # right article was in the choice.
    ambiguous: float = 0.0
    hit_at_1_ambiguous: float = 0.0
    hit_at_1_clear: float = 0.0
    in_choice: float = 0.0

    def as_dict(self, worst: int = 10) -> dict[str, Any]:
        choice = {} if self.mode != "suggest" else {
            "ambiguous": round(self.ambiguous, 4),
            "hit_at_1_ambiguous": round(self.hit_at_1_ambiguous, 4),
            "hit_at_1_clear": round(self.hit_at_1_clear, 4),
            "in_choice": round(self.in_choice, 4),
        }
        return {
            "cases": self.cases,
            "answerable": self.answerable,
            "offtopic": self.offtopic,
            "hit_at_1": round(self.hit_at_1, 4),
            "hit_at_3": round(self.hit_at_3, 4),
            "mrr_at_10": round(self.mrr_at_10, 4),
            "ndcg_at_10": round(self.ndcg_at_10, 4),
            "offtopic_flagged": round(self.offtopic_flagged, 4),
            "false_flags": round(self.false_flags, 4),
            **choice,
            "worst_misses": self.misses[:worst],
        }


def evaluate(
    view: AudienceView,
    embedder: QueryEmbedder,
    cases: list[Case],
    mode: str,
    params: RankParams = ranking.DEFAULT_PARAMS,
) -> ModeReport:
    report = ModeReport(mode=mode, cases=len(cases))
    params = ranking.for_build(params, view.snapshot)
    hits1 = hits3 = rr = ndcg = flagged_off = flagged_on = 0.0
    unsure = unsure_hits = clear_hits = chosen = 0
    for case in cases:
        rank_mode = "hybrid" if mode == "suggest" else mode
        ranked = ranking.rank(
            view, embedder if rank_mode != "keyword" else None, case.query,
            mode=rank_mode, for_suggest=mode == "suggest", params=params, top=10,
        )
        ids = [r.article.id for r in ranked[:10]]
        flagged = not ranking.is_confident(ranked, params, mode)
        if not case.relevant:
            report.outcomes.append((None, flagged))
            report.offtopic += 1
            flagged_off += flagged
            if not flagged:
                report.misses.append({"query": case.query, "line": case.line, "expected": [], "got": ids[:3],
                                      "score": round(ranked[0].score, 3) if ranked else None, "rank": None})
            continue
        report.answerable += 1
        flagged_on += flagged
        relevant = set(case.relevant)
        positions = [i for i, aid in enumerate(ids) if aid in relevant]
        first = positions[0] if positions else None
        report.outcomes.append((-1 if first is None else first, flagged))
        hits1 += first == 0
        if mode == "suggest":
            choice = ranking.ambiguity(ranked, params)
            if choice is not None:
                unsure += 1
                unsure_hits += first == 0
                chosen += any(r.article.id in relevant for r in choice.choice[:SUGGEST_CHOICE])
            else:
                clear_hits += first == 0
        hits3 += first is not None and first < 3
        rr += 1.0 / (first + 1) if first is not None else 0.0
        dcg = sum(1.0 / math.log2(i + 2) for i in positions)
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
        ndcg += dcg / ideal
        if first != 0:
            report.misses.append({"query": case.query, "line": case.line, "expected": list(case.relevant),
                                  "got": ids[:3], "rank": None if first is None else first + 1,
                                  "score": round(ranked[0].score, 3) if ranked else None})
    n = max(report.answerable, 1)
    report.hit_at_1, report.hit_at_3, report.mrr_at_10, report.ndcg_at_10 = hits1 / n, hits3 / n, rr / n, ndcg / n
    report.offtopic_flagged = flagged_off / max(report.offtopic, 1)
    report.ambiguous = unsure / n
    report.hit_at_1_ambiguous = unsure_hits / max(unsure, 1)
    report.hit_at_1_clear = clear_hits / max(report.answerable - unsure, 1)
    report.in_choice = chosen / max(unsure, 1)
    report.false_flags = flagged_on / n
    report.misses.sort(key=lambda m: (m["rank"] is not None, -(m["rank"] or 0)))
    return report


def calibrate(
    view: AudienceView,
    embedder: QueryEmbedder,
    cases: list[Case],
    *,
    max_false_flags: float = 0.05,
    params: RankParams = ranking.DEFAULT_PARAMS,
) -> dict[str, float]:
    """The highest no-match threshold that flags at most `max_false_flags` of answerable cases.

    Scores are suggest's top scores as confidence judges them (`ranking.confidence_score`);
    the answer also gives the off-topic flag rate at that threshold, so the trade-off is visible.
    """
    answerable: list[float] = []
    offtopic: list[float] = []
    params = ranking.for_build(params, view.snapshot)
    for case in cases:
        ranked = ranking.rank(view, embedder, case.query, mode="hybrid", for_suggest=True, params=params)
        top = ranking.confidence_score(ranked[0], params) if ranked else 0.0
        (answerable if case.relevant else offtopic).append(top)
    on = np.sort(np.array(answerable))
    allowed = int(np.floor(max_false_flags * len(on)))
    # Flag strictly below the threshold: the (allowed)-th lowest answerable score stays unflagged.
    threshold = float(on[allowed]) if len(on) else 0.0
    off = np.array(offtopic)
    return {
        "threshold": round(threshold, 4),
        "false_flags": round(float((on < threshold).mean()) if len(on) else 0.0, 4),
        "offtopic_flagged": round(float((off < threshold).mean()) if len(off) else 0.0, 4),
        "answerable": len(on),
        "offtopic": len(off),
    }


def explain(
    view: AudienceView,
    embedder: QueryEmbedder,
    text: str,
    mode: str = "suggest",
    params: RankParams = ranking.DEFAULT_PARAMS,
    top: int = 5,
) -> dict[str, Any]:
    """One message ranked exactly as the API ranks it, with every part of each score.

    What `kb eval --explain` prints: the build's threshold for `mode`, whether the best result
    clears it, and per article the parts `Ranked.parts` names (score = semantic + keyword_part
    + prior; semantic = text lifted by learned examples; text = mean of alias, overview,
    section and top3)."""
    params = ranking.for_build(params, view.snapshot)
    rank_mode = "hybrid" if mode == "suggest" else mode
    how = ranking.message_route(view, text, params)
    ranked = ranking.rank(view, embedder if rank_mode != "keyword" else None, text,
                          mode=rank_mode, for_suggest=mode == "suggest", params=params, top=top,
                          how=how if rank_mode != "keyword" else None)
    threshold = None if mode == "keyword" else ranking.threshold(params, mode, ranked[0].encoder if ranked else how.encoder,
                                                                  how.lang)
    unsure = ranking.ambiguity(ranked[:SUGGEST_CHOICE], params) if mode == "suggest" else None
    return {
        "text": text,
        "mode": mode,
        "language": how.to_json(),
        "threshold": threshold,
        "calibration": (view.snapshot.calibration or {}).get("method", "none (the constants)"),
        "no_confident_match": not ranking.is_confident(ranked, params, mode),
        "ambiguity": {"reason": unsure.reason, "articles": [r.article.id for r in unsure.choice]} if unsure else None,
        "results": [
            {"id": r.article.id, "type": r.article.type,
             "confidence_score": round(ranking.confidence_score(r, params, mode), 4), **r.parts()}
            for r in ranked
        ],
    }
