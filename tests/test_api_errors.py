"""Every way a request can be wrong gets a JSON error with a 4xx status: never a 500 or HTML."""

from __future__ import annotations

import pytest


def assert_canonical_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) >= {"error"}
    assert set(body["error"]) >= {"code", "message"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    assert "Traceback" not in response.get_data(as_text=True)
    return body


@pytest.mark.parametrize(
    "data, content_type, status, code",
    [
        ("{bad json", "application/json", 400, "malformed_json"),
        ("[1, 2]", "application/json", 400, "malformed_json"),
        ('"text"', "application/json", 400, "malformed_json"),
        ("", "application/json", 400, "malformed_json"),
        ("\xff\xfe", "application/json", 400, "malformed_json"),
        ("text=hello", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ("{}", "application/json", 400, "missing_text"),
        ('{"text": ""}', "application/json", 400, "empty_text"),
        ('{"text": "   "}', "application/json", 400, "empty_text"),
        ('{"text": 42}', "application/json", 400, "invalid_text"),
        ('{"text": null}', "application/json", 400, "missing_text"),
        ('{"text": ["a"]}', "application/json", 400, "invalid_text"),
        ('{"text": "refund", "limit": 0}', "application/json", 400, "invalid_limit"),
        ('{"text": "refund", "limit": -1}', "application/json", 400, "invalid_limit"),
        ('{"text": "refund", "limit": 1000}', "application/json", 400, "invalid_limit"),
        ('{"text": "refund", "limit": "three"}', "application/json", 400, "invalid_limit"),
        ('{"text": "refund", "limit": 2.5}', "application/json", 400, "invalid_limit"),
        ('{"text": "refund", "limit": true}', "application/json", 400, "invalid_limit"),
    ],
)
def test_suggest_rejects_bad_bodies(client, data, content_type, status, code):
    response = client.post("/api/v1/suggest", data=data, content_type=content_type)
    assert_canonical_error(response, status, code)


def test_suggest_text_over_the_limit_is_400(client, app):
    text = "x" * (app.config["MAX_TEXT_CHARS"] + 1)
    assert_canonical_error(client.post("/api/v1/suggest", json={"text": text}), 400, "text_too_long")


def test_body_over_the_limit_is_413(client, app):
    body = '{"text": "' + "x" * app.config["MAX_CONTENT_LENGTH"] + '"}'
    response = client.post("/api/v1/suggest", data=body, content_type="application/json")
    assert_canonical_error(response, 413, "body_too_large")


@pytest.mark.parametrize(
    "query, code",
    [
        ({}, "missing_q"),
        ({"q": ""}, "empty_q"),
        ({"q": "refund", "mode": "fuzzy"}, "invalid_mode"),
        ({"q": "refund", "limit": "0"}, "invalid_limit"),
        ({"q": "refund", "limit": "x"}, "invalid_limit"),
        ({"q": "refund", "limit": "51"}, "invalid_limit"),
        ({"q": "refund", "type": "faq"}, "invalid_type"),
    ],
)
def test_search_rejects_bad_parameters(client, query, code):
    assert_canonical_error(client.get("/api/v1/search", query_string=query), 400, code)


@pytest.mark.parametrize(
    "path, status, code",
    [
        ("/api/v1/articles/returns/no-such-article", 404, "article_not_found"),
        ("/api/v1/articles/..%2F..%2Fetc%2Fpasswd", 400, "invalid_article_id"),
        ("/api/v1/articles/returns/..%2F..%2Fsecrets", 400, "invalid_article_id"),
        ("/api/v1/articles/returns/.hidden", 400, "invalid_article_id"),
        ("/api/v1/articles/returns//start-a-return", 400, "invalid_article_id"),
        ("/api/v1/nothing-here", 404, "not_found"),
    ],
)
def test_unknown_or_malicious_paths_are_json_errors(client, path, status, code):
    assert_canonical_error(client.get(path), status, code)


@pytest.mark.parametrize("method, path", [("get", "/api/v1/suggest"), ("post", "/api/v1/search"), ("delete", "/api/v1/articles/returns/start-a-return")])
def test_wrong_method_is_405_json(client, method, path):
    assert_canonical_error(getattr(client, method)(path), 405, "method_not_allowed")


def test_api_without_an_index_is_503_json(tmp_path):
    from conftest import make_app

    client = make_app(tmp_path / "nothing", tmp_path).test_client()
    assert_canonical_error(client.get("/api/v1/search?q=refund"), 503, "index_unavailable")
    assert_canonical_error(client.post("/api/v1/suggest", json={"text": "refund"}), 503, "index_unavailable")


@pytest.mark.parametrize(
    "method, path, body, status, code",
    [
        ("GET", "/api/v1/articles/..%2F..%2Fetc%2Fpasswd", None, 400, "invalid_article_id"),
        ("GET", "/api/v1/articles/returns/nope", None, 404, "article_not_found"),
        ("GET", "/api/v1/search?q=", None, 400, "empty_q"),
        ("GET", "/api/v1/search?q=refund&mode=nope", None, 400, "invalid_mode"),
        ("POST", "/api/v1/suggest", b"{bad", 400, "malformed_json"),
        ("POST", "/api/v1/suggest", b'{"text": "refund", "limit": 99}', 400, "invalid_limit"),
        ("POST", "/api/v1/suggest", b'{"text": "' + b"x" * 70000 + b'"}', 413, "body_too_large"),
    ],
)
def test_errors_over_real_http(live_server, method, path, body, status, code):
    import requests

    response = requests.request(
        method, live_server.url + path, data=body, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == code


def test_suggest_counts_the_customers_words_not_the_quoted_thread(client, app):
    limit = app.config["MAX_TEXT_CHARS"]
    thread = "\n".join("> " + "We have looked into your order and will be in touch shortly. " * 3 for _ in range(limit // 150))
    email = "My parcel still has not arrived.\n\nOn Mon, 3 Mar 2026 at 10:15, Support <help@example.com> wrote:\n" + thread
    assert len(email) > limit
    response = client.post("/api/v1/suggest", json={"text": email})
    assert response.status_code == 200, response.get_json()
    own_words_too_long = "x" * (limit + 1) + "\n\nOn Mon, 3 Mar 2026, Support <help@example.com> wrote:\n> hi"
    assert_canonical_error(client.post("/api/v1/suggest", json={"text": own_words_too_long}), 400, "text_too_long")
