"""The JSON API against a real index, through the real app and a real server on 127.0.0.1."""

from __future__ import annotations

import json
import re

import pytest
import requests

from indexer import store

from conftest import build_into, make_app


def test_healthz_reports_the_loaded_build(client, kb_index):
    body = client.get("/healthz").get_json()
    build = store.current_build_path(kb_index)
    fingerprint = store.content_fingerprint(store.read_manifest(build), store.read_examples(build)[0])
    assert body == {
        "status": "ok", "index_version": build.name, "fingerprint": fingerprint, "articles": 10, "examples": 0,
    }


def test_healthz_is_503_without_an_index(tmp_path):
    app = make_app(tmp_path / "empty", tmp_path)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"


def test_search_returns_ranked_articles_with_highlighted_snippets(client):
    body = client.get("/api/v1/search", query_string={"q": "send back an unwanted item", "limit": 3}).get_json()
    assert body["query"] == "send back an unwanted item"
    assert body["mode"] == "hybrid"
    assert len(body["results"]) == 3
    first = body["results"][0]
    assert first["article"]["id"] == "returns/start-a-return"
    assert set(first["article"]) == {"id", "title", "type", "summary", "owner", "url", "lang"}
    assert first["article"]["url"] == "/articles/returns/start-a-return"
    assert first["section"]
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)


def test_keyword_search_highlights_matched_terms(client):
    body = client.get("/api/v1/search", query_string={"q": "refund", "mode": "keyword"}).get_json()
    assert body["results"], body
    assert any("<mark" in r["snippet"] for r in body["results"])
    assert all(r["article"]["id"] for r in body["results"])


@pytest.mark.parametrize("mode", ["hybrid", "keyword", "semantic"])
def test_search_modes_and_filters(client, mode):
    body = client.get("/api/v1/search", query_string={"q": "returns", "mode": mode, "type": "policy"}).get_json()
    assert body["mode"] == mode
    assert body["results"]
    assert {r["article"]["type"] for r in body["results"]} == {"policy"}


def test_search_tag_filter_keeps_only_tagged_articles(client):
    body = client.get("/api/v1/search", query_string={"q": "parcel", "tag": "delivery"}).get_json()
    assert body["results"]
    for result in body["results"]:
        article = client.get(f"/api/v1/articles/{result['article']['id']}").get_json()["article"]
        assert "delivery" in [t.lower() for t in article["tags"]]


def test_did_you_mean_corrects_misspellings(client):
    body = client.get("/api/v1/search", query_string={"q": "refnud recieved"}).get_json()
    assert body["did_you_mean"] == "refund received"


def test_did_you_mean_is_null_for_correct_words(client):
    body = client.get("/api/v1/search", query_string={"q": "refund received"}).get_json()
    assert body["did_you_mean"] is None


@pytest.mark.parametrize(
    "q",
    ['"', "AND", "OR NOT", "*", "title:", "title:refund", "(((", ")", "refund*", "~2", "😀🔥", "\x00\x01\x7f", "a" * 300,
     "<script>alert(1)</script>", "' OR 1=1 --", "%%%", "\\", "[TO]"],
)
@pytest.mark.parametrize("mode", ["hybrid", "keyword"])
def test_search_never_fails_on_what_people_type(client, q, mode):
    response = client.get("/api/v1/search", query_string={"q": q, "mode": mode})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["query"] == q
    assert isinstance(body["results"], list)


def test_suggest_returns_every_step_in_order_with_policies(client):
    body = client.post(
        "/api/v1/suggest",
        json={"text": "Hi there, I'd like to send back a lamp I bought, it's not what I wanted. How do I do that? Thanks, Jo"},
    ).get_json()
    assert len(body["request_id"]) == 32
    assert body["no_confident_match"] is False
    top = body["suggestions"][0]
    assert top["article"]["id"] == "returns/start-a-return"
    assert top["confidence"] in {"high", "medium"}
    assert 0.0 <= top["score"] <= 1.0
    steps = top["steps"]
    assert [s["n"] for s in steps] == list(range(1, len(steps) + 1))
    assert len(steps) >= 5
    assert any(s["details"] for s in steps)
    assert [p["id"] for p in top["policies"]][:2] == ["returns/returns-policy", "returns/refund-policy"]
    assert top["policies"][0]["exceptions"]
    assert top["escalation"]
    assert top["follow_up"] and all(isinstance(item, str) for item in top["follow_up"])
    assert top["why"]
    assert top["article"]["updated"]


def test_suggest_steps_match_the_article_source(client, kb_index):
    snapshot_articles = {a.id: a for a in store.read_articles(store.current_build_path(kb_index))}
    body = client.post("/api/v1/suggest", json={"text": "parcel is late, where is it?", "limit": 1}).get_json()
    top = body["suggestions"][0]
    article = snapshot_articles[top["article"]["id"]]
    assert [(s["n"], s["text"], tuple(s["details"])) for s in top["steps"]] == [
        (s.n, s.text, s.details) for s in article.steps
    ]


def test_suggest_for_a_policy_returns_its_sections(client):
    body = client.post("/api/v1/suggest", json={"text": "what's your policy on refunds to a gift card?", "limit": 3}).get_json()
    policy = next(s for s in body["suggestions"] if s["article"]["type"] != "procedure")
    assert policy["steps"] == []
    assert policy["sections"] and all(s["html"] for s in policy["sections"])


def test_suggest_flags_off_topic_messages(client):
    body = client.post("/api/v1/suggest", json={"text": "how do I bake sourdough bread at home?"}).get_json()
    assert body["no_confident_match"] is True
    assert all(s["confidence"] == "low" for s in body["suggestions"])


