"""CSRF protection for every form and every cookie-authenticated write.

A write (POST, PUT, PATCH, DELETE) must carry the page's CSRF token (form field `csrf_token`
or header `X-CSRF-Token`) when the browser supplied the caller's authority by itself: a
sign-in cookie or an authenticating proxy, and on every page form (anonymous ones too, so a
hostile site cannot post text into the query log through an agent's browser). The token of a
signed-in browser is derived from its session secret (sessions.csrf_token); anyone else's is
a random value in the `kb_csrf` cookie, compared with the submitted copy (double submit).
Requests with `Authorization: Bearer` (tokens, the side panel) carry no ambient authority and
need no CSRF token; neither do anonymous JSON API calls from servers without cookies.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, Response, current_app, g, request

from kbserver.access.auth import current_caller
from kbserver.access.sessions import secure_cookie
from kbserver.errors import ApiError
from kbserver.store.db import DatabaseUnavailable

COOKIE = "kb_csrf"
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Blueprints whose routes are pages (forms); the API's are JSON (checked only for ambient callers).
PAGE_BLUEPRINTS = frozenset({"web", "reports_web", "signin", "admin"})


def token() -> str:
    """This request's CSRF token, for a form's hidden field or the page's meta tag."""
    if "kb_csrf" in g:
        return g.kb_csrf
    try:
        caller = current_caller()
    except (ApiError, DatabaseUnavailable):
        caller = None  # a refused token, or sessions that cannot be checked: the page still renders
    value = caller.csrf if caller is not None and caller.csrf else None
    if value is None:
        value = request.cookies.get(COOKIE) or ""
        if len(value) < 32:
            value = secrets.token_urlsafe(32)
            g.kb_csrf_new = value
    g.kb_csrf = value
    return value


def _submitted() -> str:
    header = request.headers.get(HEADER)
    if header:
        return header
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return request.form.get(FIELD, "")
    return ""


def check() -> None:
    """Refuse an unsafe request that needs a CSRF token and lacks the right one (403 csrf_failed)."""
    if request.method not in UNSAFE or request.endpoint is None:
        return
    if request.headers.get("Authorization"):
        return  # a bearer token is never sent by the browser on its own
    is_page = request.blueprint in PAGE_BLUEPRINTS
    caller = current_caller()
    if not (is_page or caller.ambient):
        return
    expected = caller.csrf or request.cookies.get(COOKIE, "")
    submitted = _submitted()
    if not expected or not submitted or not hmac.compare_digest(expected.encode(), submitted.encode()):
        raise ApiError(403, "csrf_failed", "this form has expired or did not come from kb: reload the page and try again")


def init_app(app: Flask) -> None:
    """Check every request before its view; hand out the double-submit cookie with a page that used one."""
    app.before_request(check)
    app.jinja_env.globals["csrf_token"] = token

    @app.after_request
    def _set_cookie(response: Response) -> Response:
        new = g.get("kb_csrf_new")
        if new:
            response.set_cookie(
                COOKIE, new, httponly=True, samesite="Strict", secure=secure_cookie(), path="/",
                max_age=int(current_app.config["SESSION_HOURS"] * 3600),
            )
        return response
