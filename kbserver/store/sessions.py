"""The sessions table: who is signed in where (hashes only; the secrets live in browsers)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from kbserver.store.db import Database
from kbserver.store.schema import sessions

KINDS = ("browser", "panel", "delegated")


@dataclass(frozen=True)
class StoredSession:
    """One live session, without its hash."""

    person: str
    display_name: str
    roles: str  # comma-separated
    kind: str
    created: str
    last_seen: str
    expires: str
    created_by: str | None


_COLUMNS = (
    sessions.c.person, sessions.c.display_name, sessions.c.roles, sessions.c.kind,
    sessions.c.created, sessions.c.last_seen, sessions.c.expires, sessions.c.created_by,
)


def insert_session(db: Database, session_hash: str, row: StoredSession) -> None:
    """Store a new session under the hash of its secret."""
    with db.write() as conn:
        conn.execute(sessions.insert().values(hash=session_hash, **row.__dict__))


def find_session(db: Database, session_hash: str, now: str) -> StoredSession | None:
    """The session with this hash if it has not expired at `now`, else None."""
    with db.read() as conn:
        row = conn.execute(select(*_COLUMNS).where(sessions.c.hash == session_hash, sessions.c.expires > now)).first()
    return StoredSession(*tuple(row)) if row else None


def touch_session(db: Database, session_hash: str, now: str) -> None:
    """Record that the session was used at `now`."""
    with db.write() as conn:
        conn.execute(sessions.update().where(sessions.c.hash == session_hash).values(last_seen=now))


def delete_session(db: Database, session_hash: str) -> bool:
    """End one session (signing out); False when there was none."""
    with db.write() as conn:
        return conn.execute(delete(sessions).where(sessions.c.hash == session_hash)).rowcount == 1


def delete_expired(db: Database, now: str) -> int:
    """Remove sessions that expired before `now`; returns how many."""
    with db.write() as conn:
        return conn.execute(delete(sessions).where(sessions.c.expires <= now)).rowcount


def delete_for_person(db: Database, person: str) -> int:
    """End every session of `person` (kb signout --person); returns how many."""
    with db.write() as conn:
        return conn.execute(delete(sessions).where(sessions.c.person == person)).rowcount


def live_sessions(db: Database, now: str) -> list[StoredSession]:
    """Every session that has not expired, newest first."""
    with db.read() as conn:
        rows = conn.execute(select(*_COLUMNS).where(sessions.c.expires > now).order_by(sessions.c.created.desc())).all()
    return [StoredSession(*tuple(r)) for r in rows]
