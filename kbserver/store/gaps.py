"""Content gaps: the questions kb does not answer well, routed to a team and merged when they ask the same thing.

A gap is a logged query that found no confident match, or whose answer got "not helpful".

**Routing** (issue 20, item 6): a gap goes to the team that owns the article it was *given
against*, the one an agent marked not helpful. A query that found no confident match was given
against no article: its weak top result is often unrelated ("store opening hours" → a payments
policy), so such a gap goes to the `UNASSIGNED` bucket for a lead to hand out, never to an
arbitrary team. The weak top result is still shown, as `closest_article`, as a hint.

**Merging**: gaps are first split by the team they are routed to, so two teams' questions never
merge ("my refund hasn't arrived" on a Returns article, "my order hasn't arrived" on a Delivery
one). Within a team, the clustering texts are embedded and grouped by average-linkage
agglomerative clustering: two groups merge while the mean similarity between their members is at
least `GAP_SIMILARITY`, where two texts given against the same article count
`GAP_SAME_ARTICLE_BONUS` more similar; a text left alone then joins the group whose centroid
is at least `GAP_SIMILARITY` close. Both numbers were chosen on tests/data/gaps.jsonl (182
messages written as customers write them, in 38 intended groups); docs/feedback.md has the
measurement and tests/test_gaps.py keeps it.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Callable, Hashable, Mapping, Sequence

import numpy as np

from indexer.article import Article
from kbserver.store.db import Database
from kbserver.store.querylog import gap_queries

GAP_SIMILARITY = 0.55  # mean cosine between two groups for them to merge (docs/feedback.md#content-gaps)
GAP_SAME_ARTICLE_BONUS = 0.2  # added to the cosine of two texts given against the same article
GAP_MAX_QUERIES = 2000  # the most recent gap queries clustered per report
GAP_EXAMPLES = 5
EMBED_BATCH = 256  # below the query embedder's LRU size, so one call never evicts its own texts
UNASSIGNED = "unassigned"  # where a gap given against no article goes
_PLACEHOLDER_RE = re.compile(r"<[a-z]+>")


@dataclass(frozen=True)
class Gap:
    """One content gap: a cluster of queries asking the same thing, routed to one team (or unassigned)."""

    count: int
    examples: tuple[str, ...]
    no_confident_match: int
    not_helpful: int
    article: dict[str, str] | None  # the article it was given against (marked not helpful), if any
    closest_article: dict[str, str] | None  # that article, else the weak top result: a hint only
    team: str | None  # the owner of `article`; None when unassigned
    last_seen: str

    @property
    def routed_to(self) -> str:
        """The team to fill the gap, or `UNASSIGNED`."""
        return self.team or UNASSIGNED

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "examples": list(self.examples), "routed_to": self.routed_to}


def clustering_text(redacted: str, clean: Callable[[str], str]) -> str:
    """What is embedded for clustering: the query without greetings, sign-offs and placeholders.

    `clean` is ranking's message cleaner (`kbserver.retrieval.message.clean_query`), passed in
    so that the database layer does not reach up into retrieval."""
    cleaned = clean(_PLACEHOLDER_RE.sub(" ", redacted))
    return (cleaned or redacted).strip().lower()


def embed_in_batches(embed: Callable[[list[str]], np.ndarray], texts: Sequence[str]) -> np.ndarray:
    """One L2-normalised row per text, embedded EMBED_BATCH at a time."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    vectors = np.vstack([embed(list(texts[i : i + EMBED_BATCH])) for i in range(0, len(texts), EMBED_BATCH)])
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32, copy=False)


