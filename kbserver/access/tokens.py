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

from flask import Flask, current_app

from kbserver.config import SCOPES  # every scope a token may carry, one list for tokens and settings
from kbserver.store import tokens as token_table
from kbserver.store.db import Database, DatabaseUnavailable, get_db, to_ts, utc_now
from kbserver.store.tokens import TokenRow

PREFIX = "kb_"
SECRET_BYTES = 32
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
KNOWN_TOKENS = "kb_known_tokens"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Token:
    """A token as kb knows it: never the secret."""

    name: str
    scopes: frozenset[str]
    created: str
    revoked: str | None = None


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
    return Token(row.name, parse_scopes(row.scopes), row.created, row.revoked)


def validate_scopes(scopes: str | list[str] | tuple[str, ...]) -> frozenset[str]:
    """The scopes as a set. Raises ValueError naming any scope kb does not know."""
    parsed = parse_scopes(scopes)
    unknown = sorted(parsed - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    return parsed


def create(db: Database, name: str, scopes: str | list[str] | tuple[str, ...]) -> tuple[Token, str]:
    """Create a token; returns it and the secret (the only time the secret exists outside the caller).

    Raises ValueError for a bad name or scope and kbserver.store.tokens.DuplicateName when the name is taken.
    """
    if not NAME_RE.match(name):
        raise ValueError("token names are 1-64 letters, digits, '_', '.', '@' or '-', starting with a letter or digit")
    parsed = validate_scopes(scopes)
    secret = PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    created = to_ts(utc_now())
    token_table.insert_token(db, name, hash_token(secret), ",".join(sorted(parsed)), created)
    return Token(name, parsed, created), secret


def list_all(db: Database) -> list[Token]:
    """Every token, revoked ones included, by name."""
    return [_token(row) for row in token_table.all_tokens(db)]


def revoke(db: Database, name: str) -> bool:
    """Revoke the token called `name`; False when there is no live token by that name."""
    return token_table.revoke_token(db, name, to_ts(utc_now()))


def find(db: Database, token: str) -> Token | None:
    """The live token matching the secret `token`, or None (unknown or revoked)."""
    if not token.startswith(PREFIX):
        return None
    row = token_table.find_token(db, hash_token(token))
    return _token(row) if row else None


class KnownTokens:
    """The live tokens as the database last listed them, for while it is unreachable (docs/deploy.md).

    Every lookup asks the database first, so a revocation takes effect on the next request.
    Only when the database cannot be reached does a token that was live at the last listing
    keep working, so agents keep getting suggestions through a short outage; a token that was
    not (unknown, or created since) then gets the 503. `kb serve` lists the tokens as each
    process starts, and a lookup lists them again when the listing is older than
    `REFRESH_S`. Nothing can be revoked during an outage anyway: a revocation is a write.
    """

    REFRESH_S = 60.0

    def __init__(self) -> None:
        self._live: dict[str, Token] = {}
        self._listed_at = float("-inf")
        self._lock = threading.Lock()

    def refresh(self, db: Database) -> None:
        """List every live token again. Raises DatabaseUnavailable (the old listing stays)."""
        live = {token_hash: _token(row) for token_hash, row in token_table.live_tokens(db)}
        with self._lock:
            self._live, self._listed_at = live, time.monotonic()  # one swap: readers see old or new

    def lookup(self, db: Database, token: str) -> Token | None:
        """`find`, falling back to the last listing when the database is unavailable."""
        key = hash_token(token)
        try:
            found = find(db, token)
        except DatabaseUnavailable:
            known = self._live.get(key)
            if known is None:
                raise
            log.warning("database unavailable: token '%s' accepted from the last listing of live tokens", known.name)
            return known
        if time.monotonic() - self._listed_at > self.REFRESH_S:
            try:
                self.refresh(db)
            except DatabaseUnavailable:
                log.warning("could not list the live tokens; keeping the last listing")
        return found


def known_tokens() -> KnownTokens:
    """This app's KnownTokens."""
    return current_app.extensions[KNOWN_TOKENS]


def init_app(app: Flask) -> None:
    """Give `app` its (empty) KnownTokens; `warm` fills it."""
    app.extensions[KNOWN_TOKENS] = KnownTokens()


def warm(app: Flask) -> None:
    """List the live tokens once as a server process starts; a database that is down is logged, not fatal."""
    with app.app_context():
        try:
            known_tokens().refresh(get_db())
        except DatabaseUnavailable as exc:
            log.warning("could not list the live tokens at start (%s); they are listed on first use", exc)


def lookup(token: str) -> Token | None:
    """`find` on this app's database (used by `auth.current_caller`), outage-tolerant (KnownTokens)."""
    return known_tokens().lookup(get_db(), token)
