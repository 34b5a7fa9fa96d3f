"""Wire the Reader and the query encoder into a Flask app (the flaskr `init_app` shape)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Mapping

from flask import Flask, current_app

from indexer.embedding import get_encoder, query_model
from kbserver import config
from kbserver.retrieval.embedder import QueryEmbedder, limit_threads
from kbserver.retrieval.reader import AudienceView, IndexUnavailable, Reader, Snapshot
from kbserver.retrieval.settings import rank_params

EXTENSION = "kb"


class Services:
    """What one app holds for its whole life: the reader and the (lazily loaded) query embedder."""

    def __init__(
        self, index_dir: Path, reload_interval_s: float, inference_threads: int, learning: str = "on",
        query_encoder: str = "fp32", no_match_threshold: float | str | None = None,
    ) -> None:
        self.query_encoder = config.query_encoder(query_encoder)
        self.params = rank_params(learning, no_match_threshold)
        self.reader = Reader(Path(index_dir), reload_interval_s=float(reload_interval_s))
        self._threads = int(inference_threads) or None
        limit_threads(self._threads)
        self._embedder: QueryEmbedder | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Services:
        """Services for these settings (`app.config`, or `config.from_env()` outside an app)."""
        return cls(
            settings["INDEX_DIR"], settings["RELOAD_INTERVAL_S"], settings["INFERENCE_THREADS"], settings["LEARNING"],
            settings["QUERY_ENCODER"], settings["NO_MATCH_THRESHOLD"],
        )

    @property
    def embedder(self) -> QueryEmbedder:
        """The query embedder, loading the model on first use (once per process)."""
        with self._lock:
            if self._embedder is None:
                model_dir = Path(self.reader.root) / "models"
                encoder = get_encoder(threads=self._threads, onnx_path=query_model(model_dir, self.query_encoder))
                self._embedder = QueryEmbedder(encoder)
            return self._embedder


def init_app(app: Flask) -> None:
    """Give `app` its Services (in app.extensions["kb"]) and open the published index once."""
    app.extensions[EXTENSION] = Services.from_settings(app.config)
    # Open the index (and warm the encoder) at start-up, so the first request pays nothing.
    services = app.extensions[EXTENSION]
    try:
        services.reader.get()
    except IndexUnavailable:
        app.logger.warning("no index yet under %s: /healthz answers 503 until one is published", services.reader.root)


def services() -> Services:
    """This app's Services."""
    return current_app.extensions[EXTENSION]


def get_reader() -> Reader:
    """This app's Reader."""
    return services().reader


def get_index() -> Snapshot:
    """The live snapshot. Raises IndexUnavailable when nothing is published."""
    return services().reader.get()


def get_view(allow_internal: bool) -> AudienceView:
    """The live snapshot as one audience sees it. Raises IndexUnavailable when nothing is published."""
    return get_index().view(allow_internal)