def cluster_vectors(
    vectors: np.ndarray,
    threshold: float = GAP_SIMILARITY,
    *,
    articles: Sequence[str | None] | None = None,
    same_article_bonus: float = GAP_SAME_ARTICLE_BONUS,
) -> list[list[int]]:
    """Average-linkage clusters of L2-normalised rows: groups merge while the mean similarity of
    their members is >= `threshold`; then a row left alone joins the group whose centroid is at
    least `threshold` close. With `articles` (one id or None per row), rows given against the
    same article are `same_article_bonus` more similar. Clusters are listed by their first row.

    scipy's linkage is O(rows²) in memory and time: at GAP_MAX_QUERIES rows that is a 2000 × 2000
    matrix, well under a second."""
    n = len(vectors)
    if n == 0:
        return []
    if n == 1:
        return [[0]]
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    similarity = vectors @ vectors.T
    if articles is not None and same_article_bonus:
        ids = np.array([a or "" for a in articles], dtype=object)
        same = (ids[:, None] == ids[None, :]) & (ids[:, None] != "")
        similarity = similarity + same_article_bonus * same
    distance = np.clip(1.0 - (similarity + similarity.T) / 2, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    labels = fcluster(linkage(squareform(distance, checks=False), "average"), 1.0 - threshold, "distance")
    found: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        found.setdefault(int(label), []).append(i)
    return sorted(_attach_singletons(vectors, list(found.values()), threshold), key=lambda members: members[0])


def _attach_singletons(vectors: np.ndarray, clusters: list[list[int]], threshold: float) -> list[list[int]]:
    """Each one-row cluster joins the group whose centroid it is closest to, if that cosine is
    >= `threshold`. Average linkage holds back a phrasing that is close to a group as a whole but
    not to each member ("do you accept bitcoin" beside four ways of paying in crypto); the
    centroid sees the whole group. Measured on tests/data/gaps.jsonl: recall 0.64 → 0.70, precision kept."""
    groups = [list(c) for c in clusters if len(c) > 1]
    if not groups:
        return clusters
    sums = np.vstack([vectors[c].sum(axis=0) for c in groups])
    centroids = sums / np.linalg.norm(sums, axis=1, keepdims=True)
    alone = []
    for (i,) in (c for c in clusters if len(c) == 1):
        sims = centroids @ vectors[i]
        best = int(np.argmax(sims))
        if sims[best] >= threshold:
            groups[best].append(i)
        else:
            alone.append([i])
    return groups + alone


def group_by_team(
    vectors: np.ndarray,
    teams: Sequence[str],
    articles: Sequence[str | None],
    threshold: float = GAP_SIMILARITY,
    same_article_bonus: float = GAP_SAME_ARTICLE_BONUS,
) -> list[list[int]]:
    """Clusters of rows (indices into `vectors`), never across two `teams`: each team's rows are
    clustered on their own (`cluster_vectors`)."""
    out: list[list[int]] = []
    for team in sorted(set(teams)):
        rows = [i for i, t in enumerate(teams) if t == team]
        for members in cluster_vectors(vectors[rows], threshold, articles=[articles[i] for i in rows],
                                       same_article_bonus=same_article_bonus):
            out.append([rows[i] for i in members])
    return out


@dataclass(frozen=True)
class PairScores:
    """Pairwise agreement of a grouping with labelled groups (every pair of items counted once)."""

    precision: float  # of the pairs grouped together, the share that belong together
    recall: float  # of the pairs that belong together, the share grouped together
    clusters: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pairwise_scores(labels: Sequence[Hashable], clusters: Sequence[Sequence[int]]) -> PairScores:
    """Pairwise precision and recall of `clusters` (indices into `labels`) against the true `labels`."""
    predicted = {i: k for k, members in enumerate(clusters) for i in members}
    true_pos = false_pos = false_neg = 0
    for i, j in itertools.combinations(sorted(predicted), 2):
        together, same = predicted[i] == predicted[j], labels[i] == labels[j]
        true_pos += together and same
        false_pos += together and not same
        false_neg += same and not together
    return PairScores(
        precision=round(true_pos / (true_pos + false_pos), 3) if true_pos + false_pos else 1.0,
        recall=round(true_pos / (true_pos + false_neg), 3) if true_pos + false_neg else 1.0,
        clusters=len(clusters),
    )


@dataclass
class _Phrasing:
    text: str  # clustering text
    team: str  # routed team, or UNASSIGNED
    examples: Counter[str]
    given_against: Counter[str]  # articles marked not helpful
    closest: Counter[str]  # given-against, else weak top result
    no_confident_match: int = 0
    not_helpful: int = 0
    last_seen: str = ""

    @property
    def count(self) -> int:
        return sum(self.examples.values())


def _link(article: Article | None) -> dict[str, str] | None:
    return {"id": article.id, "title": article.title} if article else None


def gap_report(
    db: Database,
    articles: Mapping[str, Article],
    embed: Callable[[list[str]], np.ndarray],
    since: str,
    *,
    clean: Callable[[str], str],
    team: str | None = None,
    threshold: float = GAP_SIMILARITY,
    include_internal: bool = True,
) -> list[Gap]:
    """Queries that found no confident match or got "not helpful", one Gap per question asked in
    several ways, biggest first; `team` keeps only the gaps routed to it (module docstring).

    Without `include_internal` (a reader without the `internal` scope), a query is left out when
    its caller held `internal` or its closest article is not among `articles`: an internal
    agent's words about an internal procedure are that procedure's text, in other words."""
    phrasings: dict[tuple[str, str], _Phrasing] = {}
    for row in gap_queries(db, since, GAP_MAX_QUERIES):
        closest = row.not_helpful_article or next(iter(r["id"] for r in json.loads(row.results)), None)
        if not include_internal and (row.audience != "public" or (closest is not None and closest not in articles)):
            continue
        against = row.not_helpful_article if row.not_helpful_article in articles else None
        routed = articles[against].owner if against else UNASSIGNED
        key = clustering_text(row.text, clean)
        p = phrasings.setdefault((routed, key), _Phrasing(key, routed, Counter(), Counter(), Counter()))
        p.examples[row.text] += 1
        p.no_confident_match += int(row.no_confident_match)
        p.not_helpful += int(row.not_helpful_article is not None)
        p.last_seen = max(p.last_seen, row.ts)
        if against:
            p.given_against[against] += 1
        if closest is not None and closest in articles:
            p.closest[closest] += 1
    ordered = sorted(phrasings.values(), key=lambda p: (-p.count, p.text))
    vectors = embed_in_batches(embed, [p.text for p in ordered])
    clusters = group_by_team(
        vectors, [p.team for p in ordered],
        [p.given_against.most_common(1)[0][0] if p.given_against else None for p in ordered], threshold,
    ) if ordered else []
    gaps = []
    for members in clusters:
        group = [ordered[i] for i in members]
        examples: Counter[str] = sum((p.examples for p in group), Counter())
        against_votes: Counter[str] = sum((p.given_against for p in group), Counter())
        closest_votes: Counter[str] = sum((p.closest for p in group), Counter())
        against_article = articles[against_votes.most_common(1)[0][0]] if against_votes else None
        closest_article = against_article or (articles[closest_votes.most_common(1)[0][0]] if closest_votes else None)
        gaps.append(
            Gap(
                count=sum(p.count for p in group),
                examples=tuple(text for text, _ in examples.most_common(GAP_EXAMPLES)),
                no_confident_match=sum(p.no_confident_match for p in group),
                not_helpful=sum(p.not_helpful for p in group),
                article=_link(against_article),
                closest_article=_link(closest_article),
                team=None if group[0].team == UNASSIGNED else group[0].team,
                last_seen=max(p.last_seen for p in group),
            )
        )
    if team is not None:
        gaps = [g for g in gaps if g.routed_to == team]  # `unassigned`: the gaps routed to no team
    gaps.sort(key=lambda g: g.last_seen, reverse=True)
    return sorted(gaps, key=lambda g: -g.count)  # stable: equal counts stay most recent first
