"""`POST /api/v1/feedback`: an agent says how an article did; it is stored and routed to the owner team.

The routes live on `kbserver.api.bp` (imported at the bottom of api.py), so the endpoint is
`api.feedback` and errors get the API's JSON shape.
"""

from __future__ import annotations

import re

from flask import current_app, jsonify

from kbserver.api import _json_body, _text_param, _view, bp, get_article_or_404
from kbserver import learning
from kbserver.auth import current_caller, require
from kbserver.errors import ApiError
from kbserver.feedback import OUTCOMES, record_feedback
from kbserver.storage import get_db

REQUEST_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


@bp.post("/feedback")
def feedback():
    """Store `{"article_id", "outcome", "request_id"?, "comment"?}`; 201 `{"id", "routed_to", ...}`.

    400 for a missing or malformed field or an unknown outcome, 404 for an article the caller
    may not see (unknown, or internal without the `internal` scope).
    """
    require("feedback")
    body = _json_body()
    article_id = _text_param(body.get("article_id"), "article_id")
    outcome = _text_param(body.get("outcome"), "outcome")
    if outcome not in OUTCOMES:
        raise ApiError(400, "invalid_outcome", f"'outcome' must be one of: {', '.join(OUTCOMES)}")
    request_id = body.get("request_id")
    if request_id is not None and not (isinstance(request_id, str) and REQUEST_ID_RE.fullmatch(request_id)):
        raise ApiError(400, "invalid_request_id", "'request_id' must be the request_id of a search or suggest answer")
    comment = body.get("comment")
    if isinstance(comment, str) and not comment.strip():
        comment = None  # an empty comment box is no comment
    if comment is not None:
        comment = _text_param(comment, "comment")
    article = get_article_or_404(_view(), article_id)
    receipt = record_feedback(article, outcome, request_id, comment)
    learned = False
    if request_id and is_learning_on():
        learned = learning.learn_from_feedback(get_db(), request_id, article.id, outcome, current_caller().name)
    body = {"id": receipt.id, "article_id": article.id, "outcome": outcome, "routed_to": receipt.routed_to}
    return jsonify({**body, "learned": learned}), 201


def is_learning_on() -> bool:
    return str(current_app.config["LEARNING"]).lower() not in ("off", "false", "0", "no")
