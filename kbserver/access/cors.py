"""CORS for `/api/v1`, for the helpdesk origins in `CORS_ORIGINS` and no one else.

A helpdesk app running in the agent's browser (a Zendesk or Freshdesk sidebar, say) calls
the API across origins. The browser asks first with a preflight `OPTIONS`; kb answers it,
and every API answer, with `Access-Control-Allow-*` headers only when the request's `Origin`
is one of the listed origins, echoed back exactly. Any other origin gets no CORS header at
all, so its browser keeps the answer from the page. Credentials (cookies) are never allowed:
kb's callers authenticate with a bearer token in `Authorization`, which the preflight allows.

The same list is what the page accepts `postMessage` from and what may frame it
(`frame-ancestors`, in `headers.py`), so one setting opens kb to one helpdesk.
"""

from __future__ import annotations

from flask import Flask, Response, request

from kbserver.config import cors_origins

ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type"
# What a script on the helpdesk may read besides the simple headers: the budget left, and
# the wait after a 429.
EXPOSED_HEADERS = "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
PREFLIGHT_MAX_AGE_S = 600


def allowed_origins(app: Flask) -> tuple[str, ...]:
    """The app's checked `CORS_ORIGINS` (set by `init_app`)."""
    return app.extensions["kb_cors_origins"]


def init_app(app: Flask) -> tuple[str, ...]:
    """Check `CORS_ORIGINS` (ValueError at start for a bad value) and add CORS headers to /api/v1."""
    origins = cors_origins(app.config["CORS_ORIGINS"])
    app.extensions["kb_cors_origins"] = origins
    allowed = frozenset(origins)

    @app.after_request
    def _cors(response: Response) -> Response:
        if request.blueprint != "api" and not request.path.startswith("/api/v1/"):
            return response
        # The answer depends on Origin even when it carries no CORS header: caches must know.
        response.vary.add("Origin")
        origin = request.headers.get("Origin")
        if origin not in allowed:
            return response
        response.headers["Access-Control-Allow-Origin"] = origin
        if request.method == "OPTIONS":
            # The route's own methods when the API answered the preflight (blueprint.py sets Allow).
            response.headers["Access-Control-Allow-Methods"] = response.headers.get("Allow", ALLOWED_METHODS)
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_S)
        else:
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        return response

    return origins
