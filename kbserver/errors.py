"""One way to build a JSON error, and the handlers that turn every API failure into one."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Blueprint, Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# HTTP status -> default code, for errors raised by Flask/werkzeug themselves.
STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal",
    503: "index_unavailable",
}


# Every code a JSON error may carry, in the order the OpenAPI document lists them. A test walks
# the code for each `ApiError` raised and fails when one is missing here (or from the document).
ERROR_CODES: tuple[str, ...] = (
    "malformed_json",
    "unsupported_media_type",
    "unknown_field",
    "missing_text",
    "empty_text",
    "invalid_text",
    "invalid_unicode",
    "json_too_deep",
    "text_too_long",
    "missing_q",
    "empty_q",
    "invalid_q",
    "q_too_long",
    "invalid_mode",
    "invalid_limit",
    "invalid_type",
    "invalid_article_id",
    "article_not_found",
    "not_found",
    "method_not_allowed",
    "body_too_large",
    "invalid_token",
    "missing_scope",
    "rate_limited",
    "index_unavailable",
    "database_unavailable",
    "missing_article_id",
    "empty_article_id",
    "missing_outcome",
    "empty_outcome",
    "invalid_outcome",
    "invalid_request_id",
    "invalid_ticket_id",
    "invalid_comment",
    "comment_too_long",
    "invalid_since",
    "invalid_team",
    # Issue 20, item 6: article opens from a result, trends, and marking feedback handled.
    "invalid_from",
    "invalid_weeks",
    "feedback_not_found",
    "already_handled",
    "invalid_note",
    "note_too_long",
    # Found by tests/test_contract.py: raised by the feedback API all along, never listed.
    "article_id_too_long",
    "outcome_too_long",
    # Issue 29: sign-in, CSRF and helpdesk-delegated sessions.
    "sign_in_required",
    "csrf_failed",
    "missing_person",
    "empty_person",
    "invalid_person",
    "person_too_long",
    "missing_name",
    "empty_name",
    "invalid_name",
    "name_too_long",
    "invalid_roles",
    "invalid_expires_in",
)


class ApiError(HTTPException):
    """An error with a stable code: raise it anywhere under /api/v1."""

    def __init__(self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None,
                 **extra: str) -> None:
        super().__init__(description=message)
        self.code = status
        self.error_code = code
        self.extra = extra  # more keys for the error object, e.g. the `field` a 400 is about
        self.headers = dict(headers or {})  # e.g. a 401's WWW-Authenticate

    def get_headers(self, environ: Any = None, scope: Any = None) -> list[tuple[str, str]]:
        return [*super().get_headers(environ, scope), *self.headers.items()]


def api_error(status: int, code: str, message: str, **extra: str) -> tuple[Response, int]:
    """The canonical error body `{"error": {"code", "message", ...}}`. Callers may add keys, never remove."""
    return jsonify({"error": {"code": code, "message": message, **extra}}), status


def http_error(exc: HTTPException) -> tuple[Response, int]:
    """`api_error` for a werkzeug/Flask exception, keeping the headers it carries (a 405's `Allow`)."""
    code = getattr(exc, "error_code", None) or STATUS_CODES.get(exc.code or 500, "error")
    response, status = api_error(exc.code or 500, code, exc.description or code, **getattr(exc, "extra", {}))
    # RFC 9110: a 405 must list the allowed methods. get_headers() also names an HTML
    # Content-Type, which the JSON body replaces.
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response, status


def register_app(app: Flask) -> None:
    """Routing errors (no such API route, wrong method) under /api/ are JSON too."""

    @app.errorhandler(HTTPException)
    def _routing(exc: HTTPException):
        if request.path.startswith("/api/"):
            return http_error(exc)
        return exc


def register(bp: Blueprint) -> None:
    """Make every error raised under `bp` a JSON error; never leak a traceback."""

    @bp.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return http_error(exc)

    @bp.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return api_error(500, "internal", "internal error; it has been logged")
