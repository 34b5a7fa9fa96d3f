"""Search and suggest over an opened index. No Flask here: `kb eval` ranks exactly as the API does.

Hybrid ranking, per article (all vectorised over the chunk matrix):

    semantic = mean of four pieces of evidence, each a cosine similarity to the query:
               the best alias (for an article without aliases, its best text), the overview
               (title + summary + intro), the best section piece (also matched sentence by
               sentence for long messages), and the mean of the article's three best chunks
    keyword  = best BM25F chunk score, squashed to [0, 1) by s / (s + KEYWORD_HALF)
    score    = semantic + KEYWORD_WEIGHT * keyword (+ type priors for suggest: the procedure
               first for a problem or a task; for a question about facts, the policy or
               product page that states them)

Taking the max over every chunk let one short alias of the wrong article win (42 of the
first 62 misses); averaging several independent kinds of evidence is what fixed it. The
keyword part is squashed with a fixed half-saturation point rather than divided by the
best score of the query, so a query whose words barely match anything does not hand a full
bonus to its least-bad article. Customer messages are cleaned first (greetings, sign-offs,
emails, order and phone numbers carry no meaning for ranking), then misspellings of the
articles' words are corrected ("retrun" -> "return", `spelling.fix_typos`). How each choice
was measured is in docs/quality.md.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from indexer.article import Article, bullet_items
from indexer.chunking import plain_text
from kbserver.message import asks_for_facts, clean_query, content_sentences
from kbserver.reader import AudienceView

MODES = ("hybrid", "keyword", "semantic")

# Tuned on tests/eval/queries.jsonl and checked on tests/eval/learning.jsonl (400 other
# messages); see docs/quality.md for the sweep behind each value.
KEYWORD_WEIGHT = 0.3
KEYWORD_HALF = 12.0
SENTENCE_WEIGHT = 0.9
PROCEDURE_PRIOR = 0.06
PRODUCT_PENALTY = 0.03
QUESTION_PROCEDURE_PRIOR = -0.04  # a question about a rule or a product (asks_for_facts): the procedure gives way
QUESTION_PRODUCT_PENALTY = 0.0
NO_MATCH_THRESHOLD = 0.5835  # suggest; search modes score on other scales:
SEARCH_NO_MATCH_THRESHOLDS = {"hybrid": 0.53, "semantic": 0.365}
# An article without aliases scores about this much lower for an equally good match: its alias
# evidence is its own text, which customers' words match less closely (docs/quality.md, row 21).
ALIASLESS_OFFSET = 0.04
HIGH_CONFIDENCE = 0.78
MEDIUM_CONFIDENCE = 0.65
STRONG_POLICY_RATIO = 0.92
POLICY_WINDOW = 8  # how far down the ranking a strongly matching policy is looked for
RERANK_DEPTH = 60
EXAMPLE_WEIGHT = 0.9
EXAMPLE_K = 3


@dataclass(frozen=True)
class Ranked:
    article: Article
    score: float  # fused score used for ordering
    semantic: float
    keyword: float
    best_row: int  # the chunk that matched best (for "why", section and snippet)


@dataclass(frozen=True)
class RankParams:
    keyword_weight: float = KEYWORD_WEIGHT
    keyword_half: float = KEYWORD_HALF
    sentence_weight: float = SENTENCE_WEIGHT
    procedure_prior: float = PROCEDURE_PRIOR
    product_penalty: float = PRODUCT_PENALTY
    question_procedure_prior: float = QUESTION_PROCEDURE_PRIOR
    question_product_penalty: float = QUESTION_PRODUCT_PENALTY
    no_match_threshold: float = NO_MATCH_THRESHOLD
    use_examples: bool = True
    example_weight: float = EXAMPLE_WEIGHT
    example_k: int = EXAMPLE_K
    example_lift_only: bool = True
    example_mode: str = "topk"  # "topk" (mean of the k best), "max", or "knn" (votes of the k nearest)
    aliasless_offset: float = ALIASLESS_OFFSET
    fix_typos: bool = True  # correct misspelt article words before ranking (docs/quality.md, row 23)


DEFAULT_PARAMS = RankParams()

def limit_threads(threads: int | None) -> None:
    """Run the similarity products on at most `threads` BLAS threads, process-wide.

    One thread per request is what a gunicorn worker wants (requests run side by side), and
    on two busy cores OpenBLAS's second thread made a 55,000-chunk product slower, not
    faster (docs/benchmarks.md). Matches KB_INFERENCE_THREADS, the encoder's own setting.
    """
    if threads:
        threadpool_limits(limits=int(threads), user_api="blas")


class MessageEncoder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray: ...

    def encode_message(self, text: str, parts: list[str]) -> np.ndarray: ...


class QueryEmbedder:
    """Embeds a query and its sentences with the process-wide encoder, through a small LRU cache."""

    def __init__(self, encoder: MessageEncoder, cache_size: int = 1024) -> None:
        self._encoder = encoder
        self._cache: OrderedDict[tuple[str, tuple[str, ...]], np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def embed(self, text: str, sentences: Sequence[str] = ()) -> np.ndarray:
        """(1 + sentences, DIM): the text's vector, then its sentences', from one encoder pass."""
        key = (text, tuple(sentences))
        with self._lock:
            vectors = self._cache.get(key)
            if vectors is not None:
                self._cache.move_to_end(key)
                return vectors
        vectors = self._encoder.encode_message(text, list(sentences)).astype(np.float32, copy=False)
        if self._cache_size:
            with self._lock:
                self._cache[key] = vectors
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return vectors

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """(texts, DIM), each text embedded whole, in batches: for reports, not for queries (no cache)."""
        return self._encoder.encode(list(texts)).astype(np.float32, copy=False)


def _group_max(view: AudienceView, scores: np.ndarray, where: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Per article: the best score among its chunks selected by `where` (fallback if none)."""
    masked = np.where(where, scores, -np.inf)
    best = np.maximum.reduceat(masked, view.snapshot.group_starts)
    return np.where(np.isfinite(best), best, fallback)


