"""Ranking details that the labelled-set guard would only catch in bulk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.embedding import get_encoder, onnx_file
from kbserver.retrieval import answers
from kbserver.retrieval import scoring as ranking
from kbserver.retrieval.embedder import QueryEmbedder
from kbserver.retrieval.reader import open_snapshot

from conftest import build_into


@pytest.fixture(scope="module")
def sample(sample_index: Path):
    view = open_snapshot(sample_index).view(allow_internal=True)
    embedder = QueryEmbedder(get_encoder(onnx_path=onnx_file(sample_index / "models")))
    return view, embedder


def test_a_question_about_a_product_gets_the_product_page_not_the_procedure(sample):
    view, embedder = sample
    ranked = ranking.rank(view, embedder, "how many km does the kestrel do on a full battery", for_suggest=True, top=3)
    assert ranked[0].article.id == "products/kestrel-e-bike"
    ranked = ranking.rank(view, embedder, "my kestrel battery won't charge any more", for_suggest=True, top=3)
    assert ranked[0].article.type == "procedure"


def test_a_misspelt_word_ranks_like_the_word(sample):
    view, embedder = sample
    typed = ranking.rank(view, None, "retrun", mode="keyword", top=3)
    fixed = ranking.rank(view, None, "return", mode="keyword", top=3)
    assert [(r.article.id, r.score) for r in typed] == [(r.article.id, r.score) for r in fixed] != []
    unfixed = ranking.rank(view, None, "retrun", mode="keyword", params=ranking.RankParams(fix_typos=False))
    assert unfixed == []  # no article has the word as typed
    message = "changed my mind about the air fryer can i retrun it"
    assert ranking.rank(view, embedder, message, for_suggest=True, top=1)[0].article.id == "returns/start-a-return"


def reference_semantic(view, embedder, cleaned):
    """Semantic evidence as the ranking module's docstring states it, every sentence against every chunk."""
    snap = view.snapshot
    sentences = ranking.content_sentences(cleaned)
    vectors = embedder.embed(cleaned, sentences)
    sims = vectors @ snap.vectors_t
    chunk = np.maximum(sims[0], ranking.SENTENCE_WEIGHT * sims[1:].max(axis=0)) if sentences else sims[0]
    out = []
    for a, (lo, hi) in enumerate(zip(snap.group_starts, snap.group_ends)):
        overview = sims[0][snap.overview_row[a]]
        aliases = [sims[0][r] for r in range(lo, hi) if snap.is_alias[r]]
        sections = [chunk[r] for r in range(lo, hi) if snap.is_section[r]]
        whole_sections = [sims[0][r] for r in range(lo, hi) if snap.is_section[r]]
        top3 = np.sort(chunk[lo:hi])[::-1][:3].mean()
        alias = max(aliases, default=max(overview, max(whole_sections, default=overview)))
        out.append((alias + overview + max(sections, default=overview) + top3) / 4)
    return np.array(out)


def test_shortlisted_articles_get_exactly_the_stated_evidence(sample, monkeypatch):
    view, embedder = sample
    cleaned = ranking.clean_query(
        "Hi, I ordered a sofa three weeks ago and it still has not arrived. "
        "Also the discount code from your email did not work at checkout. Can you help with both? Thanks"
    )
    params = ranking.RankParams(use_examples=False)
    expected = reference_semantic(view, embedder, cleaned)
    semantic = ranking._semantic(view, embedder, cleaned, params).semantic
    assert len(expected) < ranking.RERANK_DEPTH  # every article of the sample is shortlisted
    assert np.allclose(semantic, expected, atol=1e-6)
    monkeypatch.setattr(ranking, "RERANK_DEPTH", 5)
    evidence = ranking._semantic(view, embedder, cleaned, params)
    semantic, best_row = evidence.semantic, evidence.best_row
    shortlist = np.argsort(-semantic)[:5]
    assert np.allclose(semantic[shortlist], expected[shortlist], atol=1e-6)
    assert all(view.snapshot.chunk_article[best_row[a]] == a for a in range(len(semantic)))


def test_articles_without_aliases_get_exactly_the_stated_evidence(sample, monkeypatch):
    view, embedder = sample
    cleaned = ranking.clean_query("my parcel says delivered but it is not here, I have looked everywhere")
    monkeypatch.setattr(view.snapshot, "is_alias", np.zeros_like(view.snapshot.is_alias))
    semantic = ranking._semantic(view, embedder, cleaned, ranking.RankParams(use_examples=False)).semantic
    assert np.allclose(semantic, reference_semantic(view, embedder, cleaned), atol=1e-6)


def test_confidence_is_judged_alike_for_articles_with_and_without_aliases(sample):
    from dataclasses import replace

    view, embedder = sample
    [top] = ranking.rank(view, embedder, "where is my parcel, it should have come yesterday", for_suggest=True, top=1)
    assert top.article.aliases
    just_under = replace(top, score=ranking.NO_MATCH_THRESHOLD - ranking.ALIASLESS_OFFSET / 2)
    without = replace(just_under, article=replace(top.article, aliases=()))
    assert not ranking.is_confident([just_under])
    assert ranking.is_confident([without])  # the same score is a better match for an article without aliases
    assert ranking.confidence_score(without) == pytest.approx(just_under.score + ranking.ALIASLESS_OFFSET)
    assert ranking.confidence_score(without, mode="semantic") == without.score  # semantic search: raw scores


