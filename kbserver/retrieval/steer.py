"""Search that agents can steer: phrases, exclusions, fields, prefixes and fuzzy terms, parsed by Whoosh.

    "proof of postage"      the words in this order (Whoosh phrase over positions)
    -gift  NOT gift         no article about gift: in its title, aliases, summary or tags (also -"gift card")
    title:refund            refund in the title; also tag:, type:, owner: (and aliases:, summary:, heading:, body:)
    refun*                  a word starting with refun
    refnd~  refnd~2         a word within 1 (or 2) edits of refnd

Whoosh's QueryParser reads the query against the schema of the keyword index each build
writes (`indexer.keyword`), and the build's Whoosh index says which chunks match each
constraint. An article qualifies when, for each constraint, one of its chunks matches it,
and no chunk matches an exclusion. Ranking stays kb's own: the remaining words of the query
(operators, field names and exclusions removed, prefixes and fuzzy terms expanded to the
words of the index they match) are ranked by `scoring.rank` among the qualifying articles,
so a steered query scores on the same scale as a plain one.

Plain words are never constraints: `refund card` still ranks loosely, as it always has. A
query without any syntax (most of them) never reaches the parser, and anything Whoosh cannot
read (an unbalanced bracket, a field it does not know) is read as plain words: steering
never errors.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import qparser
from whoosh import query as wq

from indexer.keyword import SCHEMA_FILE, SCHEMA_VERSION, SEARCH_FIELDS, make_schema, open_keyword_index

# A character or word that might be syntax; anything else is plain words without parsing.
SYNTAX = re.compile(r'["*~:()]|(?:^|\s)[-+](?=[\w"])|\b(?:AND|OR|NOT)\b')
FIELD_ALIASES = {"tags": ["tag"]}
log = logging.getLogger(__name__)
MAX_EXPANSIONS = 5  # words a prefix or fuzzy term adds to the ranked text, the most frequent first
_SCHEMA = make_schema()


@dataclass(frozen=True)
class Steered:
    """What a steered query asks: the words to rank, and which articles may be ranked."""

    words: str
    required: np.ndarray  # per article of the snapshot: satisfies every constraint
    excluded: np.ndarray  # per article: matches an exclusion
    constraints: tuple[str, ...]  # each as Whoosh prints it, for `kb eval --explain` and tests
    exclusions: tuple[str, ...]

    @property
    def allowed(self) -> np.ndarray:
        return self.required & ~self.excluded

    def loosened(self, plain_words: str) -> Steered | None:
        """This query with its constraints read as plain words, when no article satisfies them
        (a typo in a phrase, a payload full of quotes): its exclusions still apply; None if it has none."""
        if not self.exclusions:
            return None
        return Steered(plain_words, np.ones_like(self.required), self.excluded, (), self.exclusions)


def parser() -> qparser.QueryParser:
    """Whoosh's multifield parser as kb configures it: AND between groups, `-word` only at a word's
    start (so e-mail and "log in - help" stay words), `word*` prefixes but no `?` wildcard (customers end
    questions with one), `word~` fuzzy terms, `tag:` for tags."""
    p = qparser.MultifieldParser(list(SEARCH_FIELDS), _SCHEMA, group=qparser.AndGroup)
    p.remove_plugin_class(qparser.WildcardPlugin)
    p.add_plugin(qparser.PrefixPlugin())
    p.add_plugin(qparser.FuzzyTermPlugin())
    p.add_plugin(qparser.PlusMinusPlugin(plusexpr=r"(?:(?<=\s)|^)\+(?=[\w\"])", minusexpr=r"(?:(?<=\s)|^)-(?=[\w\"])"))
    p.add_plugin(qparser.FieldAliasPlugin(FIELD_ALIASES))
    return p


def _is_plain_word(node: Any) -> bool:
    """A word typed without syntax: the multifield parser's Or of one Term per search field."""
    if isinstance(node, wq.Term):
        return False  # a Term on its own came from a field the agent named
    if isinstance(node, wq.Or) and node.subqueries:
        # One Term per search field; or, per field, an And of Terms: a word the analyzer split
        # in two ("wi-fi"), or `foo:bar` with a field the schema does not have.
        return all(_terms_in_one_field(q) for q in node.subqueries)
    if isinstance(node, wq.And):
        return all(_is_plain_word(q) for q in node.subqueries)
    return False


def _terms_in_one_field(node: Any) -> bool:
    if isinstance(node, wq.Term):
        return node.fieldname in SEARCH_FIELDS
    return isinstance(node, wq.And) and bool(node.subqueries) and all(
        isinstance(q, wq.Term) and q.fieldname in SEARCH_FIELDS for q in node.subqueries)


def _split(tree: Any) -> tuple[list[Any], list[Any]]:
    """(constraints, exclusions) of a parsed query; plain words are neither."""
    constraints: list[Any] = []
    exclusions: list[Any] = []
    pending = [tree]
    while pending:
        node = pending.pop(0)
        if isinstance(node, wq.And):
            pending[:0] = list(node.subqueries)
        elif isinstance(node, wq.AndNot):
            pending.insert(0, node.a)
            exclusions.append(_about(node.b))
        elif isinstance(node, wq.Not):
            exclusions.append(_about(node.query))
        elif node is wq.NullQuery or isinstance(node, wq.Every) or _is_plain_word(node):
            continue
        elif isinstance(node, wq.Or) and all(isinstance(q, wq.Every) for q in node.subqueries):
            continue  # a lone `*`
        else:
            constraints.append(node)
    return constraints, exclusions


