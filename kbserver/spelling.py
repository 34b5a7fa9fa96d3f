"""Did-you-mean: correct a query word to the nearest word the articles use.

Candidates come from a symmetric delete index (every vocabulary word filed under itself
with one letter removed): a misspelling one insertion, deletion, substitution or
adjacent swap away from a word shares a key with it, so a lookup is a handful of dict
probes instead of a scan of the vocabulary. Ties between candidates at the same edit
distance go to the word the articles use most. Built once per published build.
"""

from __future__ import annotations

from typing import Iterable


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
