"""The one `api` blueprint; search.py, feedback.py, reports.py and openapi.py add its routes."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from kbserver import errors
from kbserver.store.db import UNAVAILABLE_MESSAGE, DatabaseUnavailable

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__)
errors.register(bp)


@bp.before_request
def _options() -> Response | None:
    """OPTIONS on an API route: 204 with `Allow`, not Flask's automatic empty text/html 200."""
    if request.method != "OPTIONS" or request.url_rule is None:
        return None
    response = Response(status=204)
    response.headers["Allow"] = ", ".join(sorted(request.url_rule.methods or ()))
    response.headers.pop("Content-Type", None)
    return response


@bp.errorhandler(DatabaseUnavailable)
def _database_unavailable(exc: DatabaseUnavailable) -> tuple[Response, int]:
    # Registered on the blueprint: its catch-all Exception handler would otherwise answer 500.
    # Whatever needed the database failed whole inside its one transaction: no partial row.
    log.error("database unavailable: %s", exc)
    return errors.api_error(503, "database_unavailable", UNAVAILABLE_MESSAGE)
