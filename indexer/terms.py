"""Index terms, and the keyword impacts stored term by term: what building and searching share.

`analyse` makes the terms of a chunk at build time and of a query at search time, so the two
always agree; `whoosh_analyzer` makes the same terms for the Whoosh index, steered queries
and highlighting. `TermMatrix.scores` is the search-time half of `indexer.bm25` (which
computes the impacts when a build is written). `Postings` is the format both write and
read. The server imports this module, never the build side.

Every script is analysed here, with no language passed around (docs/languages.md):

- A word is letters, digits and combining marks (`[\\w\\p{M}]`, so a Tamil or Telugu vowel
  sign stays inside its word), optionally joined by single dots, as Whoosh's default pattern.
- Text that is not pure ASCII is normalised word by word: NFKC, lower case, digits of any
  script to ASCII (۵۵۱۲۳ and ٥٥١٢٣ are 55123), Arabic letter forms to Persian ones
  (ي ى→ی, ك→ک, ة ۀ→ه, أ إ آ ٱ→ا), and Arabic diacritics, tatweel and the zero-width
  (non-)joiner removed, so می‌خواهم and میخواهم are one term.
- Each term is stemmed by its script: Tamil by Snowball's Tamil stemmer, Telugu and
  Arabic-script words not at all, everything else by Whoosh's Porter stemmer as always.
- Stop words are per language (`indexer.stopwords`); a word is stopped by its own script's list.

Pure ASCII text takes the path kb always had, so English terms are byte for byte what they were.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Iterator

import numpy as np
import regex
import snowballstemmer
from whoosh.analysis import STOP_WORDS, Composable, StemFilter, StopFilter, Token, Tokenizer
from whoosh.lang.porter import stem

from indexer.stopwords import STOP_WORDS_BY_LANGUAGE

_TOKEN_RE = re.compile(r"\w+(?:\.?\w+)*")
_WORD_RE = re.compile(r"[^\W\d_]{3,}")
# re's \w is exactly [\p{L}\p{N}_] (over the Unicode version Python knows), so a word here is a
# word of _TOKEN_RE with its combining marks (and any zero-width joiner typed inside it) kept.
_RAW_TOKEN_RE = regex.compile(r"[\p{L}\p{N}\p{M}_\u200c\u200d]+(?:\.?[\p{L}\p{N}\p{M}_\u200c\u200d]+)*")
_TERM_RE = regex.compile(r"[\p{L}\p{N}\p{M}_]+(?:\.?[\p{L}\p{N}\p{M}_]+)*")
_LATIN_WORD_RE = regex.compile(r"\p{Latin}+")


def _fold_table() -> dict[int, str | None]:
    """What `normalise` maps after NFKC and lower case: digits, Arabic letter forms, marks removed."""
    table: dict[int, str | None] = {
        # NFKC leaves the digits of other scripts alone; every decimal digit below U+20000 is here.
        c: str(unicodedata.decimal(chr(c))) for c in range(0x80, 0x20000) if unicodedata.category(chr(c)) == "Nd"
    }
    persian = {"ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "ۀ": "ه", "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا"}
    table.update({ord(a): b for a, b in persian.items()})
    # The joiners are invisible and typed or not at will; harakat, the superscript alef and the
    # Quranic marks are optional diacritics; tatweel only stretches a word.
    dropped = [0x200C, 0x200D, 0x0640, 0x0670, *range(0x064B, 0x0660), *range(0x06D6, 0x06DD),
               *range(0x06DF, 0x06E9), *range(0x06EA, 0x06EE)]
    table.update(dict.fromkeys(dropped))
    return table


_FOLD = _fold_table()


def normalise(word: str) -> str:
    """`word` as a term before stemming: NFKC, lower case, then the digit and Arabic-script folds."""
    if word.isascii():
        return word.lower()
    return unicodedata.normalize("NFKC", word).lower().translate(_FOLD)


# Every language's stop words, folded as text is: lists of different scripts never collide.
STOP_TERMS = frozenset(
    STOP_WORDS | {normalise(w) for words in STOP_WORDS_BY_LANGUAGE.values() for w in words}
)


def script_of(term: str) -> str:
    """The script that picks `term`'s stemmer: "tamil", "telugu", "arabic", or "latin" for any other."""
    for ch in term:
        o = ord(ch)
        if o < 0x80:
            continue
        if 0x0B80 <= o <= 0x0BFF:
            return "tamil"
        if 0x0C00 <= o <= 0x0C7F:
            return "telugu"
        if 0x0600 <= o <= 0x06FF or 0x0750 <= o <= 0x077F or 0x08A0 <= o <= 0x08FF:
            return "arabic"
        return "latin"
    return "latin"


