"""Index terms, and the keyword impacts stored term by term: what building and searching share.

`analyse` makes the terms of a chunk at build time and of a query at search time, so the two
always agree; `TermMatrix.scores` is the search-time half of `indexer.bm25` (which computes
the impacts when a build is written). `Postings` is the format both write and read. The
server imports this module, never the build side.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

import numpy as np
from whoosh.analysis import STOP_WORDS
from whoosh.lang.porter import stem

_TOKEN_RE = re.compile(r"\w+(?:\.?\w+)*")
_WORD_RE = re.compile(r"[^\W\d_]{3,}")


# Queries are user input: an unbounded cache keyed by their words grew by 99 MiB over 2,000
# random queries and never shrank (issue 21). 65,536 words of at most 32 characters cost at
# most about 20 MiB (docs/security.md); a longer word is no real word, and is stemmed uncached.
STEM_CACHE_ENTRIES = 65_536
STEM_CACHE_MAX_WORD_CHARS = 32


@lru_cache(maxsize=STEM_CACHE_ENTRIES)
def _cached_stem(word: str) -> str:
    return stem(word)


def _stem(word: str) -> str:
    return _cached_stem(word) if len(word) <= STEM_CACHE_MAX_WORD_CHARS else stem(word)


def analyse(text: str) -> list[str]:
    """Stemmed index terms of `text`, exactly as Whoosh's StemmingAnalyzer makes them."""
    return [_stem(t) for t in _TOKEN_RE.findall(text.lower()) if len(t) >= 2 and t not in STOP_WORDS]


def words(text: str) -> Iterable[str]:
    """Unstemmed words of three letters or more: the vocabulary did-you-mean corrects against."""
    return _WORD_RE.findall(text.lower())


@dataclass(frozen=True)
class TermMatrix:
    """Impacts stored term by term: rows[indptr[i]:indptr[i+1]] are the chunks holding terms[i]."""

    terms: np.ndarray  # str, sorted
    indptr: np.ndarray  # int64, len(terms) + 1
    rows: np.ndarray  # int32 chunk rows
    impacts: np.ndarray  # float32
    n_rows: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "_position", {t: i for i, t in enumerate(self.terms.tolist())})

    def scores(self, terms: Iterable[str]) -> np.ndarray:
        """Per chunk row, the BM25F score of an OR over the distinct `terms` (0 where none occurs)."""
        position = self._position  # type: ignore[attr-defined]
        spans = [(self.indptr[i], self.indptr[i + 1]) for i in (position.get(t) for t in dict.fromkeys(terms)) if i is not None]
        if not spans:
            return np.zeros(self.n_rows, dtype=np.float32)
        rows = np.concatenate([self.rows[lo:hi] for lo, hi in spans])
        impacts = np.concatenate([self.impacts[lo:hi] for lo, hi in spans])
        return np.bincount(rows, weights=impacts, minlength=self.n_rows).astype(np.float32)

    def __contains__(self, term: str) -> bool:
        return term in self._position  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Postings:
    """What BM25F needs of each chunk row, before any corpus statistics: per (row, field,
    term) how often the term occurs, and each row's field lengths. A rebuild keeps the rows
    of unchanged chunks and analyses only the new ones (`merge_postings`)."""

    terms: np.ndarray  # str: term id -> term
    rows: np.ndarray  # int32
    fields: np.ndarray  # int8, position in the field order of the boosts
    term_ids: np.ndarray  # int32
    counts: np.ndarray  # int32
    lengths: np.ndarray  # float64, (n_rows, fields)

    @property
    def n_rows(self) -> int:
        return len(self.lengths)
