"""The tests' OpenID Connect provider (tests/oidc_provider.py) holds kb's sign-in to the real rules:
signed ID tokens verified against its JWKS, PKCE S256, exact redirect URIs, client authentication,
one-time codes, nonces. If it let any of these slide, kb's SSO tests could pass a broken client."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests
from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import KeySet, RSAKey

from servers import OidcProvider, free_port


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class Flow:
    """One sign-in as kb would start it: its own state, nonce and PKCE verifier."""

    def __init__(self, provider: OidcProvider, redirect_uri: str, scope: str = "openid email profile groups") -> None:
        self.provider = provider
        self.redirect_uri = redirect_uri
        self.state = secrets.token_urlsafe(16)
        self.nonce = secrets.token_urlsafe(16)
        self.verifier = secrets.token_urlsafe(48)
        self.params = {"response_type": "code", "client_id": provider.client_id, "redirect_uri": redirect_uri,
                       "scope": scope, "state": self.state, "nonce": self.nonce,
                       "code_challenge": s256(self.verifier), "code_challenge_method": "S256"}

    def url(self, **changes: str | None) -> str:
        params = {k: v for k, v in {**self.params, **changes}.items() if v is not None}
        return f"{self.provider.issuer}/authorize?{urlencode(params)}"

    def code(self, username: str = "lena", browser: requests.Session | None = None) -> str:
        """Sign in as `username` (in `browser`, else a fresh session) and take the code kb's callback gets."""
        response = self.provider.sign_in(browser or requests.Session(), self.url(), username, f"pw-{username}")
        assert response.status_code == 302, response.text
        location = response.headers["Location"]
        assert location.startswith(self.redirect_uri + "?")
        query = parse_qs(urlparse(location).query)
        assert query["state"] == [self.state]
        return query["code"][0]

    def exchange(self, code: str, *, verifier: str | None = "", auth: tuple[str, str] | None = None,
                 **form: str) -> requests.Response:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri, **form}
        if verifier is not None:
            data["code_verifier"] = verifier or self.verifier
        if auth is None and "client_secret" not in form:
            auth = (self.provider.client_id, self.provider.client_secret)
        return requests.post(f"{self.provider.issuer}/token", data=data, auth=auth, timeout=10)


@pytest.fixture
def redirect_uri(oidc_provider: OidcProvider) -> str:
    """This test's own callback URL, registered exactly, as a kb test registers its kb's."""
    uri = f"http://127.0.0.1:{free_port()}/signin/callback"
    oidc_provider.register_redirect_uri(uri, post_logout_redirect_uri=uri.replace("/signin/callback", "/"))
    return uri


def jwks(provider: OidcProvider) -> KeySet:
    metadata = requests.get(provider.metadata_url, timeout=10).json()
    return KeySet.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())


def verified_claims(provider: OidcProvider, id_token: str, nonce: str) -> dict:
    token = jwt.decode(id_token, jwks(provider), algorithms=["RS256"])
    assert token.header["alg"] == "RS256"
    jwt.JWTClaimsRegistry(iss={"essential": True, "value": provider.issuer},
                          aud={"essential": True, "value": provider.client_id},
                          sub={"essential": True}, exp={"essential": True}, iat={"essential": True},
                          nonce={"essential": True, "value": nonce}).validate(token.claims)
    return dict(token.claims)


def test_discovery_document(oidc_provider):
    metadata = requests.get(oidc_provider.metadata_url, timeout=10).json()
    assert metadata["issuer"] == oidc_provider.issuer
    for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint",
                     "end_session_endpoint"):
        assert metadata[endpoint].startswith(oidc_provider.issuer + "/")
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "groups" in metadata["scopes_supported"]
    assert {"client_secret_basic", "client_secret_post", "none"} <= set(
        metadata["token_endpoint_auth_methods_supported"])


