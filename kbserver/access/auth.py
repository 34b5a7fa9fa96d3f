"""Who is calling, and what they may do: scopes from a bearer token or the anonymous default."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, request

from kbserver.access import tokens
from kbserver.access.tokens import SCOPES, parse_scopes
from kbserver.errors import ApiError

__all__ = ["SCOPES", "Caller", "current_caller", "parse_scopes", "require"]

# RFC 6750 section 3: a 401 names the scheme it wants, and why the token was refused.
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="kb", error="invalid_token"'}


@dataclass(frozen=True)
class Caller:
    """Who is calling: a token's name (or "anonymous") and the scopes it holds."""

    name: str  # token name, or "anonymous"
    scopes: frozenset[str]

    @property
    def allow_internal(self) -> bool:
        """Whether this caller may see internal articles (the `internal` scope)."""
        return "internal" in self.scopes


def current_caller() -> Caller:
    """The caller of this request, resolved once. Raises ApiError(401) for a bad token."""
    if "kb_caller" in g:
        return g.kb_caller
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "invalid_token", "Authorization must be 'Bearer <token>'", headers=CHALLENGE)
        found = tokens.lookup(token.strip())
        if found is None:
            raise ApiError(401, "invalid_token", "unknown or revoked token", headers=CHALLENGE)
        caller = Caller(found.name, found.scopes)
    else:
        caller = Caller("anonymous", parse_scopes(current_app.config["ANONYMOUS_SCOPES"]))
    g.kb_caller = caller
    return caller


def require(scope: str) -> Caller:
    """The caller, if it holds `scope`. Raises ApiError(403) otherwise."""
    caller = current_caller()
    if scope not in caller.scopes:
        raise ApiError(403, "missing_scope", f"this request needs the '{scope}' scope")
    return caller
