"""Single sign-on through OpenID Connect, with Authlib's Flask client.

The authorization code flow with PKCE (S256): kb sends the browser to the provider with a
`state`, a `nonce` and a code challenge kept in a short-lived signed cookie (Flask's session,
keyed by `KB_SECRET_KEY`); the provider sends it back with a code; kb exchanges the code (with
the verifier and its client secret), checks the ID token's signature against the provider's
published keys, its issuer, audience, expiry and nonce, and only then believes the claims.
Authlib does each of those checks; this module only configures it (docs/auth.md).
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app

EXTENSION = "kb_oidc"
CLIENT = "kb"


def init_app(app: Flask) -> None:
    """Register the provider when KB_OIDC_ISSUER is set (nothing is fetched until the first sign-in)."""
    issuer = str(app.config.get("OIDC_ISSUER") or "").rstrip("/")
    if not issuer:
        return
    app.secret_key = str(app.config["SECRET_KEY"])
    # Flask's session carries only the sign-in round trip (state, nonce, PKCE verifier, where to go next).
    app.config["SESSION_COOKIE_NAME"] = "kb_signin"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = str(app.config["COOKIE_SECURE"]).lower() == "on"
    oauth = OAuth(app)
    oauth.register(
        CLIENT,
        client_id=str(app.config["OIDC_CLIENT_ID"]),
        client_secret=str(app.config["OIDC_CLIENT_SECRET"]) or None,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": str(app.config["OIDC_SCOPES"]), "code_challenge_method": "S256", "timeout": 10},
    )
    app.extensions[EXTENSION] = oauth


def enabled() -> bool:
    """Whether this app signs people in through OpenID Connect."""
    return EXTENSION in current_app.extensions


def client() -> Any:
    """The registered Authlib client (FlaskOAuth2App)."""
    return current_app.extensions[EXTENSION].create_client(CLIENT)
