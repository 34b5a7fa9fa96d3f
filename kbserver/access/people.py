"""People: who a signed-in person is to kb (an id, a name, roles) and what their roles allow.

Roles come from the person's groups at the identity provider (or the proxy's groups header)
through `KB_ROLE_GROUPS`, plus `KB_DEFAULT_ROLE` for everyone who signs in. What each role may
do is `config.ROLES` (docs/auth.md has the table). The id kb records in feedback, handled marks
and the query log is the person's e-mail, or with `KB_PERSON_ID=pseudonym` a stable keyed hash
of the provider's subject, so a team can count per agent without storing who is who.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from kbserver.config import ROLES, role_groups

PSEUDONYM_PREFIX = "p-"
PSEUDONYM_HEX = 10
NAME_MAX = 120


@dataclass(frozen=True)
class Person:
    """A signed-in person as kb records them."""

    id: str  # e-mail or pseudonym: what feedback and the query log store
    display_name: str
    roles: frozenset[str]

    @property
    def scopes(self) -> frozenset[str]:
        return scopes_for(self.roles)


def scopes_for(roles: Iterable[str]) -> frozenset[str]:
    """The union of the roles' scopes (unknown roles give nothing)."""
    return frozenset(scope for role in roles for scope in ROLES.get(role, ()))


def roles_for(groups: Iterable[str], settings: Mapping[str, Any]) -> frozenset[str]:
    """`KB_DEFAULT_ROLE` plus every role `KB_ROLE_GROUPS` gives one of `groups`."""
    mapping = role_groups(settings.get("ROLE_GROUPS", ""))
    roles = {settings["DEFAULT_ROLE"]} if settings.get("DEFAULT_ROLE") else set()
    for group in groups:
        roles |= mapping.get(group, frozenset())
    return frozenset(roles)


def person_id(email: str | None, subject: str, settings: Mapping[str, Any]) -> str:
    """What kb records for this person: their e-mail, or `p-` and a keyed hash of the subject."""
    if settings.get("PERSON_ID") == "pseudonym" or not email:
        key = str(settings.get("SECRET_KEY") or "").encode()
        digest = hmac.new(key, f"person:{subject}".encode(), hashlib.sha256).hexdigest()
        return PSEUDONYM_PREFIX + digest[:PSEUDONYM_HEX]
    return email.strip().lower()


def from_claims(claims: Mapping[str, Any], settings: Mapping[str, Any]) -> Person:
    """The Person an identity provider's verified claims describe. Raises ValueError without a subject."""
    subject = str(claims.get("sub") or "")
    if not subject:
        raise ValueError("the identity provider sent no subject ('sub')")
    groups = claims.get(str(settings.get("OIDC_GROUPS_CLAIM") or "groups")) or []
    if isinstance(groups, str):
        groups = [g for g in groups.replace(",", " ").split() if g]
    email = claims.get("email") if claims.get("email_verified", True) is not False else None
    pid = person_id(str(email) if email else None, subject, settings)
    name = str(claims.get("name") or claims.get("preferred_username") or pid)[:NAME_MAX]
    if pid.startswith(PSEUDONYM_PREFIX):
        name = pid  # a pseudonymous team does not store names either
    return Person(pid, name, roles_for([str(g) for g in groups], settings))


def from_proxy(user: str, groups_header: str, settings: Mapping[str, Any]) -> Person:
    """The Person an authenticating proxy's headers name."""
    user = user.strip()[:NAME_MAX]
    groups = [g.strip() for g in groups_header.split(",") if g.strip()]
    pid = person_id(user if "@" in user else None, user, settings) if settings.get("PERSON_ID") == "pseudonym" else user.lower()
    return Person(pid, pid if pid.startswith(PSEUDONYM_PREFIX) else user, roles_for(groups, settings))
