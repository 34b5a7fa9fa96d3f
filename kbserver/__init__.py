"""kb's web service: the agents' page and the JSON API over a published index.

Nothing is imported here at module level: `import kbserver.retrieval` (what `kb eval` runs)
executes this file first, and must not pull in Flask to do it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from flask import Flask


def create_app(config_overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults from SETTINGS, then `KB_*` environment variables, then `config_overrides`.

    Raises config.SettingError (a ValueError) naming the first setting kb cannot use.
    """
    from flask import Flask, Response, jsonify, render_template

    from kbserver import api, config, errors, runtime, web
    from kbserver.access import cors, csrf, headers, limits, oidc, tokens
    from kbserver.store import db, redact

    # The page's templates and static files live with the page (kbserver/web/); /static stays /static.
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    # Before anything opens: a bad setting stops the start with one line (config.SettingError,
    # which a gunicorn worker prints as "App failed to load" rather than as a traceback).
    config.load(app.config, config_overrides)
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["MAX_CONTENT_LENGTH"])
    app.json.sort_keys = False  # type: ignore[attr-defined]  # DefaultJSONProvider has it

    db.init_app(app)  # first: a bad KB_DATABASE stops the start before the index and model load
    runtime.init_app(app)
    limits.init_app(app)
    tokens.init_app(app)
    oidc.init_app(app)
    redact.install_access_log_filter()  # the dev server logs `?q=...`: raw text must not reach a log

    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(web.pages.bp)
    app.register_blueprint(web.reports.bp)
    app.register_blueprint(web.signin.bp)
    app.register_blueprint(web.admin.bp)
    csrf.init_app(app)
    errors.register_app(app)
    headers.init_app(app, cors.init_app(app))

    @app.errorhandler(db.DatabaseUnavailable)
    def database_unavailable(exc: db.DatabaseUnavailable) -> Any:
        # The pages' 503 (the API blueprint answers JSON itself, kbserver/api/blueprint.py).
        app.logger.error("database unavailable: %s", exc)
        title = "The database is unreachable"
        return render_template("error.html", status=503, title=title, message=None, database_down=True), 503

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
        except (ApiError, db.DatabaseUnavailable):
            allow_internal = False  # a bad token is no token; a health check never answers 401
        view = snapshot.view(allow_internal)
        return jsonify({
            "status": "ok",
            "index_version": status["index_version"],
            "fingerprint": status["fingerprint"],  # equal on hosts built from the same content (docs/deploy.md)
            "articles": len(view.articles),
            "examples": status["examples"],
        })

    return app
