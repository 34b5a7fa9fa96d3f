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


# ---------------------------------------------------------------------------- issue 21: inputs that got a 500


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/api/v1/suggest", {"text": "\ud800 refund"}, "text"),  # was UnicodeEncodeError in the query log
        ("/api/v1/suggest", {"text": "\ud800"}, "text"),  # was TypeError in the tokenizer
        ("/api/v1/suggest", {"text": "refund", "note": ["ok", "\udfff"]}, "note[1]"),
        ("/api/v1/suggest", {"text": "refund", "\ud83d": 1}, "\ud83d"),
        ("/api/v1/feedback", {"article_id": "returns/start-a-return", "outcome": "helpful", "comment": "\udc80"}, "comment"),
        ("/api/v1/feedback", {"article_id": "returns/start-a-return\ud800", "outcome": "helpful"}, "article_id"),
        ("/api/v1/feedback", {"article_id": "returns/start-a-return", "outcome": "helpful", "request_id": "\ud800"}, "request_id"),
    ],
)
def test_lone_surrogate_is_400_naming_the_field(client, path, body, field):
    import json

    # json.dumps writes a lone surrogate as the escape a client would send ("\ud800").
    response = client.post(path, data=json.dumps(body), content_type="application/json")
    error = assert_canonical_error(response, 400, "invalid_unicode")["error"]
    assert error["field"].encode("utf-8", "surrogatepass") == field.encode("utf-8", "surrogatepass")
    assert "surrogate" in error["message"]


def test_valid_astral_characters_are_not_surrogates(client):
    response = client.post("/api/v1/suggest", json={"text": "refund please 🙂 \U0001f4e6"})
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize("path, start", [
    ("/api/v1/suggest", b'{"text":"refund","x":'),
    ("/api/v1/feedback", b'{"article_id":"returns/start-a-return","outcome":"helpful","x":'),
])
@pytest.mark.parametrize("open_, close", [(b"[", b"]"), (b'{"a":', b"}")])
def test_deeply_nested_body_is_400_before_parsing(client, path, start, open_, close):
    body = start + open_ * 990 + b"1" + close * 990 + b"}"  # about 2 KB; was RecursionError, a 500
    assert_canonical_error(client.post(path, data=body, content_type="application/json"), 400, "json_too_deep")


def test_nesting_within_the_bound_is_read(client):
    from kbserver.service import MAX_JSON_DEPTH

    # Read, then refused for what it is (a list is no limit), not for its depth; brackets in a string don't count.
    body = b'{"text": "refund [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "limit": ' + b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1) + b"}"
    assert_canonical_error(client.post("/api/v1/suggest", data=body, content_type="application/json"), 400, "invalid_limit")


BLANKS = ["\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\xa0", "\u2007", "\u3000", "\ufeff", " \t\n", "\x1c\x1d\x1e\x1f"]


@pytest.mark.parametrize("blank", BLANKS, ids=[repr(b) for b in BLANKS])
def test_blank_text_is_empty_to_the_server_and_to_the_schema(client, blank):
    import jsonschema_rs

    from kbserver.api.openapi import SPEC

    q_schema = next(p["schema"] for p in SPEC["paths"]["/search"]["get"]["parameters"] if p["name"] == "q")
    text_schema = SPEC["paths"]["/suggest"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]["text"]

    assert_canonical_error(client.get("/api/v1/search", query_string={"q": blank}), 400, "empty_q")
    assert_canonical_error(client.post("/api/v1/suggest", json={"text": blank}), 400, "empty_text")
    # schemathesis validates with jsonschema_rs (ECMA-262 regexes): it must call these blank too.
    assert not jsonschema_rs.is_valid(q_schema, blank)
    assert not jsonschema_rs.is_valid(text_schema, blank)
    assert jsonschema_rs.is_valid(text_schema, blank + "refund")


@pytest.mark.parametrize("limit", ["٣", "３", "߃", " 3", "3 ", "+3", "1_0", "0x3", "3.0"])
def test_limit_takes_ascii_digits_only(client, limit):
    assert_canonical_error(client.get("/api/v1/search", query_string={"q": "refund", "limit": limit}), 400, "invalid_limit")
    assert_canonical_error(client.post("/api/v1/suggest", json={"text": "refund", "limit": limit}), 400, "invalid_limit")


@pytest.mark.parametrize("path", ["/api/v1/search", "/api/v1/suggest", "/api/v1/feedback", "/api/v1/reports/gaps",
                                  "/api/v1/articles/returns/start-a-return", "/api/v1/openapi.json"])
def test_options_on_an_api_route_is_204_with_allow(client, path):
    response = client.options(path)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert "text/html" not in response.headers.get("Content-Type", "")
    assert "OPTIONS" in response.headers["Allow"]
    assert {"GET", "POST"} & set(response.headers["Allow"].split(", "))


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/articles/returns/nope", "/api/v1/search?q=refund"])
def test_retry_after_is_only_on_429(client, path):
    response = client.get(path)

    assert response.status_code in (200, 404)
    assert "X-RateLimit-Limit" in response.headers or response.status_code == 404
    assert "Retry-After" not in response.headers


# ---------------------------------------------------------------------------- issue 20, item 8: the contract


@pytest.mark.parametrize("header", ["Bearer kb_not-a-token", "Basic dXNlcjpwYXNz", "Bearer "])
def test_401_names_the_bearer_scheme(client, header):
    response = client.get("/api/v1/search", query_string={"q": "refund"}, headers={"Authorization": header})

    assert_canonical_error(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="kb", error="invalid_token"'


@pytest.mark.parametrize("limit", ["3", "", "03"])
def test_limit_in_a_json_body_must_be_a_number(client, limit):
    response = client.post("/api/v1/suggest", json={"text": "refund", "limit": limit})
    assert "'limit'" in assert_canonical_error(response, 400, "invalid_limit")["error"]["message"]


@pytest.mark.parametrize("path, body, field", [
    ("/api/v1/suggest", {"text": "refund", "limt": 3}, "limt"),
    ("/api/v1/feedback", {"article_id": "returns/start-a-return", "outcome": "helpful", "coment": "x"}, "coment"),
])
def test_unknown_body_field_is_400_naming_it(client, path, body, field):
    error = assert_canonical_error(client.post(path, json=body), 400, "unknown_field")["error"]
    assert error["field"] == field and f"'{field}'" in error["message"]


def _examples(node, path=()):
    """(where, schema, example) for every schema in the document that carries an example."""
    if isinstance(node, dict):
        if "example" in node and "schema" in node:
            yield "/".join(path), node["schema"], node["example"]
        for key, value in node.items():
            yield from _examples(value, (*path, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _examples(value, (*path, str(i)))


def test_every_openapi_example_is_valid_against_its_own_schema():
    import jsonschema_rs

    from kbserver.api.openapi import SPEC

    found = list(_examples(SPEC))
    assert len(found) >= 6
    for where, schema, example in found:
        # $refs point into the document's components: validate with them at the root.
        validator = jsonschema_rs.Draft202012Validator({**schema, "components": SPEC["components"]})
        errors = [e.message for e in validator.iter_errors(example)]
        assert errors == [], where
