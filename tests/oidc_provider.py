"""A real OpenID Connect provider for the tests, built on Authlib's server components.

Run as its own process (tests/servers.py's `OidcProvider` does this):

    python tests/oidc_provider.py --port N --config FILE.json

FILE.json: {"issuer": "http://127.0.0.1:N",
            "clients": [{"client_id", "client_secret" (null: a public client), "redirect_uris": [...],
                         "post_logout_redirect_uris": [...] (optional)}],
            "users": [{"username", "password", "sub", "email", "name", "groups": [...]}],
            "admin_token": "..." (optional)}

With an admin_token, POST /_test/clients/<client_id>/redirect_uris (Bearer admin_token, JSON
{"redirect_uri": ..., "post_logout_redirect_uri": ...}) registers one more exact URI on the running
provider: the session's provider serves tests whose kb listens on a port of their own.

Authorization code flow only, and what it enforces is Authlib's code, not ours:
- PKCE with S256 on every authorization request, public or confidential client (a request
  without a code_challenge, or with `plain`, is refused; a missing or wrong code_verifier too);
- redirect_uri: exact match against the client's list; an unknown client or redirect_uri is an
  error page, never a redirect; the token request must repeat the same redirect_uri;
- client authentication at /token: client_secret_basic or client_secret_post for a client with
  a secret, `none` only for a public client;
- codes: one use, bound to their client, 5 minutes; a second use also revokes the access token
  the first one issued (RFC 6749 4.1.2);
- nonce: required, echoed in the ID token, never accepted twice for one client.

ID tokens are RS256-signed with a key generated at start (kid in the header), published at /jwks.
Claims: iss, sub, aud (the client_id), exp, iat, auth_time, nonce, at_hash; `name` with the
`profile` scope, `email` (+ email_verified) with `email`, `groups` ONLY with the `groups` scope.
/userinfo (Bearer) answers the same claims for the token's scope.

The provider remembers who signed in (its own cookie, `oidc_provider_session`: browsers share
cookies between ports of 127.0.0.1, so it must not be Flask's default `session`, which kb uses):
a later /authorize from the same browser returns at once unless prompt=login. /logout ends that
session (RP-initiated logout: with a valid id_token_hint and a registered
post_logout_redirect_uri it redirects there, else it shows "Signed out").
"""

from __future__ import annotations

import argparse
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from html import escape
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError, grants, list_to_scope, scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo, UserInfoEndpoint
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.rpinitiated import EndSessionEndpoint
from flask import Flask, Response, jsonify, request, session
from joserfc.jwk import KeySet, RSAKey

SCOPES = ["openid", "profile", "email", "groups"]
CODE_LIFETIME_S = 300


@dataclass
class User:
    username: str
    password: str
    sub: str
    email: str
    name: str
    groups: list[str] = field(default_factory=list)

    def claims(self, scope: str) -> UserInfo:
        """The claims the granted `scope` allows: sub always; groups only with the `groups` scope."""
        scopes = scope_to_list(scope) or []
        info = UserInfo(sub=self.sub)
        if "profile" in scopes:
            info.update(name=self.name, preferred_username=self.username)
        if "email" in scopes:
            info.update(email=self.email, email_verified=True)
        if "groups" in scopes:
            info["groups"] = list(self.groups)
        return info


@dataclass
class Client:
    """Authlib's ClientMixin, duck-typed: a confidential client has a secret, a public one has None."""

    client_id: str
    client_secret: str | None
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str] = field(default_factory=list)

    @property
    def client_metadata(self) -> dict[str, Any]:
        return {"post_logout_redirect_uris": self.post_logout_redirect_uris}

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # OpenID Connect: redirect_uri is required, never guessed

    def get_allowed_scope(self, scope: str) -> str:
        return list_to_scope([s for s in scope_to_list(scope) or [] if s in SCOPES])

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return self.client_secret is not None and secrets.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.client_secret is None:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: User
    nonce: str | None
    auth_time: int
    code_challenge: str
    code_challenge_method: str
    expires_at: float = field(default_factory=lambda: time.time() + CODE_LIFETIME_S)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> list[str]:
        return ["pwd"]


@dataclass
class Token:
    access_token: str
    client: Client
    user: User
    scope: str
    expires_at: float
    revoked: bool = False

    def get_scope(self) -> str:
        return self.scope

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> User:
        return self.user

    def get_client(self) -> Client:
        return self.client


