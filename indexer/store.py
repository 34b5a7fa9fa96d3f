"""The index folder format: where a build lives, how it is published, and how it is opened.

Layout under the index root::

    <root>/CURRENT                 one line: the id of the live build
    <root>/.lock                   held (flock) by the one build that may run
    <root>/builds/<build-id>/
        articles.json              every parsed Article, so the server never parses Markdown
        rendered.json              sanitised HTML of each article's sections, rendered once
        chunks.jsonl               one chunk per line
        vector_slots.npy           int64, one per chunk line: the row of vectors.f32 with its vector
        vectors.f32                float32 rows (dim each, L2-normalised, no header): an append-only
                                   log hard-linked from build to build (indexer.vectors)
        whoosh/                    the keyword index (BM25F)
        keyword.npz                BM25F impacts term by term (indexer.bm25), what the server scores with
        vocabulary.json            words and their counts (all, public) for did-you-mean
        manifest.json              written last: its presence means the build is complete
        me5-vectors.npy            the chunks' vectors by the multilingual encoder (indexer.multilingual),
        me5-examples.npy           and the learned examples' (a multilingual build only)
        calibration.json           the build's own no-match thresholds and weights, fitted after
                                   the manifest and before publishing (kbserver.retrieval.calibration)
    <root>/models/                 the ONNX export of the packaged model
    <root>/models/adapted/CURRENT  one line: the adapted model `kb index` embeds with (indexer.adapt)
    <root>/models/adapted/<sha>/   an adapted model: sentence-transformers files, ONNX, adaptation.json

Publishing writes `CURRENT.tmp` and `os.replace`s it onto `CURRENT`, so a reader sees the
old build or the new one, never a half-written one; a failed or killed build never touches it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from indexer import vectors
from indexer.article import Article, Finding, Parsed
from indexer.terms import Postings, TermMatrix

FORMAT_VERSION = 5  # 5: chunk vectors in a shared append-only log (indexer.vectors)
CURRENT = "CURRENT"
BUILDS = "builds"
MANIFEST = "manifest.json"
CALIBRATION = "calibration.json"
HISTORY = "history.json"
KEEP_BUILDS = 3


class IndexError_(Exception):
    """The index folder is missing, incomplete or of another format."""


class BuildLocked(Exception):
    """Another build holds the lock on this index root."""


@dataclass(frozen=True)
class Chunk:
    """A piece of an article a search can point at."""

    id: str  # "<article id>#<n>"
    article_id: str
    kind: str  # "overview" | "alias" | "section" | "example"
    section: str  # heading name ("" for the overview)
    heading_path: str  # "Title > Section"
    text: str  # what is shown and highlighted
    embed_text: str  # what the encoder sees
    hash: str  # sha256 of embed_text, the key for reusing embeddings

    def to_json(self) -> str:
        return json.dumps(vars(self), ensure_ascii=False)


class StoredLines:
    """The records of an earlier build's file, one per line, undecoded: the file's bytes and
    where each record starts and ends. A rebuild copies unchanged records back as bytes, a run
    of consecutive ones at a time (`write_records`): at 50,000 articles decoding, splitting and
    encoding again the 0.45 GB of `chunks.jsonl` and 0.23 GB of `articles.json` was a third of
    a one-edit rebuild."""

    __slots__ = ("data", "starts", "ends")

    def __init__(self, data: bytes, starts: np.ndarray, ends: np.ndarray) -> None:
        self.data, self.starts, self.ends = data, starts, ends

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> bytes:
        return self.data[self.starts[i] : self.ends[i]]

    def head(self, i: int, size: int) -> bytes:
        """The first `size` bytes of record `i` (without copying the rest)."""
        start = int(self.starts[i])
        return self.data[start : min(int(self.ends[i]), start + size)]

    @classmethod
    def read(cls, path: Path, *, head: bytes, sep: bytes, tail: bytes) -> StoredLines:
        """The records of `path`, written as `head + sep.join(records) + tail` (`sep` ends with a
        newline, which no record holds: JSON escapes it). Raises ValueError for any other shape."""
        with open(path, "rb") as fh:
            return cls.parse(fh.read(), head=head, sep=sep, tail=tail, name=path.name)

    @classmethod
    def parse(cls, data: bytes, *, head: bytes, sep: bytes, tail: bytes, name: str) -> StoredLines:
        """`read`, of bytes already read."""
        none = np.zeros(0, dtype=np.int64)
        if not data and not head:  # a file of no records (chunks.jsonl has no head or tail then)
            return cls(data, none, none)
        if not (data.startswith(head) and data.endswith(tail)) or len(data) < len(head) + len(tail):
            raise ValueError(f"{name} is not one record per line")
        first, last = len(head), len(data) - len(tail)
        if first == last:
            return cls(data, none, none)
        body = np.frombuffer(data, dtype=np.uint8, count=last - first, offset=first)
        block = 1 << 22  # a few MiB at a time: one comparison over a 0.45 GB file would page-fault a 0.45 GB mask
        newlines = np.concatenate([np.flatnonzero(body[at : at + block] == 10) + (first + at)
                                   for at in range(0, len(body), block)])
        gap = len(sep) - 1  # what stands before each newline between two records
        if gap and len(newlines):
            mark = np.frombuffer(data, dtype=np.uint8)
            for k, byte in enumerate(sep[:-1]):
                if not (mark[newlines - gap + k] == byte).all():
                    raise ValueError(f"{name} is not one record per line")
        starts = np.concatenate([[first], newlines + 1]).astype(np.int64)
        ends = np.concatenate([newlines - gap, [last]]).astype(np.int64)
        return cls(data, starts, ends)


class _StoredLine:
    """A record of an earlier build kept as its stored JSON line (record `index` of `source`),
    with the few fields a rebuild reads as slots. The new build gets the bytes back verbatim
    (`write_records`); any other field parses the line, once. At 5,000 articles, decoding and
    re-encoding unchanged records was most of a one-edit rebuild."""

    __slots__ = ("source", "index", "_parsed")

    def __init__(self, source: StoredLines, index: int) -> None:
        self.source, self.index = source, index
        self._parsed: Any = None

    @property
    def line(self) -> str:
        return self.source[self.index].decode("utf-8")

    def _parse(self, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def __getattr__(self, name: str) -> Any:  # only for what is not a slot: text, sections, to_dict, ...
        if name.startswith("_"):
            raise AttributeError(name)
        if self._parsed is None:
            self._parsed = self._parse(json.loads(self.source[self.index]))
        return getattr(self._parsed, name)

    def to_json(self) -> str:
        return self.line


def write_records(fh: IO[bytes], records: list[bytes | _StoredLine], sep: bytes) -> None:
    """`sep.join(records)` into `fh`, a stored record as its bytes: consecutive records of one
    stored file are one slice of it (the file had the same `sep` between them), so an unchanged
    run of 50,000 records is one write."""
    run: _StoredLine | None = None  # the first record of the current run of stored ones
    last = -1  # the index of the run's last record
    wrote = False

    def flush() -> None:
        nonlocal run, wrote
        if run is not None:
            if wrote:
                fh.write(sep)
            fh.write(memoryview(run.source.data)[run.source.starts[run.index] : run.source.ends[last]])
            wrote, run = True, None

    for record in records:
        if isinstance(record, _StoredLine):
            if run is not None and record.source is run.source and record.index == last + 1:
                last = record.index
                continue
            flush()
            run, last = record, record.index
            continue
        flush()
        if wrote:
            fh.write(sep)
        fh.write(record)
        wrote = True
    flush()


class StoredChunk(_StoredLine):
    """A chunk of an earlier build: its line of `chunks.jsonl`, with id, article and text hash."""

    __slots__ = ("id", "article_id", "hash")

    def __init__(self, id: str, article_id: str, hash: str, source: StoredLines, index: int) -> None:
        super().__init__(source, index)
        self.id, self.article_id, self.hash = id, article_id, hash

    def _parse(self, data: dict[str, Any]) -> Chunk:
        return Chunk(**data)


@dataclass(frozen=True)
class Example:
    """A customer message that resolved to an article (issue 10), learned from feedback or import."""

    id: int
    article_id: str
    text: str  # already redacted
    weight: float  # by outcome: resolved on first contact counts more than "helpful"
    hash: str  # sha256 of text, the key for reusing embeddings

    def to_json(self) -> str:
        return json.dumps(vars(self), ensure_ascii=False)


@dataclass(frozen=True)
class Manifest:
    format_version: int
    build_id: str
    model_id: str
    model_sha256: str
    created_at: float
    article_hashes: dict[str, str]
    chunks: int
    dim: int
    examples: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    # The folder (relative to the index root) of the model that embedded this build; "" is the
    # packaged model. Queries must be embedded with the same model: vectors of two models do not compare.
    model_path: str = ""


def content_fingerprint(manifest: Manifest, examples: list[Example]) -> str:
    """What a build was made from, as one hash: format, model, every article's hash and every example.

    Two hosts that build the same articles commit with the same database (the same learned
    examples) get the same fingerprint, whatever their build ids and clocks: they rank alike.
    `/healthz` reports it, so a load balancer's hosts can be checked to serve the same content.
    """
    content = {
        "format_version": manifest.format_version,
        "model_sha256": manifest.model_sha256,
        "articles": sorted(manifest.article_hashes.items()),
        "examples": [(e.id, e.article_id, e.weight, e.hash) for e in examples],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).hexdigest()


def builds_dir(root: Path) -> Path:
    return Path(root) / BUILDS


def current_build_id(root: Path) -> str | None:
    """The id of the published build, or None when nothing has been published."""
    try:
        value = (Path(root) / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return value or None


def current_build_path(root: Path) -> Path | None:
    build_id = current_build_id(root)
    return builds_dir(root) / build_id if build_id else None


def new_build_id() -> str:
    """A unique id that sorts in the order builds were made: pruning keeps the newest by name.

    Microseconds come before the pid, so two builds in the same second (even from two
    processes, one after the other under the lock) still sort oldest first.
    """
    now_us = time.time_ns() // 1000
    seconds, micros = divmod(now_us, 10**6)
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds)) + f".{micros:06d}-{os.getpid()}"


# Earlier formats that differ from this one only in how chunk vectors are stored (format 4:
# one embeddings.npy per build): a rebuild may start from their caches, and writes a log.
VECTOR_LAYOUT_ONLY = (4,)


def read_previous_manifest(build: Path) -> Manifest:
    """The manifest of a build a rebuild may start from: this format, or one in VECTOR_LAYOUT_ONLY."""
    return read_manifest(build, formats=(FORMAT_VERSION, *VECTOR_LAYOUT_ONLY))


def read_manifest(build: Path, *, formats: tuple[int, ...] | None = None) -> Manifest:
    """The manifest of a complete build of this format (or one of `formats`). Raises
    IndexError_ when the build is incomplete or foreign."""
    try:
        data = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexError_(f"{build} is not a complete build (no {MANIFEST})") from exc
    except json.JSONDecodeError as exc:
        raise IndexError_(f"{build / MANIFEST} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("format_version") not in (formats or (FORMAT_VERSION,)):
        found = data.get("format_version") if isinstance(data, dict) else None
        raise IndexError_(f"{build} has index format {found}, this kb reads {FORMAT_VERSION}")
    try:
        return Manifest(**data)
    except TypeError as exc:
        raise IndexError_(f"{build / MANIFEST} is incomplete: {exc}") from exc


class StoredArticle(_StoredLine):
    """A parsed article of an earlier build: its line of `articles.json`, with the fields linting
    reads across articles (id, path, type, policies, related)."""

    __slots__ = ("id", "path", "type", "policies", "related")

    def __init__(self, id: str, path: str, type: str, policies: tuple[str, ...], related: tuple[str, ...],
                 source: StoredLines, index: int) -> None:
        super().__init__(source, index)
        self.id, self.path, self.type, self.policies, self.related = id, path, type, policies, related

    def _parse(self, data: dict[str, Any]) -> Article:
        return Article.from_dict(data)


ARTICLES_SHAPE = {"head": b"[\n", "sep": b",\n", "tail": b"\n]\n"}  # articles.json, one article per line
RENDERED_SHAPE = {"head": b"{\n", "sep": b",\n", "tail": b"\n}\n"}  # rendered.json, one article per line
CHUNKS_SHAPE = {"head": b"", "sep": b"\n", "tail": b"\n"}  # chunks.jsonl


def _write_shaped(path: Path, records: list[bytes | _StoredLine], shape: dict[str, bytes]) -> None:
    with open(path, "wb") as fh:
        fh.write(shape["head"])
        write_records(fh, records, shape["sep"])
        if records or shape["head"]:
            fh.write(shape["tail"])


def write_articles(build: Path, articles: list[Article | StoredArticle]) -> None:
    """A JSON list, one article per line, so a rebuild can copy an unchanged article's line."""
    _write_shaped(build / "articles.json", [
        a if isinstance(a, StoredArticle) else json.dumps(a.to_dict(), ensure_ascii=False).encode() for a in articles
    ], ARTICLES_SHAPE)


