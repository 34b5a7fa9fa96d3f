"""Signing in and out: the sign-in page, the provider's callback, the side panel's pop-up.

Views stay thin: the protocol is Authlib's (access/oidc.py), sessions are access/sessions.py,
and who a person is and what they may do is access/people.py.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, make_response, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from kbserver.access import oidc, people, sessions
from kbserver.access.auth import current_caller

bp = Blueprint("signin", __name__)
log = logging.getLogger(__name__)
NEXT_KEY = "kb_next"
POPUP_KEY = "kb_popup"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this site only (no open redirect), else the home page."""
    value = (value or "").strip()
    if (
        not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or any(ord(ch) < 33 or ch == "\\" for ch in value)
        or len(value) > 2000
    ):
        return "/"
    return value


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(status: int = 200, **context: Any) -> Response:
    response = make_response(render_template("signin.html", oidc_enabled=oidc.enabled(), active="signin",
                                             proxy_enabled=bool(current_app.config.get("PROXY_USER_HEADER")),
                                             **context), status)
    return _no_store(response)


@bp.get("/signin")
def signin() -> Response:
    """The sign-in page: a button to the provider (or what to do when sign-in is not set up)."""
    next_path = safe_next(request.args.get("next"))
    popup = bool(request.args.get("popup"))
    caller = current_caller()
    if popup and caller.kind == "browser":
        return redirect(url_for("signin.panel"))  # signed in here already: hand the panel its session
    if caller.is_person and not popup:
        return redirect(next_path)
    if popup and oidc.enabled():
        return redirect(url_for("signin.start", popup=1))  # the pop-up goes straight to the provider
    return _page(next_path=next_path, popup=popup, caller=caller)


@bp.get("/signin/start")
def start() -> Response:
    """Send the browser to the identity provider (authorization code flow with PKCE)."""
    if not oidc.enabled():
        return _page(404, next_path="/", error="Single sign-on is not set up on this kb.")
    session.clear()
    session[NEXT_KEY] = safe_next(request.args.get("next"))
    session[POPUP_KEY] = bool(request.args.get("popup"))
    return _no_store(oidc.client().authorize_redirect(url_for("signin.callback", _external=True)))


@bp.get("/signin/callback")
def callback() -> Response:
    """The provider's answer: verify it (Authlib), make a new session, go where the person was going."""
    if not oidc.enabled():
        return _page(404, next_path="/", error="Single sign-on is not set up on this kb.")
    from authlib.common.errors import AuthlibBaseError
    from joserfc.errors import JoseError
    from requests import RequestException

    client = oidc.client()
    try:
        token = client.authorize_access_token()
        claims = dict(token.get("userinfo") or {})
        if not claims:
            raise ValueError("the provider sent no ID token")
        if str(current_app.config["OIDC_GROUPS_CLAIM"]) not in claims and "userinfo_endpoint" in client.load_server_metadata():
            extra = client.userinfo(token=token)
            if extra.get("sub") == claims.get("sub"):
                claims.update({k: v for k, v in extra.items() if k not in claims})
        person = people.from_claims(claims, current_app.config)
    except (AuthlibBaseError, JoseError, RequestException, ValueError, KeyError) as exc:
        log.warning("sign-in refused: %s", exc)
        session.clear()
        return _page(400, next_path="/", error="Sign-in did not complete (it may have expired or been tampered with). Please try again.")
    next_path = safe_next(session.get(NEXT_KEY))
    popup = bool(session.get(POPUP_KEY))
    session.clear()
    sessions.end(request.cookies.get(sessions.COOKIE))  # whatever session this browser had ends: no fixation
    secret, _ = sessions.start(person, "browser")
    log.info("signed in: %s (roles %s)", person.id, ",".join(sorted(person.roles)) or "none")
    response = redirect(url_for("signin.panel") if popup else next_path)
    sessions.set_cookie(response, secret)
    return _no_store(response)


@bp.get("/signin/panel")
def panel() -> Response:
    """In the pop-up the side panel opened: hand the panel a session of its own, then close."""
    caller = current_caller()
    if caller.kind != "browser":
        return redirect(url_for("signin.signin", popup=1))
    person = people.Person(caller.name, caller.display_name, caller.roles)
    secret, expires = sessions.start(person, "panel")
    return _no_store(make_response(render_template("signin_panel.html", panel_token=secret, expires=expires, caller=caller)))


@bp.post("/signout")
def signout() -> Response:
    """End this browser's session (on every host: it is removed from the database)."""
    sessions.end(request.cookies.get(sessions.COOKIE))
    session.clear()
    response = redirect(url_for("signin.signin", signed_out=1))
    sessions.clear_cookie(response)
    return _no_store(response)
