"""Make the encoder the knowledge base's own (issue 18): fine-tune it on what resolved what.

`adapt` fine-tunes the packaged all-MiniLM-L6-v2 with in-batch negatives
(sentence-transformers' MultipleNegativesRankingLoss) on pairs from the active learned
examples — each customer message with its article's title and summary, and with another
message of the same article — and, optionally, on the articles' own text (each section
piece with its article's title and summary). A share of the examples is held out of
training; the adapted model is published only when its hit@1 on them is at least the base
model's, so a run can never make retrieval worse than what it replaces.

Layout under the index root (beside the builds, so a build and the model that embedded it
live and move together)::

    models/adapted/CURRENT            one line: the folder `kb index` embeds with; absent = base model
    models/adapted/<sha16>/           the sentence-transformers files, the ONNX export and
        adaptation.json               what made it: base model, data fingerprint, seed, scores

A build records the model folder and sha256 in its manifest, and whoever opens the build
embeds queries with that model (`embedding.build_model`), never with "the current one".
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from indexer import store
from indexer.article import Article
from indexer.chunking import chunk_article
from indexer.embedding import (
    BASE_MODEL,
    DIM,
    MAX_SEQ_LENGTH,
    MODEL_ID,
    Encoder,
    Model,
    ModelError,
    export_onnx,
    file_sha256,
    model_path,
    onnx_file,
    verify_model,
)
from indexer.store import Chunk, Example

ADAPTED = "adapted"
POINTER = "CURRENT"
ADAPTATION = "adaptation.json"
MIN_EXAMPLES_TO_HOLD_OUT = 5

Progress = Callable[[str, int], Callable[[int], None]]  # (what, total) -> step(n)


class AdaptRefused(Exception):
    """The adapted model did not match the base model on the held-out messages: nothing was published."""

    def __init__(self, report: AdaptReport) -> None:
        self.report = report
        super().__init__(
            f"refused: the adapted model's hit@1 {report.adapted_hit_at_1:.3f} is below the base model's "
            f"{report.base_hit_at_1:.3f} on {report.held_out_cases} held-out {report.held_out_kind}; "
            "nothing was published and `kb index` keeps its model"
        )


class NothingToLearn(Exception):
    """Too little data to train on, or nothing to check the trained model against."""


@dataclass(frozen=True)
class Settings:
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 2e-5
    seed: int = 18
    held_out_share: float = 0.1
    kb_text: bool = False
    max_pairs: int = 4000  # KB-text pairs at most: 5,000 articles hold about 60,000 section pieces


@dataclass(frozen=True)
class Pair:
    anchor: str
    positive: str
    article_id: str  # no two pairs of one article share a batch: each other's negatives would be wrong


@dataclass
class AdaptReport:
    model_id: str = ""
    model_sha256: str = ""
    folder: str = ""
    pairs: int = 0
    example_pairs: int = 0
    kb_text_pairs: int = 0
    train_examples: int = 0
    held_out_kind: str = "examples"
    held_out_cases: int = 0
    base_hit_at_1: float = 0.0
    adapted_hit_at_1: float = 0.0
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    data_sha256: str = ""
    is_published: bool = False


def adapted_dir(index_root: Path) -> Path:
    return Path(index_root) / "models" / ADAPTED


def article_text(article: Article) -> str:
    """What a message is pulled towards: the article's title and summary."""
    return f"{article.title}. {article.summary}"


def split_examples(examples: list[Example], share: float, seed: int) -> tuple[list[Example], list[Example]]:
    """(train, held out): from every article with at least 5 examples, `share` of them (at least one)."""
    rng = random.Random(seed)
    by_article: dict[str, list[Example]] = {}
    for example in sorted(examples, key=lambda e: e.id):
        by_article.setdefault(example.article_id, []).append(example)
    train, held = [], []
    for article_id in sorted(by_article):
        group = by_article[article_id][:]
        rng.shuffle(group)
        n = max(1, int(share * len(group) + 0.5)) if len(group) >= MIN_EXAMPLES_TO_HOLD_OUT else 0
        held.extend(group[:n])
        train.extend(group[n:])
    return train, held


def example_pairs(train: list[Example], articles: dict[str, Article], rng: random.Random) -> list[Pair]:
    """Each message with its article's text, and with another message of the same article when there is one."""
    by_article: dict[str, list[Example]] = {}
    for example in train:
        by_article.setdefault(example.article_id, []).append(example)
    pairs = []
    for article_id in sorted(by_article):
        group = by_article[article_id]
        for example in group:
            pairs.append(Pair(example.text, article_text(articles[article_id]), article_id))
            others = [e for e in group if e.text != example.text]
            if others:
                pairs.append(Pair(example.text, rng.choice(others).text, article_id))
    return pairs


