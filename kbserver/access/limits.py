"""Per-caller rate limiting of the JSON API with Flask-Limiter.

One shared budget (`RATE_LIMIT`, e.g. "600 per minute") covers every /api/v1 route for a
caller: a token by its name, anonymous requests (and requests with a bad token, so guessing
tokens is limited too) by remote address. Excess requests get 429 with the usual JSON error
(code `rate_limited`) and a Retry-After header.

Counters live where `RATE_LIMIT_STORAGE` says. The default, `memory://`, is per process: with
N gunicorn workers a caller may get up to N times the budget. Point it at a shared store
(`redis://...`) when that matters: every worker of every host then spends one budget
(docs/deploy.md). When Redis cannot be reached, Flask-Limiter logs it and counts in memory,
per process, until Redis answers again (its in-memory fallback): a Redis outage costs
precision, never a request. Behind a reverse proxy every anonymous caller has the
proxy's address unless the proxy's X-Forwarded-For is trusted (werkzeug's ProxyFix).
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_limiter import ApplicationLimit, Limiter

from kbserver.access.auth import current_caller
from kbserver.errors import ApiError


def caller_key() -> str:
    """The budget a request spends: its token's name, else its remote address."""
    try:
        caller = current_caller()
    except ApiError:
        # An unknown or malformed token: count it against the address (the view answers 401).
        caller = None
    if caller is not None and caller.name != "anonymous":
        return f"token:{caller.name}"
    return f"addr:{request.remote_addr or '-'}"


def init_app(app: Flask) -> Limiter:
    """Limit every /api/v1 route of `app`; the limiter lives in app.extensions["limiter"]."""

    # Registered before the limiter's own hook, so it runs after it (Flask runs them in reverse).
    @app.after_request
    def _retry_after_only_on_429(response: Response) -> Response:
        # Flask-Limiter sets Retry-After on every metered answer; RFC 9110 gives it meaning on
        # 429 and 503 only, and on a 404 or a 200 it tells a client to wait for nothing.
        if response.status_code != 429:
            response.headers.pop("Retry-After", None)
        return response

    storage = str(app.config["RATE_LIMIT_STORAGE"])
    limiter = Limiter(
        caller_key,
        application_limits=[
            ApplicationLimit(
                str(app.config["RATE_LIMIT"]),
                error_message=f"too many requests: the limit is {app.config['RATE_LIMIT']} per token or address",
            )
        ],
        storage_uri=storage,
        # Short socket timeouts so that a Redis that is gone costs a request about a second once,
        # then the fallback answers at once; swallow_errors keeps any other storage error a log line.
        storage_options={"socket_connect_timeout": 1, "socket_timeout": 1} if storage.startswith("redis") else {},
        in_memory_fallback_enabled=True,
        swallow_errors=True,
        headers_enabled=True,
    )
    # The page, static files and /healthz are not limited: only API clients are metered.
    limiter.request_filter(lambda: request.blueprint != "api")
    limiter.init_app(app)
    return limiter