def read_articles(build: Path) -> list[Article]:
    with open(build / "articles.json", encoding="utf-8") as fh:
        return [Article.from_dict(d) for d in json.load(fh)]


class StoredRendered(_StoredLine):
    """An article's entry in an earlier build's `rendered.json` (`"id": {...}`), copied back as bytes."""

    __slots__ = ()

    @property
    def value(self) -> str:
        """The entry's value as JSON text."""
        line = self.line
        _aid, end = json.JSONDecoder().raw_decode(line)
        return line[end + 2 :]


def write_rendered(build: Path, rendered: dict[str, dict[str, str] | StoredRendered]) -> None:
    """`rendered.json`: one JSON object, one article per line, so a rebuild can copy the lines
    of unchanged articles (a `StoredRendered` value, as `read_rendered_lines` gives it)."""
    _write_shaped(build / "rendered.json", [
        value if isinstance(value, StoredRendered)
        else (json.dumps(aid, ensure_ascii=False) + ": " + json.dumps(value, ensure_ascii=False)).encode()
        for aid, value in rendered.items()
    ], RENDERED_SHAPE)


def read_rendered_lines(build: Path) -> dict[str, StoredRendered]:
    """Each article's entry of `rendered.json`, undecoded (see write_rendered). A file of format 4
    and before (one line) is decoded and each entry encoded again."""
    with open(build / "rendered.json", "rb") as fh:
        data = fh.read()
    if not data.startswith(RENDERED_SHAPE["head"]):
        entries = [json.dumps(aid, ensure_ascii=False) + ": " + json.dumps(value, ensure_ascii=False)
                   for aid, value in json.loads(data).items()]
        data = RENDERED_SHAPE["head"] + ",\n".join(entries).encode() + RENDERED_SHAPE["tail"]
    lines = StoredLines.parse(data, **RENDERED_SHAPE, name="rendered.json")
    decoder = json.JSONDecoder()
    out: dict[str, StoredRendered] = {}
    for n in range(len(lines)):
        head = lines.head(n, 4096).decode("utf-8", errors="replace")
        aid, end = decoder.raw_decode(head)
        if not isinstance(aid, str) or head[end : end + 2] != ": ":
            raise ValueError("rendered.json is not one article per line")
        out[aid] = StoredRendered(lines, n)
    return out


