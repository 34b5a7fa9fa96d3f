"""kb's web service: the agents' page and the JSON API over a published index.

Nothing is imported here at module level: `import kbserver.retrieval` (what `kb eval` runs)
executes this file first, and must not pull in Flask to do it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from flask import Flask


def create_app(config_overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults from SETTINGS, then `KB_*` environment variables, then `config_overrides`."""
    from flask import Flask, Response, jsonify

    from kbserver import api, config, errors, runtime, web
    from kbserver.access import headers, limits
    from kbserver.store import db, redact

    # The page's templates and static files live with the page (kbserver/web/); /static stays /static.
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.from_mapping(config.defaults())
    app.config.from_prefixed_env("KB")
    if config_overrides:
        app.config.from_mapping(config_overrides)
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["MAX_CONTENT_LENGTH"])
    app.json.sort_keys = False  # type: ignore[attr-defined]  # DefaultJSONProvider has it

    runtime.init_app(app)
    db.init_app(app)
    limits.init_app(app)
    redact.install_access_log_filter()  # the dev server logs `?q=...`: raw text must not reach a log

    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(web.pages.bp)
    app.register_blueprint(web.reports.bp)
    errors.register_app(app)
    headers.init_app(app)

    @app.get("/healthz")
    def healthz() -> Response | tuple[Response, int]:
        """Liveness for load balancers, open to anyone: `articles` counts only what the caller may see."""
        from kbserver.access.auth import current_caller
        from kbserver.errors import ApiError

        reader = runtime.get_reader()
        try:
            snapshot = reader.get()  # also notices a newly published build, like any request
        except runtime.IndexUnavailable:
            snapshot = None  # reported below as 503
        status = reader.status()
        if snapshot is None or status["index_version"] is None:
            # The reader's error names paths and builds: an operator's business, not a caller's.
            return jsonify({"status": "unavailable", "index_version": None, "articles": 0}), 503
        try:
            allow_internal = current_caller().allow_internal
        except ApiError:
            allow_internal = False  # a bad token is no token; a health check never answers 401
        articles = len(snapshot.view(allow_internal).articles)
        return jsonify({"status": "ok", "index_version": status["index_version"], "articles": articles})

    return app