def kb_text_split(
    chunks: list[Chunk], articles: dict[str, Article], cap: int, share: float, rng: random.Random
) -> tuple[list[Pair], list[Chunk]]:
    """Pairs from the KB's own text (section piece -> title + summary), at most `cap`, and the held-out pieces."""
    sections = [c for c in chunks if c.kind == "section"]
    rng.shuffle(sections)
    n_held = int(share * len(sections) + 0.5) if len(sections) >= 10 else 0
    held, rest = sections[:n_held], sections[n_held:]
    pairs = [Pair(c.embed_text, article_text(articles[c.article_id]), c.article_id) for c in rest[:cap]]
    return pairs, held


def no_duplicate_batches(pairs: list[Pair], batch_size: int, rng: random.Random) -> list[list[Pair]]:
    """Shuffled batches in which no article appears twice (a batch closes early when only repeats are left).

    A batch of one pair has no negative and so no loss: such leftovers (the surplus of the
    articles with the most examples) are dropped rather than spent as empty steps.
    """
    pending = pairs[:]
    rng.shuffle(pending)
    batches = []
    while pending:
        batch: list = []
        seen: set[str] = set()
        left: list = []
        for pair in pending:
            if len(batch) < batch_size and pair.article_id not in seen:
                batch.append(pair)
                seen.add(pair.article_id)
            else:
                left.append(pair)
        if len(batch) < 2:
            break
        batches.append(batch)
        pending = left
    return batches


def data_fingerprint(items: Iterable[tuple[str, str]]) -> str:
    """sha256 over the sorted (article id, text) pairs trained on: the same data gives the same fingerprint."""
    digest = hashlib.sha256()
    for article_id, text in sorted(set(items)):
        digest.update(json.dumps([article_id, text], ensure_ascii=False).encode("utf-8") + b"\n")
    return digest.hexdigest()