# Queries are user input: an unbounded cache keyed by their words grew by 99 MiB over 2,000
# random queries and never shrank (issue 21). 65,536 words of at most 32 characters cost at
# most about 20 MiB (docs/security.md); a longer word is no real word, and is stemmed uncached.
STEM_CACHE_ENTRIES = 65_536
STEM_CACHE_MAX_WORD_CHARS = 32

# A Snowball stemmer keeps the word it works on in the object: one per process, under a lock,
# because the server stems queries on several threads.
_TAMIL_STEMMER = snowballstemmer.stemmer("tamil")
_TAMIL_LOCK = threading.Lock()


def _stem_word(word: str) -> str:
    if not word.isascii() and script_of(word) == "tamil":
        with _TAMIL_LOCK:
            return str(_TAMIL_STEMMER.stemWord(word))
    return stem(word)


@lru_cache(maxsize=STEM_CACHE_ENTRIES)
def _cached_stem(word: str) -> str:
    return _stem_word(word)


def _stem(word: str) -> str:
    return _cached_stem(word) if len(word) <= STEM_CACHE_MAX_WORD_CHARS else _stem_word(word)


def stem_term(term: str) -> str:
    """`term` (normalised) stemmed by its script's stemmer; Telugu and Arabic-script terms as they are."""
    if not term.isascii() and script_of(term) in ("telugu", "arabic"):
        return term
    return _stem(term)


def _terms(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, term) of every word of `text`, normalised but neither stopped nor stemmed;
    start and end are the word's place in `text` itself (what highlighting marks)."""
    for match in _RAW_TOKEN_RE.finditer(text):
        raw = match.group()
        if raw.isascii():
            yield match.start(), match.end(), raw.lower()
        else:
            # NFKC may split a word ("½" is "1⁄2"): each part is a term at the word's place.
            for term in _TERM_RE.findall(normalise(raw)):
                yield match.start(), match.end(), term


def _is_ascii_words(lower: str, tokens: list[str]) -> bool:
    """Whether every word of `lower` (`tokens`, split as kb always split) is ASCII and no joiner
    or Latin combining mark (U+0300-U+036F, UTF-8 lead bytes CC and CD) could join two of them:
    then the words of every script are exactly these. A £ or an en dash is no reason to go slow."""
    if not "".join(tokens).isascii() or "\u200c" in lower or "\u200d" in lower:
        return False
    data = lower.encode("utf-8")
    return b"\xcc" not in data and b"\xcd" not in data


def analyse(text: str) -> list[str]:
    """Stemmed index terms of `text`; for English text exactly as Whoosh's StemmingAnalyzer makes them."""
    lower = text.lower()
    tokens = _TOKEN_RE.findall(lower)
    if text.isascii() or _is_ascii_words(lower, tokens):
        # The hot path (English queries and articles) is kb's analysis as it always was: read word
        # by word, the bundled articles (most hold a £ or a dash) took 2.4 times as long.
        return [_stem(t) for t in tokens if len(t) >= 2 and t not in STOP_WORDS]
    return analyse_words(text)


def analyse_words(text: str) -> list[str]:
    """`analyse` without its ASCII shortcut: the same terms, read word by word in every script."""
    return [stem_term(t) for _start, _end, t in _terms(text) if len(t) >= 2 and t not in STOP_TERMS]


def words(text: str) -> Iterable[str]:
    """Unstemmed Latin words of three letters or more: the vocabulary did-you-mean corrects
    against (an English speller: a word of another script is never offered)."""
    found = _WORD_RE.findall(text.lower())
    return found if text.isascii() else [w for w in found if _LATIN_WORD_RE.fullmatch(w)]


class KbTokenizer(Tokenizer):
    """Whoosh tokenizer over `_terms`: the words `analyse` reads, normalised, with their places."""

    def __eq__(self, other: object) -> bool:
        return self.__class__ is other.__class__

    def __hash__(self) -> int:
        return hash(self.__class__)

    def __call__(self, value: str, positions: bool = False, chars: bool = False, keeporiginal: bool = False,
                 removestops: bool = True, start_pos: int = 0, start_char: int = 0, tokenize: bool = True,
                 mode: str = "", **kwargs: Any) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        spans = _terms(value) if tokenize else iter([(0, len(value), normalise(value))])
        for pos, (start, end, text) in enumerate(spans):
            t.text = text
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = value[start:end]
            if positions:
                t.pos = start_pos + pos
            if chars:
                t.startchar = start_char + start
                t.endchar = start_char + end
            yield t


def whoosh_analyzer() -> Composable:
    """The Whoosh analyzer of `analyse`'s terms: the keyword index, steered queries and
    highlighting read text exactly as kb's own BM25F does (stop words removed, positions
    renumbered, as StemmingAnalyzer did). Stemming goes through kb's bounded stem cache."""
    return KbTokenizer() | StopFilter(stoplist=STOP_TERMS, minsize=2) | StemFilter(stemfn=stem_term, cachesize=None)


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
