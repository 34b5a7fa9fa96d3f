"""The JSON API under /api/v1: one blueprint whose routes live in one module per resource.

Views stay thin: they check the scope, call `kbserver.service` and turn its answer into JSON.
"""

from __future__ import annotations

from kbserver.api import feedback, openapi, people, reports, search  # noqa: F401  (each adds its routes to bp)
from kbserver.api.blueprint import bp

__all__ = ["bp"]
