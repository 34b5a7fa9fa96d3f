"""Query vectors for ranking: the process-wide encoder behind a small LRU cache, and its BLAS threads."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol, Sequence

import numpy as np
from threadpoolctl import threadpool_limits


def limit_threads(threads: int | None) -> None:
    """Run the similarity products on at most `threads` BLAS threads, process-wide.

    One thread per request is what a gunicorn worker wants (requests run side by side), and
    on two busy cores OpenBLAS's second thread made a 55,000-chunk product slower, not
    faster (docs/benchmarks.md). Matches KB_INFERENCE_THREADS, the encoder's own setting.
    """
    if threads:
        threadpool_limits(limits=int(threads), user_api="blas")


class MessageEncoder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray: ...

    def encode_message(self, text: str, parts: list[str]) -> np.ndarray: ...


class QueryEmbedder:
    """Embeds a query and its sentences with the process-wide encoder, through a small LRU cache."""

    def __init__(self, encoder: MessageEncoder, cache_size: int = 1024) -> None:
        self._encoder = encoder
        self._cache: OrderedDict[tuple[str, tuple[str, ...]], np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def embed(self, text: str, sentences: Sequence[str] = ()) -> np.ndarray:
        """(1 + sentences, DIM): the text's vector, then its sentences', from one encoder pass."""
        key = (text, tuple(sentences))
        with self._lock:
            vectors = self._cache.get(key)
            if vectors is not None:
                self._cache.move_to_end(key)
                return vectors
        vectors = self._encoder.encode_message(text, list(sentences)).astype(np.float32, copy=False)
        if self._cache_size:
            with self._lock:
                self._cache[key] = vectors
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return vectors

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """(texts, DIM), each text embedded whole, in batches: for reports, not for queries (no cache)."""
        return self._encoder.encode(list(texts)).astype(np.float32, copy=False)
