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
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import regex
from whoosh import highlight

from indexer import example_index, store
from indexer.article import Article
from indexer.store import Chunk, Example, Manifest
from indexer.terms import TermMatrix, analyse, whoosh_analyzer
from kbserver.retrieval.spelling import Speller, english_words, fix_typos
from kbserver.retrieval.steer import KeywordIndex

log = logging.getLogger(__name__)

# Highlighting finds the query's terms in a snippet with the analyzer the index terms come from.
# It stems through indexer.terms' bounded stem cache (cachesize=-1 was unbounded): see docs/security.md.
_HIGHLIGHT_ANALYZER = whoosh_analyzer()


# What did-you-mean reads of a query: ASCII words it may correct, and whole words of other
# scripts (letters and their marks, no Latin letter) that it passes through as typed.
_QUERY_WORD_RE = regex.compile(r"[A-Za-z]+|[\p{L}--\p{Latin}][[\p{L}\p{M}\u200c\u200d]--\p{Latin}]*", regex.V1)


class IndexUnavailable(Exception):
    """No complete index has been published at the configured folder."""


@dataclass(frozen=True)
class BuildFiles:
    """Everything one published build holds, as read from its folder (`read_build`)."""

    build_id: str
    path: Path
    manifest: Manifest
    articles: list[Article]
    rendered: dict[str, dict[str, str]]
    chunks: list[Chunk]
    vectors_t: np.ndarray  # (dim, chunks): the chunk vectors, transposed
    examples: list[Example]
    example_vectors: np.ndarray
    terms: TermMatrix
    words: list[str]
    all_counts: list[int]
    public_counts: list[int]
    calibration: dict[str, Any] | None = None
    history: dict[str, Any] | None = None
    # A second encoder's (chunk vectors transposed, example vectors), by space name (indexer.multilingual).
    spaces: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


@dataclass(frozen=True)
class Space:
    """A second encoder's vectors of one build: messages that encoder embeds are ranked against these.

    `scale` puts its cosine similarities on MiniLM's scale (indexer.multilingual.SCALE), so the
    rest of ranking (keyword weight, priors, confidence) reads them as it reads MiniLM's."""

    name: str
    vectors_t: np.ndarray  # (dim, chunks)
    example_vectors: np.ndarray  # (examples, dim)
    scale: tuple[float, float]


def read_build(root: Path, build_id: str) -> BuildFiles:
    """Read build `build_id` under `root`. Raises OSError, ValueError
    or store.IndexError_ for a missing or unreadable part."""
    build = store.builds_dir(root) / build_id
    manifest = store.read_manifest(build)
    articles = store.read_articles(build)
    rendered = store.read_rendered(build)
    chunks = store.read_chunks(build)
    vectors_t = store.read_embeddings(build, transposed=True)
    examples, example_vectors = store.read_examples(build)
    terms = store.read_term_matrix(build)
    words, all_counts, public_counts = store.read_vocabulary(build)
    calibration = store.read_calibration(build)
    history = store.read_history(build)
    spaces = {}
    for name in (manifest.stats.get("spaces") or {}):
        found = store.read_space(build, name)
        if found is None:
            raise store.IndexError_(f"{build}: its manifest names the vectors '{name}', which are missing")
        spaces[name] = found
    english_words()  # loaded once per process, before the first request needs it
    return BuildFiles(
        build_id, build, manifest, articles, rendered, chunks, vectors_t, examples, example_vectors,
        terms, words, all_counts, public_counts, calibration, history, spaces,
    )


