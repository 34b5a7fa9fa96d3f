"""`kb learn train`: a real fine-tune on a tiny set, published only when it does not lose (issue 18)."""

from __future__ import annotations

import json
import random
import re
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from indexer import adapt
from indexer.embedding import MODEL_SHA256, file_sha256
from indexer.store import (
    Example,
    current_build_path,
    read_chunks,
    read_embeddings,
    read_manifest,
)
from kbserver.cli import main

from conftest import DATA_ARTICLES, build_into, make_app

pytestmark = pytest.mark.slow  # two real trainings and ONNX exports: about 40 s together

# Six plain messages for each of three articles: one of each is held out to check on.
# None of the three is the first article by id, so a collapsed model (every vector alike,
# every query "nearest" to the first article) scores 0 on them.
MESSAGES = {
    "delivery/where-is-my-order": [
        "where is my parcel", "my order has not arrived yet", "tracking says nothing for days",
        "when will my delivery come", "the courier never turned up", "order still not delivered",
    ],
    "products/gift-cards": [
        "how do i check my gift card balance", "gift card code not working", "can i use two gift cards",
        "my gift card expired", "buy a gift voucher for a friend", "gift card balance is wrong",
    ],
    "returns/wrong-size-exchange": [
        "boots are too small, can i swap them", "need a bigger size", "exchange jacket for a medium",
        "the shoes are the wrong size", "swap for a smaller size please", "trousers too long, want another size",
    ],
}


