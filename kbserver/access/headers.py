"""Response headers that make the page safe to open and to embed: CSP, nosniff, referrer.

The page has no inline script, inline style or event-handler attribute, so the policy can
be `default-src 'self'`: even if a payload slipped past the sanitiser and the escaping, the
browser would refuse to run it. `frame-ancestors` comes from the FRAME_ANCESTORS setting,
so a helpdesk can show kb in its side panel without any other site being able to frame it
(clickjacking).
"""

from __future__ import annotations

from flask import Flask, Response

# Characters that would end the directive or start a second policy: a setting must not be
# able to loosen the rest of the header.
_FORBIDDEN_IN_SOURCES = (";", ",", "\r", "\n")


def content_security_policy(frame_ancestors: str) -> str:
    """The CSP header value. Raises ValueError if `frame_ancestors` would inject a directive."""
    sources = " ".join(str(frame_ancestors).split())
    if not sources or any(ch in str(frame_ancestors) for ch in _FORBIDDEN_IN_SOURCES):
        raise ValueError(f"FRAME_ANCESTORS must be a space-separated list of CSP sources, got {frame_ancestors!r}")
    return "; ".join(
        (
            "default-src 'self'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {sources}",
        )
    )


def init_app(app: Flask, embed_origins: tuple[str, ...] = ()) -> None:
    """Set the security headers on every response of `app` (page, API, static files, errors).

    `embed_origins` (the checked CORS_ORIGINS) may frame the page too, besides FRAME_ANCESTORS."""
    ancestors = str(app.config["FRAME_ANCESTORS"]).split()
    if embed_origins and "'none'" in ancestors:
        raise ValueError("FRAME_ANCESTORS is 'none' but CORS_ORIGINS lists helpdesks that would embed the page")
    ancestors += [o for o in embed_origins if o not in ancestors]
    headers = {
        "Content-Security-Policy": content_security_policy(" ".join(ancestors)),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }

    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers.update(headers)
        return response