def read_rendered(build: Path) -> dict[str, dict[str, str]]:
    with open(build / "rendered.json", encoding="utf-8") as fh:
        return json.load(fh)


def write_chunks(build: Path, chunks: list[Chunk | StoredChunk], slots: np.ndarray, fresh: np.ndarray,
                 *, base_log: Path | None = None) -> dict[str, int]:
    """`chunks.jsonl`, and their vectors: `slots` and `fresh` as `indexer.vectors.write` takes
    them, appended to `base_log` (the live build's log) when that is worth it."""
    if len(chunks) != len(slots):
        raise ValueError(f"{len(chunks)} chunks but {len(slots)} vector slots")
    _write_shaped(build / "chunks.jsonl", [
        c if isinstance(c, StoredChunk) else c.to_json().encode() for c in chunks
    ], CHUNKS_SHAPE)
    return vectors.write(build, slots, fresh, base=base_log)


def read_chunks(build: Path) -> list[Chunk]:
    with open(build / "chunks.jsonl", encoding="utf-8") as fh:
        return [Chunk(**json.loads(line)) for line in fh if line.strip()]


def read_embeddings(build: Path, *, transposed: bool = False) -> np.ndarray:
    """The chunk vectors in chunk order, `(chunks, dim)` (or `(dim, chunks)`), read into memory."""
    if vectors.has_log(build):
        return vectors.gather(build, transposed=transposed)
    matrix = np.load(build / "embeddings.npy", mmap_mode="r", allow_pickle=False)  # format 4 and before
    return np.ascontiguousarray(matrix.T if transposed else matrix, dtype=np.float32)


