"""The build pipeline: lint -> chunk -> embed what changed -> write a new build -> publish.

A build never writes into the live build. It reuses the previous build's embeddings for
every chunk whose text is unchanged (keyed by the chunk's sha256), so one edited article
costs a few encoder calls; a changed model or index format forces a full rebuild.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Protocol, cast

import numpy as np

from indexer import bm25, chunking, example_index, history, keyword, language, multilingual, stopwords, store, terms
from indexer.article import Article, Finding
from indexer.bm25 import Postings, analyse_docs, impacts, merge_postings
from indexer.chunking import chunk_article
from indexer.embedding import BASE_MODEL, DIM, Model
from indexer.keyword import FIELD_BOOSTS, chunk_fields, spelling_vocabulary, write_keyword_index
from indexer.lint import lint_articles
from indexer.parse import parser_key
from indexer.render import render_article
from indexer.store import Chunk, Example, Manifest


class LintFailed(Exception):
    """Lint found errors, so nothing was published."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        errors = [f for f in findings if f.is_error]
        super().__init__(f"{len(errors)} lint error(s): nothing published")


class SupportsEncode(Protocol):
    def encode(self, texts: list[str], *, batch_size: int = ..., progress: Callable[[int], None] | None = ...) -> np.ndarray: ...


class SupportsEncodeQueries(SupportsEncode, Protocol):
    """A second encoder (indexer.multilingual): chunks are passages, learned examples queries."""

    def encode_queries(
        self, texts: list[str], *, batch_size: int = ..., progress: Callable[[int], None] | None = ...,
    ) -> np.ndarray: ...


@dataclass
class BuildReport:
    build_id: str
    articles: int
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    chunks: int = 0
    embedded: int = 0
    examples: int = 0
    full: bool = False
    seconds: float = 0.0
    embed_seconds: float = 0.0
    embedded_multilingual: int = 0  # texts the multilingual encoder embedded (a multilingual build)
    warnings: list[Finding] = field(default_factory=list)
    # Wall seconds by step (lint, chunk, embed, write, postings, ...), so a slow rebuild says where.
    phases: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        kind = "full build" if self.full else "incremental"
        return (
            f"{self.articles} articles: {len(self.changed)} changed, {len(self.added)} added, "
            f"{len(self.removed)} removed, {self.unchanged} unchanged "
            f"({self.embedded} chunks embedded"
            + (f", {self.embedded_multilingual} by the multilingual encoder" if self.embedded_multilingual else "")
            + f", {self.chunks} in index"
            + (f", {self.examples} learned examples" if self.examples else "")
            + f"; {kind}) in {self.seconds:.1f} s"
        )


def _history(articles_dir: Path, articles: dict[str, Article], live_build: Path | None,
             today: dt.date) -> dict | None:
    """The articles' recent changes from git (None outside a work tree), reusing the live build's."""
    root = Path(articles_dir).resolve()
    if history.head_commit(root) is None:
        return None  # not a git work tree: no need to resolve 5,000 paths (0.7 s of a one-edit rebuild)
    ids = {}
    for a in articles.values():
        path = Path(a.path).resolve()  # once: resolving is a system call per path component
        if path.is_relative_to(root):
            ids[path.relative_to(root).as_posix()] = a.id
    earlier = None
    if live_build is not None:
        try:
            data = store.read_history(live_build)
            earlier = history.History.from_json(data) if data else None
        except (OSError, ValueError, KeyError, TypeError, store.IndexError_):
            earlier = None  # unreadable: read the log afresh
    found = history.read_history(root, ids, earlier, today)
    return None if found is None else found.to_json()


