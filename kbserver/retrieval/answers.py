"""What search and suggest answer: small frozen types built from a ranking, and their JSON.

No Flask here either: the caller passes `url_for_article` and the `request_id` (minted by
the service, so the same message ranks to the same answer wherever it is asked). `to_json()`
is the API's contract, key for key; the query log reads the typed fields instead of
re-parsing that JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from indexer.article import Article, Step, bullet_items, section_items
from indexer.chunking import plain_text
from kbserver.retrieval.embedder import QueryEmbedder
from kbserver.retrieval.message import CleanedMessage
from kbserver.retrieval.reader import AudienceView
from kbserver.retrieval.scoring import (
    DEFAULT_PARAMS,
    POLICY_WINDOW,
    STRONG_POLICY_RATIO,
    Ranked,
    RankParams,
    ambiguity,
    confidence,
    for_build,
    is_confident,
    message_route,
    rank,
)
from kbserver.retrieval.steer import steer, unexcluded_words

UrlFor = Callable[[str], str]


def score_01(value: float) -> float:
    """A suggestion's score as the API shows it: clipped to [0, 1], four decimals."""
    return round(min(1.0, max(0.0, value)), 4)


@dataclass(frozen=True)
class ArticleRef:
    """An article as a result names it."""

    id: str
    title: str
    type: str
    summary: str
    owner: str
    url: str
    lang: str = "en"  # the article's language (BCP 47), for the page's `lang` and "message in Tamil, procedure in English"

    @classmethod
    def of(cls, article: Article, url_for_article: UrlFor) -> ArticleRef:
        """The reference to `article`, linked with `url_for_article`."""
        return cls(article.id, article.title, article.type, article.summary, article.owner, url_for_article(article.id),
                   article.lang)

    def to_json(self) -> dict[str, Any]:
        """This value as the API writes it, key for key."""
        return {
            "id": self.id,
            "title": self.title,
            "type": self.type,
            "summary": self.summary,
            "owner": self.owner,
            "url": self.url,
            "lang": self.lang,
        }


@dataclass(frozen=True)
class Link:
    """A related article: just enough to link to it."""

    id: str
    title: str
    url: str

    def to_json(self) -> dict[str, Any]:
        """This value as the API writes it, key for key."""
        return {"id": self.id, "title": self.title, "url": self.url}


@dataclass(frozen=True)
class PolicyRef:
    """A policy attached to an answer, with what it allows beyond the rule."""

    ref: ArticleRef
    exceptions: str | None
    what_you_can_offer: str | None

    def to_json(self) -> dict[str, Any]:
        """This value as the API writes it, key for key."""
        return {**self.ref.to_json(), "exceptions": self.exceptions, "what_you_can_offer": self.what_you_can_offer,
                "section_items": items_of({"exceptions": self.exceptions, "what_you_can_offer": self.what_you_can_offer})}


def items_of(sections: dict[str, str | None]) -> dict[str, list[str]]:
    """Each section's Markdown as a list of items (`article.section_items`), [] for one it lacks:
    what an integration renders without parsing Markdown, as it renders steps."""
    return {key: section_items(text) if text else [] for key, text in sections.items()}


@dataclass(frozen=True)
class SectionBody:
    """One whole section: Markdown and its sanitised HTML."""

    name: str
    key: str
    text: str
    html: str

    def to_json(self) -> dict[str, Any]:
        """This value as the API writes it, key for key."""
        return {"name": self.name, "key": self.key, "text": self.text, "html": self.html}


def step_json(step: Step) -> dict[str, Any]:
    """One numbered step as the API writes it."""
    return {"n": step.n, "text": step.text, "details": list(step.details)}


@dataclass(frozen=True)
class Suggestion:
    """Everything an agent needs to act on one suggested article."""

    article: ArticleRef
    updated: str | None
    score: float
    confidence: str
    why: str
    matched_section: str
    steps: tuple[Step, ...]
    policies: tuple[PolicyRef, ...]
    exceptions: str | None
    what_you_can_offer: str | None
    escalation: str | None
    follow_up: tuple[str, ...]
    related: tuple[Link, ...]
    sections: tuple[SectionBody, ...] | None  # the whole page, for a policy or product answer
    customer_reply: str = ""

    def to_json(self) -> dict[str, Any]:
        """This value as the API writes it, key for key."""
        out: dict[str, Any] = {
            "article": {**self.article.to_json(), "updated": self.updated},
            "score": self.score,
            "confidence": self.confidence,
            "why": self.why,
            "matched_section": self.matched_section,
            "steps": [step_json(s) for s in self.steps],
            "policies": [p.to_json() for p in self.policies],
            "exceptions": self.exceptions,
            "what_you_can_offer": self.what_you_can_offer,
            "escalation": self.escalation,
            "section_items": items_of({"exceptions": self.exceptions, "what_you_can_offer": self.what_you_can_offer,
                                       "escalation": self.escalation}),
            "follow_up": list(self.follow_up),
            "related": [r.to_json() for r in self.related],
            "customer_reply": self.customer_reply,
        }
        if self.sections is not None:
            out["sections"] = [s.to_json() for s in self.sections]
        return out


@dataclass(frozen=True)
class SuggestAnswer:
    """The suggest API's answer for one customer message."""

    request_id: str
    no_confident_match: bool
    suggestions: tuple[Suggestion, ...]
    mode: str = "hybrid"
    # Set when the agent should choose: why, and the suggestions to choose from (a prefix of
    # `suggestions`, two or more).
    ambiguity_reason: str | None = None
    choice: tuple[str, ...] = ()
    # The message's language and the encoder that ranked it (kbserver.retrieval.routing.Route.to_json).
    language: dict[str, Any] | None = None

    @property
    def ambiguous(self) -> bool:
        """Whether the page should show a choice of candidates before any one procedure."""
        return len(self.choice) >= 2

    @property
    def items(self) -> tuple[Suggestion, ...]:
        """The answer's results, best first (what the query log records)."""
        return self.suggestions

    def to_json(self) -> dict[str, Any]:
        """This value as the API writes it, key for key."""
        return {
            "request_id": self.request_id,
            "no_confident_match": self.no_confident_match,
            "ambiguous": self.ambiguous,
            "ambiguity": {"reason": self.ambiguity_reason, "articles": list(self.choice)} if self.ambiguous else None,
            "suggestions": [s.to_json() for s in self.suggestions],
            "language": self.language,
        }


@dataclass(frozen=True)
class SearchResult:
    """One search result: the article, its best section and a highlighted snippet."""

    article: ArticleRef
    score: float
    section: str
    snippet: str

    def to_json(self) -> dict[str, Any]:
        """This value as the API writes it, key for key."""
        return {"article": self.article.to_json(), "score": self.score, "section": self.section, "snippet": self.snippet}


@dataclass(frozen=True)
class SearchAnswer:
    """The search API's answer: one result per article."""

    request_id: str
    query: str
    mode: str
    results: tuple[SearchResult, ...]
    no_confident_match: bool
    did_you_mean: str | None
    steered: bool = False  # the query used phrases, exclusions, fields, prefixes or fuzzy terms

    @property
    def items(self) -> tuple[SearchResult, ...]:
        """The answer's results, best first (what the query log records)."""
        return self.results

    def to_json(self) -> dict[str, Any]:
        """This value as the API writes it, key for key."""
        return {
            "request_id": self.request_id,
            "query": self.query,
            "mode": self.mode,
            "results": [r.to_json() for r in self.results],
            "no_confident_match": self.no_confident_match,
            "did_you_mean": self.did_you_mean,
            "steered": self.steered,
        }


def section_text(article: Article, key: str) -> str | None:
    """The Markdown of `article`'s section `key`, or None when it has none."""
    section = article.section(key)
    return section.markdown.strip() if section else None


def policies_and_related(view: AudienceView, article: Article) -> tuple[list[Article], list[Article]]:
    """The policies an article names and its related articles, as this audience may see them.
    A procedure or product named under `policies` (lint warns) is counted as related."""
    named = [a for a in map(view.get, article.policies) if a is not None]
    misfiled = [a.id for a in named if a.type != "policy"]
    related = [a for a in map(view.get, dict.fromkeys([*article.related, *misfiled])) if a is not None]
    return [a for a in named if a.type == "policy"], related


def policy_ref(policy: Article, url_for_article: UrlFor) -> PolicyRef:
    """`policy` as an answer attaches it: with its exceptions and what may be offered instead."""
    return PolicyRef(
        ArticleRef.of(policy, url_for_article),
        section_text(policy, "exceptions"),
        section_text(policy, "what_you_can_offer"),
    )


def customer_reply(article: Article, policies: list[Article]) -> str:
    """Plain text an agent may paste into a reply: what the public policies say and what may be
    offered, never a step, an exception (they carry agents' instructions), escalation notes, or
    anything from an internal article. Empty when nothing public applies.

    A public policy or product contributes its summary and its "What you can offer" items; a
    public procedure only its offers (its summary is written for agents); `policies` are the
    policies attached to the answer."""
    blocks: list[str] = []
    for source in dict.fromkeys([article, *policies]):
        if source.audience != "public":
            continue
        lines = [f"{source.title}: {plain_text(source.summary)}"] if source.type in ("policy", "product") else []
        offer = section_text(source, "what_you_can_offer")
        if offer:
            items = bullet_items(offer) or [offer]
            lines += ["What we can offer:" if not lines else "We can also offer:", *(f"- {plain_text(i)}" for i in items)]
        if lines:
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def link(article: Article, url_for_article: UrlFor) -> Link:
    """A link to a related article."""
    return Link(article.id, article.title, url_for_article(article.id))


def why(view: AudienceView, ranked: Ranked) -> dict[str, str]:
    """The section and text of the chunk that matched best."""
    if ranked.best_row < 0:
        return {"section": "", "text": ranked.article.summary}
    chunk = view.snapshot.chunks[ranked.best_row]
    section = chunk.section or ("Also known as" if chunk.kind == "alias" else "Summary")
    text = chunk.text if len(chunk.text) <= 300 else chunk.text[:297].rsplit(" ", 1)[0] + "…"
    return {"section": section, "text": text}


def sections_of(view: AudienceView, article: Article) -> tuple[SectionBody, ...]:
    """Every section of `article` with the HTML this audience may see."""
    rendered = view.rendered(article.id)
    return tuple(SectionBody(s.name, s.key, s.markdown, rendered.get(s.key, "")) for s in article.sections)


def suggestion(
    view: AudienceView,
    ranked: Ranked,
    all_ranked: list[Ranked],
    url_for_article: UrlFor,
    params: RankParams = DEFAULT_PARAMS,
) -> Suggestion:
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
    follow_up = article.section("follow_up")
    attached = [*named, *strong]
    return Suggestion(
        article=ArticleRef.of(article, url_for_article),
        updated=article.updated,
        score=score_01(ranked.score),
        confidence=confidence(ranked, params),
        why=f"{reason['section']}: {reason['text']}" if reason["section"] else reason["text"],
        matched_section=reason["section"],
        steps=tuple(article.steps),
        policies=tuple(policy_ref(p, url_for_article) for p in attached),
        exceptions=section_text(article, "exceptions"),
        what_you_can_offer=section_text(article, "what_you_can_offer"),
        escalation=section_text(article, "escalation"),
        follow_up=tuple(bullet_items(follow_up.markdown)) if follow_up else (),
        related=tuple(link(r, url_for_article) for r in related),
        sections=sections_of(view, article) if article.type != "procedure" else None,
        customer_reply=customer_reply(article, attached),
    )


def suggest(
    view: AudienceView,
    embedder: QueryEmbedder,
    message: str | CleanedMessage,
    *,
    request_id: str,
    limit: int = 3,
    url_for_article: UrlFor,
    params: RankParams = DEFAULT_PARAMS,
) -> SuggestAnswer:
    """The suggest answer for one customer message (cleaned once by the caller, or here)."""
    params = for_build(params, view.snapshot)
    how = message_route(view, message, params)
    ranked = rank(view, embedder, message, mode="hybrid", for_suggest=True, params=params, top=max(limit, POLICY_WINDOW),
                  how=how)
    # A language no encoder of this build knows: its closest articles are listed, never claimed.
    unsure = ambiguity(ranked, params) if how.covered else None
    # The choice never reaches past `limit`: with limit 1 there is nothing to choose between.
    choice = tuple(r.article.id for r in unsure.choice[:limit]) if unsure else ()
    return SuggestAnswer(
        request_id=request_id,
        no_confident_match=not is_confident(ranked, params),
        suggestions=tuple(suggestion(view, r, ranked, url_for_article, params) for r in ranked[:limit]),
        ambiguity_reason=unsure.reason if unsure and len(choice) >= 2 else None,
        choice=choice if len(choice) >= 2 else (),
        language=how.to_json(),
    )


