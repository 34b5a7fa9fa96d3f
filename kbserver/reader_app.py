"""Wire the Reader and the query encoder into a Flask app (the flaskr `init_app` shape)."""

from __future__ import annotations

import threading
from pathlib import Path

from flask import Flask, current_app

from indexer.embedding import get_encoder, query_model
from kbserver import config
from kbserver.retrieval.scoring import QueryEmbedder, limit_threads
from kbserver.reader import AudienceView, IndexUnavailable, Reader, Snapshot

EXTENSION = "kb"


class Services:
    """What one app holds for its whole life: the reader and the (lazily loaded) query embedder."""

    def __init__(
        self, index_dir: Path, reload_interval_s: float, inference_threads: int, learning: str = "on",
        query_encoder: str = "fp32", no_match_threshold: float | str | None = None,
    ) -> None:
        self.query_encoder = config.query_encoder(query_encoder)
        self.params = config.rank_params(learning, no_match_threshold)
        self.reader = Reader(Path(index_dir), reload_interval_s=float(reload_interval_s))
        self._threads = int(inference_threads) or None
        limit_threads(self._threads)
        self._embedder: QueryEmbedder | None = None
        self._lock = threading.Lock()

    @property
    def embedder(self) -> QueryEmbedder:
        with self._lock:
            if self._embedder is None:
                model_dir = Path(self.reader.root) / "models"
                encoder = get_encoder(threads=self._threads, onnx_path=query_model(model_dir, self.query_encoder))
                self._embedder = QueryEmbedder(encoder)
            return self._embedder


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = Services(
        app.config["INDEX_DIR"], app.config["RELOAD_INTERVAL_S"], app.config["INFERENCE_THREADS"], app.config["LEARNING"],
        app.config["QUERY_ENCODER"], app.config["NO_MATCH_THRESHOLD"],
    )
    # Open the index (and warm the encoder) at start-up, so the first request pays nothing.
    services = app.extensions[EXTENSION]
    try:
        services.reader.get()
    except IndexUnavailable:
        app.logger.warning("no index yet under %s: /healthz answers 503 until one is published", services.reader.root)


def services() -> Services:
    return current_app.extensions[EXTENSION]


def get_reader() -> Reader:
    return services().reader


def get_index() -> Snapshot:
    """The live snapshot. Raises IndexUnavailable when nothing is published."""
    return services().reader.get()


def get_view(allow_internal: bool) -> AudienceView:
    return get_index().view(allow_internal)