def build_index(
    articles_dir: Path,
    index_root: Path,
    *,
    encoder_factory: Callable[[], SupportsEncode],
    full: bool = False,
    progress_factory: Callable[[int], Callable[[int], None]] | None = None,
    examples: list[Example] | None = None,
    model: Model = BASE_MODEL,
    finalize: Callable[[Path], None] | None = None,
    exact_examples_below: int = example_index.EXACT_BELOW,
    multilingual_factory: Callable[[], SupportsEncodeQueries] | None = None,
) -> BuildReport:
    """Lint, build and publish a new index under `index_root`.

    `examples` are learned customer messages (issue 10); those naming no current article
    are dropped and each article keeps at most MAX_EXAMPLES_PER_ARTICLE, the heaviest first.
    `model` is what `encoder_factory` embeds with (the packaged model, or one `kb learn train`
    adapted, under the index root); the manifest records it, and vectors are reused only
    from a build the same model (by sha256) embedded. `finalize(build_path)` runs on the
    complete build before it is published (`kb index` fits the build's calibration there);
    if it raises, nothing is published. From `exact_examples_below` learned examples on, the
    build also gets their approximate-nearest-neighbour graph (indexer/example_index.py).
    With `multilingual_factory` the build is multilingual: every chunk and learned example
    is also embedded by the multilingual encoder it makes (indexer.multilingual), reusing the
    live build's vectors of unchanged texts, and messages MiniLM does not know are ranked there.

    Raises LintFailed (nothing published), store.BuildLocked (another build runs) or
    embedding.ModelError (the model fails its checksum). `encoder_factory` is only called
    when at least one chunk needs embedding.
    """
    started = time.perf_counter()
    phases: dict[str, float] = {}
    clock = _Clock(phases)
    articles_dir = Path(articles_dir)
    index_root = Path(index_root)
    today = dt.date.today()
    # Unchanged files keep the live build's parse and chunks (same bytes, parser, chunker and
    # day): a one-edit rebuild parses one file. The checks across articles still see them all.
    cache_key = reuse_key(today)
    live = None if full else store.current_build_path(index_root)
    earlier, earlier_chunks = store.read_lint_cache(live, cache_key) if live is not None else ({}, {})
    # The folder given is the root ids are relative to, even when it sits below another folder named `articles`.
    clock.lap("read previous")
    lint = lint_articles(articles_dir, base=articles_dir, today=today, reuse=earlier)
    clock.lap("lint")
    if lint.errors:
        raise LintFailed(lint.findings)

    index_root.mkdir(parents=True, exist_ok=True)
    with store.BuildLock(index_root):
        articles = {a.id: a for a in lint.articles}
        hashes = {aid: lint.parsed[aid].sha256 for aid in articles}
        live_build = store.current_build_path(index_root)
        previous_build, previous = _usable_previous(index_root, model)
        # A vector depends only on the model and the text: a new index format rebuilds
        # everything else but re-embeds nothing; only --full (or a new model) re-embeds.
        # The cache's chunks are the live build's, in file order (grouped by article, as written),
        # unless another build was published in between: then read that build's own.
        known = [c.hash for group in earlier_chunks.values() for c in group] if earlier_chunks and live == live_build else None
        reuse = (
            store.NO_VECTORS if full or live_build is None
            else store.read_reusable_vectors(live_build, model.model_id, model.sha256, known)
        )
        if not full and not len(reuse) and model.folder is not None:
            # The first build with a newly adapted model: `kb learn train` embedded the chunks with it already.
            reuse = store.read_vector_cache(model.folder, model.sha256)
        full = full or previous is None
        clock.lap("read previous")
        old_hashes = {} if previous is None else previous.article_hashes

        report = BuildReport(build_id=store.new_build_id(), articles=len(articles), full=full, warnings=lint.warnings,
                             phases=phases)
        report.added = sorted(set(hashes) - set(old_hashes))
        report.removed = sorted(set(old_hashes) - set(hashes))
        report.changed = sorted(i for i in hashes if i in old_hashes and old_hashes[i] != hashes[i])
        report.unchanged = len(hashes) - len(report.added) - len(report.changed)

        # Articles whose parse was reused keep their chunks, keyword postings and vocabulary counts.
        reused = {aid for aid, a in articles.items() if aid in earlier_chunks and aid in earlier and a is earlier[aid].article}
        chunks_by_article = {
            aid: earlier_chunks[aid] if aid in reused else chunk_article(a) for aid, a in sorted(articles.items())
        }
        chunks = [c for aid in sorted(chunks_by_article) for c in chunks_by_article[aid]]
        report.chunks = len(chunks)
        clock.lap("chunk")

        render_key = _render_key()
        kept = select_examples(examples or [], set(articles))
        keys = [c.hash for c in chunks] + [e.hash for e in kept]

        def text_of(row: int) -> str:  # read only for rows that need embedding
            return chunks[row].embed_text if row < len(chunks) else kept[row - len(chunks)].text

        slots, fresh, example_vectors, report.embedded, report.embed_seconds = _embed(
            keys, len(chunks), text_of, reuse, encoder_factory, progress_factory
        )
        report.examples = len(kept)
        clock.lap("embed")
        space = None
        if multilingual_factory is not None:
            space = _embed_space(chunks, kept, None if full else live_build, multilingual_factory, progress_factory)
            report.embedded_multilingual = space[2]
            clock.lap("embed (multilingual)")

        build = store.builds_dir(index_root) / report.build_id
        build.mkdir(parents=True)
        syncer = store.BackgroundSync()
        try:
            store.write_articles(build, [articles[i] for i in sorted(articles)])
            rendered = _render(articles, hashes, old_hashes, None if full else previous_build, render_key)
            clock.lap("render")
            store.write_rendered(build, rendered)
            vector_stats = store.write_chunks(build, chunks, slots, fresh, base_log=reuse.log)
            syncer.add(build / "articles.json", build / "rendered.json", build / "chunks.jsonl")
            clock.lap("write articles and chunks")
            if space is not None:
                store.write_space(build, multilingual.SPACE, space[0], space[1])
                syncer.add(*store.space_files(build, multilingual.SPACE))
                clock.lap("write multilingual vectors")
            examples_key = _write_examples(build, kept, example_vectors, live_build)
            graph_key = _write_example_index(build, kept, example_vectors, live_build, exact_examples_below)
            clock.lap("write examples")
            store.write_lint_cache(build, cache_key, lint.parsed, chunks)
            clock.lap("write lint cache")
            postings = bm25.sort_postings(_postings(chunks, articles, reused, live))
            clock.lap("postings")
            syncer.add(*store.write_postings(build, postings, [c.id for c in chunks]), build / store.LINT_CACHE)
            clock.lap("write postings")
            store.write_term_matrix(build, impacts(postings, FIELD_BOOSTS))
            clock.lap("impacts")
            store.write_vocabulary(build, _vocabulary(articles, chunks, reused, earlier, earlier_chunks, live))
            clock.lap("vocabulary")
            store.write_history(build, _history(articles_dir, articles, live_build, today))
            clock.lap("history")
            # A reused StoredChunk reads like a Chunk for everything the keyword index asks of it.
            keyword_chunks = cast(dict[str, list[Chunk]], chunks_by_article)
            if full:
                write_keyword_index(build / "whoosh", articles, keyword_chunks)
            else:
                assert previous_build is not None  # not full: there is a previous build
                write_keyword_index(
                    build / "whoosh",
                    articles,
                    keyword_chunks,
                    previous=previous_build / "whoosh",
                    replace_ids=[*report.added, *report.changed, *report.removed],
                )
            clock.lap("keyword index")
            syncer.wait()
            clock.lap("fsync")
            report.seconds = time.perf_counter() - started
            store.write_manifest(
                build,
                Manifest(
                    format_version=store.FORMAT_VERSION,
                    build_id=report.build_id,
                    model_id=model.model_id,
                    model_sha256=model.sha256,
                    created_at=time.time(),
                    article_hashes=hashes,
                    chunks=len(chunks),
                    dim=DIM,
                    examples=len(kept),
                    stats={"embedded": report.embedded, "full": full, "render_key": render_key, "vectors": vector_stats,
                           **({"examples": examples_key} if examples_key else {}),
                           **({"example_index": graph_key} if graph_key else {}),
                           # Every model file kb loads for this build, with its pinned checksum.
                           "models": {"minilm": {"id": model.model_id, "sha256": model.sha256},
                                      "language_detection": dict(language.MODEL_FILES),
                                      **({multilingual.SPACE: multilingual.model_record()} if space is not None else {})},
                           **({"spaces": {multilingual.SPACE: {**multilingual.model_record(),
                                                               "scale": list(multilingual.SCALE)}}}
                              if space is not None else {})},
                    model_path=_relative_model_path(model, index_root),
                ),
            )
            clock.lap("fsync")
            if finalize is not None:
                finalize(build)
                clock.lap("finalize")
        except BaseException:
            try:
                syncer.wait()
            except Exception:
                pass  # the build is being removed: its fsync errors no longer matter
            shutil.rmtree(build, ignore_errors=True)
            raise
        store.publish(index_root, report.build_id)
        clock.lap("publish")
        report.seconds = time.perf_counter() - started
        return report


