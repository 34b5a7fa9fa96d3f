"""Wire the Reader and the query encoder into a Flask app (the flaskr `init_app` shape)."""

from __future__ import annotations

import threading
from pathlib import Path

from flask import Flask, current_app

from indexer.embedding import build_model, query_encoder
from kbserver import config
from kbserver.ranking import QueryEmbedder, limit_threads
from kbserver.reader import AudienceView, IndexUnavailable, Reader, Snapshot

EXTENSION = "kb"


class Services:
    """What one app holds for its whole life: the reader and the (lazily loaded) query embedders.

    One embedder per model: a build embedded by a model `kb learn train` adapted is queried
    with that model, the next build (perhaps back on the base model) with its own.
    """

    def __init__(
        self, index_dir: Path, reload_interval_s: float, inference_threads: int, learning: str = "on",
        query_encoder: str = "fp32", no_match_threshold: float | str | None = None,
    ) -> None:
        self.query_encoder = config.query_encoder(query_encoder)
        self.params = config.rank_params(learning, no_match_threshold)
        self.reader = Reader(Path(index_dir), reload_interval_s=float(reload_interval_s))
        self._threads = int(inference_threads) or None
        limit_threads(self._threads)
        self._embedders: dict[str, QueryEmbedder] = {}
        self._lock = threading.Lock()

    @property
    def embedder(self) -> QueryEmbedder:
        """The query embedder of the live build's model (`embedder_for`)."""
        return self.embedder_for(self.reader.get())

    def embedder_for(self, snapshot: Snapshot) -> QueryEmbedder:
        """The query embedder of the model that embedded `snapshot`, loaded (checksum-verified) on first use."""
        manifest = snapshot.manifest
        with self._lock:
            embedder = self._embedders.get(manifest.model_sha256)
            if embedder is None:
                model = build_model(self.reader.root, manifest.model_id, manifest.model_sha256, manifest.model_path)
                encoder = query_encoder(self.reader.root, model, self.query_encoder, threads=self._threads)
                embedder = self._embedders[manifest.model_sha256] = QueryEmbedder(encoder)
            return embedder


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
