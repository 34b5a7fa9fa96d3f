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
import weakref
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from indexer import example_index, multilingual
from indexer.article import Article
from kbserver.retrieval.embedder import QueryEmbedder
from kbserver.retrieval.message import CleanedMessage, asks_for_facts, clean_query, content_sentences
from kbserver.retrieval.reader import AudienceView, Snapshot
from kbserver.retrieval.routing import ME5, MINILM, MIXED, Route, route

MODES = ("hybrid", "keyword", "semantic")

# Tuned on tests/eval/queries.jsonl and checked on tests/eval/learning.jsonl (400 other
# messages); see docs/quality.md for the sweep behind each value.
KEYWORD_WEIGHT = 0.3
KEYWORD_HALF = 12.0
SENTENCE_WEIGHT = 0.9
PROCEDURE_PRIOR = 0.06
PRODUCT_PENALTY = 0.03
QUESTION_PROCEDURE_PRIOR = -0.04  # a question about a rule or a product (asks_for_facts): the procedure gives way
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
E5_SENTENCES = 0  # sentences of a message e5 embeds on their own (`_semantic`)
EXAMPLE_WEIGHT = 0.9
EXAMPLE_K = 3
# Suggest shows a choice rather than one answer when the runner-up is this close to the top
# (calibrated on the public suite: docs/quality.md, "When suggest is not sure"), or when a
# policy or product page tops a procedure that scores within FACT_PAGE_MARGIN of it.
AMBIGUITY_MARGIN = 0.03
FACT_PAGE_MARGIN = 0.06
CHOICE_MAX = 3


@dataclass(frozen=True)
class Ranked:
    """One article's place in a ranking, with every part of its score (`kb eval --explain`).

    score = semantic + keyword_part + prior, where semantic is the article-text evidence
    (the weighted mean of alias, overview, section and top3) lifted by `learned` when the
    build has learned examples. A part a mode does not use is 0.
    """

    article: Article
    score: float  # fused score used for ordering
    semantic: float
    keyword: float  # raw BM25F of the best chunk
    best_row: int  # the chunk that matched best (for "why", section and snippet)
    alias: float = 0.0
    overview: float = 0.0
    section: float = 0.0
    top3: float = 0.0
    text: float = 0.0  # semantic evidence of the article's own text, before learned examples
    learned: float = 0.0
    keyword_part: float = 0.0  # what the keyword side added to the score
    prior: float = 0.0  # the type prior (suggest only)
    encoder: str = MINILM  # which encoder's evidence this is (kbserver.retrieval.routing): its threshold applies
    covered: bool = True  # False: no encoder of the build knows the message's language, never a confident match
    lang: str = ""  # the message's detected language (its e5 threshold may be its language's own)

    def parts(self) -> dict[str, float]:
        names = ("score", "semantic", "text", "alias", "overview", "section", "top3", "learned",
                 "keyword", "keyword_part", "prior")
        return {n: round(float(getattr(self, n)), 4) + 0.0 for n in names}  # + 0.0: no "-0.0"


@dataclass(frozen=True)
class Evidence:
    """Per-article semantic evidence arrays for one query (see the module docstring)."""

    alias: np.ndarray
    overview: np.ndarray
    section: np.ndarray
    top3: np.ndarray
    text: np.ndarray
    learned: np.ndarray | None
    semantic: np.ndarray
    best_row: np.ndarray