def train(pairs: list[Pair], target: Path, settings: Settings, progress: Progress | None = None) -> float:
    """Fine-tune the packaged model on `pairs` on the CPU and save it to `target`; returns the seconds taken."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import (
        MultipleNegativesRankingLoss,
    )

    base = model_path()
    verify_model(base)  # as for every load: train only from the weights kb was tuned for
    started = time.perf_counter()
    random.seed(settings.seed)
    np.random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    model = SentenceTransformer(str(base), device="cpu", local_files_only=True)
    model.max_seq_length = MAX_SEQ_LENGTH
    loss = MultipleNegativesRankingLoss(model)
    rng = random.Random(settings.seed)
    epochs = [no_duplicate_batches(pairs, settings.batch_size, rng) for _ in range(settings.epochs)]
    steps = sum(len(e) for e in epochs)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate)
    warmup = max(1, steps // 10)
    # Linear warm-up over the first tenth, then linear decay to zero: the usual schedule for this loss.
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: (step + 1) / warmup if step < warmup else max(0.0, (steps - step) / max(1, steps - warmup))
    )
    step = progress("training", steps) if progress else None
    model.train()
    for batches in epochs:
        for batch in batches:
            features = [model.preprocess([p.anchor for p in batch]), model.preprocess([p.positive for p in batch])]
            value = loss(features, None)
            value.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            if step:
                step(1)
    model.eval()
    target.mkdir(parents=True, exist_ok=True)
    model.save(str(target), create_model_card=False)
    return time.perf_counter() - started


def hit_at_1(queries: np.ndarray, answers: np.ndarray, chunk_vectors: np.ndarray, chunk_article: np.ndarray,
             n_articles: int, exclude_rows: np.ndarray | None = None) -> float:
    """Share of queries whose nearest article (by its best chunk's cosine) is their answer.

    `chunk_article` must be sorted (chunks grouped by article); `exclude_rows[i]` is a chunk
    row query i may not match (its own text, for held-out KB text), or -1.
    """
    if not len(queries):
        return 0.0
    starts = np.searchsorted(chunk_article, np.arange(n_articles))
    hits = 0
    for lo in range(0, len(queries), 256):
        scores = queries[lo:lo + 256] @ chunk_vectors.T
        if exclude_rows is not None:
            rows = exclude_rows[lo:lo + 256]
            mine = rows >= 0
            scores[np.flatnonzero(mine), rows[mine]] = -np.inf
        best = np.maximum.reduceat(scores, starts, axis=1)
        hits += int((best.argmax(axis=1) == answers[lo:lo + 256]).sum())
    return hits / len(queries)


def adapt(
    articles: list[Article],
    examples: list[Example],
    index_root: Path,
    *,
    base_encoder: Callable[[], Encoder],
    settings: Settings = Settings(),
    progress: Progress | None = None,
    say: Callable[[str], None] = lambda _line: None,
) -> AdaptReport:
    """Train, check against the base model on held-out messages, and publish the model if it is not worse.

    Raises NothingToLearn (no pairs, or nothing held out to check on) or AdaptRefused
    (the adapted model lost on the held-out set; nothing was written).
    """
    index_root = Path(index_root)
    by_id = {a.id: a for a in articles}
    examples = [e for e in examples if e.article_id in by_id]
    train_examples, held = split_examples(examples, settings.held_out_share, settings.seed)
    rng = random.Random(settings.seed)
    report = AdaptReport(train_examples=len(train_examples))
    pairs = example_pairs(train_examples, by_id, rng)
    report.example_pairs = len(pairs)
    chunks = [c for aid in sorted(by_id) for c in chunk_article(by_id[aid])]
    held_chunks: list[Chunk] = []
    if settings.kb_text:
        text_pairs, held_chunks = kb_text_split(chunks, by_id, settings.max_pairs, settings.held_out_share, rng)
        pairs += text_pairs
        report.kb_text_pairs = len(text_pairs)
    report.pairs = len(pairs)
    if not pairs:
        raise NothingToLearn("nothing to train on: import resolved tickets (kb learn import) or add --kb-text")
    if not held and not held_chunks:
        raise NothingToLearn(
            f"nothing to check the adapted model on: no article has {MIN_EXAMPLES_TO_HOLD_OUT} learned examples "
            "to hold some out (add --kb-text to check on held-out article text instead)"
        )
    used = {(e.article_id, e.text) for e in train_examples}
    used |= {(p.article_id, p.anchor) for p in pairs[report.example_pairs:]}
    report.data_sha256 = data_fingerprint(used)

    folder = adapted_dir(index_root)
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        say(f"training on {len(pairs)} pairs ({report.example_pairs} from {len(train_examples)} examples, "
            f"{report.kb_text_pairs} from article text), {len(held)} examples held out")
        report.train_seconds = train(pairs, staging, settings, progress)
        sha = file_sha256(staging / "model.safetensors")
        say("exporting the adapted model to ONNX...")
        adapted = Encoder(staging, onnx_path=export_onnx(onnx_file(staging, sha256=sha), staging, sha), expected_sha256=sha)
        started = time.perf_counter()
        report.scores, vectors = _held_out_scores(chunks, by_id, held, held_chunks, index_root, base_encoder(), adapted, progress)
        report.eval_seconds = time.perf_counter() - started
        report.held_out_kind = "examples" if held else "article-text pieces"
        decisive = report.scores["examples" if held else "kb_text"]
        report.held_out_cases = int(decisive["cases"])
        report.base_hit_at_1, report.adapted_hit_at_1 = decisive["base_hit_at_1"], decisive["adapted_hit_at_1"]
        if report.adapted_hit_at_1 < report.base_hit_at_1:
            raise AdaptRefused(report)
        report.model_sha256 = sha
        report.model_id = f"{MODEL_ID}+adapted-{sha[:16]}"
        _write_adaptation(staging, report, settings, len(examples), len(held))
        # The check embedded every chunk with the adapted model: the next `kb index` reuses
        # those vectors instead of embedding them all again (half the cost at 5,000 articles).
        store.write_vector_cache(staging, sha, *vectors)
        final = folder / sha[:16]
        with store.BuildLock(index_root):  # no build may read the pointer or prune while it moves
            if final.exists():
                shutil.rmtree(final)  # the same weights trained again: keep the newer record of them
            os.replace(staging, final)
            _write_pointer(folder, final.name)
            prune_models(index_root)
        report.folder = final.relative_to(index_root).as_posix()
        report.is_published = True
        return report
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _held_out_scores(
    chunks: list[Chunk], articles: dict[str, Article], held: list[Example], held_chunks: list[Chunk],
    index_root: Path, base: Encoder, adapted: Encoder, progress: Progress | None,
) -> tuple[dict[str, dict[str, float]], tuple[list[str], np.ndarray]]:
    """hit@1 of base and adapted on the held-out examples and held-out article-text pieces,
    and the adapted model's vectors by text hash (chunks and held-out examples).

    Every article competes with all its chunks (as `kb index` would embed them); a held-out
    piece may not match its own chunk. The base model's chunk vectors come from the live
    build when the base model embedded it.
    """
    ids = sorted(articles)
    position = {aid: i for i, aid in enumerate(ids)}
    chunk_article = np.array([position[c.article_id] for c in chunks], dtype=np.int64)
    row_of = {c.id: i for i, c in enumerate(chunks)}
    sets: dict[str, tuple[list[str], list[int], np.ndarray | None]] = {}
    if held:
        sets["examples"] = ([e.text for e in held], [position[e.article_id] for e in held], None)
    if held_chunks:
        sets["kb_text"] = ([c.embed_text for c in held_chunks], [position[c.article_id] for c in held_chunks],
                           np.array([row_of[c.id] for c in held_chunks], dtype=np.int64))
    queries = [t for texts, _, _ in sets.values() for t in texts]
    out: dict[str, dict[str, float]] = {name: {"cases": float(len(texts))} for name, (texts, _, _) in sets.items()}
    for label, encoder in (("base", base), ("adapted", adapted)):
        reuse = _live_vectors(index_root) if label == "base" else store.NO_VECTORS
        chunk_vectors = np.zeros((len(chunks), DIM), dtype=np.float32)
        todo = [i for i, c in enumerate(chunks) if c.hash not in reuse.rows]
        for i, c in enumerate(chunks):
            if c.hash in reuse.rows:
                chunk_vectors[i] = reuse.matrix[reuse.rows[c.hash]]
        texts = [chunks[i].embed_text for i in todo] + queries
        step = progress(f"embedding ({label} model)", len(texts)) if progress else None
        vectors = encoder.encode(texts, progress=step)
        chunk_vectors[todo] = vectors[: len(todo)]
        query_vectors = vectors[len(todo):]
        offset = 0
        for name, (texts_, answers, exclude) in sets.items():
            q = query_vectors[offset: offset + len(texts_)]
            offset += len(texts_)
            out[name][f"{label}_hit_at_1"] = hit_at_1(q, np.array(answers), chunk_vectors, chunk_article, len(ids), exclude)
    hashes = [c.hash for c in chunks] + [e.hash for e in held]
    return out, (hashes, np.concatenate([chunk_vectors, query_vectors[: len(held)]]))


def _live_vectors(index_root: Path) -> store.ReusableVectors:
    live = store.current_build_path(index_root)
    if live is None:
        return store.NO_VECTORS
    return store.read_reusable_vectors(live, BASE_MODEL.model_id, BASE_MODEL.sha256)


def _write_adaptation(folder: Path, report: AdaptReport, settings: Settings, examples: int, held: int) -> None:
    from importlib import metadata

    try:
        version = metadata.version("kb")
    except metadata.PackageNotFoundError:
        version = "unknown"
    record = {
        "model_id": report.model_id,
        "model_sha256": report.model_sha256,
        "base_model_id": BASE_MODEL.model_id,
        "base_model_sha256": BASE_MODEL.sha256,
        "data_sha256": report.data_sha256,
        "settings": asdict(settings),
        "pairs": report.pairs,
        "example_pairs": report.example_pairs,
        "kb_text_pairs": report.kb_text_pairs,
        "examples": examples,
        "held_out_examples": held,
        "held_out": report.scores,
        "decided_on": report.held_out_kind,
        "train_seconds": round(report.train_seconds, 1),
        "kb_version": version,
        "created_at": time.time(),
        "onnx": onnx_file(folder, sha256=report.model_sha256).name,
    }
    (folder / ADAPTATION).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def read_adaptation(folder: Path) -> dict:
    """An adapted model's record (adaptation.json). Raises ModelError when it is missing or unreadable."""
    try:
        return json.loads((Path(folder) / ADAPTATION).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder}: not an adapted model ({exc}); run kb learn train --reset") from exc


def _write_pointer(folder: Path, name: str) -> None:
    tmp = folder / (POINTER + ".tmp")
    tmp.write_text(name + "\n", encoding="utf-8")
    os.replace(tmp, folder / POINTER)


def active_model(index_root: Path) -> Model:
    """The model `kb index` embeds with: the published adapted model, or the packaged one.

    Raises ModelError when the pointer names a folder that is gone or is no adapted model.
    """
    folder = adapted_dir(index_root)
    try:
        name = (folder / POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return BASE_MODEL
    if not name:
        return BASE_MODEL
    record = read_adaptation(folder / name)
    return Model(record["model_id"], record["model_sha256"], folder / name)


def reset(index_root: Path) -> str | None:
    """Go back to the packaged model for the next `kb index`; returns the folder that was active, if any."""
    folder = adapted_dir(index_root)
    with store.BuildLock(index_root):
        try:
            name = (folder / POINTER).read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None
        (folder / POINTER).unlink()
        prune_models(index_root)
    return name


def prune_models(index_root: Path) -> list[str]:
    """Delete adapted models that neither the pointer nor any kept build names. Call under the build lock."""
    folder = adapted_dir(index_root)
    if not folder.is_dir():
        return []
    keep = set()
    try:
        keep.add((folder / POINTER).read_text(encoding="utf-8").strip())
    except FileNotFoundError:
        pass
    builds = store.builds_dir(index_root)
    for build in builds.iterdir() if builds.is_dir() else ():
        try:
            model_path_ = json.loads((build / store.MANIFEST).read_text(encoding="utf-8")).get("model_path") or ""
        except (OSError, ValueError):
            continue  # an incomplete build: it names no model yet
        keep.add(Path(model_path_).name)
    removed = []
    for path in folder.iterdir():
        if path.is_dir() and not path.name.startswith(".") and path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed
