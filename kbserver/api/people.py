"""`GET /api/v1/me` (who kb thinks is calling) and `POST /api/v1/sessions` (a helpdesk signs its agent in).

A helpdesk's server holds a token with the `delegate` scope. When an agent opens a ticket, it
asks kb for a short session for that agent and posts it into the side panel (docs/helpdesk.md):
the panel then works with anonymous access off, and feedback carries the agent, not the
helpdesk. Delegated sessions may hold the agent, author or lead role, never admin, and live at
most `KB_SESSION_HOURS`.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Response, current_app, jsonify

from kbserver.access import people, sessions
from kbserver.access.auth import current_caller, require
from kbserver.api.blueprint import bp
from kbserver.errors import ApiError
from kbserver.service import json_body, text_param

SESSION_FIELDS = ("person", "name", "roles", "expires_in")
DELEGABLE_ROLES = ("agent", "author", "lead")
PERSON_MAX = 254


@bp.get("/me")
def me() -> Response:
    """The caller as kb sees it: name, kind (anonymous, token, browser, panel, delegated, proxy), roles and scopes."""
    caller = current_caller()
    return jsonify({
        "name": caller.name,
        "display_name": caller.display_name or caller.name,
        "kind": caller.kind,
        "roles": sorted(caller.roles),
        "scopes": sorted(caller.scopes),
    })


@bp.post("/sessions")
def start_session() -> tuple[Response, int]:
    """`{"person", "name"?, "roles"?, "expires_in"?}` -> 201 `{"token", "expires", "person", "roles"}` (delegate scope)."""
    caller = require("delegate")
    body = json_body(SESSION_FIELDS)
    person_id = text_param(body.get("person"), "person").strip()
    if len(person_id) > PERSON_MAX or any(ord(ch) < 33 for ch in person_id):
        raise ApiError(400, "invalid_person", "'person' must be the agent's e-mail or id: no spaces, at most 254 characters")
    if current_app.config["PERSON_ID"] == "pseudonym":
        person_id = people.person_id(None, person_id, current_app.config)
    name = body.get("name")
    display = text_param(name, "name")[: people.NAME_MAX] if name is not None else person_id
    roles = body.get("roles", ["agent"])
    if not isinstance(roles, list) or not roles or any(r not in DELEGABLE_ROLES for r in roles):
        raise ApiError(400, "invalid_roles", f"'roles' must be a non-empty list among {', '.join(DELEGABLE_ROLES)}")
    expires_in = body.get("expires_in", 3600)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or not 60 <= expires_in <= 86400 * 30:
        raise ApiError(400, "invalid_expires_in", "'expires_in' must be a whole number of seconds from 60")
    person = people.Person(person_id.lower() if "@" in person_id else person_id, display, frozenset(roles))
    secret, expires = sessions.start(person, "delegated", created_by=caller.name, lasting=timedelta(seconds=expires_in))
    return jsonify({"token": secret, "expires": expires, "person": person.id, "roles": sorted(person.roles)}), 201
