"""kb's web service: the agents' page and the JSON API over a published index."""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask, jsonify

from kbserver import config, errors, limits, reader_app, redact, security, storage


def create_app(config_overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults from SETTINGS, then `KB_*` environment variables, then `config_overrides`."""
    app = Flask(__name__)
    app.config.from_mapping(config.defaults())
    app.config.from_prefixed_env("KB")
    if config_overrides:
        app.config.from_mapping(config_overrides)
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["MAX_CONTENT_LENGTH"])
    app.json.sort_keys = False

    reader_app.init_app(app)
    storage.init_app(app)
    limits.init_app(app)
    redact.install_access_log_filter()  # the dev server logs `?q=...`: raw text must not reach a log

    from kbserver import api, reports_web, web

    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(web.bp)
    app.register_blueprint(reports_web.bp)
    errors.register_app(app)
    security.init_app(app)

    @app.get("/healthz")
    def healthz():
        reader = reader_app.get_reader()
        try:
            reader.get()  # also notices a newly published build, like any request
        except reader_app.IndexUnavailable:
            pass  # reported below as 503
        status = reader.status()
        if status["index_version"] is None:
            return jsonify({"status": "unavailable", **status}), 503
        return jsonify({"status": "ok", "index_version": status["index_version"], "articles": status["articles"]})

    return app
