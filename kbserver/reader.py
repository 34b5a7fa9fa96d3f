"""The only server module that touches the index folder.

A `Snapshot` is one published build, opened completely and never changed. The `Reader`
holds the current snapshot and swaps it for a newer one when `CURRENT` changes (checked at
most every `RELOAD_INTERVAL_S`): the new build is opened in full first, then one reference
is replaced, so a request that already holds the old snapshot finishes on it. A build that
fails to open is logged and the old snapshot keeps serving.

Audience is enforced here and only here: `Snapshot.view(allow_internal)` returns the part
of the index a caller may see, and every search, suggestion, article fetch, related link,
attached policy and did-you-mean goes through such a view.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import highlight
from whoosh import query as wq

from indexer import store
from indexer.article import Article
from indexer.keyword import SEARCH_FIELDS, open_keyword_index
from indexer.store import Chunk, Manifest

log = logging.getLogger(__name__)


class IndexUnavailable(Exception):
    """No complete index has been published at the configured folder."""


@dataclass(frozen=True)
class KeywordHit:
    row: int
    score: float


class Snapshot:
    """One complete, immutable build, opened read-only."""

    def __init__(self, root: Path, build_id: str) -> None:
        build = store.builds_dir(root) / build_id
        self.build_id = build_id
        self.path = build
        self.manifest: Manifest = store.read_manifest(build)
        articles = store.read_articles(build)
        self.articles: dict[str, Article] = {a.id: a for a in articles}
        self.rendered: dict[str, dict[str, str]] = store.read_rendered(build)
        self.chunks: list[Chunk] = store.read_chunks(build)
        self.embeddings: np.ndarray = np.ascontiguousarray(store.read_embeddings(build, mmap=False))
        if len(self.chunks) != len(self.embeddings):
            raise store.IndexError_(f"{build}: {len(self.chunks)} chunks but {len(self.embeddings)} vectors")
        self.row_of: dict[str, int] = {c.id: i for i, c in enumerate(self.chunks)}
        self.article_ids: list[str] = sorted(self.articles)
        position = {aid: i for i, aid in enumerate(self.article_ids)}
        # Chunk rows are grouped by article (the builder writes them sorted), so per-article
        # maxima are one np.maximum.reduceat over these group starts.
        self.chunk_article = np.array([position[c.article_id] for c in self.chunks], dtype=np.int32)
        if np.any(np.diff(self.chunk_article) < 0):
            raise store.IndexError_(f"{build}: chunks are not grouped by article")
        self.group_starts = np.searchsorted(self.chunk_article, np.arange(len(self.article_ids)))
        self.is_public_article = np.array([self.articles[a].is_public for a in self.article_ids], dtype=bool)
        kinds = np.array([c.kind for c in self.chunks])
        self.is_alias = kinds == "alias"
        self.is_section = kinds == "section"
        # Every article has exactly one overview chunk (the builder writes it first).
        self.overview_row = np.flatnonzero(kinds == "overview")
        if len(self.overview_row) != len(self.article_ids):
            raise store.IndexError_(f"{build}: expected one overview chunk per article")
        self.group_ends = np.append(self.group_starts[1:], len(self.chunks))
        self.article_type = np.array([self.articles[a].type for a in self.article_ids])
        # Learned examples (issue 10): customer messages that resolved to an article.
        examples, vectors = store.read_examples(build)
        keep = [i for i, e in enumerate(examples) if e.article_id in position]
        self.examples = [examples[i] for i in keep]
        self.example_vectors = np.ascontiguousarray(vectors[keep], dtype=np.float32)
        self.example_article = np.array([position[e.article_id] for e in self.examples], dtype=np.int64)
        self.example_weight = np.array([e.weight for e in self.examples], dtype=np.float32)
        self._whoosh = open_keyword_index(build / "whoosh")
        self._local = threading.local()
        self._views = {True: AudienceView(self, True), False: AudienceView(self, False)}

    def view(self, allow_internal: bool) -> "AudienceView":
        """What a caller may see: everything with the `internal` scope, public articles otherwise."""
        return self._views[bool(allow_internal)]

    def searcher(self):
        """A Whoosh searcher for this thread (searchers are not shared between threads)."""
        searcher = getattr(self._local, "searcher", None)
        if searcher is None:
            searcher = self._whoosh.searcher()
            self._local.searcher = searcher
        return searcher

    @property
    def vocabulary_size(self) -> int:
        return len(self.article_ids)


class AudienceView:
    """The articles, chunks and keyword postings one audience may see."""

    def __init__(self, snapshot: Snapshot, allow_internal: bool) -> None:
        self.snapshot = snapshot
        self.allow_internal = allow_internal
        self.articles = {
            aid: a for aid, a in snapshot.articles.items() if allow_internal or a.is_public
        }
        self.article_mask = np.array([aid in self.articles for aid in snapshot.article_ids], dtype=bool)
        self._filter = None if allow_internal else wq.Term("audience", "public")
        self._spell_field = "spell_all" if allow_internal else "spell_public"

    def get(self, article_id: str) -> Article | None:
        """The article if this audience may see it; None otherwise (callers answer 404 either way)."""
        return self.articles.get(article_id)

    def rendered(self, article_id: str) -> dict[str, str]:
        return self.snapshot.rendered.get(article_id, {}) if article_id in self.articles else {}

    def keyword_hits(self, terms_by_field: dict[str, list[str]], *, filters: dict[str, str] | None = None) -> list[KeywordHit]:
        """BM25F hits for already-analysed terms (an OR over fields), restricted to this audience."""
        clauses = [wq.Term(f, t) for f, terms in terms_by_field.items() for t in terms]
        if not clauses:
            return []
        constraints = [c for c in [self._filter] if c is not None]
        for name, value in (filters or {}).items():
            constraints.append(wq.Term(name, value))
        filter_query = wq.And(constraints) if len(constraints) > 1 else (constraints[0] if constraints else None)
        searcher = self.snapshot.searcher()
        # limit=None scores every match without Whoosh's block-quality bookkeeping, 2-4x faster
        # on long OR queries (docs/benchmarks.md); ranking keeps the best chunk per article anyway.
        results = searcher.search(wq.Or(clauses), limit=None, filter=filter_query)
        rows = self.snapshot.row_of
        return [KeywordHit(rows[hit["chunk_id"]], float(hit.score)) for hit in results if hit["chunk_id"] in rows]

    def analyse(self, text: str, fields: tuple[str, ...] = SEARCH_FIELDS) -> dict[str, list[str]]:
        """Run each field's own analyzer over `text` (no query syntax is ever parsed)."""
        schema = self.snapshot._whoosh.schema
        out = {}
        for name in fields:
            tokens = [t.text for t in schema[name].analyzer(text, mode="query")]
            out[name] = list(dict.fromkeys(tokens))
        return out

    def highlight(self, text: str, query_text: str, *, max_chars: int = 220) -> str:
        """An HTML-escaped snippet of `text` with the query's (stemmed) terms wrapped in <mark>."""
        analyzer = self.snapshot._whoosh.schema["body"].analyzer
        terms = frozenset(t.text for t in analyzer(query_text, mode="query"))
        if terms:
            fragment = highlight.highlight(
                text,
                terms,
                analyzer,
                highlight.ContextFragmenter(maxchars=max_chars, surround=60),
                highlight.HtmlFormatter(tagname="mark", classname="hl", termclass="t"),
                top=1,
            )
            if fragment:
                return fragment
        short = text if len(text) <= max_chars else text[: max_chars - 1].rsplit(" ", 1)[0] + "…"
        return html.escape(short)

    def did_you_mean(self, text: str) -> str | None:
        """A corrected query when some words are not in this audience's vocabulary, else None."""
        searcher = self.snapshot.searcher()
        corrector = searcher.corrector(self._spell_field)
        words = re.findall(r"[A-Za-z]+", text)
        changed = False
        out = []
        for word in words:
            lower = word.lower()
            if len(lower) < 4 or self._is_live_word(searcher, lower):
                out.append(lower)
                continue
            suggestions = [s for s in corrector.suggest(lower, limit=5, maxdist=2, prefix=1) if s != lower]
            suggestion = next((s for s in suggestions if self._is_live_word(searcher, s)), None)
            if suggestion:
                out.append(suggestion)
                changed = True
            else:
                out.append(lower)
        return " ".join(out) if changed else None

    def _is_live_word(self, searcher, word: str) -> bool:
        """Whether a document this audience may see holds `word` now.

        Whoosh keeps a deleted document's terms in the term list (and in `frequency`) until
        its segment is merged, and an incremental build deletes the old version of every
        changed article. Without this check an article just made internal still lent its
        words to the public did-you-mean (issue 9).
        """
        return not searcher.search(wq.Term(self._spell_field, word), limit=1).is_empty()


