"""Split an Article into the chunks a search can point at."""

from __future__ import annotations

import hashlib
import re

from indexer.article import Article, Section
from indexer.store import Chunk

MAX_CHUNK_CHARS = 700

_ITEM_START_RE = re.compile(r"^(?:\d+[.)]|[-*+])\s+")


def plain_text(markdown: str) -> str:
    """Markdown reduced to readable text: list markers, emphasis and link syntax removed."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s+)?", "", text, flags=re.M)
    text = re.sub(r"^#{1,6}\s+", "", text, flags=re.M)
    text = re.sub(r"[*_`]{1,3}", "", text)
    text = re.sub(r"^\s*\|?[-:| ]+\|?\s*$", " ", text, flags=re.M)
    text = text.replace("|", " ")
    return re.sub(r"\s+", " ", text).strip()


def split_blocks(markdown: str) -> list[str]:
    """Top-level blocks of a section: each top-level list item (with its nested lines) or paragraph."""
    blocks: list[list[str]] = []
    for line in markdown.splitlines():
        if not line.strip():
            if blocks and blocks[-1]:
                blocks.append([])
            continue
        starts_item = bool(_ITEM_START_RE.match(line)) and not line[0].isspace()
        if starts_item or not blocks or not blocks[-1]:
            blocks.append([line])
        else:
            blocks[-1].append(line)
    return ["\n".join(b) for b in blocks if b]


def pack(blocks: list[str], max_chars: int = MAX_CHUNK_CHARS) -> list[str]:
    """Greedily pack consecutive blocks into pieces of at most `max_chars` (a longer block stands alone)."""
    pieces: list[str] = []
    current = ""
    for block in blocks:
        text = plain_text(block)
        if not text:
            continue
        if current and len(current) + 1 + len(text) > max_chars:
            pieces.append(current)
            current = text
        else:
            current = f"{current} {text}".strip()
    if current:
        pieces.append(current)
    return pieces


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunk_article(article: Article) -> list[Chunk]:
    """The overview (title, summary, intro), one chunk per alias, and each section split to size."""
    chunks: list[Chunk] = []

    def add(kind: str, section: str, text: str, embed_text: str) -> None:
        heading = f"{article.title} > {section}" if section else article.title
        chunks.append(
            Chunk(
                id=f"{article.id}#{len(chunks)}",
                article_id=article.id,
                kind=kind,
                section=section,
                heading_path=heading,
                text=text,
                embed_text=embed_text,
                hash=_hash(embed_text),
            )
        )

    overview = f"{article.title}. {article.summary}"
    intro = plain_text(article.intro)
    add("overview", "", f"{overview} {intro}".strip(), f"{overview} {intro}"[:MAX_CHUNK_CHARS].strip())
    for alias in article.aliases:
        add("alias", "", alias, alias)
    for section in article.sections:
        for piece in _section_pieces(section):
            add("section", section.name, piece, f"{article.title}. {section.name}: {piece}")
    return chunks


def _section_pieces(section: Section) -> list[str]:
    return pack(split_blocks(section.markdown))
