"""Search that agents can steer (kbserver/retrieval/steer.py): Whoosh parses the query and the
build's Whoosh index says which articles satisfy it; tested on a real build of tests/data/articles."""

from __future__ import annotations

import re
import shutil

import pytest

from indexer import store
from indexer.keyword import SCHEMA_FILE
from kbserver.retrieval.reader import open_snapshot
from kbserver.retrieval.steer import ranked_words, steer

from conftest import build_into, make_app


def search(client, q: str, mode: str = "hybrid", **extra) -> dict:
    response = client.get("/api/v1/search", query_string={"q": q, "mode": mode, "limit": 20, **extra})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ids(data: dict) -> list[str]:
    return [r["article"]["id"] for r in data["results"]]


def article_text(client, article_id: str) -> str:
    data = client.get(f"/api/v1/articles/{article_id}").get_json()
    a = data["article"]
    return " ".join([a["title"], a["summary"], *a["aliases"], *(s["text"] for s in data["sections"])]).lower()


MODES = ["hybrid", "keyword", "semantic"]


def about(client, article_id: str) -> str:
    """What an article is about: its title, aliases, summary and tags."""
    a = client.get(f"/api/v1/articles/{article_id}").get_json()["article"]
    return " ".join([a["title"], a["summary"], *a["aliases"], *a["tags"]]).lower()


@pytest.mark.parametrize("mode", MODES)
def test_an_exclusion_removes_every_article_about_it(client, mode):
    plain = ids(search(client, "refund", mode))
    assert "products/gift-cards" in plain  # gift cards talk about refunds too
    for q in ("refund -gift", "refund NOT gift"):
        data = search(client, q, mode)
        assert data["steered"] is True and data["results"]
        assert "products/gift-cards" not in ids(data)
        assert all("gift" not in about(client, a) for a in ids(data)), q
    # A passing mention in the body does not exclude: the refund policy mentions gift cards.
    assert "gift" in article_text(client, "returns/refund-policy")
    assert "returns/refund-policy" in ids(search(client, "refund -gift", mode))
    # A field the agent names is excluded as typed.
    assert "returns/refund-policy" not in ids(search(client, "refund -body:gift", mode))


@pytest.mark.parametrize("mode", MODES)
def test_a_quoted_phrase_must_appear_as_written(client, mode):
    data = search(client, '"proof of postage"', mode)
    assert ids(data) == ["returns/refund-policy"]
    assert "proof" in data["results"][0]["snippet"].lower()
    # The same words unquoted rank loosely, as they always have.
    assert len(ids(search(client, "proof of postage", mode))) > 1


def test_fields_narrow_to_title_type_tag_and_owner(client):
    titles = {r["article"]["title"] for r in search(client, "title:refund")["results"]}
    assert titles == {"Refund policy"}
    policies = search(client, "type:policy")["results"]
    assert policies and all(r["article"]["type"] == "policy" for r in policies)
    # Nothing but constraints: every qualifying article, in title order.
    assert [r["article"]["title"] for r in policies] == sorted(r["article"]["title"] for r in policies)
    assert set(ids(search(client, "owner:returns"))) == {
        "returns/refund-policy", "returns/returns-policy", "returns/start-a-return", "returns/wrong-size-exchange"}
    tagged = search(client, "tag:returns refund")
    assert tagged["results"] and all("returns" in [t.lower() for t in tag_list(client, a)] for a in ids(tagged))
    without = ids(search(client, "type:Policy -privacy"))
    assert without and "account/data-privacy-policy" not in without
    assert set(without) < {r["article"]["id"] for r in policies}


def tag_list(client, article_id: str) -> list[str]:
    return client.get(f"/api/v1/articles/{article_id}").get_json()["article"]["tags"]