# What an article is about: a plain word excluded with -word must not be in these. A passing
# mention in the body does not exclude: the refund policy mentions gift cards once, and
# `refund -gift` is asked to find it, not to lose it.
ABOUT_FIELDS = ("title", "aliases", "summary")


def _about(node: Any) -> Any:
    """An exclusion as kb applies it: a plain word or phrase across every search field is
    narrowed to the fields that say what an article is about (and its tags); a field the
    agent named (`-title:gift`, `-type:policy`) stays as typed."""
    if isinstance(node, wq.Or) and node.subqueries and all(
        getattr(q, "fieldname", None) in SEARCH_FIELDS for q in node.subqueries
    ):
        kept = [q for q in node.subqueries if q.fieldname in ABOUT_FIELDS]
        tags = [wq.Term("tags", q.text) for q in node.subqueries if isinstance(q, wq.Term) and q.fieldname == "title"]
        return wq.Or(kept + tags)
    return node


WORDS_RE = re.compile(
    r'(?:(?<=\s)|^)(?:-|NOT\s+)(?:"[^"]*"?|\S+)'  # an exclusion: dropped from the ranked words
    r'|\b(?:AND|OR|NOT)\b'                       # an operator
    r'|\b(?:tags?|type|owner):(?:"[^"]*"?|\S+)'  # a filter on a label: not words to rank by
    r'|\b(?:title|aliases|summary|heading|body):(?=\S)'  # a text field's name (its words stay)
    r'|~\d*|[*"()+]'                             # fuzzy, prefix, quote, group and plus marks
)


EXCLUSION_RE = re.compile(r'(?:(?<=\s)|^)(?:-|NOT\s+)(?:"[^"]*"?|\S+)')


def unexcluded_words(text: str) -> str:
    """The query with only its exclusions taken out: what a loosened query ranks by."""
    return " ".join(EXCLUSION_RE.sub(" ", text).split())


def ranked_words(text: str) -> str:
    """The query as ranking reads it: exclusions, operators, field names and marks removed."""
    return " ".join(WORDS_RE.sub(" ", text).split())


class KeywordIndex:
    """A build's Whoosh index, opened on first use and shared by the threads of one process.

    A build an older kb wrote has a Whoosh index of another schema (no owner field, no
    article column): it is not `usable`, and its searches are read as plain words until the
    next `kb index` rewrites it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._ix: Any = None
        self.usable = _schema_version(folder) == SCHEMA_VERSION

    def searcher(self) -> Any:
        with self._lock:
            if self._ix is None:
                self._ix = open_keyword_index(self.folder)
        return self._ix.searcher()


def _schema_version(folder: Path) -> str | None:
    try:
        return (folder / SCHEMA_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def steer(snapshot: Any, text: str) -> Steered | None:
    """The steering in `text` over `snapshot`'s articles, or None when `text` is plain words
    (or nothing Whoosh can read), which rank exactly as before."""
    if not SYNTAX.search(text) or not snapshot.keyword_index.usable:
        return None
    try:
        tree = parser().parse(text)
    except Exception:  # Whoosh's parser raising on odd input: read it as words  # noqa: BLE001
        return None
    constraints, exclusions = _split(tree)
    if not constraints and not exclusions:
        return None
    position = snapshot.article_position
    n = len(snapshot.article_ids)
    required = np.ones(n, dtype=bool)
    excluded = np.zeros(n, dtype=bool)
    expansions: list[str] = []
    try:
        with snapshot.keyword_index.searcher() as searcher:
            ids = searcher.reader().column_reader("article_id")

            def articles(q: Any) -> np.ndarray:
                hit = np.zeros(n, dtype=bool)
                for docnum in searcher.docs_for_query(q):
                    a = position.get(ids[docnum])
                    if a is not None:
                        hit[a] = True
                return hit

            for q in constraints:
                required &= articles(q)
                expansions += _expansions(q, searcher.reader())
            for q in exclusions:
                excluded |= articles(q)
    except Exception:  # a damaged Whoosh index: the search still answers, unsteered  # noqa: BLE001
        log.exception("steered search failed on %s; reading the query as plain words", snapshot.keyword_index.folder)
        return None
    words = " ".join([ranked_words(text), *expansions]).strip()
    return Steered(words, required, excluded, tuple(str(q) for q in constraints), tuple(str(q) for q in exclusions))


def _expansions(q: Any, reader: Any) -> list[str]:
    """The index words a prefix or fuzzy term in `q` stands for, the most frequent first."""
    found: dict[str, int] = {}
    for node in [q, *q.leaves()] if hasattr(q, "leaves") else [q]:
        if isinstance(node, (wq.Prefix, wq.FuzzyTerm)):
            for field, term in node.existing_terms(reader, expand=True):
                word = term.decode("utf-8") if isinstance(term, bytes) else str(term)
                found[word] = found.get(word, 0) + reader.doc_frequency(field, term)
    return sorted(found, key=lambda w: -found[w])[:MAX_EXPANSIONS]