def test_a_deployment_moves_the_no_match_threshold(kb_index, tmp_path):
    message = {"text": "Hi there, I'd like to send back a lamp I bought, it's not what I wanted."}
    strict = make_app(kb_index, tmp_path, NO_MATCH_THRESHOLD=1.5).test_client()  # above any score
    body = strict.post("/api/v1/suggest", json=message).get_json()
    assert body["no_confident_match"] is True
    assert body["suggestions"][0]["article"]["id"] == "returns/start-a-return"  # ranking is unchanged

    lenient = make_app(kb_index, tmp_path, NO_MATCH_THRESHOLD="0.01").test_client()
    body = lenient.post("/api/v1/suggest", json={"text": "how do I bake sourdough bread at home?"}).get_json()
    assert body["no_confident_match"] is False

    with pytest.raises(ValueError, match="KB_NO_MATCH_THRESHOLD must be a suggest score"):
        make_app(kb_index, tmp_path, NO_MATCH_THRESHOLD="high")


def test_suggest_limit_is_respected(client):
    body = client.post("/api/v1/suggest", json={"text": "I want a refund", "limit": 1}).get_json()
    assert len(body["suggestions"]) == 1


def test_article_fetch_returns_structure_and_sanitised_html(client):
    body = client.get("/api/v1/articles/returns/start-a-return").get_json()
    assert body["article"]["id"] == "returns/start-a-return"
    assert body["article"]["type"] == "procedure"
    assert body["steps"][0]["n"] == 1
    keys = [s["key"] for s in body["sections"]]
    assert "steps" in keys and "follow_up" in keys
    steps_html = next(s["html"] for s in body["sections"] if s["key"] == "steps")
    assert steps_html.startswith("<ol>")
    assert [p["id"] for p in body["policies"]] == ["returns/returns-policy", "returns/refund-policy"]


def test_openapi_describes_every_api_route(client, app):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    documented = set(spec["paths"])
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "static":
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))  # <int:id> -> {id}
            assert path in documented, f"{rule.rule} is not in openapi.json"


def test_real_server_answers_suggest_over_http(live_server):
    response = requests.post(
        f"{live_server.url}/api/v1/suggest", json={"text": "my order still hasn't arrived"}, timeout=30
    )
    assert response.status_code == 200
    assert response.json()["suggestions"][0]["article"]["id"] == "delivery/where-is-my-order"


@pytest.mark.slow  # builds its own index
def test_service_picks_up_a_new_build_without_restart(tmp_path, articles_copy, onnx_model):
    root = tmp_path / "index"
    build_into(articles_copy, root, onnx_model)
    app = make_app(root, tmp_path)
    client = app.test_client()
    first = client.get("/healthz").get_json()["index_version"]
    (articles_copy / "returns" / "gift-receipt.md").write_text(
        "---\ntitle: Gift receipts\ntype: policy\nsummary: What a gift receipt lets the recipient do.\n"
        "owner: Returns team\naudience: public\n---\n\n## The rules\n\nA gift receipt allows an exchange or store credit.\n"
    )
    build_into(articles_copy, root, onnx_model)
    body = client.get("/healthz").get_json()
    assert body["index_version"] != first
    assert body["articles"] == 11
    assert client.get("/api/v1/articles/returns/gift-receipt").status_code == 200


@pytest.mark.slow  # builds its own index
def test_broken_new_build_keeps_the_old_one_serving(tmp_path, articles_copy, onnx_model):
    root = tmp_path / "index"
    build_into(articles_copy, root, onnx_model)
    app = make_app(root, tmp_path)
    client = app.test_client()
    good = client.get("/healthz").get_json()["index_version"]
    broken = store.builds_dir(root) / "29990101T000000-broken"
    broken.mkdir()
    (broken / "manifest.json").write_text(json.dumps({"format_version": store.FORMAT_VERSION}))
    (root / "CURRENT").write_text(broken.name + "\n")
    body = client.get("/healthz").get_json()
    assert body["index_version"] == good
    assert client.post("/api/v1/suggest", json={"text": "refund"}).status_code == 200


def test_suggest_cuts_the_email_cruft_off_a_message_once(client, monkeypatch):
    from kbserver.retrieval import message

    calls = []
    cut = message.strip_email_cruft

    def counting(text):
        calls.append(text)
        return cut(text)

    monkeypatch.setattr(message, "strip_email_cruft", counting)
    email = "My parcel has not arrived, where is it?\n\nOn Mon, 3 Mar 2026 at 10:15, Larkspur wrote:\n> sorry"
    response = client.post("/api/v1/suggest", json={"text": email})
    assert response.status_code == 200 and response.get_json()["suggestions"]
    assert calls == [email]  # the limit, ranking and the query log share one cut


def test_suggest_gives_exceptions_offers_and_escalation_as_lists_too(client):
    data = client.post("/api/v1/suggest", json={"text": "I want to return a tent I bought two weeks ago"}).get_json()
    top = data["suggestions"][0]
    items = top["section_items"]
    assert set(items) == {"exceptions", "what_you_can_offer", "escalation"}
    for key in items:
        if top[key]:
            assert items[key] and all(isinstance(i, str) and i for i in items[key])
            # Each item is text of the Markdown, without its bullet.
            assert all(not i.startswith(("- ", "* ")) and i.split()[0] in top[key] for i in items[key])
        else:
            assert items[key] == []
    for policy in top["policies"]:
        assert set(policy["section_items"]) == {"exceptions", "what_you_can_offer"}