def test_login_form_has_the_fields_a_browser_fills(oidc_provider, redirect_uri):
    page = requests.get(Flow(oidc_provider, redirect_uri).url(), timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert 'name="username"' in page.text and 'name="password"' in page.text and 'type="submit"' in page.text


def test_code_flow_with_pkce_gives_a_signed_id_token_with_the_users_claims(oidc_provider, redirect_uri):
    flow = Flow(oidc_provider, redirect_uri)
    response = flow.exchange(flow.code("lena"))
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"].lower() == "bearer"
    claims = verified_claims(oidc_provider, token["id_token"], flow.nonce)
    assert claims["sub"] == "sub-lena"
    assert claims["email"] == "lena@example.com"
    assert claims["name"] == "Lena"
    assert claims["groups"] == ["support", "support-leads"]
    assert claims["iat"] <= time.time() < claims["exp"]
    kids = {key.kid for key in jwks(oidc_provider).keys}
    assert jwt.decode(token["id_token"], jwks(oidc_provider)).header["kid"] in kids

    userinfo = requests.get(f"{oidc_provider.issuer}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {token['access_token']}"})
    assert userinfo.status_code == 200
    assert userinfo.json()["groups"] == ["support", "support-leads"] and userinfo.json()["sub"] == "sub-lena"
    assert requests.get(f"{oidc_provider.issuer}/userinfo", timeout=10,
                        headers={"Authorization": "Bearer not-a-token"}).status_code == 401


@pytest.mark.parametrize("username", ["alice", "olive", "adam", "nora"])
def test_each_test_user_signs_in_with_their_groups(oidc_provider, redirect_uri, username):
    flow = Flow(oidc_provider, redirect_uri)
    claims = verified_claims(oidc_provider, flow.exchange(flow.code(username)).json()["id_token"], flow.nonce)
    assert claims["sub"] == f"sub-{username}"
    assert claims["groups"] == oidc_provider.users[username]["groups"]


def test_groups_claim_only_with_the_groups_scope(oidc_provider, redirect_uri):
    flow = Flow(oidc_provider, redirect_uri, scope="openid email profile")
    claims = verified_claims(oidc_provider, flow.exchange(flow.code("lena")).json()["id_token"], flow.nonce)
    assert "groups" not in claims and claims["email"] == "lena@example.com"


