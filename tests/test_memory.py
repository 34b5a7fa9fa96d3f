"""Caches keyed by user input are bounded: distinct random queries do not grow a worker (issue 21).

Before the bounds, `indexer.terms._stem` (lru_cache(maxsize=None)) and the highlighter's
`StemmingAnalyzer(cachesize=-1)` kept every word any query ever held: 2,000 random 4.5 KB
queries added about a million entries and 99 MiB of RSS that was never freed.
"""

from __future__ import annotations

import os
import random
import string

import pytest

from indexer.terms import STEM_CACHE_ENTRIES, STEM_CACHE_MAX_WORD_CHARS, _cached_stem, analyse
from kbserver import service
from kbserver.retrieval.embedder import QueryEmbedder

from conftest import make_app

QUERIES = 10_000
# Measured on the 2-core machine: 4.0 MiB with the bounds (allocator slack), 20.5 MiB and
# 196,845 cached stems without them (docs/security.md).
RSS_GROWTH_BOUND_MIB = 12


def rss_mib() -> float:
    """This process's resident set size now (Linux /proc), in MiB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def random_query(rng: random.Random) -> str:
    """Twelve made-up words of 3 to 12 letters and one 100-letter token: what a flood would send."""
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 12))) for _ in range(12)]
    words.append("".join(rng.choices(string.ascii_lowercase, k=100)))
    return " ".join(words)


def test_long_words_are_stemmed_but_not_cached():
    _cached_stem.cache_clear()
    word = "refunding" * 10

    assert analyse(f"{word} refunding") == [analyse(word)[0], "refund"]
    assert len(word) > STEM_CACHE_MAX_WORD_CHARS
    assert _cached_stem.cache_info().currsize == 1  # "refunding" only


@pytest.mark.slow  # about 45 s: 10,000 queries
def test_ten_thousand_distinct_queries_do_not_grow_the_process(kb_index, tmp_path):
    app = make_app(kb_index, tmp_path)
    rng = random.Random(21)

    def run(n: int) -> None:
        for _ in range(n):
            args = {"q": random_query(rng), "mode": "keyword", "as_you_type": "1"}
            with app.test_request_context("/api/v1/search", query_string=args):
                service.run_search(args)

    run(200)  # warm: imports, the index, the allocator
    analyse(" ".join(random_query(rng) for _ in range(STEM_CACHE_ENTRIES // 12)))  # and a full stem cache
    before = rss_mib()
    run(QUERIES)
    growth = rss_mib() - before

    assert _cached_stem.cache_info().currsize <= STEM_CACHE_ENTRIES
    assert growth < RSS_GROWTH_BOUND_MIB, f"RSS grew {growth:.1f} MiB over {QUERIES} distinct queries"


class CountingEncoder:
    """Not a stand-in for the model: wraps the real encoder to count the passes it makes."""

    def __init__(self, encoder) -> None:
        self.encoder = encoder
        self.calls = 0

    def encode(self, texts):
        return self.encoder.encode(texts)

    def encode_message(self, text, parts):
        self.calls += 1
        return self.encoder.encode_message(text, parts)


@pytest.fixture(scope="module")
def encoder(onnx_model):
    from indexer.embedding import get_encoder

    return get_encoder(onnx_path=onnx_model)


def test_query_vector_cache_keeps_under_its_byte_budget(encoder):
    counting = CountingEncoder(encoder)
    budget = 64 * 1024
    embedder = QueryEmbedder(counting, cache_size=1024, cache_bytes=budget)
    rng = random.Random(7)
    texts = [" ".join(rng.choices(["refund", "parcel", "late", "broken", "size", "order"], k=200)) for _ in range(12)]

    for text in texts:
        embedder.embed(text, [text[:80], text[80:160]])
        assert 0 < embedder.cached_bytes <= budget
    embedder.embed(texts[-1], [texts[-1][:80], texts[-1][80:160]])

    assert counting.calls == len(texts)  # the newest entry is still cached
    embedder.embed(texts[0], [texts[0][:80], texts[0][80:160]])
    assert counting.calls == len(texts) + 1  # the oldest was evicted to stay under the budget
