"""The agents' web page (server-rendered, works without JavaScript)."""

from __future__ import annotations

from flask import Blueprint, abort

bp = Blueprint("web", __name__)


@bp.get("/articles/<path:article_id>")
def article(article_id: str):
    abort(404)
