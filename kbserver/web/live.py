"""The live-reload channel of `kb serve --watch`: what the open page polls to follow the author.

`kb serve --watch` rebuilds the index on every save. The page (with `kb-live.js`, included
only when this blueprint is registered) asks `GET /_live` a few times a second: when the live
build is no longer the one it was rendered from it reloads, and while the last save does not
lint it shows the findings over the last good build, which keeps serving.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, url_for

from kbserver import runtime
from kbserver.retrieval.reader import IndexUnavailable

EXTENSION = "kb_live"
bp = Blueprint("live", __name__)


@dataclass
class LiveState:
    """What the watcher last did: the findings that kept a save from publishing, if any."""

    problems: tuple[str, ...] = ()
    rebuilds: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def published(self) -> None:
        with self._lock:
            self.problems, self.rebuilds = (), self.rebuilds + 1

    def refused(self, problems: list[str]) -> None:
        with self._lock:
            self.problems, self.rebuilds = tuple(problems), self.rebuilds + 1

    def to_json(self, build: str | None) -> dict[str, Any]:
        with self._lock:
            return {"build": build, "problems": list(self.problems), "rebuilds": self.rebuilds}


def _live_build() -> str | None:
    try:
        return runtime.get_index().build_id
    except IndexUnavailable:
        return None


@bp.get("/_live")
def status() -> Response:
    """The live build and the findings of the last save that did not publish."""
    response = jsonify(current_app.extensions[EXTENSION].to_json(_live_build()))
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> LiveState:
    """Register the channel on `app` (only `kb serve --watch` does) and return its state."""
    state = app.extensions[EXTENSION] = LiveState()
    app.register_blueprint(bp)

    @app.context_processor
    def _live_page() -> dict[str, Any]:
        return {"live_reload": {"url": url_for("live.status"), "build": _live_build() or "", "method": request.method}}

    return state