class _Clock:
    """Adds the wall time since the last lap to `phases[name]`."""

    def __init__(self, phases: dict[str, float]) -> None:
        self.phases = phases
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.phases[name] = round(self.phases.get(name, 0.0) + now - self.last, 3)
        self.last = now


def _write_examples(build: Path, kept: list[Example], vectors: np.ndarray, live_build: Path | None) -> str | None:
    """The learned examples beside the chunks; their key (the manifest's `stats.examples`).

    600,000 examples are 0.9 GB of vectors: when the live build holds exactly the same
    examples (an article edit, no new feedback), its files are hard-linked, not rewritten."""
    if not kept:
        store.write_examples(build, kept, vectors)
        return None
    key = example_index.index_key([e.hash for e in kept])
    if live_build is not None and _live_stat(live_build, "examples") == key:
        try:
            for name in ("examples.jsonl", "examples.npy"):
                os.link(live_build / name, build / name)
            return key
        except OSError:
            for name in ("examples.jsonl", "examples.npy"):
                (build / name).unlink(missing_ok=True)
    store.write_examples(build, kept, vectors)
    return key


def _live_stat(live_build: Path, name: str) -> Any:
    try:
        return store.read_previous_manifest(live_build).stats.get(name)
    except store.IndexError_:
        return None