class Snapshot:
    """One complete, immutable build, opened read-only (`Snapshot.open`): its arrays for ranking."""

    @classmethod
    def open(cls, root: Path, build_id: str) -> Snapshot:
        """Read and check build `build_id` under `root`. Raises OSError, ValueError, KeyError or store.IndexError_."""
        return cls(read_build(root, build_id))

    def __init__(self, files: BuildFiles) -> None:
        """Check the parts of a build against each other and lay them out for ranking (no I/O)."""
        build = files.path
        self.build_id = files.build_id
        self.path = build
        self.manifest: Manifest = files.manifest
        # Same articles, model and learned examples -> same value on every host (docs/deploy.md).
        self.fingerprint = store.content_fingerprint(files.manifest, files.examples)
        # What `kb index` fitted for this build (thresholds, weights); None for a build without it.
        self.calibration: dict[str, Any] | None = files.calibration
        # The articles' recent commits (indexer.history); None when the folder was not in git.
        self.history: dict[str, Any] | None = files.history
        self.root = build.parent.parent  # the index root: <root>/builds/<id>
        # The model that embedded this build (an adapted one lives under the index root, see
        # indexer.adapt): queries must be embedded with it, so a build whose model is gone
        # fails to open and the reader keeps serving the old one.
        self.model_folder: Path | None = self.root / self.manifest.model_path if self.manifest.model_path else None
        if self.model_folder is not None and not (self.model_folder / "model.safetensors").is_file():
            raise store.IndexError_(f"{build}: its model {self.model_folder} is missing")
        self.articles: dict[str, Article] = {a.id: a for a in files.articles}
        self.rendered: dict[str, dict[str, str]] = files.rendered
        self.chunks: list[Chunk] = files.chunks
        if len(self.chunks) != files.vectors_t.shape[1]:
            raise store.IndexError_(f"{build}: {len(self.chunks)} chunks but {files.vectors_t.shape[1]} vectors")
        # Held transposed, (dim, chunks) and contiguous: `query @ vectors_t` streams the matrix
        # once, 1.6-2x faster than `embeddings @ query.T` with one BLAS thread (docs/benchmarks.md).
        self.vectors_t: np.ndarray = files.vectors_t
        self.row_of: dict[str, int] = {c.id: i for i, c in enumerate(self.chunks)}
        self.article_ids: list[str] = sorted(self.articles)
        position = {aid: i for i, aid in enumerate(self.article_ids)}
        self.article_position: dict[str, int] = position
        # The build's Whoosh index, read by steered searches (kbserver.retrieval.steer) only.
        self.keyword_index = KeywordIndex(build / "whoosh")
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
        tag_rows: dict[str, list[int]] = {}
        for i, aid in enumerate(self.article_ids):
            for tag in {t.lower() for t in self.articles[aid].tags}:
                tag_rows.setdefault(tag, []).append(i)
        self._tag_rows = {tag: np.array(rows, dtype=np.int64) for tag, rows in tag_rows.items()}
        # Learned examples (issue 10): customer messages that resolved to an article.
        keep = [i for i, e in enumerate(files.examples) if e.article_id in position]
        self.examples = [files.examples[i] for i in keep]
        # Every example names an article of its own build, so `keep` is all of them and the
        # matrix stays memory-mapped; the graph's keys are rows of exactly that matrix.
        whole = len(keep) == len(files.examples)
        self.example_vectors = files.example_vectors if whole else np.ascontiguousarray(files.example_vectors[keep])
        self.example_index = example_index.open_view(build / example_index.FILE, len(self.examples)) if whole else None
        self.example_article = np.array([position[e.article_id] for e in self.examples], dtype=np.int64)
        self.example_weight = np.array([e.weight for e in self.examples], dtype=np.float32)
        self.terms = files.terms
        if self.terms.n_rows != len(self.chunks):
            raise store.IndexError_(f"{build}: keyword impacts cover {self.terms.n_rows} rows, not {len(self.chunks)}")
        # The build's other encoders (a multilingual build: indexer.multilingual), and which chunks
        # and examples they cover in the same rows as MiniLM's.
        self.spaces: dict[str, Space] = {}
        for name, (space_t, space_examples) in files.spaces.items():
            if space_t.shape[1] != len(self.chunks) or len(space_examples) != len(files.examples):
                raise store.IndexError_(f"{build}: the '{name}' vectors do not match the chunks and examples")
            record = files.manifest.stats["spaces"][name]
            scale = record.get("scale") or (1.0, 0.0)
            self.spaces[name] = Space(
                name, space_t, space_examples if whole else np.ascontiguousarray(space_examples[keep]),
                (float(scale[0]), float(scale[1])),
            )
        # Per chunk: whether its article is in English, the language MiniLM knows.
        languages = np.array([self.articles[a].lang for a in self.article_ids])
        self.article_lang = languages
        self.chunk_is_english = (languages == "en")[self.chunk_article]
        self.all_english = bool(self.chunk_is_english.all())
        self.speller = Speller(files.words)
        self.word_counts = {
            True: {w: c for w, c in zip(files.words, files.all_counts) if c},
            False: {w: c for w, c in zip(files.words, files.public_counts) if c},
        }
        self._views = {True: AudienceView(self, True), False: AudienceView(self, False)}

    def tag_mask(self, tag: str) -> np.ndarray:
        """Per article (in `article_ids` order): whether it carries `tag`, case-insensitively."""
        rows = self._tag_rows.get(tag.lower())
        mask = np.zeros(len(self.article_ids), dtype=bool)
        if rows is not None:
            mask[rows] = True
        return mask

    def view(self, allow_internal: bool) -> "AudienceView":
        """What a caller may see: everything with the `internal` scope, public articles otherwise."""
        return self._views[bool(allow_internal)]

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

    def get(self, article_id: str) -> Article | None:
        """The article if this audience may see it; None otherwise (callers answer 404 either way)."""
        return self.articles.get(article_id)

    def changes(self, article_id: str) -> list[dict[str, Any]] | None:
        """The article's recent changes (newest first) this audience may read, or None when the
        build has no history. A public reader sees no diff of a change whose either side was an
        internal article: that text was not public then."""
        history = self.snapshot.history
        if history is None:
            return None
        if article_id not in self.articles:
            return []
        out = []
        for change in history["articles"].get(article_id, []):
            if not self.allow_internal and not change["public"]:
                change = {**change, "steps_removed": [], "steps_added": [], "diff_hidden": True}
            out.append(change)
        return out

    def rendered(self, article_id: str) -> dict[str, str]:
        return self.snapshot.rendered.get(article_id, {}) if article_id in self.articles else {}

    def keyword_scores(self, terms: list[str]) -> np.ndarray:
        """Per chunk row, the BM25F score of an OR over `terms` (see indexer.bm25).

        Rows of articles this audience may not see are scored too; `rank` masks them by
        article before anything is returned, as it does for the semantic scores.
        """
        return self.snapshot.terms.scores(terms)

    @staticmethod
    def analyse(text: str) -> list[str]:
        """The query's index terms (no query syntax is ever parsed)."""
        return analyse(text)

    def highlight(self, text: str, query_text: str, *, max_chars: int = 220) -> str:
        """An HTML-escaped snippet of `text` with the query's (stemmed) terms wrapped in <mark>."""
        terms = frozenset(analyse(query_text))
        if terms:
            fragment = highlight.highlight(
                text,
                terms,
                _HIGHLIGHT_ANALYZER,
                highlight.ContextFragmenter(maxchars=max_chars, surround=60),
                highlight.HtmlFormatter(tagname="mark", classname="hl", termclass="t"),
                top=1,
            )
            if fragment:
                return fragment
        short = text if len(text) <= max_chars else text[: max_chars - 1].rsplit(" ", 1)[0] + "…"
        return html.escape(short)

    def fix_typos(self, text: str) -> str:
        """`text` with misspellings of this audience's article words corrected (`spelling.fix_typos`)."""
        return fix_typos(text, self.snapshot.speller, self.snapshot.word_counts[self.allow_internal])

    def did_you_mean(self, text: str) -> str | None:
        """A corrected query when some words are not in this audience's vocabulary, else None.

        The vocabulary is this build's words of the articles this audience may see (written
        by the build, so an article just made internal lends no word to public callers).
        """
        counts = self.snapshot.word_counts[self.allow_internal]
        changed = False
        out = []
        for word in _QUERY_WORD_RE.findall(text):
            if not word.isascii():
                out.append(word)  # a word of another script: the speller is English, never "correct" it
                continue
            lower = word.lower()
            suggestion = None
            if len(lower) >= 4 and lower not in counts:
                suggestion = self.snapshot.speller.correct(lower, counts)
            out.append(suggestion or lower)
            changed = changed or suggestion is not None
        return " ".join(out) if changed else None


def open_snapshot(root: Path) -> Snapshot:
    """Open the published build under `root`. Raises IndexUnavailable or store.IndexError_."""
    build_id = store.current_build_id(root)
    if build_id is None:
        raise IndexUnavailable(f"no index published under {root}: run `kb index` first")
    return Snapshot.open(Path(root), build_id)


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
                snapshot = Snapshot.open(self.root, build_id)
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
            "fingerprint": snap.fingerprint if snap else None,
            "articles": len(snap.articles) if snap else 0,
            "examples": len(snap.examples) if snap else 0,
            "error": self.last_error,
        }