def test_a_quoted_agent_reply_does_not_steer_the_suggestion(sample):
    view, embedder = sample
    message = "The sofa still hasn't been delivered and it was due last Tuesday."
    email = (
        message + "\n\nSent from my iPhone\n\nOn Mon, 3 Mar 2026 at 10:15, Larkspur <help@larkspur.co.uk> wrote:\n"
        "> We have refunded your return to your card; refunds take 3-5 working days to show.\n"
        "> If you paid with PayPal the refund goes back to your PayPal balance."
    )
    bare = ranking.rank(view, embedder, message, for_suggest=True, top=3)
    replied = ranking.rank(view, embedder, email, for_suggest=True, top=3)
    assert [r.article.id for r in replied] == [r.article.id for r in bare]


def test_the_int8_query_encoder_is_made_on_first_use_and_ranks_like_fp32(sample_index: Path, tmp_path):
    from indexer.embedding import onnx_file, query_model

    models = tmp_path / "models"
    models.mkdir()
    (models / onnx_file(models).name).symlink_to(onnx_file(sample_index / "models"))
    path = query_model(models, "int8")
    assert path == onnx_file(models, "int8") and path.is_file()
    assert path.stat().st_size < 0.7 * onnx_file(models).stat().st_size  # MatMul weights at 1 byte, embeddings not
    fast = get_encoder(onnx_path=path)
    exact = get_encoder(onnx_path=onnx_file(sample_index / "models"))
    assert fast is not exact
    messages = ["my parcel never came", "Hi, the kettle I bought last week leaks from the base. Can I get a new one?"]
    similarity = (fast.encode(messages) * exact.encode(messages)).sum(axis=1)
    assert np.all(similarity > 0.97) and np.all(similarity < 0.99999)
    view = open_snapshot(sample_index).view(allow_internal=True)
    for message in messages:
        a = ranking.rank(view, QueryEmbedder(fast), message, for_suggest=True, top=1)
        b = ranking.rank(view, QueryEmbedder(exact), message, for_suggest=True, top=1)
        assert a[0].article.id == b[0].article.id


def test_an_unknown_query_encoder_is_refused(tmp_path):
    from kbserver.runtime import Services

    with pytest.raises(ValueError, match="KB_QUERY_ENCODER"):
        Services(tmp_path, 2.0, 1, "on", "int4")


def test_kb_serve_refuses_an_unknown_query_encoder_in_one_line(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from kbserver.cli import main

    monkeypatch.delenv("KB_INDEX_DIR", raising=False)  # kb serve sets it; put back what was there

    result = CliRunner().invoke(main, ["serve", "--index", str(tmp_path)], env={"KB_QUERY_ENCODER": "int4"})
    assert result.exit_code != 0
    assert "KB_QUERY_ENCODER must be one of fp32, int8" in result.output and "Traceback" not in result.output

    result = CliRunner().invoke(main, ["serve", "--index", str(tmp_path)], env={"KB_NO_MATCH_THRESHOLD": "0,6"})
    assert result.exit_code != 0
    assert "KB_NO_MATCH_THRESHOLD must be a suggest score" in result.output and "Traceback" not in result.output


@pytest.mark.slow  # builds its own index
def test_an_imported_articles_headings_and_misfiled_policies_reach_suggest(articles_copy, tmp_path, onnx_model):
    """Another team's article: steps under `## Procedure`, `## Escalation path`, a product under
    `policies`. Lint warns, the build publishes, and suggest shows each part where it belongs."""
    path = articles_copy / "delivery" / "where-is-my-order.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("## Steps", "## Procedure").replace("## Escalation", "## Escalation path").replace(
            "policies: [delivery/delivery-policy]", "policies: [delivery/delivery-policy, products/gift-cards]"),
        encoding="utf-8",
    )
    report = build_into(articles_copy, tmp_path / "ix", onnx_model)
    assert sorted(f.message.split(":")[0] for f in report.warnings) == [
        "'## Procedure' read as '## Steps'", "'policies' names 'products/gift-cards', which is a product, not a policy"
    ]
    view = open_snapshot(tmp_path / "ix").view(allow_internal=True)
    embedder = QueryEmbedder(get_encoder(onnx_path=onnx_model))

    answer = answers.suggest(view, embedder, "my parcel still hasn't come, where is it", request_id="r1", url_for_article=str)
    top = answer.to_json()["suggestions"][0]

    assert top["article"]["id"] == "delivery/where-is-my-order"
    assert len(top["steps"]) >= 5 and top["escalation"]
    assert [p["id"] for p in top["policies"]][0] == "delivery/delivery-policy"
    assert "products/gift-cards" not in [p["id"] for p in top["policies"]]
    assert "products/gift-cards" in [r["id"] for r in top["related"]]
    # The article API and page take both lists from the same function.
    policies, related = answers.policies_and_related(view, view.get("delivery/where-is-my-order"))
    assert ([p.id for p in policies], [r.id for r in related]) == (["delivery/delivery-policy"], ["products/gift-cards"])
