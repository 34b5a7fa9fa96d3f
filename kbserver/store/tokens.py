"""The tokens table: names, scopes and SHA-256 hashes of API tokens (never a secret)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


class DuplicateName(ValueError):
    """A token with this name already exists (revoked tokens keep their name)."""


@dataclass(frozen=True)
class TokenRow:
    """One stored token, without its hash."""

    name: str
    scopes: str  # comma-separated, as stored
    created: str
    revoked: str | None


def insert_token(db: sqlite3.Connection, name: str, token_hash: str, scopes: str, created: str) -> None:
    """Store a new token's hash. Raises DuplicateName when `name` is taken."""
    try:
        db.execute(
            "INSERT INTO tokens (name, hash, scopes, created) VALUES (?, ?, ?, ?)",
            (name, token_hash, scopes, created),
        )
    except sqlite3.IntegrityError as exc:
        raise DuplicateName(f"a token named '{name}' already exists") from exc


def find_token(db: sqlite3.Connection, token_hash: str) -> TokenRow | None:
    """The live (not revoked) token with this hash, or None."""
    row = db.execute(
        "SELECT name, scopes, created, revoked FROM tokens WHERE hash = ? AND revoked IS NULL", (token_hash,)
    ).fetchone()
    return TokenRow(*tuple(row)) if row else None


def all_tokens(db: sqlite3.Connection) -> list[TokenRow]:
    """Every token (revoked ones too), by name; never the hash."""
    return [TokenRow(*tuple(r)) for r in db.execute("SELECT name, scopes, created, revoked FROM tokens ORDER BY name")]


def revoke_token(db: sqlite3.Connection, name: str, when: str) -> bool:
    """Mark the token revoked; False when no live token has that name."""
    cursor = db.execute("UPDATE tokens SET revoked = ? WHERE name = ? AND revoked IS NULL", (when, name))
    return cursor.rowcount == 1
