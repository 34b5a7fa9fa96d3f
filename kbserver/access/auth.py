"""Who is calling, and what they may do.

A request is, in this order (docs/auth.md):
1. a **token**: `Authorization: Bearer kb_...` (machines: `kb token create`), or a side panel's or
   helpdesk-delegated **session**: `Authorization: Bearer kbs_...`;
2. a **signed-in browser**: the `kb_session` cookie that single sign-on set;
3. a person named by an **authenticating proxy** (`KB_PROXY_USER_HEADER`), believed only when
   the request comes straight from an address in `KB_TRUSTED_PROXIES`;
4. **anonymous**, with the scopes in `KB_ANONYMOUS_SCOPES`.
Tokens and sessions are checked against the database on every request: revoked, expired or
signed-out ones are refused at once on every host, and an unreachable database is a 503.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from flask import current_app, g, request

from kbserver.access import people, sessions, tokens
from kbserver.access.tokens import SCOPES, parse_scopes
from kbserver.config import trusted_proxies
from kbserver.errors import ApiError

__all__ = ["SCOPES", "Caller", "current_caller", "parse_scopes", "require"]

# RFC 6750 section 3: a 401 names the scheme it wants, and why the token was refused.
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="kb", error="invalid_token"'}
SIGN_IN_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="kb"'}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    """Who is calling: a person, a token or "anonymous", and the scopes they hold."""

    name: str  # the person's id, the token's name, or "anonymous": what feedback and the query log record
    scopes: frozenset[str]
    kind: str = "anonymous"  # anonymous | token | browser | panel | delegated | proxy
    display_name: str = ""
    roles: frozenset[str] = frozenset()
    csrf: str | None = None  # a browser session's CSRF token (sessions.csrf_token)

    @property
    def allow_internal(self) -> bool:
        """Whether this caller may see internal articles (the `internal` scope)."""
        return "internal" in self.scopes

    @property
    def is_person(self) -> bool:
        """Whether this caller is a signed-in person (session or proxy), not a token or anonymous."""
        return self.kind in ("browser", "panel", "delegated", "proxy")

    @property
    def ambient(self) -> bool:
        """Whether the browser sends this authority by itself (cookie or proxy): forms need CSRF tokens."""
        return self.kind in ("browser", "proxy")


def _from_session(secret: str, *, bearer: bool) -> Caller:
    row = sessions.find(secret)
    if row is None:
        if bearer:
            raise ApiError(401, "invalid_token", "unknown, expired or signed-out session", headers=CHALLENGE)
        return _anonymous()  # a stale cookie is no cookie: the page offers sign-in again
    roles = frozenset(r for r in row.roles.split(",") if r)
    return Caller(
        row.person, people.scopes_for(roles), row.kind, row.display_name, roles,
        None if bearer else sessions.csrf_token(secret),
    )


def _from_proxy() -> Caller | None:
    header = current_app.config.get("PROXY_USER_HEADER")
    if not header:
        return None
    user = request.headers.get(header, "").strip()
    if not user:
        return None
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        address = None
    if address is None or not any(address in net for net in trusted_proxies(current_app.config["TRUSTED_PROXIES"])):
        log.warning("ignored %s from %s: not a trusted proxy (KB_TRUSTED_PROXIES)", header, request.remote_addr)
        return None
    groups_header = current_app.config.get("PROXY_GROUPS_HEADER")
    person = people.from_proxy(user, request.headers.get(groups_header, "") if groups_header else "", current_app.config)
    return Caller(person.id, person.scopes, "proxy", person.display_name, person.roles)


def _anonymous() -> Caller:
    return Caller("anonymous", parse_scopes(current_app.config["ANONYMOUS_SCOPES"]))


def current_caller() -> Caller:
    """The caller of this request, resolved once. Raises ApiError(401) for a bad token or session."""
    if "kb_caller" in g:
        return g.kb_caller
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "invalid_token", "Authorization must be 'Bearer <token>'", headers=CHALLENGE)
        if token.startswith(sessions.PREFIX):
            caller = _from_session(token, bearer=True)
        else:
            found = tokens.lookup(token)
            if found is None:
                raise ApiError(401, "invalid_token", "unknown, expired or revoked token", headers=CHALLENGE)
            caller = Caller(found.name, found.scopes, "token")
    elif request.cookies.get(sessions.COOKIE):
        caller = _from_session(request.cookies[sessions.COOKIE], bearer=False)
    else:
        caller = _from_proxy() or _anonymous()
    g.kb_caller = caller
    return caller


def require(scope: str) -> Caller:
    """The caller, if it holds `scope`.

    Raises ApiError(401) when an anonymous caller lacks it (signing in or a token may help) and
    ApiError(403) when a known caller does (it would not).
    """
    caller = current_caller()
    if scope not in caller.scopes:
        if caller.kind == "anonymous":
            raise ApiError(
                401, "sign_in_required", f"this request needs the '{scope}' scope: sign in or send a token",
                headers=SIGN_IN_CHALLENGE,
            )
        raise ApiError(403, "missing_scope", f"this request needs the '{scope}' scope")
    return caller
