"""API tokens (kb token ...), scopes, anonymous scopes, rate limits and the body size limit."""

from __future__ import annotations

import json

import pytest
import requests
from click.testing import CliRunner

from kbserver.access import tokens
from kbserver.cli import main
from kbserver.store.db import connect

from conftest import LiveServer, make_app, sql_rows

pytestmark = pytest.mark.store


def assert_api_error(response, status: int, code: str) -> None:
    body = response.json() if isinstance(response, requests.Response) else response.get_json()
    assert response.status_code == status, body
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]


@pytest.fixture
def database(database_url) -> str:
    return database_url


def kb(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def new_token(app, name: str, scopes: str) -> str:
    db = connect(app.config["DATABASE"])
    try:
        return tokens.create(db, name, scopes)[1]
    finally:
        db.close()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


# ---------------------------------------------------------------------------- kb token


def test_token_create_prints_secret_once_and_stores_only_its_hash(database, tmp_path, backend, request):
    result = kb("token", "create", "--name", "helpdesk", "--scopes", "search,suggest", "--database", database)
    assert result.exit_code == 0
    secret = result.stdout.strip()
    assert secret.startswith("kb_") and len(secret) > 40
    assert "shown only this once" in result.stderr
    folder = request.getfixturevalue("postgres").data if backend == "postgresql" else tmp_path
    on_disk = b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())
    assert secret.encode() not in on_disk
    assert tokens.hash_token(secret).encode() in on_disk


def test_token_list_shows_names_and_scopes_never_secrets(database):
    secret = kb("token", "create", "--name", "helpdesk", "--scopes", "suggest,search", "--database", database).stdout
    kb("token", "create", "--name", "reports-bot", "--scopes", "reports", "--database", database)
    result = kb("token", "list", "--json", "--database", database)
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [(r["name"], r["scopes"], r["revoked"]) for r in rows] == [
        ("helpdesk", ["search", "suggest"], None),
        ("reports-bot", ["reports"], None),
    ]
    plain = kb("token", "list", "--database", database)
    assert plain.stdout.splitlines()[0].startswith("helpdesk\tsearch,suggest\tcreated ")
    assert secret.strip() not in plain.stdout + result.stdout


def test_token_revoke_marks_it_revoked_and_second_revoke_fails(database):
    kb("token", "create", "--name", "helpdesk", "--scopes", "search", "--database", database)
    result = kb("token", "revoke", "helpdesk", "--database", database)
    assert (result.exit_code, result.stdout) == (0, "revoked token 'helpdesk'\n")
    rows = json.loads(kb("token", "list", "--json", "--database", database).stdout)
    assert rows[0]["revoked"] is not None
    again = kb("token", "revoke", "helpdesk", "--database", database)
    assert again.exit_code == 1
    assert "no active token named 'helpdesk'" in again.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (("--name", "x", "--scopes", "search,root"), "unknown scope(s) root"),
        (("--name", "bad name!", "--scopes", "search"), "token names are"),
    ],
)
def test_token_create_rejects_bad_input(database, args, message):
    result = kb("token", "create", *args, "--database", database)
    assert result.exit_code == 1
    assert message in result.stderr


def test_token_create_rejects_a_taken_name(database):
    kb("token", "create", "--name", "helpdesk", "--scopes", "search", "--database", database)
    result = kb("token", "create", "--name", "helpdesk", "--scopes", "search", "--database", database)
    assert result.exit_code == 1
    assert "a token named 'helpdesk' already exists" in result.stderr


# ---------------------------------------------------------------------------- the API with tokens


def test_token_with_scope_is_accepted(app, live_server):
    secret = new_token(app, "helpdesk", "search")
    response = requests.get(f"{live_server.url}/api/v1/search", params={"q": "refund"}, headers=bearer(secret), timeout=60)
    assert response.status_code == 200
    assert response.json()["results"]
    assert sql_rows(app.config["DATABASE"], "SELECT caller FROM query_log") == [{"caller": "helpdesk"}]


@pytest.mark.parametrize(
    "header",
    ["Bearer kb_unknown-token-value", "Bearer not-even-ours", "Basic dXNlcjpwYXNz", "Bearer "],
)
def test_unknown_or_malformed_token_is_401(live_server, header):
    response = requests.get(
        f"{live_server.url}/api/v1/search", params={"q": "refund"}, headers={"Authorization": header}, timeout=60
    )
    assert_api_error(response, 401, "invalid_token")


