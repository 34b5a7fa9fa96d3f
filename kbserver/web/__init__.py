"""The agents' web page: `pages` (search, article, suggest) and `reports` (/reports), server-rendered."""

from __future__ import annotations

from kbserver.web import pages, reports

__all__ = ["pages", "reports"]
