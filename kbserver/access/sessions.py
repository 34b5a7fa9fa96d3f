"""Sign-in sessions: a random secret in the browser (or the side panel), its SHA-256 in the database.

A browser session's secret is the `kb_session` cookie (HttpOnly, SameSite=Lax, Secure per
`KB_COOKIE_SECURE`); a side panel's or a helpdesk-delegated session's is sent as
`Authorization: Bearer kbs_...`. Every request looks its session up in the database, so
signing out ends it on every host at once, and an unreachable database is a 503, never a
session taken on trust. Each sign-in makes a new secret and removes the one the browser had
(no session fixation). The CSRF token of a browser session is derived from its secret
(`csrf_token`), so it changes with every sign-in and cannot be computed without the cookie.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from datetime import timedelta

from flask import current_app, request
from werkzeug.wrappers import Response

from kbserver.access.people import Person
from kbserver.store import sessions as session_table
from kbserver.store.db import DatabaseUnavailable, get_db, to_ts, utc_now
from kbserver.store.sessions import StoredSession

COOKIE = "kb_session"
PREFIX = "kbs_"
SECRET_BYTES = 32
TOUCH_EVERY_S = 60.0
_touched: dict[str, float] = {}
_touched_lock = threading.Lock()


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def csrf_token(secret: str) -> str:
    """The CSRF token of the browser session whose secret is `secret`."""
    return hashlib.sha256(f"kb-csrf:{secret}".encode("utf-8")).hexdigest()


def life() -> timedelta:
    return timedelta(hours=float(current_app.config["SESSION_HOURS"]))


def start(person: Person, kind: str, *, created_by: str | None = None, lasting: timedelta | None = None) -> tuple[str, str]:
    """Store a new session for `person`; returns its secret (shown only to its holder) and expiry."""
    now = utc_now()
    secret = PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    expires = to_ts(now + min(lasting or life(), life()))
    row = StoredSession(
        person.id, person.display_name, ",".join(sorted(person.roles)), kind, to_ts(now), to_ts(now), expires, created_by
    )
    session_table.insert_session(get_db(), hash_secret(secret), row)
    return secret, expires


def find(secret: str) -> StoredSession | None:
    """The live session with this secret, or None. Raises DatabaseUnavailable (fails closed)."""
    if not secret.startswith(PREFIX) or len(secret) > 100:
        return None
    key = hash_secret(secret)
    db = get_db()
    row = session_table.find_session(db, key, to_ts(utc_now()))
    if row is not None and _touch_due(key):
        try:
            session_table.touch_session(db, key, to_ts(utc_now()))
        except DatabaseUnavailable:
            pass  # bookkeeping only: the read just succeeded
    return row


def _touch_due(key: str) -> bool:
    now = time.monotonic()
    with _touched_lock:
        if now - _touched.get(key, float("-inf")) < TOUCH_EVERY_S:
            return False
        if len(_touched) > 100_000:
            _touched.clear()
        _touched[key] = now
        return True


def end(secret: str | None) -> None:
    """Remove the session with this secret, if any."""
    if secret and secret.startswith(PREFIX):
        session_table.delete_session(get_db(), hash_secret(secret))


def secure_cookie() -> bool:
    """Whether the session cookie carries `Secure` (KB_COOKIE_SECURE, `auto`: the request was HTTPS)."""
    setting = str(current_app.config["COOKIE_SECURE"]).lower()
    return request.is_secure if setting == "auto" else setting == "on"


def set_cookie(response: Response, secret: str) -> None:
    response.set_cookie(
        COOKIE, secret, max_age=int(life().total_seconds()), httponly=True, samesite="Lax",
        secure=secure_cookie(), path="/",
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Lax", secure=secure_cookie())