@dataclass(frozen=True)
class RankParams:
    keyword_weight: float = KEYWORD_WEIGHT
    keyword_half: float = KEYWORD_HALF
    sentence_weight: float = SENTENCE_WEIGHT
    procedure_prior: float = PROCEDURE_PRIOR
    product_penalty: float = PRODUCT_PENALTY
    question_procedure_prior: float = QUESTION_PROCEDURE_PRIOR
    # None: the build's own threshold (calibration.json, fitted by `kb index`), else the constant.
    no_match_threshold: float | None = None
    hybrid_threshold: float | None = None
    semantic_threshold: float | None = None
    prior_scale: float = 1.0  # multiplies the type priors; fitted per build from learned examples
    fitted_weights: bool = True  # take the build's fitted keyword/example weights and prior scale
    use_examples: bool = True
    example_weight: float = EXAMPLE_WEIGHT
    example_k: int = EXAMPLE_K
    aliasless_offset: float = ALIASLESS_OFFSET
    # Experiments (benchmarks/suite_sweep.py); None keeps the formula above.
    aliasless_weights: tuple[float, float, float, float] | None = None  # best chunk, overview, section, top3
    keyword_half_scale: float | None = None  # half-saturation = scale x this KB's typical title match
    fix_typos: bool = True  # correct misspelt article words before ranking (docs/quality.md, row 23)
    ambiguity_margin: float = AMBIGUITY_MARGIN
    # "auto": a build with many learned examples is searched through its ANN graph
    # (indexer/example_index.py), every other exactly; "exact" always multiplies them all.
    example_search: str = "auto"
    fact_page_margin: float = FACT_PAGE_MARGIN
    # "auto": each message's language picks its encoder (kbserver.retrieval.routing); "minilm" or
    # "me5" force one, for measurements (`kb eval --encoder`).
    encoder: str = "auto"
    # The multilingual encoder's no-match thresholds: None, the build's own (calibration.json).
    me5_no_match_threshold: float | None = None
    me5_hybrid_threshold: float | None = None
    me5_semantic_threshold: float | None = None
    # Per message language (code, suggest, hybrid, semantic): e5 scores a message closer to any
    # text in its own language, so each language with enough off-topic messages in the bank
    # gets its own thresholds (kbserver.retrieval.calibration, docs/languages.md).
    me5_language_thresholds: tuple[tuple[str, float, float, float], ...] = ()


DEFAULT_PARAMS = RankParams()

@dataclass(frozen=True)
class KBStats:
    """Facts about one build that ranking adapts to, computed once per snapshot."""

    has_alias: np.ndarray  # per article
    title_match: float  # median BM25F score of an article's title against its own best chunk


_STATS: "weakref.WeakKeyDictionary[Any, KBStats]" = weakref.WeakKeyDictionary()
_STATS_LOCK = threading.Lock()