def test_prefixes_and_fuzzy_terms_match_words_of_the_index(client):
    prefixed = search(client, "refun*", "keyword")
    assert prefixed["steered"] and "returns/refund-policy" in ids(prefixed)
    assert all(re.search(r"\brefun", article_text(client, a)) for a in ids(prefixed))
    fuzzy = search(client, "refnd~", "keyword")
    assert "returns/refund-policy" in ids(fuzzy)
    assert "products/gift-cards" in ids(search(client, "gfit~2 card", "keyword"))  # a swap is two edits


@pytest.mark.parametrize("q", ['a (b', 'foo:bar refund', '"unbalanced refund', 'NOT', 'AND OR', '*', '-', 'title:', '~', '+',
                               'where is my order?', "can't log in - help", 'e-mail address', '((((', ':::', '"""'])
def test_anything_else_is_read_as_plain_words_and_never_errors(client, q):
    response = client.get("/api/v1/search", query_string={"q": q})
    assert response.status_code == 200, response.get_json()


def test_plain_words_are_not_steered_and_rank_as_before(client, kb_index):
    for q in ("where is my order?", "e-mail address", "refund not received", "can't log in - help", "wi-fi"):
        data = search(client, q)
        assert data["steered"] is False, q
    snapshot = open_snapshot(kb_index)
    assert steer(snapshot, "where is my order?") is None
    assert steer(snapshot, "refund -gift") is not None


def test_internal_articles_stay_hidden_from_a_steered_search(kb_index, tmp_path):
    # The exchange procedure is internal: no field or phrase reaches it for a public caller.
    public = make_app(kb_index, tmp_path, ANONYMOUS_SCOPES="search,suggest,feedback").test_client()
    for q in ("owner:returns", "title:exchange", '"different size"', "exchan*", "type:procedure"):
        assert "returns/wrong-size-exchange" not in ids(search(public, q)), q


def test_ranked_words_drop_operators_fields_and_exclusions():
    assert ranked_words('"proof of postage" -gift') == "proof of postage"
    assert ranked_words("title:refund NOT gift card") == "refund card"
    assert ranked_words('refun* refnd~2 -"gift card" (late)') == "refun refnd late"
    assert ranked_words("foo:bar e-mail") == "foo:bar e-mail"
    assert ranked_words('type:policy tag:"late order" owner:returns refund') == "refund"


def test_a_build_rewrites_a_whoosh_index_of_an_older_schema(tmp_path, onnx_model, articles_copy):
    root = tmp_path / "index"
    build_into(articles_copy, root, onnx_model)
    live = store.current_build_path(root)
    (live / "whoosh" / SCHEMA_FILE).unlink()  # as a build of the previous schema left it
    # Served as it is, a steered query is read as plain words rather than failing.
    old = make_app(root, tmp_path / "old").test_client()
    data = search(old, "owner:delivery -gift")
    assert data["steered"] is False
    page = articles_copy / "returns" / "refund-policy.md"
    page.write_text(page.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    build_into(articles_copy, root, onnx_model)
    rebuilt = store.current_build_path(root)
    assert (rebuilt / "whoosh" / SCHEMA_FILE).exists()
    client = make_app(root, tmp_path).test_client()
    assert set(ids(search(client, "owner:delivery"))) == {"delivery/delivery-policy", "delivery/where-is-my-order"}
    shutil.rmtree(live, ignore_errors=True)


def test_constraints_nothing_satisfies_are_read_as_words(client):
    # A typo inside a phrase, or text full of quotes and brackets pasted from somewhere: results, not none.
    typo = search(client, '"proof of postagee"')
    assert typo["steered"] is False and "returns/refund-policy" in ids(typo)
    pasted = search(client, '<a onmouseover="alert(1)">refund</a>')
    assert pasted["results"]
    # Exclusions still hold when the constraints are loosened.
    loosened = search(client, '"refund zzqx" -gift')
    assert loosened["steered"] is True and loosened["results"]
    assert all("gift" not in about(client, a) for a in ids(loosened))
