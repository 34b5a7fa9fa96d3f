"""Signing in (issue 29): single sign-on against a real OpenID Connect provider, roles, the proxy
header, sessions, CSRF, delegated sessions for the side panel, and every route by kind of caller.

The provider is tests/oidc_provider.py (Authlib's server: code flow, PKCE S256, RS256 ID tokens
checked against its JWKS), started by the suite on 127.0.0.1. kb runs for real on its own port.
Anonymous access is off in every app here, as docs/auth.md recommends with sign-in.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from conftest import LiveServer, RawClient, make_app, sql_rows

EXCHANGE_MESSAGE = "Hi, the walking boots I ordered are too small. Can I swap them for a bigger size? Thanks, Sam"
EXCHANGE_ARTICLE = "returns/wrong-size-exchange"  # internal: only callers with `internal` are suggested it
SECRET_KEY = "test-secret-key-" + "x" * 32
ROLE_GROUPS = "agent=support,lead=support-leads,author=kb-authors,admin=kb-admins"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)"')


def sso_settings(provider) -> dict:
    return {
        "ANONYMOUS_SCOPES": "",
        "OIDC_ISSUER": provider.issuer,
        "OIDC_CLIENT_ID": provider.client_id,
        "OIDC_CLIENT_SECRET": provider.client_secret,
        "OIDC_SCOPES": "openid email profile groups",
        "SECRET_KEY": SECRET_KEY,
        "ROLE_GROUPS": ROLE_GROUPS,
        "DEFAULT_ROLE": "",
    }


@pytest.fixture
def sso(kb_index, tmp_path, oidc_provider):
    """kb with single sign-on through the test provider, anonymous access off, on a real port."""
    app = make_app(kb_index, tmp_path, **sso_settings(oidc_provider))
    with LiveServer(app) as server:
        oidc_provider.register_redirect_uri(f"{server.url}/signin/callback")
        server.app = app
        server.database = str(tmp_path / "kb.sqlite3")
        yield server


def sign_in(server, provider, username: str, next_path: str = "/suggest") -> requests.Session:
    """A browser (requests.Session) signed in as `username` through the provider, back at kb."""
    browser = requests.Session()
    answer = provider.sign_in(browser, f"{server.url}/signin/start?next={next_path}", username, f"pw-{username}")
    assert answer.status_code == 302, answer.text
    back = browser.get(answer.headers["Location"], allow_redirects=False, timeout=30)
    assert back.status_code == 302, back.text
    assert back.headers["Location"] == next_path
    return browser


def csrf_of(browser: requests.Session, server, path: str = "/suggest") -> str:
    page = browser.get(server.url + path, timeout=60)
    assert page.status_code == 200, page.text
    return CSRF_META.search(page.text).group(1)


# ---------------------------------------------------------------------------- single sign-on


def test_an_agent_signs_in_and_does_what_the_anonymous_agent_did_by_name(sso, oidc_provider):
    anonymous = requests.post(f"{sso.url}/api/v1/suggest", json={"text": EXCHANGE_MESSAGE}, timeout=60)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "sign_in_required"

    alice = sign_in(sso, oidc_provider, "alice")
    cookie = next(c for c in alice.cookies if c.name == "kb_session")
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.value.startswith("kbs_")

    page = alice.get(f"{sso.url}/suggest", timeout=60)
    assert page.status_code == 200 and "Alice" in page.text and "Sign out" in page.text
    token = CSRF_META.search(page.text).group(1)
    answer = alice.post(f"{sso.url}/api/v1/suggest", json={"text": EXCHANGE_MESSAGE}, timeout=60,
                        headers={"X-CSRF-Token": token}).json()
    assert answer["suggestions"][0]["article"]["id"] == EXCHANGE_ARTICLE  # internal articles, as an agent
    search = alice.get(f"{sso.url}/api/v1/search", params={"q": "exchange"}, timeout=60)
    assert search.status_code == 200 and search.json()["results"]

    feedback = {"article_id": EXCHANGE_ARTICLE, "outcome": "resolved_first_contact", "request_id": answer["request_id"]}
    refused = alice.post(f"{sso.url}/api/v1/feedback", json=feedback, timeout=60)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"  # a cookie alone is not enough
    kept = alice.post(f"{sso.url}/api/v1/feedback", json=feedback, timeout=60, headers={"X-CSRF-Token": token})
    assert kept.status_code == 201, kept.text

    assert sql_rows(sso.database, "SELECT caller FROM feedback") == [{"caller": "alice@example.com"}]
    logged = sql_rows(sso.database, "SELECT DISTINCT caller FROM query_log WHERE kind = 'suggest'")
    assert logged == [{"caller": "alice@example.com"}]
    assert alice.get(f"{sso.url}/api/v1/me", timeout=30).json() == {
        "name": "alice@example.com", "display_name": "Alice", "kind": "browser", "roles": ["agent"],
        "scopes": ["feedback", "internal", "search", "suggest"],
    }


def test_groups_give_roles_a_lead_sees_reports_an_agent_does_not(sso, oidc_provider):
    lena, alice, nora = (sign_in(sso, oidc_provider, name) for name in ("lena", "alice", "nora"))
    assert lena.get(f"{sso.url}/reports", timeout=60).status_code == 200
    assert lena.get(f"{sso.url}/api/v1/reports/teams", timeout=60).status_code == 200
    assert alice.get(f"{sso.url}/reports", timeout=60).status_code == 403
    refused = alice.get(f"{sso.url}/api/v1/reports/teams", timeout=60)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "missing_scope"
    # nora is in no mapped group and there is no default role: signed in, allowed nothing.
    assert nora.get(f"{sso.url}/api/v1/me", timeout=30).json()["roles"] == []
    assert nora.get(f"{sso.url}/api/v1/search", params={"q": "refund"}, timeout=30).status_code == 403
    assert sorted(lena.get(f"{sso.url}/api/v1/me", timeout=30).json()["roles"]) == ["agent", "lead"]


def test_leads_see_per_agent_figures_by_name(sso, oidc_provider):
    alice, lena = sign_in(sso, oidc_provider, "alice"), sign_in(sso, oidc_provider, "lena")
    token = csrf_of(alice, sso)
    answer = alice.post(f"{sso.url}/api/v1/suggest", json={"text": EXCHANGE_MESSAGE}, timeout=60,
                        headers={"X-CSRF-Token": token}).json()
    for outcome in ("resolved_first_contact", "not_helpful"):
        stored = alice.post(f"{sso.url}/api/v1/feedback", timeout=60, headers={"X-CSRF-Token": token},
                            json={"article_id": EXCHANGE_ARTICLE, "outcome": outcome, "request_id": answer["request_id"]})
        assert stored.status_code == 201
    feedback_id = stored.json()["id"]
    handled = lena.post(f"{sso.url}/api/v1/reports/feedback/{feedback_id}/handled", json={"note": "article fixed"},
                        headers={"X-CSRF-Token": csrf_of(lena, sso, "/reports")}, timeout=30)
    assert handled.status_code == 200, handled.text
    assert sql_rows(sso.database, "SELECT handled_by FROM feedback WHERE id = :id", id=feedback_id) == [
        {"handled_by": "lena@example.com"}]
    agents = {a["agent"]: a for a in lena.get(f"{sso.url}/api/v1/reports/agents", timeout=60).json()["agents"]}
    assert agents["alice@example.com"] | {"fcr_rate": None} == {
        "agent": "alice@example.com", "suggestions": 1, "searches": 0, "feedback": 2, "helpful": 0, "not_helpful": 1,
        "resolved_first_contact": 1, "escalated": 0, "handled": 0, "fcr_rate": None}
    assert agents["alice@example.com"]["fcr_rate"] == 0.5 and agents["lena@example.com"]["handled"] == 1
    page = lena.get(f"{sso.url}/reports", timeout=60).text
    assert "By agent" in page and "alice@example.com" in page
    assert alice.get(f"{sso.url}/api/v1/reports/agents", timeout=30).status_code == 403


def test_a_page_sends_an_anonymous_browser_to_sign_in_and_back(sso, oidc_provider):
    first = requests.get(f"{sso.url}/reports?since=7d", allow_redirects=False, timeout=30)
    assert first.status_code == 302 and first.headers["Location"] == "/signin?next=/reports?since%3D7d"
    page = requests.get(sso.url + first.headers["Location"], timeout=30)
    assert page.status_code == 200 and "Sign in with your company account" in page.text
    lena = sign_in(sso, oidc_provider, "lena", next_path="/reports?since=7d")
    assert lena.get(f"{sso.url}/reports?since=7d", timeout=60).status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)",
                                    "https:/evil.example", " //evil.example"])
def test_no_open_redirect_after_sign_in(sso, oidc_provider, target):
    browser = requests.Session()
    answer = oidc_provider.sign_in(browser, f"{sso.url}/signin/start?" + requests.compat.urlencode({"next": target}),
                                   "alice", "pw-alice")
    back = browser.get(answer.headers["Location"], allow_redirects=False, timeout=30)
    assert back.status_code == 302 and back.headers["Location"] == "/"


def test_signing_in_replaces_any_session_the_browser_had(sso, oidc_provider):
    """Session fixation: a session id planted in the browser before sign-in is never the signed-in one."""
    attacker = sign_in(sso, oidc_provider, "nora")
    planted = attacker.cookies["kb_session"]
    victim = requests.Session()
    victim.cookies.set("kb_session", planted, domain="127.0.0.1", path="/")
    answer = oidc_provider.sign_in(victim, f"{sso.url}/signin/start?next=/suggest", "alice", "pw-alice")
    back = victim.get(answer.headers["Location"], allow_redirects=False, timeout=30)
    assert back.status_code == 302
    fresh = victim.cookies["kb_session"]
    assert fresh != planted and fresh.startswith("kbs_")
    assert victim.get(f"{sso.url}/api/v1/me", timeout=30).json()["name"] == "alice@example.com"
    # The planted session was ended, so the attacker's copy opens nothing.
    assert attacker.get(f"{sso.url}/api/v1/me", timeout=30).json()["kind"] == "anonymous"


def test_a_replayed_or_forged_callback_makes_no_session(sso, oidc_provider):
    browser = requests.Session()
    answer = oidc_provider.sign_in(browser, f"{sso.url}/signin/start?next=/suggest", "alice", "pw-alice")
    callback = answer.headers["Location"]
    assert browser.get(callback, allow_redirects=False, timeout=30).status_code == 302
    again = requests.Session()  # another browser replays the same code and state
    replay = again.get(callback, allow_redirects=False, timeout=30)
    assert replay.status_code == 400 and "kb_session" not in replay.cookies
    query = parse_qs(urlsplit(callback).query)
    forged = again.get(f"{sso.url}/signin/callback", params={"code": "made-up", "state": query["state"][0]},
                       allow_redirects=False, timeout=30)
    assert forged.status_code == 400 and "kb_session" not in forged.cookies


def test_signing_out_ends_the_session_everywhere(sso, oidc_provider):
    alice = sign_in(sso, oidc_provider, "alice")
    stolen = alice.cookies["kb_session"]
    refused = alice.post(f"{sso.url}/signout", allow_redirects=False, timeout=30)
    assert refused.status_code == 403  # no CSRF token: a hostile page cannot sign agents out either
    out = alice.post(f"{sso.url}/signout", data={"csrf_token": csrf_of(alice, sso)}, allow_redirects=False, timeout=30)
    assert out.status_code == 302
    replay = requests.get(f"{sso.url}/api/v1/me", cookies={"kb_session": stolen}, timeout=30)
    assert replay.json()["kind"] == "anonymous"
    assert sql_rows(sso.database, "SELECT COUNT(*) AS n FROM sessions WHERE kind = 'browser' AND person = 'alice@example.com'") == [{"n": 0}]


def test_an_expired_session_is_no_session(sso, oidc_provider):
    alice = sign_in(sso, oidc_provider, "alice")
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{sso.database}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE sessions SET expires = '2020-01-01T00:00:00.000000Z'"))
    engine.dispose()
    assert alice.get(f"{sso.url}/api/v1/me", timeout=30).json()["kind"] == "anonymous"
    assert alice.get(f"{sso.url}/suggest", allow_redirects=False, timeout=30).status_code == 302


# ---------------------------------------------------------------------------- CSRF


def test_every_page_form_needs_its_csrf_token(kb_index, tmp_path):
    app = make_app(kb_index, tmp_path)  # the default: anonymous agents on one team's network
    raw = RawClient(app, use_cookies=True)
    refused = raw.post("/suggest", data={"text": EXCHANGE_MESSAGE})
    assert refused.status_code == 403 and b"expired or did not come from kb" in refused.data
    assert sql_rows(str(tmp_path / "kb.sqlite3"), "SELECT COUNT(*) AS n FROM query_log") == [{"n": 0}]
    token = CSRF_META.search(raw.get("/suggest").get_data(as_text=True)).group(1)
    assert raw.post("/suggest", data={"text": EXCHANGE_MESSAGE, "csrf_token": "x" + token[1:]}).status_code == 403
    assert raw.post("/suggest", data={"text": EXCHANGE_MESSAGE, "csrf_token": token}).status_code == 200
    other = RawClient(app, use_cookies=True)  # another browser's token does not fit this one's cookie
    other.get("/suggest")
    assert other.post("/suggest", data={"text": EXCHANGE_MESSAGE, "csrf_token": token}).status_code == 403


def test_servers_calling_the_api_without_cookies_need_no_csrf_token(kb_index, tmp_path):
    app = make_app(kb_index, tmp_path)
    raw = RawClient(app, use_cookies=False)
    assert raw.post("/api/v1/suggest", json={"text": EXCHANGE_MESSAGE}).status_code == 200


# ---------------------------------------------------------------------------- tokens


def test_an_expired_token_is_refused_like_a_revoked_one(kb_index, tmp_path):
    from kbserver.access import tokens
    from kbserver.store.db import connect

    app = make_app(kb_index, tmp_path, ANONYMOUS_SCOPES="")
    db = connect(str(tmp_path / "kb.sqlite3"))
    _, live = tokens.create(db, "live", "search", life=timedelta(days=1), created_by="test")
    _, old = tokens.create(db, "old", "search", life=timedelta(minutes=1), created_by="test")
    from sqlalchemy import update

    from kbserver.store.schema import tokens as table

    with db.write() as conn:
        conn.execute(update(table).where(table.c.name == "old").values(expires="2020-01-01T00:00:00.000000Z"))
    client = app.test_client()
    ok = client.get("/api/v1/search", query_string={"q": "refund"}, headers={"Authorization": f"Bearer {live}"})
    assert ok.status_code == 200
    expired = client.get("/api/v1/search", query_string={"q": "refund"}, headers={"Authorization": f"Bearer {old}"})
    assert expired.status_code == 401 and expired.get_json()["error"]["code"] == "invalid_token"
    listed = {t.name: t for t in tokens.list_all(db)}
    assert listed["live"].last_used is not None and listed["live"].created_by == "test"
    assert listed["old"].state("2026-01-01T00:00:00.000000Z") == "expired"
    db.close()


@pytest.mark.parametrize("value, ok", [("30m", True), ("12h", True), ("90d", True), ("never", True), ("0d", False),
                                        ("3661d", False), ("soon", False), ("-1d", False), ("1w", False)])
def test_token_lives_are_parsed_strictly(value, ok):
    from kbserver.access.tokens import parse_life

    if ok:
        parse_life(value)
    else:
        with pytest.raises(ValueError):
            parse_life(value)


def test_kb_token_list_shows_creator_expiry_and_last_use(tmp_path):
    from click.testing import CliRunner

    from kbserver.cli import main

    database = str(tmp_path / "kb.sqlite3")
    made = CliRunner().invoke(main, ["token", "create", "--name", "eu", "--scopes", "search", "--expires", "30d",
                                     "--database", database])
    assert made.exit_code == 0, made.output
    listed = CliRunner().invoke(main, ["token", "list", "--database", database])
    line = listed.stdout.strip()
    assert line.startswith("eu\tsearch\tcreated ") and " by " in line and "\texpires 20" in line
    assert line.endswith("\tlast used never\tactive")
    bad = CliRunner().invoke(main, ["token", "create", "--name", "x", "--scopes", "search", "--expires", "forever",
                                    "--database", database])
    assert bad.exit_code == 2 and "--expires" in bad.stderr


# ---------------------------------------------------------------------------- an authenticating proxy


def proxy_app(kb_index, tmp_path, trusted: str):
    return make_app(kb_index, tmp_path, ANONYMOUS_SCOPES="", PROXY_USER_HEADER="X-Forwarded-Email",
                    PROXY_GROUPS_HEADER="X-Forwarded-Groups", TRUSTED_PROXIES=trusted, ROLE_GROUPS=ROLE_GROUPS,
                    DEFAULT_ROLE="")


def test_the_proxy_header_is_believed_only_from_a_trusted_proxy(kb_index, tmp_path):
    headers = {"X-Forwarded-Email": "lena@example.com", "X-Forwarded-Groups": "support,support-leads"}
    spoofed = proxy_app(kb_index, tmp_path, "10.9.8.7").test_client()  # the request comes from 127.0.0.1
    answer = spoofed.get("/api/v1/me", headers=headers).get_json()
    assert answer["kind"] == "anonymous" and answer["scopes"] == []
    assert spoofed.get("/api/v1/reports/teams", headers=headers).status_code == 401

    trusted = proxy_app(kb_index, tmp_path, "127.0.0.0/8").test_client()
    me = trusted.get("/api/v1/me", headers=headers).get_json()
    assert me["name"] == "lena@example.com" and me["kind"] == "proxy" and me["roles"] == ["agent", "lead"]
    assert trusted.get("/api/v1/reports/teams", headers=headers).status_code == 200
    refused = trusted.post("/api/v1/feedback", headers=headers,
                           json={"article_id": EXCHANGE_ARTICLE, "outcome": "helpful"})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "csrf_failed"  # the proxy is ambient


# ---------------------------------------------------------------------------- delegated sessions (the side panel)


def test_a_helpdesk_server_signs_its_agent_in_for_the_panel(kb_index, tmp_path):
    from kbserver.access import tokens
    from kbserver.store.db import connect

    app = make_app(kb_index, tmp_path, ANONYMOUS_SCOPES="")
    db = connect(str(tmp_path / "kb.sqlite3"))
    _, helpdesk = tokens.create(db, "zendesk", "delegate", created_by="test")
    _, reader = tokens.create(db, "reader", "search", created_by="test")
    db.close()
    client = app.test_client()
    as_helpdesk = {"Authorization": f"Bearer {helpdesk}"}
    made = client.post("/api/v1/sessions", headers=as_helpdesk,
                       json={"person": "Alice@Example.com", "name": "Alice", "expires_in": 600})
    assert made.status_code == 201, made.get_json()
    panel = {"Authorization": f"Bearer {made.get_json()['token']}"}
    answer = client.post("/api/v1/suggest", headers=panel, json={"text": EXCHANGE_MESSAGE}).get_json()
    assert answer["suggestions"][0]["article"]["id"] == EXCHANGE_ARTICLE
    stored = client.post("/api/v1/feedback", headers=panel, json={"article_id": EXCHANGE_ARTICLE, "outcome": "helpful"})
    assert stored.status_code == 201  # a bearer session needs no CSRF token: no browser sends it by itself
    assert sql_rows(str(tmp_path / "kb.sqlite3"), "SELECT caller FROM feedback") == [{"caller": "alice@example.com"}]
    assert sql_rows(str(tmp_path / "kb.sqlite3"), "SELECT created_by, kind FROM sessions") == [
        {"created_by": "zendesk", "kind": "delegated"}]

    for body, code in [({"person": "a@x", "roles": ["admin"]}, "invalid_roles"), ({"person": "a b"}, "invalid_person"),
                       ({"person": "a@x", "expires_in": 5}, "invalid_expires_in"), ({}, "missing_person"),
                       ({"person": "a@x", "scopes": ["admin"]}, "unknown_field")]:
        refused = client.post("/api/v1/sessions", headers=as_helpdesk, json=body)
        assert refused.status_code == 400 and refused.get_json()["error"]["code"] == code, body
    no_scope = client.post("/api/v1/sessions", headers={"Authorization": f"Bearer {reader}"}, json={"person": "a@x"})
    assert no_scope.status_code == 403
    made_up = client.post("/api/v1/suggest", headers={"Authorization": "Bearer kbs_" + "A" * 43}, json={"text": "hi"})
    assert made_up.status_code == 401 and made_up.get_json()["error"]["code"] == "invalid_token"


def test_a_session_never_outlives_the_session_setting(kb_index, tmp_path):
    from kbserver.access import tokens
    from kbserver.store.db import connect

    app = make_app(kb_index, tmp_path, ANONYMOUS_SCOPES="", SESSION_HOURS=1)
    db = connect(str(tmp_path / "kb.sqlite3"))
    _, helpdesk = tokens.create(db, "zendesk", "delegate", created_by="test")
    db.close()
    made = app.test_client().post("/api/v1/sessions", headers={"Authorization": f"Bearer {helpdesk}"},
                                  json={"person": "a@x", "expires_in": 86400}).get_json()
    from kbserver.store.db import to_ts, utc_now

    assert made["expires"] <= to_ts(utc_now() + timedelta(hours=1, seconds=5))


# ---------------------------------------------------------------------------- every route, every kind of caller

# Each route: how to call it, and the scope it needs (None: anyone, it shows no article and no
# report). A route added without an entry here fails the walk below.
ROUTES: dict[str, tuple[str, str, dict | None, str | None]] = {
    "/static/<path:filename>": ("GET", "/static/kb.css", None, None),
    "/healthz": ("GET", "/healthz", None, None),
    "/api/v1/openapi.json": ("GET", "/api/v1/openapi.json", None, None),
    "/api/v1/me": ("GET", "/api/v1/me", None, None),
    "/api/v1/search": ("GET", "/api/v1/search?q=refund", None, "search"),
    "/api/v1/suggest": ("POST", "/api/v1/suggest", {"text": "my refund has not arrived"}, "suggest"),
    "/api/v1/articles/<path:article_id>": ("GET", "/api/v1/articles/returns/refund-policy", None, "search"),
    "/api/v1/feedback": ("POST", "/api/v1/feedback", {"article_id": "returns/refund-policy", "outcome": "helpful"},
                         "feedback"),
    "/api/v1/changes": ("GET", "/api/v1/changes", None, "search"),
    "/api/v1/sessions": ("POST", "/api/v1/sessions", {"person": "x@example.com"}, "delegate"),
    "/api/v1/reports/articles": ("GET", "/api/v1/reports/articles", None, "reports"),
    "/api/v1/reports/teams": ("GET", "/api/v1/reports/teams", None, "reports"),
    "/api/v1/reports/agents": ("GET", "/api/v1/reports/agents", None, "reports"),
    "/api/v1/reports/gaps": ("GET", "/api/v1/reports/gaps", None, "reports"),
    "/api/v1/reports/feedback": ("GET", "/api/v1/reports/feedback", None, "reports"),
    "/api/v1/reports/no-results": ("GET", "/api/v1/reports/no-results", None, "reports"),
    "/api/v1/reports/trends": ("GET", "/api/v1/reports/trends", None, "reports"),
    "/api/v1/reports/feedback/<int:feedback_id>/handled": ("POST", "/api/v1/reports/feedback/1/handled", {}, "reports"),
    "/": ("GET", "/?q=refund", None, "search"),
    "/search": ("GET", "/search?q=refund", None, "search"),
    "/suggest": ("GET", "/suggest?text=my+refund+has+not+arrived", None, "suggest"),
    "/articles/<path:article_id>": ("GET", "/articles/returns/refund-policy", None, "search"),
    "/changes": ("GET", "/changes", None, "search"),
    "/reports": ("GET", "/reports", None, "reports"),
    "/signin": ("GET", "/signin", None, None),
    "/signin/start": ("GET", "/signin/start", None, None),
    "/signin/callback": ("GET", "/signin/callback", None, None),
    "/signin/panel": ("GET", "/signin/panel", None, None),
    "/signout": ("POST", "/signout", {}, None),
    "/admin": ("GET", "/admin", None, "admin"),
    "/admin/tokens": ("POST", "/admin/tokens", {}, "admin"),
    "/admin/tokens/<name>/revoke": ("POST", "/admin/tokens/nobody/revoke", {}, "admin"),
    "/admin/people/sign-out": ("POST", "/admin/people/sign-out", {}, "admin"),
}
KINDS = ("anonymous", "agent", "author", "lead", "admin", "nobody", "delegate-token")


def test_every_route_answers_each_kind_of_caller_as_its_role_allows(kb_index, tmp_path, oidc_provider):
    from kbserver.access import people, sessions, tokens
    from kbserver.store.db import get_db

    app = make_app(kb_index, tmp_path, **sso_settings(oidc_provider))
    assert {rule.rule for rule in app.url_map.iter_rules()} == set(ROUTES), "list every route in ROUTES"
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    scopes: dict[str, frozenset[str]] = {"anonymous": frozenset()}
    with app.test_request_context("/"):
        for role in ("agent", "author", "lead", "admin"):
            person = people.Person(f"{role}@example.com", role, frozenset({role}))
            secret, _ = sessions.start(person, "panel")
            headers[role], scopes[role] = {"Authorization": f"Bearer {secret}"}, person.scopes
        secret, _ = sessions.start(people.Person("nobody@example.com", "nobody", frozenset()), "panel")
        headers["nobody"], scopes["nobody"] = {"Authorization": f"Bearer {secret}"}, frozenset()
        _, token = tokens.create(get_db(), "helpdesk", "delegate")
        headers["delegate-token"], scopes["delegate-token"] = {"Authorization": f"Bearer {token}"}, frozenset({"delegate"})

    client = app.test_client()
    seen = []
    for rule, (method, path, body, scope) in ROUTES.items():
        for kind in KINDS:
            response = client.open(path, method=method, json=body, headers=headers[kind])
            status = response.status_code
            response.close()  # a static file's answer holds the file open until closed
            seen.append((rule, kind, status))
            if scope is None:
                assert status not in (401, 403) or (rule == "/signout" and status == 403), (rule, kind, status)
            elif scope in scopes[kind]:
                assert status not in (401, 403), (rule, kind, status, response.get_data(as_text=True)[:300])
            elif kind == "anonymous" and not path.startswith("/api/") and method == "GET":
                assert status == 302 and response.headers["Location"].startswith("/signin?next="), (rule, status)
            elif kind == "anonymous" and not path.startswith("/api/"):
                assert status in (401, 403), (rule, status)  # a form post: refused (no CSRF token, no scope)
            elif kind == "anonymous":
                assert status == 401 and response.get_json()["error"]["code"] == "sign_in_required", (rule, status)
            else:
                assert status == 403, (rule, kind, status)
    assert len(seen) == len(ROUTES) * len(KINDS)


def test_an_admin_manages_tokens_and_sessions_and_reads_the_settings(sso, oidc_provider):
    adam, alice = sign_in(sso, oidc_provider, "adam", "/admin"), sign_in(sso, oidc_provider, "alice")
    assert alice.get(f"{sso.url}/admin", timeout=30).status_code == 403
    page = adam.get(f"{sso.url}/admin", timeout=30)
    assert page.status_code == 200 and "alice@example.com" in page.text and "Settings in force" in page.text
    assert SECRET_KEY not in page.text and oidc_provider.client_secret not in page.text
    token = CSRF_META.search(page.text).group(1)
    made = adam.post(f"{sso.url}/admin/tokens", timeout=30,
                     data={"csrf_token": token, "name": "zendesk", "scopes": ["delegate"], "expires": "30d"})
    assert made.status_code == 201 and made.headers["Cache-Control"] == "no-store"
    secret = re.search(r"data-token-secret>(kb_[^<]+)<", made.text).group(1)
    assert "kb_" not in adam.get(f"{sso.url}/admin", timeout=30).text.replace("kb_session", "")  # shown once only
    assert sql_rows(sso.database, "SELECT created_by FROM tokens WHERE name = 'zendesk'") == [{"created_by": "adam@example.com"}]
    session = requests.post(f"{sso.url}/api/v1/sessions", json={"person": "sam@example.com"}, timeout=30,
                            headers={"Authorization": f"Bearer {secret}"})
    assert session.status_code == 201
    revoked = adam.post(f"{sso.url}/admin/tokens/zendesk/revoke", data={"csrf_token": token}, timeout=30)
    assert revoked.status_code == 200 and "revoked" in revoked.text
    again = requests.post(f"{sso.url}/api/v1/sessions", json={"person": "sam@example.com"}, timeout=30,
                          headers={"Authorization": f"Bearer {secret}"})
    assert again.status_code == 401
    bad = adam.post(f"{sso.url}/admin/tokens", data={"csrf_token": token, "name": "x y", "scopes": ["search"]}, timeout=30)
    assert bad.status_code == 400 and "token names are" in bad.text
    adam.post(f"{sso.url}/admin/people/sign-out", data={"csrf_token": token, "person": "alice@example.com"}, timeout=30)
    assert alice.get(f"{sso.url}/api/v1/me", timeout=30).json()["kind"] == "anonymous"
