"""The agents' web page: `pages` (search, article, suggest), `reports` (/reports) and `signin`, server-rendered."""

from __future__ import annotations

from kbserver.web import admin, pages, reports, signin

__all__ = ["admin", "pages", "reports", "signin"]