def write_examples(build: Path, examples: list[Example], embeddings: np.ndarray) -> None:
    """Learned examples beside the chunks: `examples.jsonl`, row i of `examples.npy` is line i."""
    if len(examples) != len(embeddings):
        raise ValueError(f"{len(examples)} examples but {len(embeddings)} embeddings")
    with open(build / "examples.jsonl", "w", encoding="utf-8") as fh:
        for example in examples:
            fh.write(example.to_json() + "\n")
    np.save(build / "examples.npy", np.ascontiguousarray(embeddings, dtype=np.float32), allow_pickle=False)


def read_examples(build: Path) -> tuple[list[Example], np.ndarray]:
    """The build's learned examples and their vectors (empty when it has none)."""
    try:
        with open(build / "examples.jsonl", encoding="utf-8") as fh:
            examples = [Example(**json.loads(line)) for line in fh if line.strip()]
        # Memory-mapped: 600,000 examples are 0.9 GB of float32, and approximate search
        # (indexer/example_index.py) reads only the rows it rescores.
        vectors = np.load(build / "examples.npy", mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        return [], np.zeros((0, 384), dtype=np.float32)
    return examples, vectors


def space_files(build: Path, space: str) -> tuple[Path, Path]:
    """Where a second encoder's vectors live in a build: chunks, then learned examples."""
    return build / f"{space}-vectors.npy", build / f"{space}-examples.npy"


def write_space(build: Path, space: str, chunk_vectors: np.ndarray, example_vectors: np.ndarray) -> None:
    """A second encoder's vectors (indexer.multilingual): row i is chunk line i, or example line i."""
    chunks_file, examples_file = space_files(build, space)
    np.save(chunks_file, np.ascontiguousarray(chunk_vectors, dtype=np.float32), allow_pickle=False)
    np.save(examples_file, np.ascontiguousarray(example_vectors, dtype=np.float32), allow_pickle=False)


def read_space(build: Path, space: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(chunk vectors transposed, example vectors) of a second encoder, or None when the build has none."""
    chunks_file, examples_file = space_files(build, space)
    try:
        chunk_vectors = np.load(chunks_file, mmap_mode="r", allow_pickle=False)
        example_vectors = np.load(examples_file, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        return None
    return np.ascontiguousarray(chunk_vectors.T, dtype=np.float32), example_vectors


def read_reusable_space(build: Path | None, space: str) -> dict[str, np.ndarray]:
    """A second encoder's vectors of `build` by text hash (chunks and examples), to reuse in the next build."""
    if build is None:
        return {}
    chunks_file, examples_file = space_files(build, space)
    try:
        chunk_vectors = np.load(chunks_file, mmap_mode="r", allow_pickle=False)
        example_vectors = np.load(examples_file, mmap_mode="r", allow_pickle=False)
        chunks = read_chunks(build)
        examples, _ = read_examples(build)
    except (OSError, ValueError, TypeError, KeyError):
        return {}
    if len(chunks) != len(chunk_vectors) or len(examples) != len(example_vectors):
        return {}
    found: dict[str, np.ndarray] = {c.hash: chunk_vectors[i] for i, c in enumerate(chunks)}
    found.update({f"example:{e.hash}": example_vectors[i] for i, e in enumerate(examples)})
    return found


def write_term_matrix(build: Path, matrix: TermMatrix) -> None:
    np.savez(
        build / "keyword.npz",
        terms=matrix.terms,
        indptr=matrix.indptr,
        rows=matrix.rows,
        impacts=matrix.impacts,
        n_rows=np.array(matrix.n_rows),
    )


def read_term_matrix(build: Path) -> TermMatrix:
    with np.load(build / "keyword.npz", allow_pickle=False) as data:
        return TermMatrix(
            terms=data["terms"],
            indptr=data["indptr"],
            rows=data["rows"],
            impacts=data["impacts"],
            n_rows=int(data["n_rows"]),
        )


POSTINGS = "postings"  # a folder of .npy files, one per array
_POSTINGS_ARRAYS = ("terms", "rows", "fields", "term_ids", "counts", "lengths", "chunk_ids")


def write_postings(build: Path, postings: Postings, chunk_ids: list[str]) -> list[Path]:
    """The analysed chunk rows (`postings/*.npy`), so the next build analyses only new chunks.
    Plain .npy files, memory-mapped by `read_postings`: at 50,000 articles (0.4 GB) the zip
    archive they used to be in cost a CRC pass on every write and every read. Returns the files."""
    folder = build / POSTINGS
    folder.mkdir()
    paths = []
    for name in _POSTINGS_ARRAYS:
        array = np.array(chunk_ids, dtype=str) if name == "chunk_ids" else getattr(postings, name)
        paths.append(folder / f"{name}.npy")
        np.save(paths[-1], array, allow_pickle=False)
    return paths


def read_postings(build: Path) -> tuple[Postings, list[str]] | None:
    """A build's postings and the chunk id of each row, or None when it has none readable
    (a build of format 5 before this layout had them in `postings.npz`, which is read too)."""
    try:
        if (build / POSTINGS).is_dir():
            data: Any = {name: np.load(build / POSTINGS / f"{name}.npy", mmap_mode="r", allow_pickle=False)
                         for name in _POSTINGS_ARRAYS}
        else:
            with np.load(build / "postings.npz", allow_pickle=False) as archive:
                data = {name: archive[name] for name in _POSTINGS_ARRAYS}
        if any(np.ndim(data[name]) == 0 for name in _POSTINGS_ARRAYS):
            return None
        postings = Postings(
            terms=data["terms"], rows=data["rows"], fields=data["fields"], term_ids=data["term_ids"],
            counts=data["counts"], lengths=data["lengths"],
        )
        return postings, data["chunk_ids"].tolist()
    except (OSError, ValueError, KeyError):
        return None


def write_vocabulary(build: Path, counts: dict[str, list[int]]) -> None:
    """did-you-mean's words, sorted, with their counts in all articles and in public ones."""
    words = sorted(counts)
    with open(build / "vocabulary.json", "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"words": words, "all": [counts[w][0] for w in words], "public": [counts[w][1] for w in words]}))


def read_vocabulary(build: Path) -> tuple[list[str], list[int], list[int]]:
    with open(build / "vocabulary.json", encoding="utf-8") as fh:
        data = json.load(fh)
    return data["words"], data["all"], data["public"]


LINT_CACHE = "lint.json"


def write_lint_cache(
    build: Path, key: dict[str, str], parsed: dict[str, Parsed], chunks: list[Chunk | StoredChunk]
) -> None:
    """What a rebuild needs to reuse each file's parse besides `articles.json` and the manifest's
    hashes: its findings and front matter key lines, under `key` (parser, chunker, day); and
    the id, article and hash of each line of `chunks.jsonl`, so reusing a chunk needs no decoding."""
    files = {
        aid: {
            "findings": [[f.line, f.severity, f.message] for f in p.findings],
            "key_lines": p.key_lines,
            "refs": [p.article.path, p.article.type, list(p.article.policies), list(p.article.related)],
            "stat": list(p.stat) if p.stat else None,
        }
        for aid, p in parsed.items()
    }
    lines = {"ids": [c.id for c in chunks], "articles": [c.article_id for c in chunks], "hashes": [c.hash for c in chunks]}
    with open(build / LINT_CACHE, "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"key": key, "files": files, "chunks": lines}, ensure_ascii=False))


def read_lint_cache(
    build: Path, key: dict[str, str]
) -> tuple[dict[str, Parsed], dict[str, list[StoredChunk]]]:
    """An earlier build's parses by id (articles as stored lines), and its chunks by article
    (as stored lines), when it was made under the same `key`; ({}, {}) when not, or when
    anything cannot be read (then everything is parsed)."""
    try:
        with open(build / LINT_CACHE, encoding="utf-8") as fh:
            cache = json.load(fh)
        if cache.get("key") != key:
            return {}, {}
        hashes = read_previous_manifest(build).article_hashes
        files = cache["files"]
        article_lines = StoredLines.read(build / "articles.json", **ARTICLES_SHAPE)
        if len(article_lines) != len(hashes):
            return {}, {}
        parsed = {}
        for n, aid in enumerate(sorted(hashes)):  # written sorted by id
            if not article_lines.head(n, 300).startswith(('{"id": ' + json.dumps(aid, ensure_ascii=False) + ",").encode()):
                return {}, {}
            entry = files.get(aid)
            if entry is None:
                continue
            path, type_, policies, related = entry["refs"]
            article = StoredArticle(aid, path, type_, tuple(policies), tuple(related), article_lines, n)
            findings = tuple(Finding(path, line_, severity, message) for line_, severity, message in entry["findings"])
            # A StoredArticle reads like an Article for everything lint asks of it (Parsed's docstring).
            stat = entry.get("stat")
            parsed[aid] = Parsed(hashes[aid], cast(Article, article), findings, dict(entry["key_lines"]),
                                 tuple(stat) if stat else None)
        index = cache["chunks"]
        lines = StoredLines.read(build / "chunks.jsonl", **CHUNKS_SHAPE)
        if not len(lines) == len(index["ids"]) == len(index["articles"]) == len(index["hashes"]):
            return {}, {}
        chunks: dict[str, list[StoredChunk]] = {}
        for n, (id_, article_id, hash_) in enumerate(zip(index["ids"], index["articles"], index["hashes"])):
            chunks.setdefault(article_id, []).append(StoredChunk(id_, article_id, hash_, lines, n))
        return parsed, chunks
    except (OSError, ValueError, KeyError, TypeError, IndexError_):
        return {}, {}


class _Stacked:
    """Row lookups over several matrices laid end to end, without concatenating them (which
    would read a 0.9 GB vector log and example matrix whole for a one-edit rebuild)."""

    def __init__(self, parts: list[np.ndarray]) -> None:
        self.parts = [p for p in parts if len(p)]
        self.starts = np.cumsum([0] + [len(p) for p in self.parts])
        self.shape = (int(self.starts[-1]), self.parts[0].shape[1] if self.parts else 0)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: Any) -> np.ndarray:
        rows = np.asarray(index, dtype=np.int64)
        flat = rows.reshape(-1)
        out = np.empty((len(flat), self.shape[1]), dtype=np.float32)
        part_of = np.searchsorted(self.starts, flat, side="right") - 1
        for p, part in enumerate(self.parts):
            mine = np.flatnonzero(part_of == p)
            if len(mine):
                out[mine] = part[flat[mine] - self.starts[p]]
        return out.reshape((*rows.shape, self.shape[1]))


@dataclass(frozen=True)
class ReusableVectors:
    """An earlier build's vectors: `matrix[rows[h]]` is the vector of the text whose sha256 is `h`.

    From a build with a vector log (format 5), `log` is that log and rows below `log_rows`
    are its rows: a rebuild links the log and names those rows instead of copying them."""

    rows: dict[str, int]
    matrix: Any  # np.ndarray or _Stacked: indexable by a row or an array of rows
    log: Path | None = None
    log_rows: int = 0

    def __len__(self) -> int:
        return len(self.rows)


NO_VECTORS = ReusableVectors({}, np.zeros((0, 0), dtype=np.float32))


def read_reusable_vectors(
    build: Path, model_id: str, model_sha256: str, chunk_hashes: list[str] | None = None
) -> ReusableVectors:
    """Vectors of an earlier build by chunk/example text hash, whatever its format version.

    A vector depends only on the model and the text, so a format change need not re-embed
    anything. `chunk_hashes` are the build's chunk hashes in file order when the caller has
    read its chunks already. Returns NO_VECTORS when the build used another model or cannot
    be read. Nothing is read whole: the log and the examples are memory-mapped.
    """
    try:
        data = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
        if (data.get("model_id"), data.get("model_sha256")) != (model_id, model_sha256):
            return NO_VECTORS
        if chunk_hashes is not None:
            hashes = list(chunk_hashes)
        else:
            with open(build / "chunks.jsonl", encoding="utf-8") as fh:
                hashes = [json.loads(line)["hash"] for line in fh if line.strip()]
        log: Path | None = None
        if vectors.has_log(build):
            slots = vectors.read_slots(build)
            log = build / vectors.LOG
            log_rows = vectors.rows_in(log)
            if len(slots) != len(hashes) or (len(slots) and int(slots.max()) >= log_rows):
                return NO_VECTORS
            rows = dict(zip(hashes, slots.tolist()))
            matrix = vectors.open_log(log, log_rows)
        else:  # format 4 and before: one matrix in chunk order
            log_rows = 0
            matrix = np.load(build / "embeddings.npy", mmap_mode="r", allow_pickle=False)
            if len(matrix) != len(hashes):
                return NO_VECTORS
            rows = {h: i for i, h in enumerate(hashes)}
        parts = [matrix]
        if (build / "examples.jsonl").exists():
            with open(build / "examples.jsonl", encoding="utf-8") as fh:
                example_hashes = [json.loads(line)["hash"] for line in fh if line.strip()]
            example_vectors = np.load(build / "examples.npy", mmap_mode="r", allow_pickle=False)
            if len(example_vectors) == len(example_hashes) and len(example_hashes):
                start = len(matrix)
                for i, h in enumerate(example_hashes):
                    rows.setdefault(h, start + i)
                parts.append(example_vectors.reshape(-1, vectors.DIM))
        return ReusableVectors(rows, _Stacked(parts) if len(parts) > 1 else matrix, log, log_rows)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return NO_VECTORS


VECTOR_CACHE = "vectors"


def write_vector_cache(folder: Path, model_sha256: str, hashes: list[str], matrix: np.ndarray) -> None:
    """Vectors a model already made, by text hash, beside the model (`vectors.npy`, `vectors.json`)."""
    if len(hashes) != len(matrix):
        raise ValueError(f"{len(hashes)} hashes but {len(matrix)} vectors")
    np.save(Path(folder) / f"{VECTOR_CACHE}.npy", np.ascontiguousarray(matrix, dtype=np.float32), allow_pickle=False)
    (Path(folder) / f"{VECTOR_CACHE}.json").write_text(json.dumps({"model_sha256": model_sha256, "hashes": hashes}))


def read_vector_cache(folder: Path, model_sha256: str) -> ReusableVectors:
    """The vectors `write_vector_cache` kept for `model_sha256`; NO_VECTORS when absent, unreadable or another model's."""
    try:
        data = json.loads((Path(folder) / f"{VECTOR_CACHE}.json").read_text(encoding="utf-8"))
        matrix = np.load(Path(folder) / f"{VECTOR_CACHE}.npy", allow_pickle=False)
        if data.get("model_sha256") != model_sha256 or len(data["hashes"]) != len(matrix):
            return NO_VECTORS
        return ReusableVectors({h: i for i, h in enumerate(data["hashes"])}, matrix)
    except (OSError, ValueError, KeyError, TypeError):
        return NO_VECTORS


def write_manifest(build: Path, manifest: Manifest) -> None:
    """Write the manifest last, through a temporary file, and fsync the whole build first."""
    _fsync_tree(build)
    tmp = build / (MANIFEST + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(asdict(manifest), fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, build / MANIFEST)
    _fsync_dir(build)


def write_calibration(build: Path, data: dict[str, Any]) -> None:
    """Write what calibration fitted for `build` (before it is published), durably."""
    tmp = build / (CALIBRATION + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, build / CALIBRATION)
    _fsync_dir(build)


def write_history(build: Path, data: dict[str, Any] | None) -> None:
    """The articles' recent changes from git (`indexer.history`); None: the folder is not in git."""
    payload = {"available": False} if data is None else {"available": True, **data}
    (build / HISTORY).write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")


def read_history(build: Path) -> dict[str, Any] | None:
    """The build's history as written, or None when it has none (not in git, or an older build)."""
    try:
        data = json.loads((build / HISTORY).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    if not isinstance(data, dict):
        raise IndexError_(f"{build / HISTORY}: not a JSON object")
    return data if data.get("available") else None


def read_calibration(build: Path) -> dict[str, Any] | None:
    """The build's calibration, or None for a build made without one (older, or by a bare build_index)."""
    try:
        data = json.loads((build / CALIBRATION).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    if not isinstance(data, dict):
        raise IndexError_(f"{build / CALIBRATION}: not a JSON object")
    return data


def publish(root: Path, build_id: str) -> None:
    """Make `build_id` the live build with one atomic rename, then prune old builds."""
    root = Path(root)
    read_manifest(builds_dir(root) / build_id)  # refuse to publish an incomplete build
    tmp = root / (CURRENT + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(build_id + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, root / CURRENT)
    _fsync_dir(root)
    prune_builds(root, keep=KEEP_BUILDS)


def prune_builds(root: Path, keep: int = KEEP_BUILDS) -> list[str]:
    """Delete all but the newest `keep` builds; the live build is always kept.

    Readers that still hold an older snapshot keep working on open files; a build only
    disappears after `keep` newer publications, long after any request on it has ended.
    """
    live = current_build_id(root)
    folder = builds_dir(root)
    if not folder.is_dir():
        return []
    builds = sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: p.name, reverse=True)
    complete = [p for p in builds if (p / MANIFEST).exists()]
    keep_names = {p.name for p in complete[:keep]} | ({live} if live else set())
    removed = []
    for path in builds:
        if path.name in keep_names:
            continue
        # An incomplete build younger than a minute may belong to a build in progress.
        if not (path / MANIFEST).exists() and time.time() - path.stat().st_mtime < 60:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    return removed


class BuildLock:
    """An exclusive, non-blocking flock on `<root>/.lock`; released by the kernel if the process dies."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / ".lock"
        self._fh: IO[str] | None = None

    def __enter__(self) -> "BuildLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = fh = open(self.path, "a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            fh.close()
            raise BuildLocked(f"another build is running on {self.path.parent} (lock {self.path})") from exc
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()


class BackgroundSync:
    """fsyncs files on a thread while the build goes on computing, so that the disk writes
    the big files (chunks, vectors, postings) while the CPU analyses and scores, instead
    of all at once before the manifest. `wait()` re-raises the first error; the manifest's
    own fsync of the whole build then finds these files clean and returns at once."""

    def __init__(self) -> None:
        import queue
        import threading

        self._queue: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="kb-fsync", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (path := self._queue.get()) is not None:
            if self._error is None:
                try:
                    with open(path, "rb") as fh:
                        os.fsync(fh.fileno())
                except BaseException as exc:  # re-raised by wait(), on the build's thread
                    self._error = exc

    def add(self, *paths: Path) -> None:
        for path in paths:
            self._queue.put(Path(path))

    def wait(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


def _fsync_tree(path: Path) -> None:
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(Path(dirpath))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
