"""The keyword index: Whoosh (whoosh-reloaded), BM25F over chunk fields with kb's own analyzer.

Every chunk is one Whoosh document. Its article's title is a field of every chunk so that
BM25F weighs a title match above a body match (title > aliases/summary > heading > body).
The service scores from the impacts `indexer.bm25` precomputes with the same analysis and
formula; did-you-mean corrects against the vocabulary `spelling_vocabulary` counts.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Iterable

from whoosh import index as whoosh_index
from whoosh.fields import ID, KEYWORD, TEXT, Schema

from indexer.article import Article
from indexer.store import Chunk
from indexer.terms import whoosh_analyzer, words

FIELD_BOOSTS = {"title": 4.0, "aliases": 2.5, "summary": 2.0, "heading": 1.5, "body": 1.0}
SEARCH_FIELDS = tuple(FIELD_BOOSTS)
# Bumped whenever make_schema changes: a build then rewrites the Whoosh index whole instead of
# copying the previous one (written into the index folder as SCHEMA_FILE).
SCHEMA_VERSION = "3"  # 3: indexer.terms.whoosh_analyzer, words of every script
SCHEMA_FILE = "kb-schema"


def make_schema() -> Schema:
    # The terms indexer.terms.analyse makes, so steered search and highlighting agree with BM25F.
    stem = whoosh_analyzer()
    return Schema(
        chunk_id=ID(stored=True, unique=True),
        # A column too: the service maps every chunk a steered query matches to its article.
        article_id=ID(stored=True, sortable=True),
        type=KEYWORD(lowercase=True),
        audience=ID,
        tags=KEYWORD(lowercase=True, commas=True),
        owner=KEYWORD(lowercase=True),
        title=TEXT(analyzer=stem, field_boost=FIELD_BOOSTS["title"]),
        aliases=TEXT(analyzer=stem, field_boost=FIELD_BOOSTS["aliases"]),
        summary=TEXT(analyzer=stem, field_boost=FIELD_BOOSTS["summary"]),
        heading=TEXT(analyzer=stem, field_boost=FIELD_BOOSTS["heading"]),
        body=TEXT(analyzer=stem, field_boost=FIELD_BOOSTS["body"]),
    )


def chunk_fields(article: Article, chunk: Chunk) -> dict[str, str]:
    """The searchable text of one chunk, by field (the same for Whoosh and the BM25F impacts)."""
    fields = {"title": article.title}
    if chunk.kind == "overview":
        fields.update(summary=article.summary, aliases=" ".join(article.aliases), body=chunk.text)
    elif chunk.kind == "alias":
        fields.update(aliases=chunk.text)
    else:
        fields.update(heading=chunk.section, body=chunk.text)
    return fields


def spelling_text(article: Article, chunk: Chunk) -> str:
    """The words of one chunk that did-you-mean may offer (aliases are in the overview already)."""
    if chunk.kind == "overview":
        return " ".join([article.title, article.summary, *article.aliases, chunk.text])
    return "" if chunk.kind == "alias" else chunk.text


def spelling_vocabulary(articles: dict[str, Article], chunks: Iterable[Chunk]) -> dict[str, list[int]]:
    """Each word did-you-mean may offer, with its count in all articles and in public ones only."""
    counts: dict[str, list[int]] = {}
    for chunk in chunks:
        article = articles[chunk.article_id]
        for word in words(spelling_text(article, chunk)):
            pair = counts.setdefault(word, [0, 0])
            pair[0] += 1
            pair[1] += article.is_public
    return counts


def _documents(article: Article, chunks: Iterable[Chunk]) -> Iterable[dict]:
    for chunk in chunks:
        doc = {
            "chunk_id": chunk.id,
            "article_id": article.id,
            "type": article.type,
            "audience": article.audience,
            "tags": ",".join(article.tags),
            "owner": article.owner,
            **chunk_fields(article, chunk),
        }
        yield doc


def write_keyword_index(
    target: Path,
    articles: dict[str, Article],
    chunks_by_article: dict[str, list[Chunk]],
    *,
    previous: Path | None = None,
    replace_ids: Iterable[str] = (),
) -> int:
    """Write the Whoosh index into `target` (a new folder). Returns the number of documents written.

    With `previous`, its index is copied and only the articles in `replace_ids` are
    deleted and re-added, so a one-article edit does not re-index the whole corpus.
    """
    if previous is not None and _schema_version(previous) != SCHEMA_VERSION:
        previous = None  # an index of another schema: rewrite it whole
    if previous is not None:
        # Whoosh never rewrites a file it has written (a commit adds segment and TOC files and
        # records deletions in the TOC), so the previous index's files are hard-linked, not
        # copied: at 50,000 articles that is 350 MB less to write and fsync for one edit.
        shutil.copytree(previous, target, copy_function=_link_or_copy,
                        ignore=shutil.ignore_patterns("*WRITELOCK*", SCHEMA_FILE))
        ix = whoosh_index.open_dir(str(target))
        ids = set(replace_ids)
    else:
        target.mkdir(parents=True)
        ix = whoosh_index.create_in(str(target), make_schema())
        ids = set(articles)
    written = 0
    writer = ix.writer(limitmb=256)
    try:
        for article_id in sorted(ids):
            if previous is not None:
                writer.delete_by_term("article_id", article_id)
            article = articles.get(article_id)
            if article is None:
                continue
            for doc in _documents(article, chunks_by_article[article_id]):
                writer.add_document(**doc)
                written += 1
        writer.commit(optimize=previous is None)
    except BaseException:
        writer.cancel()
        raise
    finally:
        ix.close()
    (target / SCHEMA_FILE).write_text(SCHEMA_VERSION + "\n", encoding="utf-8")  # not linked: written anew
    return written


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _schema_version(folder: Path) -> str | None:
    try:
        return (folder / SCHEMA_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


def open_keyword_index(folder: Path) -> Any:
    """Open a build's Whoosh index for reading."""
    return whoosh_index.open_dir(str(folder), readonly=True)
