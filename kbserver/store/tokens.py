"""The tokens table: names, scopes and SHA-256 hashes of API tokens (never a secret)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exc, or_, select

from kbserver.store.db import Database
from kbserver.store.schema import tokens


class DuplicateName(ValueError):
    """A token with this name already exists (revoked tokens keep their name)."""


@dataclass(frozen=True)
class TokenRow:
    """One stored token, without its hash."""

    name: str
    scopes: str  # comma-separated, as stored
    created: str
    revoked: str | None
    expires: str | None = None  # r7: None never expires
    last_used: str | None = None
    created_by: str | None = None


def insert_token(
    db: Database, name: str, token_hash: str, scopes: str, created: str,
    *, expires: str | None = None, created_by: str | None = None,
) -> None:
    """Store a new token's hash. Raises DuplicateName when `name` is taken."""
    try:
        with db.write() as conn:
            conn.execute(tokens.insert().values(
                name=name, hash=token_hash, scopes=scopes, created=created, expires=expires, created_by=created_by,
            ))
    except exc.IntegrityError as error:
        raise DuplicateName(f"a token named '{name}' already exists") from error


_COLUMNS = (
    tokens.c.name, tokens.c.scopes, tokens.c.created, tokens.c.revoked,
    tokens.c.expires, tokens.c.last_used, tokens.c.created_by,
)


def find_token(db: Database, token_hash: str, now: str) -> TokenRow | None:
    """The live token with this hash (not revoked, not expired at `now`), or None."""
    live = (tokens.c.hash == token_hash, tokens.c.revoked.is_(None), or_(tokens.c.expires.is_(None), tokens.c.expires > now))
    with db.read() as conn:
        row = conn.execute(select(*_COLUMNS).where(*live)).first()
    return TokenRow(*tuple(row)) if row else None


def all_tokens(db: Database) -> list[TokenRow]:
    """Every token (revoked and expired ones too), by name; never the hash."""
    with db.read() as conn:
        return [TokenRow(*tuple(r)) for r in conn.execute(select(*_COLUMNS).order_by(tokens.c.name)).all()]


def revoke_token(db: Database, name: str, when: str) -> bool:
    """Mark the token revoked; False when no live token has that name."""
    with db.write() as conn:
        result = conn.execute(
            tokens.update().where(tokens.c.name == name, tokens.c.revoked.is_(None)).values(revoked=when)
        )
    return result.rowcount == 1


def touch_token(db: Database, name: str, when: str) -> None:
    """Record that the token called `name` was used at `when`."""
    with db.write() as conn:
        conn.execute(tokens.update().where(tokens.c.name == name).values(last_used=when))
