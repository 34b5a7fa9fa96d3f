"""`GET /search`, `POST /suggest`, `GET /articles/<id>` and `GET /changes`: what agents and helpdesks ask."""

from __future__ import annotations

from flask import Response, jsonify, request

from kbserver import service
from kbserver.access.auth import require
from kbserver.api.blueprint import bp


@bp.get("/search")
def search() -> Response:
    require("search")
    return jsonify(service.run_search(request.args).to_json())


@bp.post("/suggest")
def suggest() -> Response:
    require("suggest")
    return jsonify(service.run_suggest(service.json_body(service.SUGGEST_FIELDS)).to_json())


@bp.get("/articles/<path:article_id>")
def article(article_id: str) -> Response:
    require("search")
    """One article; `?from=<request_id>` says which search or suggest answer it was opened from (click-through)."""
    opened_from = service.from_request_id(request.args.get("from"))
    view = service.current_view()
    found = service.get_article_or_404(view, article_id)
    service.record_article_view(found, "api", opened_from)
    return jsonify(service.article_payload(view, found))


@bp.get("/changes")
def changes() -> Response:
    require("search")
    since, moment = service.changes_since_param(request.args)
    return jsonify({"since": since, **service.changes_since(service.current_view(), moment)})