def _write_example_index(
    build: Path, kept: list[Example], vectors: np.ndarray, live_build: Path | None, exact_below: int,
) -> str | None:
    """The examples' ANN graph, when there are enough of them to need one; its key, for the manifest.
    The live build's graph is reused (hard-linked) when it was made of the same examples."""
    if len(kept) < max(exact_below, 1):
        return None
    key = example_index.index_key([e.hash for e in kept])
    reuse = None
    if live_build is not None and _live_stat(live_build, "example_index") == key:
        reuse = live_build / example_index.FILE
    example_index.write(build / example_index.FILE, vectors, reuse_from=reuse)
    return key


def _relative_model_path(model: Model, index_root: Path) -> str:
    """The manifest's `model_path`: the model folder relative to the index root, "" for the packaged model.

    Relative, so an index root can be moved or copied whole. An adapted model outside the
    root would make the build depend on a folder nobody prunes with it, so it is refused.
    """
    if model.folder is None:
        return ""
    try:
        return Path(model.folder).resolve().relative_to(Path(index_root).resolve()).as_posix()
    except ValueError as exc:
        raise ValueError(f"the model folder {model.folder} is not under the index root {index_root}") from exc


def _usable_previous(index_root: Path, model: Model = BASE_MODEL) -> tuple[Path | None, Manifest | None]:
    """The live build and its manifest, when an incremental build may start from it."""
    build = store.current_build_path(index_root)
    if build is None:
        return None, None
    try:
        manifest = store.read_previous_manifest(build)
    except store.IndexError_:
        return None, None
    if manifest.model_id != model.model_id or manifest.model_sha256 != model.sha256:
        return None, None
    return build, manifest


def reuse_key(today: dt.date) -> dict[str, str]:
    """What a build's parses, chunks, postings and vocabulary counts depend on besides the
    files: the code that made them and the day (review_by warnings). Reused only when equal."""
    return {
        "parser": parser_key(), "chunker": _source_key(chunking), "today": today.isoformat(),
        # terms.py holds the analyser bm25 and keyword use, stopwords.py its stop lists: a change
        # there must re-analyse too.
        "keyword": _source_key(bm25) + _source_key(terms) + _source_key(stopwords) + _source_key(keyword),
    }


def _postings(chunks: list, articles: dict[str, Article], reused: set[str], live: Path | None) -> Postings:
    """Keyword postings of every chunk row: the live build's rows for reused articles' chunks,
    analysed afresh for the rest (the analysis is most of the keyword index's cost)."""
    fields = list(FIELD_BOOSTS)
    previous = store.read_postings(live) if live is not None and reused else None
    if previous is None:
        return analyse_docs([chunk_fields(articles[c.article_id], c) for c in chunks], fields)
    old, old_ids = previous
    old_row = {cid: i for i, cid in enumerate(old_ids)}
    # The live build's row of each chunk of a reused article, or -1: analysed afresh.
    source = np.fromiter((old_row.get(c.id, -1) if c.article_id in reused else -1 for c in chunks),
                         dtype=np.int64, count=len(chunks))
    moved = source >= 0
    fresh_rows = np.flatnonzero(~moved)
    fresh = analyse_docs([chunk_fields(articles[chunks[i].article_id], chunks[i]) for i in fresh_rows], fields)
    return merge_postings(old, source[moved], np.flatnonzero(moved), fresh, fresh_rows, len(chunks))


