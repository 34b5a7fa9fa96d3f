"""`POST /api/v1/feedback`: an agent says how an article did; it is stored and routed to the owner team.

The route lives on the `api` blueprint, so the endpoint is `api.feedback` and errors get the
API's JSON shape.
"""

from __future__ import annotations

import logging
import re

from flask import Response, current_app, jsonify

from kbserver import config
from kbserver.access.auth import current_caller, require
from kbserver.api.blueprint import bp
from kbserver.errors import ApiError
from kbserver.service import (
    FEEDBACK_FIELDS,
    current_view,
    get_article_or_404,
    json_body,
    text_param,
    ticket_id_param,
)
from kbserver.store import learning
from kbserver.store.db import DatabaseUnavailable, get_db
from kbserver.store.feedback import OUTCOMES, record_feedback

log = logging.getLogger(__name__)
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


@bp.post("/feedback")
def feedback() -> tuple[Response, int]:
    """Store `{"article_id", "outcome", "request_id"?, "comment"?, "ticket_id"?}`; 201 `{"id", "routed_to", ...}`.

    400 for a missing or malformed field or an unknown outcome, 404 for an article the caller
    may not see (unknown, or internal without the `internal` scope).
    """
    require("feedback")
    body = json_body(FEEDBACK_FIELDS)
    article_id = text_param(body.get("article_id"), "article_id")
    outcome = text_param(body.get("outcome"), "outcome")
    if outcome not in OUTCOMES:
        raise ApiError(400, "invalid_outcome", f"'outcome' must be one of: {', '.join(OUTCOMES)}")
    request_id = body.get("request_id")
    if request_id is not None and not (isinstance(request_id, str) and REQUEST_ID_RE.fullmatch(request_id)):
        raise ApiError(400, "invalid_request_id", "'request_id' must be the request_id of a search or suggest answer")
    comment = body.get("comment")
    if isinstance(comment, str) and not comment.strip():
        comment = None  # an empty comment box is no comment
    if comment is not None:
        comment = text_param(comment, "comment")
    ticket_id = ticket_id_param(body.get("ticket_id"))
    article = get_article_or_404(current_view(), article_id)
    caller = current_caller().name
    receipt = record_feedback(get_db(), article, outcome, request_id, comment, caller, ticket_id)
    learned = False
    if request_id and config.is_learning_on(current_app.config["LEARNING"]):
        try:
            learned = learning.learn_from_feedback(get_db(), request_id, article.id, outcome, caller)
        except DatabaseUnavailable:
            # The feedback is committed: answer 201 for it (an acknowledged write is kept);
            # only the example is missing, and the answer says so with "learned": false.
            log.exception("feedback %s stored; learning from it failed", receipt.id)
    body = {"id": receipt.id, "article_id": article.id, "outcome": outcome, "routed_to": receipt.routed_to,
            "ticket_id": ticket_id}
    return jsonify({**body, "learned": learned}), 201