def test_client_secret_post_works_and_a_wrong_or_missing_secret_is_refused(oidc_provider, redirect_uri):
    flows = [Flow(oidc_provider, redirect_uri) for _ in range(3)]  # a nonce is good for one sign-in
    wrong = flows[0].exchange(flows[0].code(), auth=("kb", "wrong-secret"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    none_auth = flows[1].exchange(flows[1].code(), client_id="kb", auth=("", ""))  # a confidential client must
    assert none_auth.status_code in (400, 401) and none_auth.json()["error"] == "invalid_client"
    posted = flows[2].exchange(flows[2].code(), auth=None, client_id="kb", client_secret=oidc_provider.client_secret)
    assert posted.status_code == 200 and "id_token" in posted.json()


@pytest.mark.parametrize(("verifier", "error", "why"), [
    (None, "invalid_request", "Missing 'code_verifier'"),
    ("x" * 43, "invalid_grant", "Code challenge failed."),
    ("too-short", "invalid_request", "Invalid 'code_verifier'"),
], ids=["missing", "wrong", "malformed"])
def test_code_verifier_missing_or_wrong_is_refused(oidc_provider, redirect_uri, verifier, error, why):
    flow = Flow(oidc_provider, redirect_uri)
    response = flow.exchange(flow.code(), verifier=verifier)
    assert response.status_code == 400
    assert (response.json()["error"], response.json()["error_description"]) == (error, why)


@pytest.mark.parametrize(("changes", "why"), [
    ({"code_challenge": None, "code_challenge_method": None}, "Missing 'code_challenge'"),
    ({"code_challenge_method": "plain"}, "must be S256"),
    ({"code_challenge_method": None}, "must be S256"),
    ({"nonce": None}, "Missing 'nonce'"),
], ids=["no-pkce", "plain", "no-method", "no-nonce"])
def test_authorization_request_without_s256_pkce_or_nonce_gets_no_code(oidc_provider, redirect_uri, changes, why):
    flow = Flow(oidc_provider, redirect_uri)
    response = requests.get(flow.url(**changes), allow_redirects=False, timeout=10)
    assert response.status_code == 302  # the client and its redirect_uri are known: it hears why
    query = parse_qs(urlparse(response.headers["Location"]).query)
    assert query["error"] == ["invalid_request"] and why in query["error_description"][0]
    assert "code" not in query and query["state"] == [flow.state]


def test_a_nonce_is_accepted_once(oidc_provider, redirect_uri):
    first = Flow(oidc_provider, redirect_uri)
    first.code()
    again = requests.get(Flow(oidc_provider, redirect_uri).url(nonce=first.nonce), allow_redirects=False, timeout=10)
    query = parse_qs(urlparse(again.headers["Location"]).query)
    assert query["error"] == ["invalid_request"] and "code" not in query


def test_a_code_used_twice_is_refused_and_its_token_revoked(oidc_provider, redirect_uri):
    flow = Flow(oidc_provider, redirect_uri)
    code = flow.code()
    first = flow.exchange(code)
    assert first.status_code == 200
    second = flow.exchange(code)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    userinfo = requests.get(f"{oidc_provider.issuer}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {first.json()['access_token']}"})
    assert userinfo.status_code == 401


def test_the_token_request_must_repeat_the_redirect_uri(oidc_provider, redirect_uri):
    flow = Flow(oidc_provider, redirect_uri)
    other = f"http://127.0.0.1:{free_port()}/signin/callback"
    oidc_provider.register_redirect_uri(other)
    response = flow.exchange(flow.code(), redirect_uri=other)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("change", ["unregistered", "trailing-slash", "other-client"])
def test_unknown_redirect_uri_or_client_is_an_error_page_not_a_redirect(oidc_provider, redirect_uri, change):
    flow = Flow(oidc_provider, redirect_uri)
    url = {"unregistered": flow.url(redirect_uri="http://127.0.0.1:1/evil/callback"),
           "trailing-slash": flow.url(redirect_uri=redirect_uri + "/"),
           "other-client": flow.url(client_id="not-kb")}[change]
    for response in (requests.get(url, allow_redirects=False, timeout=10),
                     requests.post(url, data={"username": "lena", "password": "pw-lena"}, allow_redirects=False,
                                   timeout=10)):
        assert response.status_code == 400
        assert "Location" not in response.headers
        assert response.headers["Content-Type"].startswith("text/html")
        assert 'name="password"' not in response.text


@pytest.mark.parametrize(("username", "password"), [("lena", "pw-alice"), ("mallory", "pw-mallory"), ("lena", "")])
def test_wrong_password_shows_the_form_again_and_issues_no_code(oidc_provider, redirect_uri, username, password):
    response = oidc_provider.sign_in(requests.Session(), Flow(oidc_provider, redirect_uri).url(), username, password)
    assert response.status_code == 200 and "Location" not in response.headers
    assert "Wrong username or password" in response.text and 'name="password"' in response.text


def test_a_tampered_or_foreign_id_token_fails_verification(oidc_provider, redirect_uri):
    flow = Flow(oidc_provider, redirect_uri)
    id_token = flow.exchange(flow.code("alice")).json()["id_token"]
    verified_claims(oidc_provider, id_token, flow.nonce)

    header, payload, signature = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["groups"] = ["kb-admins"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(BadSignatureError):
        verified_claims(oidc_provider, f"{header}.{forged}.{signature}", flow.nonce)

    kid = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    other_key = RSAKey.generate_key(2048, parameters={"kid": kid})  # same kid, someone else's key
    with pytest.raises(JoseError):
        verified_claims(oidc_provider, jwt.encode({"alg": "RS256", "kid": kid}, claims, other_key), flow.nonce)


def test_the_provider_remembers_the_sign_in_until_logout(oidc_provider, redirect_uri):
    browser = requests.Session()
    flow = Flow(oidc_provider, redirect_uri)
    token = flow.exchange(flow.code("lena", browser)).json()

    silent = browser.get(Flow(oidc_provider, redirect_uri).url(), allow_redirects=False, timeout=10)
    assert silent.status_code == 302  # single sign-on: straight back to the client, with a code
    assert "code" in parse_qs(urlparse(silent.headers["Location"]).query)
    with pytest.raises(RuntimeError, match="no login form"):
        oidc_provider.sign_in(browser, Flow(oidc_provider, redirect_uri).url(), "alice", "pw-alice")
    forced = browser.get(Flow(oidc_provider, redirect_uri).url(prompt="login"), allow_redirects=False, timeout=10)
    assert forced.status_code == 200 and 'name="password"' in forced.text

    post_logout = redirect_uri.replace("/signin/callback", "/")
    logout = browser.get(f"{oidc_provider.issuer}/logout", allow_redirects=False, timeout=10, params={
        "id_token_hint": token["id_token"], "post_logout_redirect_uri": post_logout, "state": "bye"})
    assert logout.status_code == 302 and logout.headers["Location"] == post_logout + "?state=bye"
    after = browser.get(Flow(oidc_provider, redirect_uri).url(), allow_redirects=False, timeout=10)
    assert after.status_code == 200 and 'name="password"' in after.text  # signed out: the form again


def test_logout_without_a_valid_hint_signs_out_but_redirects_nowhere(oidc_provider, redirect_uri):
    browser = requests.Session()
    Flow(oidc_provider, redirect_uri).code("alice", browser)
    logout = browser.get(f"{oidc_provider.issuer}/logout", allow_redirects=False, timeout=10,
                         params={"post_logout_redirect_uri": redirect_uri.replace("/signin/callback", "/")})
    assert logout.status_code == 200 and "Signed out" in logout.text
    assert browser.get(Flow(oidc_provider, redirect_uri).url(), allow_redirects=False, timeout=10).status_code == 200
    refused = browser.get(f"{oidc_provider.issuer}/logout", params={"id_token_hint": "not.a.token"}, timeout=10)
    assert refused.status_code == 400 and "Location" not in refused.headers


def test_a_public_client_signs_in_with_pkce_alone():
    """A client with no secret (client_secret null) authenticates with `none`, so PKCE is all that
    binds its code; in-process (Flask's test client), as no kb test needs a public client's server."""
    import oidc_provider

    redirect = "http://127.0.0.1:8000/signin/callback"
    app = oidc_provider.create_app({
        "issuer": "http://127.0.0.1:8999", "clients": [{"client_id": "spa", "client_secret": None,
                                                        "redirect_uris": [redirect]}],
        "users": [{"username": "nora", "password": "pw-nora", "sub": "sub-nora", "email": "nora@example.com",
                   "name": "Nora", "groups": []}]})
    browser = app.test_client()

    def code(verifier: str) -> str:
        query = {"response_type": "code", "client_id": "spa", "redirect_uri": redirect, "scope": "openid",
                 "nonce": secrets.token_urlsafe(8), "code_challenge": s256(verifier), "code_challenge_method": "S256"}
        answer = browser.post(f"/authorize?{urlencode(query)}", data={"username": "nora", "password": "pw-nora"})
        assert answer.status_code == 302, answer.text
        return parse_qs(urlparse(answer.headers["Location"]).query)["code"][0]

    def exchange(code: str, **form: str):
        return browser.post("/token", data={"grant_type": "authorization_code", "code": code,
                                            "redirect_uri": redirect, "client_id": "spa", **form})

    verifier = secrets.token_urlsafe(48)
    assert exchange(code(verifier)).get_json()["error"] == "invalid_request"  # no code_verifier
    assert exchange(code(verifier), code_verifier=verifier, client_secret="guess").status_code in (400, 401)
    token = exchange(code(verifier), code_verifier=verifier)
    assert token.status_code == 200, token.get_json()
    assert jwt.decode(token.get_json()["id_token"], KeySet.import_key_set(browser.get("/jwks").get_json())
                      ).claims["sub"] == "sub-nora"


def test_authlibs_flask_client_signs_in_against_it(oidc_provider, redirect_uri):
    """The client kb uses, configured as kb would be: discovery, PKCE S256, the groups scope."""
    from authlib.integrations.flask_client import OAuth
    from flask import Flask, jsonify

    app = Flask(__name__)
    app.secret_key = secrets.token_bytes(16)
    oauth = OAuth(app)
    oauth.register("sso", client_id=oidc_provider.client_id, client_secret=oidc_provider.client_secret,
                   server_metadata_url=oidc_provider.metadata_url,
                   client_kwargs={"scope": "openid email profile groups", "code_challenge_method": "S256"})
    app.add_url_rule("/signin", "signin", lambda: oauth.sso.authorize_redirect(redirect_uri))
    app.add_url_rule("/signin/callback", "callback", lambda: jsonify(oauth.sso.authorize_access_token()["userinfo"]))

    kb = app.test_client()
    start = kb.get("/signin")
    assert start.status_code == 302 and start.headers["Location"].startswith(f"{oidc_provider.issuer}/authorize?")
    answer = oidc_provider.sign_in(requests.Session(), start.headers["Location"], "adam", "pw-adam")
    callback = urlparse(answer.headers["Location"])
    assert f"http://127.0.0.1:{callback.port}{callback.path}" == redirect_uri
    userinfo = kb.get(f"{callback.path}?{callback.query}").get_json()
    assert (userinfo["sub"], userinfo["email"], userinfo["groups"]) == ("sub-adam", "adam@example.com", ["kb-admins"])
    assert kb.get(f"{callback.path}?{callback.query}").status_code >= 400  # the same callback again: no sign-in
