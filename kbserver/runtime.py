"""Wire the Reader and the query encoder into a Flask app (the flaskr `init_app` shape)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Mapping

from flask import Flask, current_app

from indexer.embedding import build_model, query_encoder
from kbserver import config
from kbserver.retrieval.embedder import QueryEmbedder, limit_threads, multilingual_spaces
from kbserver.retrieval.reader import AudienceView, IndexUnavailable, Reader, Snapshot
from kbserver.retrieval.settings import rank_params

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
        self.params = rank_params(learning, no_match_threshold)
        self.reader = Reader(Path(index_dir), reload_interval_s=float(reload_interval_s))
        self._threads = int(inference_threads) or None
        limit_threads(self._threads)
        self._embedders: dict[str, QueryEmbedder] = {}
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
                embedder = self._embedders[manifest.model_sha256] = QueryEmbedder(
                    encoder, spaces=multilingual_spaces(self._threads))
            return embedder


def init_app(app: Flask) -> None:
    """Give `app` its Services (in app.extensions["kb"]) and open the published index once."""
    app.extensions[EXTENSION] = Services.from_settings(app.config)
    # Open the index (and warm the encoder) at start-up, so the first request pays nothing.
    services = app.extensions[EXTENSION]
    try:
        snapshot = services.reader.get()
    except IndexUnavailable:
        app.logger.warning("no index yet under %s: /healthz answers 503 until one is published", services.reader.root)
        return
    if snapshot.spaces:
        # A multilingual build: load (and checksum) the multilingual encoder now, so the first
        # Tamil message does not wait for it.
        from indexer.embedding import ModelError

        try:
            for name in snapshot.spaces:
                services.embedder_for(snapshot).for_space(name)
        except ModelError as exc:
            app.logger.error("the multilingual encoder could not be loaded: %s", exc)


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
