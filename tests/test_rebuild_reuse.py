"""What a rebuild takes from the live build instead of writing or reading it again: the chunk
vector log (indexer/vectors.py, shared by builds and only ever appended to), the Whoosh files,
each article's rendered line, and the stat of every unchanged file."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from indexer import store, vectors
from indexer.build import build_index
from indexer.embedding import DIM
from indexer.store import current_build_path, read_chunks, read_embeddings, read_manifest
from kbserver.retrieval.reader import open_snapshot

DATA_ARTICLES = Path(__file__).parent / "data" / "articles"


class HashEncoder:
    """A unit vector per text, the same for the same text: what reuse must preserve."""

    calls: list[int] = []

    def encode(self, texts: list[str], **_kwargs) -> np.ndarray:
        HashEncoder.calls.append(len(texts))
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(text.encode("utf-8")[:8].ljust(8, b"\0"), "little") ^ len(text)
            v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
            out[i] = v / np.linalg.norm(v)
        return out


def unit_rows(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture
def articles(tmp_path) -> Path:
    folder = tmp_path / "articles"
    shutil.copytree(DATA_ARTICLES, folder)
    return folder


def build(articles: Path, root: Path, **kwargs):
    return build_index(articles, root, encoder_factory=HashEncoder, **kwargs)


def append_step(articles: Path, text: str) -> None:
    path = sorted(articles.rglob("*.md"))[0]
    path.write_text(path.read_text(encoding="utf-8") + f"\n{text}\n", encoding="utf-8")


# --- vectors.write, on its own ------------------------------------------------------------------


def test_a_new_log_holds_each_distinct_vector_once_in_order_of_first_use(tmp_path):
    fresh = unit_rows(3)
    stats = vectors.write(tmp_path, np.array([-1, -2, -1, -3]), fresh, base=None)

    assert stats == {"log_rows": 3, "appended": 3, "linked": 0}
    assert vectors.rows_in(tmp_path / vectors.LOG) == 3
    np.testing.assert_array_equal(vectors.gather(tmp_path), fresh[[0, 1, 0, 2]])
    np.testing.assert_array_equal(vectors.gather(tmp_path, transposed=True), fresh[[0, 1, 0, 2]].T)


def test_appending_links_the_base_log_and_never_changes_its_bytes(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir(), new.mkdir()
    first = unit_rows(4)
    vectors.write(old, np.array([-1, -2, -3, -4]), first, base=None)
    before = (old / vectors.LOG).read_bytes()

    second = unit_rows(1, seed=1)
    stats = vectors.write(new, np.array([0, 1, -1, 3]), second, base=old / vectors.LOG)

    assert stats == {"log_rows": 5, "appended": 1, "linked": 1}
    assert os.stat(new / vectors.LOG).st_ino == os.stat(old / vectors.LOG).st_ino  # one file, two builds
    assert (old / vectors.LOG).read_bytes()[: len(before)] == before
    np.testing.assert_array_equal(vectors.gather(old), first)  # the old build reads what it always read
    np.testing.assert_array_equal(vectors.gather(new), np.vstack([first[[0, 1]], second, first[[3]]]))


def test_a_torn_row_from_a_killed_build_is_not_a_row_and_is_written_over(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir(), new.mkdir()
    first = unit_rows(2)
    vectors.write(old, np.array([-1, -2]), first, base=None)
    with open(old / vectors.LOG, "ab") as fh:
        fh.write(b"\x01" * 100)  # a build killed in the middle of a row

    assert vectors.rows_in(old / vectors.LOG) == 2
    second = unit_rows(1, seed=2)
    vectors.write(new, np.array([1, -1]), second, base=old / vectors.LOG)

    assert vectors.rows_in(new / vectors.LOG) == 3
    np.testing.assert_array_equal(vectors.gather(new), np.vstack([first[[1]], second]))
    np.testing.assert_array_equal(vectors.gather(old), first)


def test_a_log_mostly_of_dead_rows_is_compacted_into_a_new_file(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir(), new.mkdir()
    first = unit_rows(10)
    vectors.write(old, -np.arange(1, 11), first, base=None)

    stats = vectors.write(new, np.array([7, 2]), unit_rows(1, seed=3)[:0], base=old / vectors.LOG)

    assert stats == {"log_rows": 2, "appended": 0, "linked": 0}
    assert os.stat(new / vectors.LOG).st_ino != os.stat(old / vectors.LOG).st_ino
    np.testing.assert_array_equal(vectors.gather(new), first[[7, 2]])
    np.testing.assert_array_equal(vectors.gather(old), first)


def test_a_slot_outside_the_log_is_refused(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir(), new.mkdir()
    vectors.write(old, np.array([-1]), unit_rows(1), base=None)

    with pytest.raises(ValueError, match="outside"):
        vectors.write(new, np.array([5]), unit_rows(0), base=old / vectors.LOG)
    np.save(old / vectors.SLOTS, np.array([3]))
    with pytest.raises(ValueError, match="outside"):
        vectors.gather(old)


# --- through build_index ------------------------------------------------------------------------


def test_a_one_edit_rebuild_appends_to_the_live_log_and_both_builds_read_their_own_vectors(articles, tmp_path):
    root = tmp_path / "index"
    build(articles, root)
    old = current_build_path(root)
    old_vectors = read_embeddings(old)
    old_rows = vectors.rows_in(old / vectors.LOG)

    append_step(articles, "- [ ] Ring the customer back when the courier has collected it.")
    report = build(articles, root)
    new = current_build_path(root)

    assert report.embedded >= 1  # the edited section (and whatever else its text reaches)
    assert os.stat(new / vectors.LOG).st_ino == os.stat(old / vectors.LOG).st_ino
    assert vectors.rows_in(new / vectors.LOG) == old_rows + report.embedded
    assert read_manifest(new).stats["vectors"] == {
        "log_rows": old_rows + report.embedded, "appended": report.embedded, "linked": 1,
    }
    np.testing.assert_array_equal(read_embeddings(old), old_vectors)
    by_hash = {c.hash: v for c, v in zip(read_chunks(old), old_vectors)}
    new_vectors = read_embeddings(new)
    for chunk, vector in zip(read_chunks(new), new_vectors):
        expected = by_hash.get(chunk.hash)
        if expected is None:
            expected = HashEncoder().encode([chunk.embed_text])[0]
        np.testing.assert_array_equal(vector, expected)
    assert open_snapshot(root).vectors_t.shape == (DIM, len(read_chunks(new)))


def test_identical_chunk_texts_share_one_row_of_the_log(articles, tmp_path):
    root = tmp_path / "index"
    build(articles, root)
    live = current_build_path(root)
    chunks = read_chunks(live)

    assert vectors.rows_in(live / vectors.LOG) == len({c.hash for c in chunks}) <= len(chunks)


def test_a_full_rebuild_writes_a_fresh_log_and_leaves_the_old_one_alone(articles, tmp_path):
    root = tmp_path / "index"
    build(articles, root)
    old = current_build_path(root)
    before = (old / vectors.LOG).read_bytes()

    build(articles, root, full=True)
    new = current_build_path(root)

    assert os.stat(new / vectors.LOG).st_ino != os.stat(old / vectors.LOG).st_ino
    assert (old / vectors.LOG).read_bytes() == before


def test_a_format_4_build_with_embeddings_npy_is_rebuilt_incrementally_without_embedding_anything(articles, tmp_path, monkeypatch):
    root = tmp_path / "index"
    build(articles, root)
    live = current_build_path(root)
    # Turn the live build into what format 4 wrote: one matrix in chunk order, no log.
    np.save(live / "embeddings.npy", read_embeddings(live), allow_pickle=False)
    expected = read_embeddings(live)
    for name in (vectors.LOG, vectors.SLOTS):
        (live / name).unlink()
    manifest = (live / store.MANIFEST).read_text(encoding="utf-8")
    (live / store.MANIFEST).write_text(manifest.replace(f'"format_version": {store.FORMAT_VERSION}', '"format_version": 4'))

    HashEncoder.calls.clear()
    report = build(articles, root)

    # Format 4 differs only in the vector layout: its parses, postings and HTML are reused too.
    assert not report.full and report.embedded == 0 and HashEncoder.calls == []
    new = current_build_path(root)
    assert read_manifest(new).stats["vectors"]["linked"] == 0  # a log of its own, written once
    np.testing.assert_array_equal(read_embeddings(new), expected)


def test_the_keyword_index_is_linked_from_the_live_build_and_the_old_one_stays_as_it_was(articles, tmp_path):
    root = tmp_path / "index"
    build(articles, root)
    old = current_build_path(root) / "whoosh"
    before = {p.name: p.read_bytes() for p in old.iterdir()}

    append_step(articles, "- [ ] Ring the customer back when the courier has collected it.")
    build(articles, root)
    new = current_build_path(root) / "whoosh"

    assert {p.name: p.read_bytes() for p in old.iterdir()} == before
    shared = [p.name for p in new.iterdir() if (old / p.name).exists() and os.stat(old / p.name).st_ino == os.stat(p).st_ino]
    assert any(name.endswith(".seg") for name in shared)  # the unchanged segment, not a copy
    assert "kb-schema" not in shared  # written anew, never through a link
    assert open_snapshot(root).keyword_index is not None


def test_rendered_html_is_one_article_per_line_and_unchanged_lines_are_copied(articles, tmp_path):
    root = tmp_path / "index"
    build(articles, root)
    old = current_build_path(root)
    old_lines = store.read_rendered_lines(old)
    assert store.read_rendered(old) == {aid: json.loads(v.value) for aid, v in old_lines.items()}

    append_step(articles, "- [ ] Ring the customer back when the courier has collected it.")
    report = build(articles, root)
    new_lines = store.read_rendered_lines(current_build_path(root))

    [edited] = report.changed
    assert {aid for aid in new_lines if new_lines[aid].line != old_lines[aid].line} == {edited}
    assert "Ring the customer back" in new_lines[edited].value


def test_a_one_line_rendered_json_of_format_4_is_still_reused(articles, tmp_path):
    root = tmp_path / "index"
    build(articles, root)
    live = current_build_path(root)
    rendered = store.read_rendered(live)
    (live / "rendered.json").write_text(json.dumps(rendered, ensure_ascii=False), encoding="utf-8")

    assert {aid: json.loads(v.value) for aid, v in store.read_rendered_lines(live).items()} == rendered


def test_files_unchanged_since_the_last_build_are_not_read_again_but_a_same_size_edit_is_seen(
    articles, tmp_path, monkeypatch
):
    from indexer import lint

    monkeypatch.setattr(lint, "RACY_NS", 0)  # the copies were just made: trust their times at once
    root = tmp_path / "index"
    build(articles, root)
    opened: list[str] = []

    def counting_open(path, *args, **kwargs):
        opened.append(str(path))
        return open(path, *args, **kwargs)

    monkeypatch.setattr(lint, "open", counting_open, raising=False)
    report = build(articles, root)
    assert report.changed == [] and not [p for p in opened if p.endswith(".md")]

    page = sorted(articles.rglob("*.md"))[1]
    text = page.read_text(encoding="utf-8")
    at = text.rindex("e")  # in the last section, not the front matter
    page.write_text(text[:at] + "E" + text[at + 1 :], encoding="utf-8")  # same size, same second
    report = build(articles, root)
    assert report.changed == [page.relative_to(articles).with_suffix("").as_posix()]
    assert [p for p in opened if p.endswith(".md")] == [str(page)]


@pytest.mark.parametrize("shape", [store.ARTICLES_SHAPE, store.RENDERED_SHAPE, store.CHUNKS_SHAPE])
def test_stored_records_are_copied_back_as_their_bytes_in_runs(tmp_path, shape):
    texts = ["{\"a\": 1}", "{\"b\": \"caf\u00e9 \u2028 line\"}", "{\"c\": \"\\n\"}", "{\"d\": []}", "{\"e\": 5}"]
    path = tmp_path / "records"
    store._write_shaped(path, [t.encode() for t in texts], shape)
    assert path.read_bytes() == shape["head"] + shape["sep"].join(t.encode() for t in texts) + shape["tail"]
    lines = store.StoredLines.read(path, **shape)
    assert [lines[i].decode() for i in range(len(lines))] == texts
    stored = [store.StoredChunk("x", "x", "h", lines, i) for i in range(len(lines))]
    writes = []

    class Counting(io.BytesIO):
        def write(self, b):
            writes.append(bytes(b))
            return super().write(b)

    out = Counting()
    # Two runs of stored records around a fresh one, then a record out of order.
    store.write_records(out, [stored[0], stored[1], b"{}", stored[2], stored[3], stored[1]], shape["sep"])
    assert out.getvalue() == shape["sep"].join([texts[0].encode(), texts[1].encode(), b"{}", texts[2].encode(),
                                                texts[3].encode(), texts[1].encode()])
    assert shape["sep"].join([texts[0].encode(), texts[1].encode()]) in writes  # one slice for the run
    assert stored[1].line == texts[1]


def test_a_file_of_another_shape_is_refused_not_misread(tmp_path):
    path = tmp_path / "articles.json"
    path.write_text('[{"id": "a"}, {"id": "b"}]', encoding="utf-8")  # one line, as before format 5
    with pytest.raises(ValueError):
        store.StoredLines.read(path, **store.ARTICLES_SHAPE)
    path.write_text('[\n{"id": "a"}\n{"id": "b"}\n]\n', encoding="utf-8")  # a separator missing
    with pytest.raises(ValueError):
        store.StoredLines.read(path, **store.ARTICLES_SHAPE)
    for shape, empty in [(store.ARTICLES_SHAPE, b"[\n\n]\n"), (store.CHUNKS_SHAPE, b"")]:
        path.write_bytes(empty)
        assert len(store.StoredLines.read(path, **shape)) == 0


def test_postings_are_npy_files_and_an_earlier_postings_npz_is_still_reused(articles, tmp_path, monkeypatch):
    from indexer import build as build_module

    root = tmp_path / "index"
    build(articles, root)
    live = current_build_path(root)
    folder = live / store.POSTINGS
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.npy" for n in store._POSTINGS_ARRAYS)
    n_chunks = len(read_chunks(live))
    # The layout before: one .npz archive. A rebuild from it analyses only the edited article.
    np.savez(live / "postings.npz", **{p.stem: np.load(p) for p in folder.iterdir()})
    shutil.rmtree(folder)
    analysed = []
    real = build_module.analyse_docs
    monkeypatch.setattr(build_module, "analyse_docs", lambda docs, fields: analysed.append(len(docs)) or real(docs, fields))
    append_step(articles, "- [ ] Ring the customer back when the courier has collected it.")
    build(articles, root)
    assert analysed and 0 < sum(analysed) < n_chunks / 4
    assert (current_build_path(root) / store.POSTINGS / "rows.npy").exists()