def open_snapshot(root: Path) -> Snapshot:
    """Open the published build under `root`. Raises IndexUnavailable or store.IndexError_."""
    build_id = store.current_build_id(root)
    if build_id is None:
        raise IndexUnavailable(f"no index published under {root}: run `kb index` first")
    return Snapshot(Path(root), build_id)


@dataclass
class Reader:
    """Holds the live snapshot of one index root and reloads it when a new build is published."""

    root: Path
    reload_interval_s: float = 2.0
    _snapshot: Snapshot | None = None
    _checked_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    last_error: str | None = None

    def get(self) -> Snapshot:
        """The current snapshot, reloading first if the interval has passed. Raises IndexUnavailable."""
        if time.monotonic() - self._checked_at >= self.reload_interval_s or self._snapshot is None:
            self.check()
        if self._snapshot is None:
            raise IndexUnavailable(self.last_error or f"no index under {self.root}")
        return self._snapshot

    def check(self) -> bool:
        """Look at CURRENT now; swap in a newer build if it opens. Returns True when it swapped."""
        if not self._lock.acquire(blocking=self._snapshot is None):
            return False  # another thread is already checking; serve what we have
        try:
            self._checked_at = time.monotonic()
            build_id = store.current_build_id(self.root)
            if build_id is None or (self._snapshot is not None and build_id == self._snapshot.build_id):
                if build_id is None and self._snapshot is None:
                    self.last_error = f"no index published under {self.root}: run `kb index` first"
                return False
            try:
                snapshot = Snapshot(self.root, build_id)
            except (OSError, ValueError, KeyError, store.IndexError_) as exc:
                # Keep serving the old build: a broken publication must not take the service down.
                self.last_error = f"could not open build {build_id}: {exc}"
                log.error("%s; still serving %s", self.last_error, self._snapshot and self._snapshot.build_id)
                return False
            self._snapshot = snapshot  # one reference swap; in-flight requests keep the old one
            self.last_error = None
            log.info("serving index build %s (%d articles)", build_id, len(snapshot.articles))
            return True
        finally:
            self._lock.release()

    def status(self) -> dict[str, Any]:
        snap = self._snapshot
        return {
            "index_version": snap.build_id if snap else None,
            "articles": len(snap.articles) if snap else 0,
            "error": self.last_error,
        }