def _vocabulary(
    articles: dict[str, Article], chunks: list, reused: set[str], earlier: dict, earlier_chunks: dict, live: Path | None
) -> dict[str, list[int]]:
    """did-you-mean's word counts: the live build's, less the articles that changed or went,
    plus the new versions; counted from scratch when there is nothing to start from."""
    if not reused or live is None:
        return spelling_vocabulary(articles, chunks)
    try:
        words, all_counts, public_counts = store.read_vocabulary(live)
    except (OSError, ValueError, KeyError):
        return spelling_vocabulary(articles, chunks)
    counts = {w: [a, p] for w, a, p in zip(words, all_counts, public_counts)}
    gone = {aid: earlier[aid].article for aid in earlier if aid not in reused}
    old_chunks = [c for aid in gone for c in earlier_chunks.get(aid, [])]
    for word, (a, p) in spelling_vocabulary(gone, old_chunks).items():
        pair = counts.get(word)
        if pair is None or pair[0] < a or pair[1] < p:  # not the counts this code would have made
            return spelling_vocabulary(articles, chunks)
        pair[0] -= a
        pair[1] -= p
    for word, (a, p) in spelling_vocabulary(articles, [c for c in chunks if c.article_id not in reused]).items():
        pair = counts.setdefault(word, [0, 0])
        pair[0] += a
        pair[1] += p
    return {w: pair for w, pair in counts.items() if pair[0] > 0}


def _source_key(module: ModuleType) -> str:
    """Identifies a module by its source, so what it computed is reused only from the same code."""
    return hashlib.sha256(Path(str(module.__file__)).read_bytes()).hexdigest()[:16]


def _render_key() -> str:
    """Identifies the renderer (its source and its parse's, Markdown's and nh3's versions): HTML is reused only from the same one."""
    from importlib import metadata

    from indexer import markup, render

    source = Path(render.__file__).read_bytes() + Path(markup.__file__).read_bytes()
    versions = "|".join(metadata.version(p) for p in ("markdown", "nh3"))
    return hashlib.sha256(source + versions.encode()).hexdigest()[:16]


def _render(
    articles: dict[str, Article],
    hashes: dict[str, str],
    old_hashes: dict[str, str],
    previous_build: Path | None,
    render_key: str,
) -> dict[str, dict[str, str] | store.StoredRendered]:
    """Sanitised HTML of every article, reusing the previous build's for unchanged sources.

    Rendering (Markdown, then nh3) is the slowest step of a rebuild: re-rendering 5,000
    unchanged articles took 35 s of a 72 s one-edit rebuild (issue 8). HTML is reused only
    when the source hash is the same and the previous build was rendered by this renderer;
    it is copied as its line of the previous `rendered.json`, never decoded (a `StoredRendered`).
    """
    previous: dict[str, store.StoredRendered] = {}
    if previous_build is not None:
        try:
            if store.read_previous_manifest(previous_build).stats.get("render_key") == render_key:
                previous = store.read_rendered_lines(previous_build)
        except (OSError, ValueError, store.IndexError_):
            previous = {}  # nothing to reuse: render everything, as a full build does
    return {
        aid: previous[aid] if aid in previous and aid in old_hashes and old_hashes[aid] == hashes.get(aid)
        else render_article(article)
        for aid, article in sorted(articles.items())
    }


MAX_EXAMPLES_PER_ARTICLE = 300


def select_examples(examples: list[Example], article_ids: set[str]) -> list[Example]:
    """Examples for articles that still exist, capped per article (heaviest, then newest first)."""
    by_article: dict[str, list[Example]] = {}
    for example in examples:
        if example.article_id in article_ids:
            by_article.setdefault(example.article_id, []).append(example)
    kept = []
    for article_id in sorted(by_article):
        group = sorted(by_article[article_id], key=lambda e: (-e.weight, -e.id))
        kept.extend(sorted(group[:MAX_EXAMPLES_PER_ARTICLE], key=lambda e: e.id))
    return kept


