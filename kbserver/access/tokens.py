"""API tokens: a random secret shown once, stored only as its SHA-256.

A token is `kb_` followed by 32 random bytes (URL-safe base64). The database keeps the
hex SHA-256 of the whole string, its name and scopes; a stolen database copy gives no
usable token, and a lost token cannot be recovered, only revoked and replaced. A plain
(unsalted) hash is enough because the secret has 256 bits of entropy: there is nothing to
guess from a dictionary.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, current_app

from kbserver.config import SCOPES  # every scope a token may carry, one list for tokens and settings
from kbserver.store import tokens as token_table
from kbserver.store.db import Database, DatabaseUnavailable, get_db, to_ts, utc_now
from kbserver.store.tokens import TokenRow

PREFIX = "kb_"
SECRET_BYTES = 32
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
LAST_USED = "kb_token_last_used"
# The longest life `kb token create --expires` accepts; "never" must be asked for by name.
MAX_LIFE_DAYS = 3660
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Token:
    """A token as kb knows it: never the secret."""

    name: str
    scopes: frozenset[str]
    created: str
    revoked: str | None = None
    expires: str | None = None  # None: never
    last_used: str | None = None
    created_by: str | None = None

    def state(self, now: str) -> str:
        """"active", "revoked" or "expired" at the timestamp `now`."""
        if self.revoked:
            return "revoked"
        if self.expires is not None and self.expires <= now:
            return "expired"
        return "active"


def parse_scopes(value: str | list | tuple | None) -> frozenset[str]:
    """Scopes written as "a,b" or a list, as a set (blanks dropped; unknown names kept: see validate_scopes)."""
    if value is None:
        return frozenset()
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return frozenset(s.strip() for s in items if s and s.strip())


def hash_token(token: str) -> str:
    """The stored form of a token: hex SHA-256 of the whole string."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _token(row: TokenRow) -> Token:
    return Token(
        row.name, parse_scopes(row.scopes), row.created, row.revoked, row.expires, row.last_used, row.created_by
    )


DURATION_RE = re.compile(r"^\s*(\d{1,6})\s*(m|h|d)\s*$")
UNIT_S = {"m": 60, "h": 3600, "d": 86400}


def parse_life(value: str) -> timedelta | None:
    """"90d", "12h", "30m" as a timedelta; "never" as None. Raises ValueError for anything else."""
    if value.strip().lower() == "never":
        return None
    match = DURATION_RE.match(value)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"a token's life is a number of minutes, hours or days such as 30m, 12h or 90d, or 'never'; not {value!r}")
    life = timedelta(seconds=int(match.group(1)) * UNIT_S[match.group(2)])
    if life > timedelta(days=MAX_LIFE_DAYS):
        raise ValueError(f"a token's life is at most {MAX_LIFE_DAYS} days; use 'never' for a token that never expires")
    return life


def validate_scopes(scopes: str | list[str] | tuple[str, ...]) -> frozenset[str]:
    """The scopes as a set. Raises ValueError naming any scope kb does not know."""
    parsed = parse_scopes(scopes)
    unknown = sorted(parsed - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    return parsed


def create(
    db: Database, name: str, scopes: str | list[str] | tuple[str, ...],
    *, life: timedelta | None = None, created_by: str | None = None,
) -> tuple[Token, str]:
    """Create a token living `life` (None: never expires); returns it and the secret (shown once).

    Raises ValueError for a bad name or scope and kbserver.store.tokens.DuplicateName when the name is taken.
    """
    if not NAME_RE.match(name):
        raise ValueError("token names are 1-64 letters, digits, '_', '.', '@' or '-', starting with a letter or digit")
    parsed = validate_scopes(scopes)
    secret = PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    now = utc_now()
    created = to_ts(now)
    expires = to_ts(now + life) if life is not None else None
    token_table.insert_token(
        db, name, hash_token(secret), ",".join(sorted(parsed)), created, expires=expires, created_by=created_by
    )
    return Token(name, parsed, created, None, expires, None, created_by), secret


def list_all(db: Database) -> list[Token]:
    """Every token, revoked ones included, by name."""
    return [_token(row) for row in token_table.all_tokens(db)]


def revoke(db: Database, name: str) -> bool:
    """Revoke the token called `name`; False when there is no live token by that name."""
    return token_table.revoke_token(db, name, to_ts(utc_now()))


def find(db: Database, token: str) -> Token | None:
    """The live token matching the secret `token`, or None (unknown, revoked or expired)."""
    if not token.startswith(PREFIX):
        return None
    row = token_table.find_token(db, hash_token(token), to_ts(utc_now()))
    return _token(row) if row else None


class LastUsed:
    """Writes a token's `last_used` at most once a minute per token and process.

    Every request checks the token against the database (so a revocation or an expiry takes
    effect on the next request, on every host); only the bookkeeping write is thinned, so a
    busy helpdesk integration costs one small UPDATE a minute, not one per request.
    """

    EVERY_S = 60.0

    def __init__(self) -> None:
        self._written: dict[str, float] = {}
        self._lock = threading.Lock()

    def due(self, name: str) -> bool:
        """Whether `name`'s last use should be written now (and, if so, it counts as written)."""
        now = time.monotonic()
        with self._lock:
            if now - self._written.get(name, float("-inf")) < self.EVERY_S:
                return False
            self._written[name] = now
            return True


def init_app(app: Flask) -> None:
    """Give `app` its LastUsed bookkeeping."""
    app.extensions[LAST_USED] = LastUsed()


def lookup(token: str) -> Token | None:
    """`find` on this app's database (used by `auth.current_caller`).

    Fails closed: when the database is unreachable this raises DatabaseUnavailable (a 503), so
    a revoked or expired token is never accepted from a stale copy (docs/auth.md).
    """
    db = get_db()
    found = find(db, token)
    if found is not None and current_app.extensions[LAST_USED].due(found.name):
        try:
            token_table.touch_token(db, found.name, to_ts(utc_now()))
        except DatabaseUnavailable as exc:  # the read just worked; a failed bookkeeping write is not the caller's fault
            log.warning("could not record token '%s' as used: %s", found.name, exc)
    return found