def search(
    view: AudienceView,
    embedder: QueryEmbedder | None,
    text: str,
    *,
    request_id: str,
    mode: str = "hybrid",
    limit: int = 10,
    type_: str | None = None,
    tag: str | None = None,
    url_for_article: UrlFor,
    params: RankParams = DEFAULT_PARAMS,
) -> SearchAnswer:
    """The search answer: one result per article with its best section and a highlighted snippet."""
    params = for_build(params, view.snapshot)
    steered = steer(view.snapshot, text)
    if steered and steered.constraints and not (steered.required & view.article_mask).any():
        # Nothing this caller may see satisfies the constraints: read them as words instead.
        steered = steered.loosened(unexcluded_words(text))
    words = steered.words if steered else text
    restrict = steered.allowed if steered else None
    if steered and not words:
        # Only constraints and exclusions (`type:policy -gift`): every qualifying article, by title.
        ranked = listed(view, restrict, type_, tag, limit)
    else:
        ranked = rank(view, embedder, words, mode=mode, type_=type_, tag=tag, params=params, top=limit, restrict=restrict)
    results = []
    for r in ranked:
        reason = why(view, r)
        chunk_text = view.snapshot.chunks[r.best_row].text if r.best_row >= 0 else r.article.summary
        results.append(
            SearchResult(
                article=ArticleRef.of(r.article, url_for_article),
                score=round(r.score, 4),
                section=reason["section"],
                snippet=view.highlight(chunk_text, words or text),
            )
        )
    return SearchAnswer(
        request_id=request_id,
        query=text,
        mode=mode,
        results=tuple(results),
        # What the agent asked for by name is an answer, not a guess.
        no_confident_match=False if steered and steered.constraints and ranked else not is_confident(ranked, params, mode),
        did_you_mean=view.did_you_mean(words) if words else None,
        steered=steered is not None,
    )


def listed(view: AudienceView, restrict: Any, type_: str | None, tag: str | None, limit: int) -> list[Ranked]:
    """The articles a steered query without words qualifies, in title order, unscored."""
    snap = view.snapshot
    mask = view.article_mask & restrict
    if type_:
        mask &= snap.article_type == type_
    if tag:
        mask &= snap.tag_mask(tag)
    chosen = sorted((snap.articles[snap.article_ids[a]] for a in mask.nonzero()[0]), key=lambda a: (a.title.lower(), a.id))
    return [Ranked(article=a, score=0.0, semantic=0.0, keyword=0.0, best_row=int(snap.overview_row[snap.article_position[a.id]]))
            for a in chosen[:limit]]


def article_page(view: AudienceView, article: Article, url_for_article: UrlFor) -> dict[str, Any]:
    """The article API's answer (and the article page's data): the whole article as this audience sees it."""
    rendered = view.rendered(article.id)
    policies, related = policies_and_related(view, article)
    return {
        "article": {
            **ArticleRef.of(article, url_for_article).to_json(),
            "tags": list(article.tags),
            "audience": article.audience,
            "updated": article.updated,
            "review_by": article.review_by,
            "aliases": list(article.aliases),
        },
        "intro_html": rendered.get("_intro", ""),
        "sections": [s.to_json() for s in sections_of(view, article)],
        "steps": [step_json(s) for s in article.steps],
        "policies": [policy_ref(p, url_for_article).to_json() for p in policies],
        "related": [link(r, url_for_article).to_json() for r in related],
        "customer_reply": customer_reply(article, policies),
        "changes": view.changes(article.id),
    }
