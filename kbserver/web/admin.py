"""`/admin`: what an admin manages in the browser: tokens, who is signed in, the settings in force.

Everything here needs the `admin` scope (the admin role, or an admin token). Creating a token
shows its secret once, on the answer page only; revoking one and signing someone out are forms
with CSRF tokens like every other. The settings are shown as kb reads them, with secrets
masked: what an operator checks first when something behaves unexpectedly.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from kbserver.access import tokens
from kbserver.access.auth import require
from kbserver.config import SCOPES, SETTINGS, shown
from kbserver.store import sessions as session_table
from kbserver.store.db import get_db, to_ts, utc_now
from kbserver.store.tokens import DuplicateName
from kbserver.web import pages

bp = Blueprint("admin", __name__)
log = logging.getLogger(__name__)
SECRET_SETTINGS = frozenset({"SECRET_KEY", "OIDC_CLIENT_SECRET"})


def settings_in_force() -> list[tuple[str, str, bool]]:
    """(name, value as shown, whether it differs from the default) for every setting; secrets masked."""
    rows = []
    for setting in SETTINGS:
        value = current_app.config.get(setting.name, setting.default)
        if setting.name in SECRET_SETTINGS:
            text = "(set)" if value else "(empty)"
        else:
            text = shown(value)
        rows.append((f"KB_{setting.name}", text, value != setting.default))
    return rows


def _page(status: int = 200, **context: Any) -> Response:
    now = to_ts(utc_now())
    db = get_db()
    response = make_response(render_template(
        "admin.html", active="admin", now=now, tokens=tokens.list_all(db), scopes=SCOPES,
        sessions=session_table.live_sessions(db, now), settings=settings_in_force(), **context,
    ), status)
    response.headers["Cache-Control"] = "no-store"  # a new token's secret must not be cached
    return response


@bp.get("/admin")
def admin_page() -> Response:
    """Tokens, signed-in people and settings."""
    require("admin")
    return _page()


@bp.post("/admin/tokens")
def create_token() -> Response:
    """Create a token; its secret is on this answer only."""
    caller = require("admin")
    name = request.form.get("name", "").strip()
    scopes = request.form.getlist("scopes")
    try:
        life = tokens.parse_life(request.form.get("expires", "90d"))
        made, secret = tokens.create(get_db(), name, scopes, life=life, created_by=caller.name)
    except (ValueError, DuplicateName) as exc:
        return _page(400, error=str(exc))
    log.info("token '%s' created by %s with scopes %s", made.name, caller.name, ",".join(sorted(made.scopes)))
    return _page(201, created=made, secret=secret)


@bp.post("/admin/tokens/<name>/revoke")
def revoke_token(name: str) -> Response:
    """Revoke a token: its next request, on any host, gets 401."""
    caller = require("admin")
    if not tokens.revoke(get_db(), name):
        return _page(404, error=f"No active token named '{name}'.")
    log.info("token '%s' revoked by %s", name, caller.name)
    return redirect(url_for("admin.admin_page"), 303)


@bp.post("/admin/people/sign-out")
def sign_out_person() -> Response:
    """End every session of one person (a lost laptop, someone who left)."""
    caller = require("admin")
    person = request.form.get("person", "").strip()
    ended = session_table.delete_for_person(get_db(), person) if person else 0
    log.info("%d session(s) of %s ended by %s", ended, person, caller.name)
    return redirect(url_for("admin.admin_page"), 303)


@bp.errorhandler(Exception)
def _error_page(exc: Exception) -> Any:
    from werkzeug.exceptions import HTTPException

    if isinstance(exc, HTTPException):
        return pages._error_page(exc)
    return pages._unexpected(exc)
