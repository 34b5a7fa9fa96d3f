"""Did-you-mean and typo repair: correct a query word to the nearest word the articles use.

Candidates come from a symmetric delete index (every vocabulary word filed under itself
with one letter removed): a misspelling one insertion, deletion, substitution or
adjacent swap away from a word shares a key with it, so a lookup is a handful of dict
probes instead of a scan of the vocabulary. Ties between candidates at the same edit
distance go to the word the articles use most. Built once per published build.
"""

from __future__ import annotations

import functools
import re
from typing import Container, Iterable

import numpy as np

# A word, with any apostrophe inside it ("wouldn't" is one word, not "wouldn" and "t").
_WORD_RE = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
# The verbs whose "n't" customers type without the apostrophe: "didnt", "cant", "wont".
_NOT_CONTRACTED = frozenset(
    "do does did is was were are have has had would could should must need might ca wo ai".split()
)
# Shorter words are where abbreviations live ("cust", "acct", "appt"): never typos.
MIN_TYPO_LETTERS = 5


class HashedWords:
    """Membership in a large word list, held as a sorted array of the words' hashes.

    160,000 words as a Python set cost a worker ~60 MB; their 64-bit hashes cost 1.3 MB
    (24 MB of RSS after loading, against 62). A collision would only leave a typo uncorrected.
    """

    def __init__(self, words: Iterable[str]) -> None:
        self._hashes = np.unique(np.fromiter(map(hash, words), dtype=np.int64))

    def __contains__(self, word: object) -> bool:
        key = hash(word)
        i = int(np.searchsorted(self._hashes, key))
        return i < len(self._hashes) and int(self._hashes[i]) == key


@functools.cache
def english_words() -> HashedWords:
    """An English dictionary (pyspellchecker's ~160,000 words): a word in it is not a typo."""
    from spellchecker import SpellChecker

    return HashedWords(SpellChecker(language="en").word_frequency.dictionary)


def is_english(word: str, words: Container[str]) -> bool:
    """`word` (lower case) is a dictionary word, a plural of one, or a contraction typed without its apostrophe."""
    if word in words or (word.endswith("s") and word[:-1] in words):
        return True
    return word.endswith("nt") and word[:-2] in _NOT_CONTRACTED


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance with adjacent transpositions counted as one edit."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


class Speller:
    """A delete index over every word of a build; each audience passes its own word counts."""

    def __init__(self, words: Iterable[str]) -> None:
        self._by_delete: dict[str, list[str]] = {}
        for word in words:
            for key in _deletes(word):
                self._by_delete.setdefault(key, []).append(word)

    def correct(self, word: str, counts: dict[str, int], *, max_distance: int = 2) -> str | None:
        """The closest, most used word of `counts` that shares `word`'s first letter, or None."""
        candidates = set(self._by_delete.get(word, ()))  # one letter missing from `word`
        for key in _deletes(word):
            candidates.add(key)  # one letter too many in `word`
            candidates.update(self._by_delete.get(key, ()))  # one letter wrong or swapped
        scored = [
            (edit_distance(word, c), -counts[c], c)
            for c in candidates
            if c != word and c[:1] == word[:1] and counts.get(c, 0) > 0
        ]
        scored = [s for s in scored if s[0] <= max_distance]
        return min(scored)[2] if scored else None


def _starts_sentence(text: str, at: int) -> bool:
    """Whether the word at `at` opens the text or follows a sentence's end (only spaces between)."""
    i = at - 1
    while i >= 0 and text[i].isspace():
        i -= 1
    return i < 0 or text[i] in ".!?:;"


def fix_typos(text: str, speller: Speller, counts: dict[str, int], words: Container[str] | None = None) -> str:
    """`text` with its misspellings of the articles' words corrected ("retrun" -> "return").

    Only a word that is neither in the articles nor in an English dictionary is a typo, and
    only one edit from an article word (sharing its first letter) gets corrected: a real word
    the articles happen not to use ("dishwasher", "hoodie") and an unknown one far from any
    ("ryanair") stay as typed. Names (capitalised inside a sentence), acronyms, words with an
    apostrophe are left alone; in a message typed in capitals, capitals mark neither names
    nor acronyms. Short words are where abbreviations live ("cust", "acct", "appt", "thanx"
    would become cut, act, app, than), so a word, its singular and its correction all need
    MIN_TYPO_LETTERS letters. On the labelled sets this changed 7 words in 630 messages,
    every one a true typo (docs/quality.md, row 23).
    """
    words = english_words() if words is None else words
    letters = [c for c in text if c.isalpha()]
    shouting = len(letters) >= 12 and sum(c.isupper() for c in letters) > 0.6 * len(letters)
    seen: dict[str, str | None] = {}

    def repair(match: re.Match[str]) -> str:
        word = match.group()
        lower = word.lower()
        if len(lower) < MIN_TYPO_LETTERS or "'" in lower or lower in counts:
            return word
        if lower.endswith("s") and len(lower) - 1 < MIN_TYPO_LETTERS:
            return word  # the plural of a short word or abbreviation: "custs", "accts"
        if not shouting:  # in a message typed in capitals, capitals say nothing
            if word.isupper():
                return word  # an acronym: "GDPR"
            if word[0].isupper() and not _starts_sentence(text, match.start()):
                return word  # a name, not a typo: "Steph", "Ryanair"
        if lower not in seen:  # a long message repeats its words: look each up once
            fixed = None if is_english(lower, words) else speller.correct(lower, counts, max_distance=1)
            seen[lower] = fixed if fixed and len(fixed) >= MIN_TYPO_LETTERS else None
        fixed = seen[lower]
        if fixed is None:
            return word
        return fixed.upper() if word.isupper() else fixed.capitalize() if word[0].isupper() else fixed

    return _WORD_RE.sub(repair, text)