def _candidate_rows(snap, articles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The chunk rows of `articles`, and for each row the position of its article in `articles`."""
    lengths = snap.group_ends[articles] - snap.group_starts[articles]
    owner = np.repeat(np.arange(len(articles)), lengths)
    offsets = np.arange(len(owner)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return snap.group_starts[articles][owner] + offsets, owner


def _semantic(
    view: AudienceView, embedder: QueryEmbedder, cleaned: str, params: RankParams
) -> tuple[np.ndarray, np.ndarray]:
    """Per-article semantic evidence (see the module docstring) and each article's best chunk row.

    Two stages. The whole message is compared with every chunk (one pass over the matrix)
    for the first-pass evidence: best alias, overview, best section. Only the RERANK_DEPTH
    articles that can still win are then compared sentence by sentence and get their
    top-3 mean: at 5,000 articles, comparing six sentences with all 55,000 chunks cost
    three times the one-row product (docs/benchmarks.md).
    """
    snap = view.snapshot
    sentences = content_sentences(cleaned)
    vectors = embedder.embed(cleaned, sentences)  # one encoder pass per request
    whole = vectors[0] @ snap.vectors_t
    overview = whole[snap.overview_row]
    section = _group_max(view, whole, snap.is_section, overview)
    # An article without aliases counts its best text evidence in their place, not the
    # overview twice (docs/quality.md, row 20: third-party articles often have none).
    alias = _group_max(view, whole, snap.is_alias, np.maximum(overview, section))
    first_pass = (alias + overview + section) / 3.0
    top3 = first_pass.copy()
    best_row = snap.overview_row.copy()
    depth = min(RERANK_DEPTH, len(first_pass))
    shortlist = np.sort(np.argpartition(-first_pass, depth - 1)[:depth])
    rows, owner = _candidate_rows(snap, shortlist)
    scores = whole[rows]
    if sentences:
        by_sentence = vectors[1:] @ snap.vectors_t[:, rows]
        scores = np.maximum(scores, params.sentence_weight * by_sentence.max(axis=0))
    # Per shortlisted article: its best section (sentence-matched) and its top-3 mean.
    starts = np.searchsorted(owner, np.arange(depth))
    sections = np.where(snap.is_section[rows], scores, -np.inf)
    best_section = np.maximum.reduceat(sections, starts)
    section[shortlist] = np.where(np.isfinite(best_section), best_section, overview[shortlist])
    order = np.lexsort((-scores, owner))  # by article, best chunk first
    ranked_scores = scores[order]
    counts = np.minimum(np.diff(np.append(starts, len(rows))), 3)
    top_sum = np.zeros(depth, dtype=np.float32)
    for j in range(3):
        has = counts > j
        top_sum[has] += ranked_scores[starts[has] + j]
    top3[shortlist] = top_sum / counts
    best_row[shortlist] = rows[order[starts]]
    semantic = (alias + overview + section + top3) / 4.0
    if params.use_examples and len(snap.examples):
        learned = _example_evidence(snap, vectors, params)
        # Examples can lift an article whose customers' words match better than its own text,
        # never sink one: an article with few or no examples keeps its text's score.
        blended = (1 - params.example_weight) * semantic + params.example_weight * learned
        semantic = np.maximum(semantic, blended) if params.example_lift_only else blended
    return semantic, best_row


def _example_evidence(snap, vectors: np.ndarray, params: RankParams) -> np.ndarray:
    """Per article: how closely the query matches the messages that article resolved.

    "topk" is the mean of the article's k most similar examples, so one stray example
    (a noisy agent, a mislabelled ticket) cannot carry a query on its own: it takes k that
    agree. Articles with fewer than k examples are averaged over k all the same (missing
    ones count as 0), which keeps a handful of examples from outweighing the article text.
    """
    sims = snap.example_vectors @ vectors.T
    best = sims[:, 0] if sims.shape[1] == 1 else np.maximum(sims[:, 0], params.sentence_weight * sims[:, 1:].max(axis=1))
    best = best * snap.example_weight
    n = len(snap.article_ids)
    out = np.zeros(n, dtype=np.float32)
    if params.example_mode == "knn":
        nearest = np.argsort(-best)[: params.example_k * 3]
        np.add.at(out, snap.example_article[nearest], best[nearest] / len(nearest))
        return out * 3.0
    order = np.lexsort((-best, snap.example_article))
    grouped = snap.example_article[order]
    values = best[order]
    starts = np.searchsorted(grouped, np.arange(n))
    ends = np.searchsorted(grouped, np.arange(n), side="right")
    k = 1 if params.example_mode == "max" else params.example_k
    for j in range(k):
        has = starts + j < ends
        out[has] += values[starts[has] + j]
    return out / k


def _keyword(view: AudienceView, cleaned: str) -> tuple[np.ndarray, np.ndarray]:
    """Per article, its best chunk's BM25F score; and every chunk's score (to find that chunk later)."""
    chunk_scores = view.keyword_scores(view.analyse(cleaned))
    return np.maximum.reduceat(chunk_scores, view.snapshot.group_starts), chunk_scores


def _best_chunk(view: AudienceView, chunk_scores: np.ndarray, a: int) -> int:
    lo, hi = view.snapshot.group_starts[a], view.snapshot.group_ends[a]
    return int(lo + np.argmax(chunk_scores[lo:hi]))


def rank(
    view: AudienceView,
    embedder: QueryEmbedder | None,
    text: str,
    *,
    mode: str = "hybrid",
    for_suggest: bool = False,
    type_: str | None = None,
    tag: str | None = None,
    params: RankParams = DEFAULT_PARAMS,
    top: int | None = None,
) -> list[Ranked]:
    """The articles this audience may see that the query touches, best first (the `top` best, or all)."""
    snap = view.snapshot
    cleaned = clean_query(text) or text.strip()
    if params.fix_typos:
        cleaned = view.fix_typos(cleaned)
    n = len(snap.article_ids)
    mask = view.article_mask.copy()
    if type_:
        mask &= snap.article_type == type_
    if tag:
        mask &= snap.tag_mask(tag)

    semantic = np.zeros(n, dtype=np.float32)
    sem_rows = snap.overview_row
    keyword = np.zeros(n, dtype=np.float32)
    chunk_keyword = None
    if mode in ("hybrid", "semantic"):
        if embedder is None:
            raise ValueError("semantic ranking needs an embedder")
        semantic, sem_rows = _semantic(view, embedder, cleaned, params)
    if mode in ("hybrid", "keyword"):
        keyword, chunk_keyword = _keyword(view, cleaned)

    if mode == "keyword":
        fused = keyword.copy()
        touched = keyword > 0
    else:
        squashed = keyword / (keyword + params.keyword_half)
        fused = semantic + (params.keyword_weight * squashed if mode == "hybrid" else 0.0)
        touched = np.ones(n, dtype=bool)
    if for_suggest:
        # Suggest answers "what do I do": the procedure that resolves it, with its policies
        # attached, beats the policy or the product page when they are nearly as close. A
        # question about facts ("how long is a gift card valid") is answered by the page that
        # states them, so there the procedure gives way instead.
        factual = asks_for_facts(cleaned)
        prior = params.question_procedure_prior if factual else params.procedure_prior
        penalty = params.question_product_penalty if factual else params.product_penalty
        fused = fused + prior * (snap.article_type == "procedure")
        fused = fused - penalty * (snap.article_type == "product")
    candidates = np.flatnonzero(mask & touched)
    if top is not None and top < len(candidates):
        # Only the best `top` need sorting (and a Ranked each): cut first, then order stably.
        cut = np.argpartition(-fused[candidates], top - 1)[:top]
        candidates = np.sort(candidates[cut])
    order = candidates[np.argsort(-fused[candidates], kind="stable")]
    out = []
    for a in order:
        row = _best_chunk(view, chunk_keyword, a) if mode == "keyword" else int(sem_rows[a])
        out.append(
            Ranked(
                article=snap.articles[snap.article_ids[a]],
                score=float(fused[a]),
                semantic=float(semantic[a]),
                keyword=float(keyword[a]),
                best_row=row,
            )
        )
    return out


def confidence_score(ranked: Ranked, params: RankParams = DEFAULT_PARAMS, mode: str = "suggest") -> float:
    """The score a result's confidence is judged on: its own, raised for an article without
    aliases so that the thresholds mean the same for articles with and without them.

    Semantic search keeps its raw score: on articles without aliases the raise cost it a
    tenth of its off-topic flags for no fewer false ones (docs/quality.md, row 21)."""
    if ranked.article.aliases or mode == "semantic":
        return ranked.score
    return ranked.score + params.aliasless_offset


def confidence(ranked: Ranked, params: RankParams = DEFAULT_PARAMS) -> str:
    score = confidence_score(ranked, params)
    if score >= HIGH_CONFIDENCE:
        return "high"
    if score >= max(MEDIUM_CONFIDENCE, params.no_match_threshold):
        return "medium"
    return "low"


def is_confident(ranked: list[Ranked], params: RankParams = DEFAULT_PARAMS, mode: str = "suggest") -> bool:
    """Whether the best result is a confident match, by the threshold calibrated for `mode`.

    Each threshold is the highest score that flags at most 5% of answerable labelled messages
    (`kb eval --calibrate`); keyword scores are unbounded, so any keyword hit counts.
    """
    if not ranked:
        return False
    if mode == "keyword":
        return True
    threshold = params.no_match_threshold if mode == "suggest" else SEARCH_NO_MATCH_THRESHOLDS[mode]
    return confidence_score(ranked[0], params, mode) >= threshold


def score_01(value: float) -> float:
    return round(min(1.0, max(0.0, value)), 4)


# ---------------------------------------------------------------------------- payloads


def article_ref(article: Article, url_for_article: Callable[[str], str]) -> dict[str, Any]:
    return {
        "id": article.id,
        "title": article.title,
        "type": article.type,
        "summary": article.summary,
        "owner": article.owner,
        "url": url_for_article(article.id),
    }


def section_text(article: Article, key: str) -> str | None:
    section = article.section(key)
    return section.markdown.strip() if section else None


def policies_and_related(view: AudienceView, article: Article) -> tuple[list[Article], list[Article]]:
    """The policies an article names and its related articles, as this audience may see them.
    A procedure or product named under `policies` (lint warns) is counted as related."""
    named = [a for a in map(view.get, article.policies) if a is not None]
    misfiled = [a.id for a in named if a.type != "policy"]
    related = [a for a in map(view.get, dict.fromkeys([*article.related, *misfiled])) if a is not None]
    return [a for a in named if a.type == "policy"], related


def policy_payload(policy: Article, url_for_article: Callable[[str], str]) -> dict[str, Any]:
    return {
        **article_ref(policy, url_for_article),
        "exceptions": section_text(policy, "exceptions"),
        "what_you_can_offer": section_text(policy, "what_you_can_offer"),
    }


def why(view: AudienceView, ranked: Ranked) -> dict[str, str]:
    """The section and text of the chunk that matched best."""
    if ranked.best_row < 0:
        return {"section": "", "text": ranked.article.summary}
    chunk = view.snapshot.chunks[ranked.best_row]
    section = chunk.section or ("Also known as" if chunk.kind == "alias" else "Summary")
    text = chunk.text if len(chunk.text) <= 300 else chunk.text[:297].rsplit(" ", 1)[0] + "…"
    return {"section": section, "text": text}


def suggestion_payload(
    view: AudienceView,
    ranked: Ranked,
    all_ranked: list[Ranked],
    url_for_article: Callable[[str], str],
    params: RankParams = DEFAULT_PARAMS,
) -> dict[str, Any]:
    """Everything an agent needs to act on one suggested article."""
    article = ranked.article
    reason = why(view, ranked)
    named, related = policies_and_related(view, article)
    named_ids = {p.id for p in named}
    # A policy the query itself points at strongly is attached too, even when not named.
    strong = [
        r.article
        for r in all_ranked[:POLICY_WINDOW]
        if r.article.type == "policy"
        and r.article.id not in named_ids
        and r.article.id != article.id
        and r.score >= STRONG_POLICY_RATIO * ranked.score
    ][:1]
    payload = {
        "article": {**article_ref(article, url_for_article), "updated": article.updated},
        "score": score_01(ranked.score),
        "confidence": confidence(ranked, params),
        "why": f"{reason['section']}: {reason['text']}" if reason["section"] else reason["text"],
        "matched_section": reason["section"],
        "steps": [{"n": s.n, "text": s.text, "details": list(s.details)} for s in article.steps],
        "policies": [policy_payload(p, url_for_article) for p in [*named, *strong]],
        "exceptions": section_text(article, "exceptions"),
        "what_you_can_offer": section_text(article, "what_you_can_offer"),
        "escalation": section_text(article, "escalation"),
        "follow_up": bullet_items(article.section("follow_up").markdown) if article.section("follow_up") else [],
        "related": [{"id": r.id, "title": r.title, "url": url_for_article(r.id)} for r in related],
    }
    if article.type != "procedure":
        payload["sections"] = [
            {"name": s.name, "key": s.key, "text": s.markdown, "html": view.rendered(article.id).get(s.key, "")}
            for s in article.sections
        ]
    return payload


def suggest(
    view: AudienceView,
    embedder: QueryEmbedder,
    text: str,
    *,
    limit: int = 3,
    url_for_article: Callable[[str], str],
    params: RankParams = DEFAULT_PARAMS,
) -> dict[str, Any]:
    """The suggest API's answer for one customer message."""
    ranked = rank(view, embedder, text, mode="hybrid", for_suggest=True, params=params, top=max(limit, POLICY_WINDOW))
    top = ranked[:limit]
    return {
        "request_id": uuid.uuid4().hex,
        "no_confident_match": not is_confident(ranked, params),
        "suggestions": [suggestion_payload(view, r, ranked, url_for_article, params) for r in top],
    }


def search(
    view: AudienceView,
    embedder: QueryEmbedder | None,
    text: str,
    *,
    mode: str = "hybrid",
    limit: int = 10,
    type_: str | None = None,
    tag: str | None = None,
    url_for_article: Callable[[str], str],
    params: RankParams = DEFAULT_PARAMS,
) -> dict[str, Any]:
    """The search API's answer: one result per article with its best section and a highlighted snippet."""
    ranked = rank(view, embedder, text, mode=mode, type_=type_, tag=tag, params=params, top=limit)
    results = []
    for r in ranked:
        reason = why(view, r)
        chunk_text = view.snapshot.chunks[r.best_row].text if r.best_row >= 0 else r.article.summary
        results.append(
            {
                "article": article_ref(r.article, url_for_article),
                "score": round(r.score, 4),
                "section": reason["section"],
                "snippet": view.highlight(chunk_text, text),
            }
        )
    return {
        "request_id": uuid.uuid4().hex,
        "query": text,
        "mode": mode,
        "results": results,
        "no_confident_match": not is_confident(ranked, params, mode),
        "did_you_mean": view.did_you_mean(text),
    }


__all__ = ["MODES", "Ranked", "RankParams", "clean_query", "rank", "search", "suggest", "plain_text"]
