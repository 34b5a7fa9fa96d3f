"""Query vectors for ranking: the process-wide encoder behind a small LRU cache, and its BLAS threads."""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from typing import Callable, Protocol, Sequence

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


# An entry holds a message of up to MAX_TEXT_CHARS and a vector per sentence, so a count alone
# bounds nothing: 1,024 long emails would be ~170 MiB. The cache also keeps under this many bytes.
CACHE_BYTES = 16 * 2**20


def _entry_bytes(key: tuple[str, tuple[str, ...]], vectors: np.ndarray) -> int:
    return sys.getsizeof(key[0]) + sum(sys.getsizeof(s) for s in key[1]) + int(vectors.nbytes)


def multilingual_spaces(threads: int | None = None) -> dict[str, Callable[[], MessageEncoder]]:
    """The second encoder a multilingual build is queried with (indexer.multilingual), unloaded."""
    from indexer import multilingual

    return {multilingual.SPACE: lambda: multilingual.get_encoder(threads)}


class QueryEmbedder:
    """Embeds a query and its sentences with the process-wide encoder, through a small LRU cache
    of at most `cache_size` entries and `cache_bytes` bytes (texts and vectors)."""

    def __init__(
        self, encoder: MessageEncoder, cache_size: int = 1024, cache_bytes: int = CACHE_BYTES,
        spaces: dict[str, Callable[[], MessageEncoder]] | None = None,
    ) -> None:
        self._encoder = encoder
        # A build's other encoders (indexer.multilingual), loaded on first use: name -> factory.
        self._space_factories = dict(spaces) if spaces is not None else multilingual_spaces()
        self._spaces: dict[str, QueryEmbedder] = {}
        self._cache: OrderedDict[tuple[str, tuple[str, ...]], np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._cache_bytes = cache_bytes
        self._bytes = 0
        self._lock = threading.Lock()

    def for_space(self, name: str) -> QueryEmbedder:
        """The embedder of another encoder of the build (`name`, e.g. "me5"), with its own cache.
        Raises KeyError when this embedder was made without it."""
        with self._lock:
            embedder = self._spaces.get(name)
        if embedder is None:
            encoder = self._space_factories[name]()  # loads the model: outside the cache's lock
            with self._lock:
                embedder = self._spaces.setdefault(name, QueryEmbedder(encoder, self._cache_size, self._cache_bytes))
        return embedder

    def with_spaces(self, spaces: dict[str, Callable[[], MessageEncoder]]) -> QueryEmbedder:
        """This embedder, able to load the encoders `spaces` names too (`for_space`)."""
        self._space_factories.update(spaces)
        return self

    @property
    def cached_bytes(self) -> int:
        """What the cached texts and vectors hold now (at most `cache_bytes`)."""
        return self._bytes

    def embed(self, text: str, sentences: Sequence[str] = ()) -> np.ndarray:
        """(1 + sentences, DIM): the text's vector, then its sentences', from one encoder pass."""
        key = (text, tuple(sentences))
        with self._lock:
            vectors = self._cache.get(key)
            if vectors is not None:
                self._cache.move_to_end(key)
                return vectors
        vectors = self._encoder.encode_message(text, list(sentences)).astype(np.float32, copy=False)
        cost = _entry_bytes(key, vectors)
        if self._cache_size and cost <= self._cache_bytes:
            with self._lock:
                if key not in self._cache:
                    self._cache[key] = vectors
                    self._bytes += cost
                while len(self._cache) > self._cache_size or self._bytes > self._cache_bytes:
                    old_key, old = self._cache.popitem(last=False)
                    self._bytes -= _entry_bytes(old_key, old)
        return vectors

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """(texts, DIM), each text embedded whole, in batches: for reports, not for queries (no cache)."""
        return self._encoder.encode(list(texts)).astype(np.float32, copy=False)
