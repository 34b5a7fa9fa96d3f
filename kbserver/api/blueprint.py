"""The one `api` blueprint; search.py, feedback.py, reports.py and openapi.py add its routes."""

from __future__ import annotations

import logging

from flask import Blueprint, Response

from kbserver import errors
from kbserver.store.db import UNAVAILABLE_MESSAGE, DatabaseUnavailable

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__)
errors.register(bp)


@bp.errorhandler(DatabaseUnavailable)
def _database_unavailable(exc: DatabaseUnavailable) -> tuple[Response, int]:
    # Registered on the blueprint: its catch-all Exception handler would otherwise answer 500.
    # Whatever needed the database failed whole inside its one transaction: no partial row.
    log.error("database unavailable: %s", exc)
    return errors.api_error(503, "database_unavailable", UNAVAILABLE_MESSAGE)