def kb_stats(view: AudienceView) -> KBStats:
    snap = view.snapshot
    with _STATS_LOCK:
        stats = _STATS.get(snap)
    if stats is not None:
        return stats
    has_alias = np.maximum.reduceat(snap.is_alias.astype(np.int8), snap.group_starts) > 0
    n = len(snap.article_ids)
    step = max(1, n // 200)  # a sample is enough for a median; 5,000 articles cost 200 lookups
    matches = []
    for a in range(0, n, step):
        scores = view.keyword_scores(view.analyse(snap.articles[snap.article_ids[a]].title))
        lo, hi = snap.group_starts[a], snap.group_ends[a]
        matches.append(float(scores[lo:hi].max()) if hi > lo else 0.0)
    stats = KBStats(has_alias=has_alias, title_match=float(np.median(matches)) if matches else 1.0)
    with _STATS_LOCK:
        _STATS[snap] = stats
    return stats


def _group_max(view: AudienceView, scores: np.ndarray, where: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Per article: the best score among its chunks selected by `where` (fallback if none)."""
    masked = np.where(where, scores, -np.inf)
    best = np.maximum.reduceat(masked, view.snapshot.group_starts)
    return np.where(np.isfinite(best), best, fallback)


def _candidate_rows(snap: Snapshot, articles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The chunk rows of `articles`, and for each row the position of its article in `articles`."""
    lengths = snap.group_ends[articles] - snap.group_starts[articles]
    owner = np.repeat(np.arange(len(articles)), lengths)
    offsets = np.arange(len(owner)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return snap.group_starts[articles][owner] + offsets, owner


@dataclass(frozen=True)
class _Query:
    """One message's similarities to the chunks, in the encoder(s) its route names, on MiniLM's scale."""

    whole: np.ndarray  # per chunk row: the whole message
    vectors: np.ndarray  # MiniLM's (1 + sentences, dim) vectors, or e5's for the me5 route
    sentence_count: int
    space: str
    snap: Snapshot
    e5_vectors: np.ndarray | None = None  # the mixed route's e5 vectors

    def sentences(self, rows: np.ndarray) -> np.ndarray:
        """(sentences, rows): each sentence against the chunk rows `rows`."""
        snap = self.snap
        if self.space == ME5:
            space = snap.spaces[ME5]
            return multilingual.scale(self.vectors[1:] @ space.vectors_t[:, rows], space.scale)
        minilm = self.vectors[1:] @ snap.vectors_t[:, rows]
        if self.space == MIXED and self.e5_vectors is not None:
            space = snap.spaces[ME5]
            e5 = multilingual.scale(self.e5_vectors[1:] @ space.vectors_t[:, rows], space.scale)
            return np.where(snap.chunk_is_english[rows], minilm, e5)
        return minilm


def _query(snap: Snapshot, embedder: QueryEmbedder, cleaned: str, sentences: list[str], how: Route) -> _Query:
    """Embed the message with its route's encoder(s) and compare it with every chunk once."""
    if how.encoder == ME5:
        space = snap.spaces[ME5]
        vectors = embedder.for_space(ME5).embed(multilingual.prepare(cleaned, how.lang),
                                                [multilingual.prepare(s, how.lang) for s in sentences])
        whole = multilingual.scale(vectors[0] @ space.vectors_t, space.scale)
        return _Query(whole, vectors, len(sentences), ME5, snap)
    vectors = embedder.embed(cleaned, sentences)  # one encoder pass per request
    whole = vectors[0] @ snap.vectors_t
    if how.encoder == MIXED:
        space = snap.spaces[ME5]
        e5_vectors = embedder.for_space(ME5).embed(cleaned, sentences)
        e5 = multilingual.scale(e5_vectors[0] @ space.vectors_t, space.scale)
        whole = np.where(snap.chunk_is_english, whole, e5)
        return _Query(whole, vectors, len(sentences), MIXED, snap, e5_vectors)
    return _Query(whole, vectors, len(sentences), MINILM, snap)


def _semantic(
    view: AudienceView, embedder: QueryEmbedder, cleaned: str, params: RankParams, leave_out: int | None = None,
    how: Route | None = None,
) -> Evidence:
    """Per-article semantic evidence (see the module docstring) and each article's best chunk row.

    Two stages. The whole message is compared with every chunk (one pass over the matrix)
    for the first-pass evidence: best alias, overview, best section. Only the RERANK_DEPTH
    articles that can still win are then compared sentence by sentence and get their
    top-3 mean: at 5,000 articles, comparing six sentences with all 55,000 chunks cost
    three times the one-row product (docs/benchmarks.md).
    """
    snap = view.snapshot
    how = how or route_of(snap, cleaned, params)
    sentences = content_sentences(cleaned)
    if how.encoder == ME5:
        # e5 embeds each sentence in a pass of its own (MiniLM pools them out of one pass), at about
        # 1 ms a token on one thread: the whole message only. Measured on the three languages' rows
        # against the English articles: with six sentences hit@1 0.941 / 0.882 / 0.647 and Tamil
        # suggest p95 85 ms, with two the same and 75 ms, with none 0.912 / 0.853 / 0.647 (one
        # message each) and about 45 ms, under twice the English path's (docs/benchmarks.md).
        sentences = sentences[:E5_SENTENCES]
    query = _query(snap, embedder, cleaned, sentences, how)
    whole = query.whole
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
        by_sentence = query.sentences(rows)
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
    text = (alias + overview + section + top3) / 4.0
    if params.aliasless_weights is not None:
        w = np.asarray(params.aliasless_weights, dtype=np.float32)
        best = np.maximum(overview, section)
        own = (w[0] * best + w[1] * overview + w[2] * section + w[3] * top3) / w.sum()
        text = np.where(kb_stats(view).has_alias, text, own).astype(np.float32)
    semantic, learned = text, None
    if params.use_examples and len(snap.examples):
        learned = _example_evidence(snap, query.vectors, params, leave_out, space=query.space)
        semantic = blend(text, learned, params)
    return Evidence(alias, overview, section, top3, text, learned, semantic, best_row)


def blend(text: np.ndarray, learned: np.ndarray, params: RankParams) -> np.ndarray:
    """Semantic evidence with learned examples. Examples can lift an article whose customers'
    words match better than its own text, never sink one: an article with few or no examples
    keeps its text's score."""
    return np.maximum(text, (1 - params.example_weight) * text + params.example_weight * learned)


def fuse(
    semantic: np.ndarray, keyword: np.ndarray, article_type: np.ndarray, factual: Any, params: RankParams,
    *, mode: str = "hybrid", for_suggest: bool = False, half: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fused score of every article, with its keyword part and type prior.

    Broadcasts: calibration fuses many queries at once ((queries, articles) arrays and a
    (queries, 1) `factual`), `rank` one. Suggest answers "what do I do": the procedure that
    resolves it, with its policies attached, beats the policy or the product page when they
    are nearly as close. A question about facts ("how long is a gift card valid") is answered
    by the page that states them, so there the procedure gives way instead.
    """
    zeros = np.zeros_like(semantic)
    keyword_part = zeros
    if mode == "hybrid":
        half = params.keyword_half if half is None else half
        keyword_part = (params.keyword_weight * (keyword / (keyword + half))).astype(np.float32)
    fused = semantic + keyword_part
    prior = zeros
    if for_suggest:
        factual = np.asarray(factual, dtype=bool)
        procedure = np.where(factual, params.question_procedure_prior, params.procedure_prior)
        penalty = np.where(factual, 0.0, params.product_penalty)
        prior = params.prior_scale * (procedure * (article_type == "procedure") - penalty * (article_type == "product"))
        fused = fused + prior
    return fused, keyword_part, prior


def _example_evidence(
    snap: Snapshot, vectors: np.ndarray, params: RankParams, leave_out: int | None = None, space: str = MINILM,
) -> np.ndarray:
    """Per article: how closely the query matches the messages that article resolved.

    The mean of the article's k most similar examples, so one stray example (a noisy agent,
    a mislabelled ticket) cannot carry a query on its own: it takes k that agree. Articles
    with fewer than k examples are averaged over k all the same (missing ones count as 0),
    which keeps a handful of examples from outweighing the article text.
    """
    rows = None
    if space == ME5:
        # e5's vectors of the examples, searched exactly (the ANN graph is MiniLM's).
        e5 = snap.spaces[ME5]
        sims = multilingual.scale(e5.example_vectors @ vectors.T, e5.scale)
        return _example_topk(snap, sims, None, params, leave_out)
    if snap.example_index is not None and params.example_search != "exact":
        # The graph's nearest examples of each query vector, rescored exactly: an article
        # none of whose examples is among them has no learned evidence, as it would score
        # too low for its examples to matter.
        rows = example_index.candidates(snap.example_index, vectors, len(snap.examples))
    matrix = snap.example_vectors if rows is None else snap.example_vectors[rows]
    return _example_topk(snap, matrix @ vectors.T, rows, params, leave_out)


def _example_topk(
    snap: Snapshot, sims: np.ndarray, rows: np.ndarray | None, params: RankParams, leave_out: int | None,
) -> np.ndarray:
    """Per article, the mean of its k best examples' similarities (`sims`: examples x query vectors)."""
    best = sims[:, 0] if sims.shape[1] == 1 else np.maximum(sims[:, 0], params.sentence_weight * sims[:, 1:].max(axis=1))
    best = best * (snap.example_weight if rows is None else snap.example_weight[rows])
    if leave_out is not None:
        # as if missing: it counts 0 towards its article's top-k mean
        best[leave_out if rows is None else rows == leave_out] = 0.0
    n = len(snap.article_ids)
    out = np.zeros(n, dtype=np.float32)
    owner = snap.example_article if rows is None else snap.example_article[rows]
    order = np.lexsort((-best, owner))
    grouped = owner[order]
    values = best[order]
    starts = np.searchsorted(grouped, np.arange(n))
    ends = np.searchsorted(grouped, np.arange(n), side="right")
    k = params.example_k
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


def _cleaned(view: AudienceView, text: str | CleanedMessage, params: RankParams) -> str:
    """What ranking reads of a message: cleaned (once per request for a CleanedMessage), typos fixed."""
    cleaned = text.for_ranking if isinstance(text, CleanedMessage) else clean_query(text) or text.strip()
    return view.fix_typos(cleaned) if params.fix_typos else cleaned


def signals(
    view: AudienceView, embedder: QueryEmbedder, text: str | CleanedMessage, params: RankParams = DEFAULT_PARAMS,
    leave_out: int | None = None,
) -> tuple[Evidence, np.ndarray, bool]:
    """What `rank` fuses for one message, before fusing: the semantic evidence, every article's
    keyword score, and whether the message asks for facts. Calibration refits the fusion from these."""
    cleaned = _cleaned(view, text, params)
    how = route_of(view.snapshot, cleaned, params)
    return (_semantic(view, embedder, cleaned, params, leave_out, how), _keyword(view, cleaned)[0],
            asks_for_facts(cleaned, how.lang))


def route_of(snap: Snapshot, cleaned: str, params: RankParams = DEFAULT_PARAMS) -> Route:
    """The route (language and encoder) ranking takes for a cleaned message (kbserver.retrieval.routing)."""
    return route(snap, cleaned, params.encoder)


def message_route(view: AudienceView, text: str | CleanedMessage, params: RankParams = DEFAULT_PARAMS) -> Route:
    """The route `rank` takes for `text`: what an answer reports of the message's language."""
    return route_of(view.snapshot, _cleaned(view, text, params), params)


def rank(
    view: AudienceView,
    embedder: QueryEmbedder | None,
    text: str | CleanedMessage,
    *,
    mode: str = "hybrid",
    for_suggest: bool = False,
    type_: str | None = None,
    tag: str | None = None,
    params: RankParams = DEFAULT_PARAMS,
    top: int | None = None,
    leave_out: int | None = None,
    restrict: np.ndarray | None = None,
    how: Route | None = None,
) -> list[Ranked]:
    """The articles this audience may see that the query touches, best first (the `top` best, or all).

    `restrict` (per article) narrows them further: a steered search's qualifying articles.

    `leave_out` is the row of a learned example to rank without: calibration asks how a
    message like an example scores when that example itself is not there (leave-one-out).
    `how` is the message's route (language and encoder), when the caller already has it.
    """
    snap = view.snapshot
    cleaned = _cleaned(view, text, params)
    n = len(snap.article_ids)
    mask = view.article_mask.copy()
    if type_:
        mask &= snap.article_type == type_
    if tag:
        mask &= snap.tag_mask(tag)
    if restrict is not None:
        mask &= restrict

    zeros = np.zeros(n, dtype=np.float32)
    evidence = None
    semantic = zeros
    keyword = zeros
    chunk_keyword = None
    if mode in ("hybrid", "semantic"):
        if embedder is None:
            raise ValueError("semantic ranking needs an embedder")
        how = how or route_of(snap, cleaned, params)
        evidence = _semantic(view, embedder, cleaned, params, leave_out, how)
        semantic = evidence.semantic
    if mode in ("hybrid", "keyword"):
        keyword, chunk_keyword = _keyword(view, cleaned)

    keyword_part = zeros
    prior = zeros
    if mode == "keyword":
        fused = keyword.copy()
        touched = keyword > 0
    else:
        half = None
        if mode == "hybrid" and params.keyword_half_scale is not None:
            half = params.keyword_half_scale * kb_stats(view).title_match
        fused, keyword_part, prior = fuse(
            semantic, keyword, snap.article_type, asks_for_facts(cleaned, how.lang if how else "en") if for_suggest else False,
            params,
            mode=mode, for_suggest=for_suggest, half=half,
        )
        touched = np.ones(n, dtype=bool)
    candidates = np.flatnonzero(mask & touched)
    if top is not None and top < len(candidates):
        # Only the best `top` need sorting (and a Ranked each): cut first, then order stably.
        cut = np.argpartition(-fused[candidates], top - 1)[:top]
        candidates = np.sort(candidates[cut])
    order = candidates[np.argsort(-fused[candidates], kind="stable")]
    out = []
    for a in order:
        if chunk_keyword is not None and mode == "keyword":
            row = _best_chunk(view, chunk_keyword, a)
        else:
            row = int(evidence.best_row[a] if evidence is not None else snap.overview_row[a])
        parts = {}
        if evidence is not None:
            parts = {
                "alias": float(evidence.alias[a]), "overview": float(evidence.overview[a]),
                "section": float(evidence.section[a]), "top3": float(evidence.top3[a]),
                "text": float(evidence.text[a]),
                "learned": float(evidence.learned[a]) if evidence.learned is not None else 0.0,
            }
        out.append(
            Ranked(
                article=snap.articles[snap.article_ids[a]],
                score=float(fused[a]),
                semantic=float(semantic[a]),
                keyword=float(keyword[a]),
                best_row=row,
                keyword_part=float(keyword_part[a]),
                prior=float(prior[a]),
                encoder=how.encoder if how is not None else MINILM,
                covered=how.covered if how is not None else True,
                lang=how.lang if how is not None else "",
                **parts,
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
    if score >= max(MEDIUM_CONFIDENCE, threshold(params, "suggest", ranked.encoder, ranked.lang)):
        return "medium"
    return "low"


def is_confident(ranked: list[Ranked], params: RankParams = DEFAULT_PARAMS, mode: str = "suggest") -> bool:
    """Whether the best result is a confident match, by the threshold calibrated for `mode`.

    Each threshold is the highest score that flags at most 5% of answerable labelled messages
    (`kb eval --calibrate`); keyword scores are unbounded, so any keyword hit counts.
    """
    if not ranked or not ranked[0].covered:
        return False
    if mode == "keyword":
        return True
    return confidence_score(ranked[0], params, mode) >= threshold(params, mode, ranked[0].encoder, ranked[0].lang)


def threshold(params: RankParams, mode: str = "suggest", encoder: str = MINILM, lang: str = "") -> float:
    """The no-match threshold `params` give `mode`: set (KB_NO_MATCH_THRESHOLD, or the build's
    calibration through `for_build`), else the constant calibrated on the bundled set. A message
    the multilingual encoder ranked has its own, fitted on a multilingual off-topic bank: its
    language's, when the bank holds enough of that language."""
    if encoder == ME5:
        for code, *values in params.me5_language_thresholds:
            if code == lang:
                return float(values[("suggest", "hybrid", "semantic").index(mode)])
        fitted = {"suggest": params.me5_no_match_threshold, "hybrid": params.me5_hybrid_threshold,
                  "semantic": params.me5_semantic_threshold}[mode]
        if fitted is not None:
            return fitted
    value = {"suggest": params.no_match_threshold, "hybrid": params.hybrid_threshold,
             "semantic": params.semantic_threshold}[mode]
    if value is not None:
        return value
    return NO_MATCH_THRESHOLD if mode == "suggest" else SEARCH_NO_MATCH_THRESHOLDS[mode]


@dataclass(frozen=True)
class Ambiguity:
    """Why suggest is not sure which of its top articles answers, and the articles to choose from."""

    reason: str  # "close_scores" or "fact_page_first"
    choice: tuple[Ranked, ...]  # best first, the top result included


def ambiguity(ranked: list[Ranked], params: RankParams = DEFAULT_PARAMS) -> Ambiguity | None:
    """The choice an agent should make, when the best result of a confident suggest is not clearly the one.

    `close_scores`: the runner-up is within `ambiguity_margin` of the top (every result that
    close joins the choice, at most CHOICE_MAX). `fact_page_first`: a policy or product page is
    on top and a procedure follows within `fact_page_margin`: the customer may want the rule
    or the thing to do about it. A no-confident-match answer is never ambiguous: it already
    says kb is not sure, and lists the closest articles.
    """
    if len(ranked) < 2 or not is_confident(ranked, params):
        return None
    top = ranked[0]
    close = [r for r in ranked[1:CHOICE_MAX] if top.score - r.score <= params.ambiguity_margin]
    if close:
        return Ambiguity("close_scores", (top, *close))
    if top.article.type != "procedure":
        procedure = next((r for r in ranked[1:CHOICE_MAX] if r.article.type == "procedure"), None)
        if procedure is not None and top.score - procedure.score <= params.fact_page_margin:
            return Ambiguity("fact_page_first", (top, procedure))
    return None


FITTED = ("keyword_weight", "example_weight", "prior_scale")
THRESHOLDS = {"suggest": "no_match_threshold", "hybrid": "hybrid_threshold", "semantic": "semantic_threshold"}
ME5_THRESHOLDS = {"suggest": "me5_no_match_threshold", "hybrid": "me5_hybrid_threshold",
                  "semantic": "me5_semantic_threshold"}


def for_build(params: RankParams, snapshot: Snapshot) -> RankParams:
    """`params` completed by what `kb index` fitted for this build (its calibration.json):
    each threshold not set otherwise, and the fitted weights unless `fitted_weights` is off.
    A build without calibration keeps `params` as they are (the constants)."""
    cal = snapshot.calibration
    if not cal:
        return params
    changes: dict[str, Any] = {}
    for mode, name in THRESHOLDS.items():
        value = cal.get("thresholds", {}).get(mode)
        if getattr(params, name) is None and isinstance(value, (int, float)):
            changes[name] = float(value)
    space = (cal.get("spaces") or {}).get(ME5) or {}
    me5 = space.get("thresholds") or {}
    for mode, name in ME5_THRESHOLDS.items():
        value = me5.get(mode)
        if getattr(params, name) is None and isinstance(value, (int, float)):
            changes[name] = float(value)
    by_language = space.get("by_language") or {}
    if not params.me5_language_thresholds and isinstance(by_language, dict):
        rows = []
        for code, values in sorted(by_language.items()):
            if isinstance(values, dict) and all(isinstance(values.get(m), (int, float)) for m in ME5_THRESHOLDS):
                rows.append((str(code), float(values["suggest"]), float(values["hybrid"]), float(values["semantic"])))
        if rows:
            changes["me5_language_thresholds"] = tuple(rows)
    if params.fitted_weights:
        for name, value in (cal.get("weights") or {}).items():
            if name in FITTED and isinstance(value, (int, float)):
                changes[name] = float(value)
    return replace(params, **changes) if changes else params


__all__ = ["MODES", "Ranked", "RankParams", "rank", "signals", "fuse", "blend", "for_build", "threshold", "confidence",
           "confidence_score", "is_confident", "Ambiguity", "ambiguity"]
