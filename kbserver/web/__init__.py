"""The agents' web page: `pages` (search, article, suggest), `reports` (/reports) and `signin`, server-rendered."""

from __future__ import annotations

from kbserver.web import pages, reports, signin

__all__ = ["pages", "reports", "signin"]