def create_app(config: dict[str, Any]) -> Flask:
    """The provider for `config` (see the module's docstring), with a fresh RS256 key."""
    issuer: str = config["issuer"].rstrip("/")
    clients = {c["client_id"]: Client(c["client_id"], c.get("client_secret"), list(c["redirect_uris"]),
                                      list(c.get("post_logout_redirect_uris", []))) for c in config["clients"]}
    users = {u["username"]: User(u["username"], u["password"], u["sub"], u["email"], u["name"],
                                 list(u.get("groups", []))) for u in config["users"]}
    key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(8), "use": "sig", "alg": "RS256"})
    public_jwks = {"keys": [key.as_dict(private=False)]}
    codes: dict[str, AuthorizationCode] = {}
    used_codes: dict[str, list[Token]] = {}  # code -> tokens it issued, revoked if the code comes back
    nonces: set[tuple[str, str]] = set()  # (client_id, nonce) ever put in a code
    tokens: dict[str, Token] = {}
    lock = threading.Lock()  # the token endpoint's read-check-delete of a code is one step

    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

        def save_authorization_code(self, code: str, req: Any) -> None:
            nonce = req.payload.data.get("nonce")
            codes[code] = AuthorizationCode(
                code, req.client.client_id, req.payload.redirect_uri, req.scope, req.user, nonce,
                int(session.get("auth_time", time.time())), req.payload.data["code_challenge"],
                req.payload.data["code_challenge_method"])
            if nonce:
                nonces.add((req.client.client_id, nonce))

        def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
            for token in used_codes.pop(code, []):
                token.revoked = True
            found = codes.get(code)
            if found is None or found.client_id != client.client_id or time.time() > found.expires_at:
                return None
            return found

        def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
            codes.pop(authorization_code.code, None)
            used_codes[authorization_code.code] = [tokens[self.request.access_token]]

        def authenticate_user(self, authorization_code: AuthorizationCode) -> User:
            return authorization_code.user

    class StrictPkce(CodeChallenge):
        """RFC 7636 for every client, S256 only: no code_challenge, no code."""

        SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

        def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
            data = grant.request.payload.data
            if not data.get("code_challenge"):
                raise InvalidRequestError("Missing 'code_challenge': PKCE (S256) is required.")
            if data.get("code_challenge_method") != "S256":
                raise InvalidRequestError("'code_challenge_method' must be S256.")
            super().validate_code_challenge(grant, redirect_uri)

    class IdToken(OpenIDCode):
        def exists_nonce(self, nonce: str, req: Any) -> bool:
            return (req.payload.client_id, nonce) in nonces

        def resolve_client_private_key(self, client: Client) -> RSAKey:
            return key

        def get_client_algorithm(self, client: Client) -> str:
            return "RS256"

        def get_encode_header(self, client: Client) -> dict[str, str]:
            return {"alg": "RS256", "kid": key.kid or "", "typ": "JWT"}

        def get_client_claims(self, client: Client) -> dict[str, Any]:
            return {"iss": issuer, "aud": client.client_id}

        def generate_user_info(self, user: User, scope: str) -> UserInfo:
            return user.claims(scope)

    class BearerToken(BearerTokenValidator):
        def authenticate_token(self, token_string: str) -> Token | None:
            return tokens.get(token_string)

    class UserInfoClaims(UserInfoEndpoint):
        def generate_user_info(self, user: User, scope: str) -> UserInfo:
            return user.claims(scope)

    class Logout(EndSessionEndpoint):
        def get_server_jwks(self) -> KeySet:
            return KeySet([key])

        def end_session(self, end_session_request: Any) -> None:
            session.clear()

    def save_token(token: dict[str, Any], req: Any) -> None:
        tokens[token["access_token"]] = Token(token["access_token"], req.client, req.user, token.get("scope", ""),
                                              time.time() + token["expires_in"])
        req.access_token = token["access_token"]

    app = Flask(__name__)
    app.config.update(SECRET_KEY=secrets.token_bytes(32), SESSION_COOKIE_NAME="oidc_provider_session",
                      OAUTH2_SCOPES_SUPPORTED=SCOPES, OAUTH2_TOKEN_EXPIRES_IN={"authorization_code": 3600})
    server = AuthorizationServer(app, query_client=clients.get, save_token=save_token)
    server.register_grant(CodeGrant, [StrictPkce(required=True), IdToken(require_nonce=True)])
    protector = ResourceProtector()
    protector.register_token_validator(BearerToken())
    server.register_endpoint(UserInfoClaims(resource_protector=protector))
    server.register_endpoint(Logout)

    def page(title: str, body: str, status: int = 200) -> Response:
        html = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title></head>'
                f"<body><h1>{escape(title)}</h1>{body}</body></html>")
        return Response(html, status, content_type="text/html; charset=utf-8")

    def login_form(error: str = "") -> Response:
        """The request's parameters stay in the form's action (this URL's query string)."""
        alert = f'<p role="alert">{escape(error)}</p>' if error else ""
        return page("Sign in", f'{alert}<form method="post" action="{escape(request.full_path)}">'
                    '<p><label>Username <input name="username" autocomplete="username" required></label></p>'
                    '<p><label>Password <input name="password" type="password" autocomplete="current-password" '
                    'required></label></p><p><button type="submit">Sign in</button></p></form>')

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Response:
        return jsonify(
            issuer=issuer, authorization_endpoint=f"{issuer}/authorize", token_endpoint=f"{issuer}/token",
            jwks_uri=f"{issuer}/jwks", userinfo_endpoint=f"{issuer}/userinfo", end_session_endpoint=f"{issuer}/logout",
            response_types_supported=["code"], response_modes_supported=["query"],
            grant_types_supported=["authorization_code"], subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"], code_challenge_methods_supported=["S256"],
            scopes_supported=SCOPES, claims_supported=["sub", "name", "preferred_username", "email", "groups"],
            token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post", "none"],
            prompt_values_supported=["none", "login"])

    @app.get("/jwks")
    def jwks() -> Response:
        return jsonify(public_jwks)

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize() -> Response:
        signed_in = users.get(session.get("username", ""))
        try:
            grant = server.get_consent_grant(end_user=signed_in)
        except OAuth2Error as error:
            if error.redirect_uri:  # the client and its redirect_uri are checked: the client hears of it
                return server.handle_error_response(None, error)
            return page("Sign-in request refused", f"<p>{escape(error.error)}: {escape(error.description or '')}</p>",
                        400)
        if request.method == "GET":
            if signed_in and grant.prompt != "login":
                return server.create_authorization_response(grant=grant, grant_user=signed_in)
            return login_form()
        user = users.get(request.form.get("username", ""))
        password = request.form.get("password", "").encode()
        if user is None or not secrets.compare_digest(user.password.encode(), password):
            return login_form("Wrong username or password.")
        session.clear()
        session.update(username=user.username, auth_time=int(time.time()))
        return server.create_authorization_response(grant=grant, grant_user=user)

    admin_token = config.get("admin_token")

    @app.post("/_test/clients/<client_id>/redirect_uris")
    def register_redirect_uri(client_id: str) -> Response:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").encode()
        if not admin_token or not secrets.compare_digest(admin_token.encode(), given):
            return Response("forbidden", 403)
        if client_id not in clients:
            return Response("no such client", 404)
        body = request.get_json(force=True)
        with lock:
            for name, uris in (("redirect_uri", clients[client_id].redirect_uris),
                               ("post_logout_redirect_uri", clients[client_id].post_logout_redirect_uris)):
                if body.get(name) and body[name] not in uris:
                    uris.append(body[name])
        return jsonify(redirect_uris=clients[client_id].redirect_uris,
                       post_logout_redirect_uris=clients[client_id].post_logout_redirect_uris)

    @app.post("/token")
    def token() -> Response:
        with lock:
            return server.create_token_response()

    @app.route("/userinfo", methods=["GET", "POST"])
    def userinfo() -> Response:
        return server.create_endpoint_response("userinfo")

    @app.route("/logout", methods=["GET", "POST"])
    def logout() -> Response:
        """Ends the provider's session; redirects only as RP-initiated logout allows."""
        try:
            end = server.validate_endpoint_request("end_session")
        except OAuth2Error as error:
            return page("Sign-out request refused", f"<p>{escape(error.description or error.error)}</p>", 400)
        return server.create_endpoint_response("end_session", end) or page("Signed out", "<p>You are signed out.</p>")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="A test OpenID Connect provider (see the module's docstring).")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", required=True, help="JSON file: issuer, clients, users")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    with open(args.config, encoding="utf-8") as f:
        config = json.load(f)
    create_app(config).run(host=args.host, port=args.port, threaded=True)


if __name__ == "__main__":
    main()