def kb(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def learned(tmp_path_factory, onnx_model):
    """An index root of tests/data/articles and a database holding MESSAGES, before any training."""
    work = tmp_path_factory.mktemp("adapt")
    root = work / "index"
    build_into(DATA_ARTICLES, root, onnx_model)
    tickets = work / "tickets.jsonl"
    tickets.write_text("".join(json.dumps({"text": t, "article_id": a}) + "\n" for a, ts in MESSAGES.items() for t in ts))
    database = str(work / "kb.sqlite3")
    assert kb("learn", "import", str(tickets), "--articles", str(DATA_ARTICLES), "--database", database).exit_code == 0
    return root, database


@pytest.fixture(scope="module")
def trained(learned, tmp_path_factory):
    """The same root after one accepted `kb learn train` (trained once for the module)."""
    source, database = learned
    root = tmp_path_factory.mktemp("trained") / "index"
    shutil.copytree(source, root, symlinks=True)
    result = kb("learn", "train", "--index", str(root), "--articles", str(DATA_ARTICLES), "--database", database, "--json")
    assert result.exit_code == 0, result.output
    return root, database, json.loads(result.stdout)


@pytest.fixture
def trained_copy(trained, tmp_path):
    """A writable copy of the trained root, so no test sees another's builds."""
    root, database, report = trained
    copy = tmp_path / "index"
    shutil.copytree(root, copy, symlinks=True)
    return copy, database, report


def index(root, database):
    return kb("index", "--articles", str(DATA_ARTICLES), "--index", str(root), "--database", database)


def test_no_duplicate_batches_never_put_one_article_twice_in_a_batch():
    pairs = [adapt.Pair(f"q{i}", f"a{i % 5}", f"art-{i % 5}") for i in range(23)] + [adapt.Pair("x", "y", "art-0")] * 6

    batches = adapt.no_duplicate_batches(pairs, 4, random.Random(1))

    assert all(2 <= len(b) <= 4 and len({p.article_id for p in b}) == len(b) for b in batches)
    assert sum(len(b) for b in batches) >= len(pairs) - 10  # only the surplus of art-0 is left over


def test_held_out_split_keeps_a_tenth_of_each_article_with_five_or_more_examples():
    examples = [Example(i, f"a{i % 3}", f"text {i}", 1.0, str(i)) for i in range(3 * 11)] + [Example(99, "small", "t", 1.0, "h")]

    train, held = adapt.split_examples(examples, 0.1, seed=18)

    assert sorted(e.article_id for e in held) == ["a0", "a1", "a2"]
    assert len(train) + len(held) == len(examples) and "small" in {e.article_id for e in train}


def test_train_publishes_a_model_whose_manifest_checksum_matches_its_weights(trained):
    root, _, report = trained

    folder = root / report["folder"]
    record = json.loads((folder / "adaptation.json").read_text())
    assert report["is_published"] and (root / "models" / "adapted" / "CURRENT").read_text().strip() == folder.name
    assert record["model_sha256"] == file_sha256(folder / "model.safetensors") == report["model_sha256"] != MODEL_SHA256
    assert folder.name == record["model_sha256"][:16] and (folder / record["onnx"]).is_file()
    assert (record["base_model_sha256"], record["settings"]["seed"], record["settings"]["epochs"]) == (MODEL_SHA256, 18, 1)
    assert record["held_out_examples"] == 3 and record["examples"] == 18
    held = record["held_out"]["examples"]
    assert held["cases"] == 3 and held["adapted_hit_at_1"] >= held["base_hit_at_1"]
    assert record["data_sha256"] == adapt.data_fingerprint(_trained_on(record))


def _trained_on(record):
    """The (article, text) pairs the record says were trained on: all examples but the held-out ones."""
    train, _held = adapt.split_examples(
        [Example(i, a, t, 1.0, "") for i, (a, t) in enumerate((a, t) for a, ts in MESSAGES.items() for t in ts)],
        record["settings"]["held_out_share"], record["settings"]["seed"],
    )
    return [(e.article_id, e.text) for e in train]


def test_build_after_training_embeds_with_the_adapted_model_and_queries_use_it(trained_copy, tmp_path):
    root, database, report = trained_copy
    before = current_build_path(root)

    result = index(root, database)

    assert result.exit_code == 0, result.output
    build = current_build_path(root)
    manifest = read_manifest(build)
    assert (manifest.model_path, manifest.model_sha256) == (report["folder"], report["model_sha256"])
    assert "full build" in result.stdout  # a new model shares no vector with the old one...
    # ...but training embedded every chunk already: only the (unique) trained-on example texts are new.
    assert int(re.search(r"\((\d+) chunks embedded", result.stdout).group(1)) <= 15
    adapted = adapt.active_model(root)
    chunk = read_chunks(build)[0]
    vector = read_embeddings(build)[0]
    from indexer.embedding import query_encoder

    assert np.allclose(vector, query_encoder(root, adapted).encode([chunk.embed_text])[0], atol=1e-5)
    assert read_manifest(before).model_sha256 == MODEL_SHA256
    assert not np.allclose(vector, read_embeddings(before)[0], atol=1e-3)  # re-embedded, not reused
    app = make_app(root, tmp_path)
    with app.app_context():
        from kbserver.runtime import get_index, services

        assert services().embedder_for(get_index())._encoder.sha256 == report["model_sha256"]
    evaluated = kb("eval", "--index", str(root), "--queries", str(_queries(tmp_path)), "--mode", "semantic", "--json")
    assert evaluated.exit_code == 0 and json.loads(evaluated.stdout)["hit_at_1"] == 1.0


def _queries(tmp_path):
    path = tmp_path / "queries.jsonl"
    path.write_text(json.dumps({"query": "my gift card code does not work", "relevant": ["products/gift-cards"]}) + "\n")
    return path


def test_a_model_that_loses_on_held_out_messages_is_refused(learned, tmp_path):
    source, database = learned
    root = tmp_path / "index"
    shutil.copytree(source, root, symlinks=True)

    # A learning rate this high wrecks the weights in a few steps: a real run that loses.
    result = kb("learn", "train", "--index", str(root), "--articles", str(DATA_ARTICLES), "--database", database,
                "--learning-rate", "0.05")

    assert result.exit_code == 1
    assert "refused: the adapted model's hit@1" in result.stderr and "below the base model's" in result.stderr
    assert "held-out examples: 3 cases, hit@1 base 1.000 adapted" in result.stdout
    assert adapt.active_model(root).is_base
    assert [p.name for p in (root / "models" / "adapted").iterdir()] == []
    assert index(root, database).exit_code == 0
    assert read_manifest(current_build_path(root)).model_sha256 == MODEL_SHA256


def test_reset_returns_to_the_base_model(trained_copy):
    root, database, report = trained_copy
    assert index(root, database).exit_code == 0

    result = kb("learn", "train", "--index", str(root), "--reset")

    assert result.exit_code == 0 and f"was {report['folder'].rsplit('/', 1)[1]}" in result.stdout
    assert adapt.active_model(root).is_base
    assert index(root, database).exit_code == 0
    manifest = read_manifest(current_build_path(root))
    assert (manifest.model_path, manifest.model_sha256) == ("", MODEL_SHA256)