def _embed_space(
    chunks: list, kept: list[Example], live_build: Path | None,
    encoder_factory: Callable[[], SupportsEncodeQueries],
    progress_factory: Callable[[int], Callable[[int], None]] | None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """The multilingual encoder's vectors of every chunk (as passages) and learned example (as
    queries), reusing the live build's for unchanged texts. Returns (chunks, examples, embedded)."""
    reuse = store.read_reusable_space(live_build, multilingual.SPACE)
    chunk_out = np.zeros((len(chunks), multilingual.DIM), dtype=np.float32)
    example_out = np.zeros((len(kept), multilingual.DIM), dtype=np.float32)
    todo_chunks: dict[str, list[int]] = {}
    for i, c in enumerate(chunks):
        vector = reuse.get(c.hash)
        if vector is None:
            todo_chunks.setdefault(c.hash, []).append(i)
        else:
            chunk_out[i] = vector
    todo_examples: dict[str, list[int]] = {}
    for i, e in enumerate(kept):
        vector = reuse.get(f"example:{e.hash}")
        if vector is None:
            todo_examples.setdefault(e.hash, []).append(i)
        else:
            example_out[i] = vector
    embedded = len(todo_chunks) + len(todo_examples)
    if embedded:
        encoder = encoder_factory()
        progress = progress_factory(embedded) if progress_factory else None
        if todo_chunks:
            # Sorted by length, so a batch pads (and the engine works) on texts of like size.
            pending = sorted(todo_chunks.values(), key=lambda rows: len(chunks[rows[0]].embed_text))
            vectors = encoder.encode([chunks[rows[0]].embed_text for rows in pending], progress=progress)
            for rows, vector in zip(pending, vectors):
                chunk_out[rows] = vector
        if todo_examples:
            pending = list(todo_examples.values())
            vectors = encoder.encode_queries([kept[rows[0]].text for rows in pending], progress=progress)
            for rows, vector in zip(pending, vectors):
                example_out[rows] = vector
    return chunk_out, example_out, embedded


def _embed(
    keys: list[str],
    n_chunks: int,
    text_of: Callable[[int], str],
    reuse: store.ReusableVectors,
    encoder_factory: Callable[[], SupportsEncode],
    progress_factory: Callable[[int], Callable[[int], None]] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, float]:
    """Vectors for each row's text, reusing any whose key (sha256 of the text) an earlier build embedded.

    Rows below `n_chunks` are chunks, the rest learned examples. Returns `(slots, fresh,
    examples, embedded, seconds)`: chunk row i's vector is row `slots[i]` of the live
    build's vector log (`reuse.log`, linked, never copied) when `slots[i] >= 0`, else
    `fresh[-slots[i] - 1]` (one per distinct text); `examples` holds the examples' vectors.
    """
    found = np.fromiter((reuse.rows.get(key, -1) for key in keys), dtype=np.int64, count=len(keys))
    todo: dict[str, list[int]] = {}
    for row in np.flatnonzero(found < 0).tolist():
        todo.setdefault(keys[row], []).append(row)
    encoded = np.zeros((0, DIM), dtype=np.float32)
    embedded, seconds = 0, 0.0
    if todo:
        pending = [text_of(rows[0]) for rows in todo.values()]
        encoder = encoder_factory()
        started = time.perf_counter()
        progress = progress_factory(len(pending)) if progress_factory else None
        encoded = np.asarray(encoder.encode(pending, progress=progress), dtype=np.float32)
        seconds = time.perf_counter() - started
        embedded = len(pending)
        for j, rows in enumerate(todo.values()):
            found[rows] = -j - 1  # below zero: row -found-1 of `encoded`

    def vectors_of(where: np.ndarray) -> np.ndarray:
        """The vectors for entries of `found` (reused rows and encoded ones)."""
        out = np.empty((len(where), DIM), dtype=np.float32)
        old = where >= 0
        if old.any():
            out[old] = reuse.matrix[where[old]]
        if (~old).any():
            out[~old] = encoded[-where[~old] - 1]
        return out

    chunk_found = found[:n_chunks]
    in_log = (chunk_found >= 0) & (chunk_found < reuse.log_rows) if reuse.log is not None else np.zeros(n_chunks, bool)
    slots = np.where(in_log, chunk_found, -1)
    fresh_of: dict[str, int] = {}
    firsts: list[int] = []
    for row in np.flatnonzero(~in_log).tolist():
        j = fresh_of.setdefault(keys[row], len(fresh_of))
        if j == len(firsts):
            firsts.append(row)
        slots[row] = -j - 1
    fresh = vectors_of(chunk_found[np.asarray(firsts, dtype=np.int64)])
    return slots, fresh, vectors_of(found[n_chunks:]), embedded, seconds