def test_revoked_token_is_401(app, live_server):
    secret = new_token(app, "helpdesk", "search")
    db = connect(app.config["DATABASE"])
    assert tokens.revoke(db, "helpdesk")
    db.close()
    response = requests.get(f"{live_server.url}/api/v1/search", params={"q": "refund"}, headers=bearer(secret), timeout=60)
    assert_api_error(response, 401, "invalid_token")


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/api/v1/suggest", {"text": "refund please"}),
        ("POST", "/api/v1/feedback", {"article_id": "returns/refund-policy", "outcome": "helpful"}),
        ("GET", "/api/v1/reports/teams", None),
        ("GET", "/api/v1/reports/articles", None),
        ("GET", "/api/v1/reports/gaps", None),
    ],
)
def test_token_without_scope_is_403(app, live_server, method, path, body):
    secret = new_token(app, "search-only", "search")
    response = requests.request(method, f"{live_server.url}{path}", json=body, headers=bearer(secret), timeout=60)
    assert_api_error(response, 403, "missing_scope")


def test_anonymous_callers_get_anonymous_scopes(kb_index, tmp_path):
    app = make_app(kb_index, tmp_path, ANONYMOUS_SCOPES="search")
    client = app.test_client()
    assert client.get("/api/v1/search", query_string={"q": "refund"}).status_code == 200
    assert_api_error(client.post("/api/v1/suggest", json={"text": "refund"}), 401, "sign_in_required")


def test_empty_anonymous_scopes_lock_out_anonymous_callers(kb_index, tmp_path):
    app = make_app(kb_index, tmp_path, ANONYMOUS_SCOPES="")
    assert_api_error(app.test_client().get("/api/v1/search", query_string={"q": "refund"}), 401, "sign_in_required")


# ---------------------------------------------------------------------------- limits


def test_rate_limit_is_per_token_and_answers_429_json(kb_index, tmp_path):
    app = make_app(kb_index, tmp_path, RATE_LIMIT="3 per minute")
    first, second = new_token(app, "desk-a", "search"), new_token(app, "desk-b", "search")
    with LiveServer(app) as server, requests.Session() as session:
        url = f"{server.url}/api/v1/search"
        statuses = [session.get(url, params={"q": "refund"}, headers=bearer(first), timeout=60).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        limited = session.get(url, params={"q": "refund"}, headers=bearer(first), timeout=60)
        assert_api_error(limited, 429, "rate_limited")
        assert int(limited.headers["Retry-After"]) > 0
        assert "3 per minute" in limited.json()["error"]["message"]
        # Another token has its own budget; the page and /healthz are not metered.
        assert session.get(url, params={"q": "refund"}, headers=bearer(second), timeout=60).status_code == 200
        assert session.get(f"{server.url}/healthz", timeout=60).status_code == 200


def test_two_apps_on_one_redis_spend_one_budget(kb_index, tmp_path, redis_server):
    # Like two hosts (or two workers): their own processes' memory, one Redis.
    database = str(tmp_path / "kb.sqlite3")
    apps = [make_app(kb_index, tmp_path, DATABASE=database, RATE_LIMIT="4 per day",
                     RATE_LIMIT_STORAGE=redis_server.url) for _ in range(2)]
    secret = new_token(apps[0], f"shared-{tmp_path.name}", "search")  # a fresh name: Redis outlives the test
    clients = [a.test_client() for a in apps]
    statuses = [clients[i % 2].get("/api/v1/search", query_string={"q": "refund"}, headers=bearer(secret)).status_code
                for i in range(4)]
    assert statuses == [200, 200, 200, 200]
    for client in clients:
        assert_api_error(client.get("/api/v1/search", query_string={"q": "refund"}, headers=bearer(secret)), 429,
                         "rate_limited")


def test_an_unreachable_redis_counts_in_memory_instead_of_failing(kb_index, tmp_path):
    from servers import free_port as closed_port

    app = make_app(kb_index, tmp_path, RATE_LIMIT="2 per day", RATE_LIMIT_STORAGE=f"redis://127.0.0.1:{closed_port()}")
    client = app.test_client()
    statuses = [client.get("/api/v1/search", query_string={"q": "refund"}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]  # the fallback keeps the budget, per process


def test_rate_limit_counts_anonymous_callers_by_address(kb_index, tmp_path):
    app = make_app(kb_index, tmp_path, RATE_LIMIT="2 per minute")
    client = app.test_client()
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert_api_error(client.get("/api/v1/search", query_string={"q": "refund"}), 429, "rate_limited")
    other = client.get("/api/v1/openapi.json", environ_overrides={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200


def test_body_over_max_content_length_is_413_json(kb_index, tmp_path):
    app = make_app(kb_index, tmp_path, MAX_CONTENT_LENGTH=1024)
    with LiveServer(app) as server:
        response = requests.post(
            f"{server.url}/api/v1/feedback",
            json={"article_id": "returns/refund-policy", "outcome": "helpful", "comment": "x" * 5000},
            timeout=60,
        )
    assert_api_error(response, 413, "body_too_large")
