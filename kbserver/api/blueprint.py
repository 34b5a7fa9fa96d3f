"""The one `api` blueprint; search.py, feedback.py, reports.py and openapi.py add its routes."""

from __future__ import annotations

from flask import Blueprint, Response, request

from kbserver import errors

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
