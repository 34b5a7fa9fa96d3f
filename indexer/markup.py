"""The one parse of article Markdown: Python-Markdown, reading lists the way GitHub shows them.

Python-Markdown nests a list only under four spaces; GitHub (CommonMark) nests whatever is
indented to the item's text, so `1. ` needs three spaces and `- ` two, and a line indented
less than that ends the item. `GitHubLists` re-indents every list line to Python-Markdown's
four-space levels by CommonMark's rule before the block parser sees it, and notes each list
item's source line, number and text as it goes. The page's HTML (`indexer.render`), the
API's steps and lint's step checks (`indexer.parse`) all come from `parse_markdown`, so the
three cannot disagree about where an item starts, ends or nests.
"""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as etree
from dataclasses import dataclass, field
from typing import Iterator

import markdown as md
from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor
from markdown.util import AtomicString

EXTENSIONS = ["tables", "sane_lists", "fenced_code"]
# Column alignment as `align=`, which the sanitiser's allow-list keeps; the default `style=` is stripped.
EXTENSION_CONFIGS = {"tables": {"use_align_attribute": True}}

# Each item's first line carries its source line to the tree in a private-use mark, which the
# tree processor turns into the item's `data-line` and removes (no mark reaches the HTML).
_MARK = "\ue000{}\ue001"
_MARK_RE = re.compile("\ue000(\\d+)\ue001")
_ITEM_RE = re.compile(r"(?:(?P<bullet>[-*+])|(?P<number>\d{1,9})[.)])(?P<gap>[ ]*)(?P<rest>.*)")
_HR_RE = re.compile(r"(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_FENCE_RE = re.compile(r"(?P<fence>`{3,}|~{3,})")
_HEADING_RE = re.compile(r"#{1,6}(?:[ \t]|$)")
_LETTER_RE = re.compile(r"(?P<letter>[a-zA-Z])[.)][ \t]+\S")
_TRAILING_RE = re.compile(r"[ \t\\]*$")
_PLACEHOLDER_RE = re.compile("\x02wzxhzdk:\\d+\x03")


@dataclass(frozen=True)
class Item:
    """One list item as written: the line of its marker (0-based, in the parsed text), the
    number it was written with (None for a bullet) and its own Markdown, lines joined by a
    space. `text` is what comes before its first nested list; `after` what follows it."""

    line: int
    number: int | None
    text: str
    after: str = ""


@dataclass(frozen=True)
class Note:
    """A list shape GitHub reads differently from what its indentation suggests (line 0-based)."""

    line: int
    message: str


@dataclass
class MarkdownTree:
    """One parse: the element tree Python-Markdown serialised, its HTML (not yet sanitised),
    and every list item by line (`item(li)` finds an `<li>`'s)."""

    root: etree.Element
    html: str
    items: dict[int, Item] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)

    def item(self, li: etree.Element) -> Item | None:
        """The source of an `<li>` of `root`, if it was written as a list item."""
        line = li.get("data-line")
        return self.items.get(int(line)) if line is not None else None


@dataclass
class _Open:
    """A list item still open while the lines are read."""

    col: int  # CommonMark's content column in the source
    new_col: int  # the same level in Python-Markdown's four-space indentation
    kind: str  # the bullet, or "." for a numbered item
    indent: int  # of its marker, in the source
    line: int
    number: int | None
    own: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    has_sublist: bool = False

    def add_text(self, text: str) -> None:
        (self.after if self.has_sublist else self.own).append(text)

    def done(self) -> Item:
        return Item(self.line, self.number, " ".join(self.own).strip(), " ".join(self.after).strip())


class _ListIndentation(Preprocessor):
    """Re-indents list lines by CommonMark's content-column rule (see the module docstring)."""

    def __init__(self, md_: md.Markdown, ext: GitHubLists) -> None:
        super().__init__(md_)
        self.ext = ext

    def run(self, lines: list[str]) -> list[str]:
        tree = self.ext.tree
        out: list[str] = []
        stack: list[_Open] = []
        in_paragraph = False  # the line before was paragraph text, which a plain line may continue
        fence: tuple[str, int] | None = None  # an open code fence and the shift of its lines

        def close(keep: int) -> list[_Open]:
            closed = stack[keep:]
            for item in closed:
                tree.items[item.line] = item.done()
            del stack[keep:]
            return closed

        for offset, line in enumerate(lines):
            if fence is not None:
                fence_chars, shift = fence
                stripped = line.lstrip(" ")
                out.append(" " * max(len(line) - len(stripped) + shift, 0) + stripped if shift else line)
                if stripped.startswith(fence_chars) and not stripped.strip(fence_chars[0]).strip():
                    fence = None
                continue
            if not line.strip():
                out.append("")
                in_paragraph = False
                continue
            indent = len(line) - len(line.lstrip(" "))
            body = line[indent:]
            depth = sum(1 for o in stack if o.col <= indent)  # content columns grow with depth
            base, new_base = (stack[depth - 1].col, stack[depth - 1].new_col) if depth else (0, 0)
            rel = indent - base
            match = _ITEM_RE.fullmatch(body) if rel <= 3 and not _HR_RE.match(body) else None
            if match and match.group("rest") and not match.group("gap"):
                match = None  # `-foo`, `1.5`: no list item without a space after the marker
            kind = ""
            if match:
                kind = match.group("bullet") or "."
                number = match.group("number")
                # A list can interrupt a paragraph of its own container only if its first item is
                # not empty and, when numbered, starts at 1 ("we refund in\n2. days" is one paragraph).
                if in_paragraph and depth == len(stack) and (not match.group("rest") or (number and int(number) != 1)):
                    match = None
            is_block = bool(match) or (
                rel <= 3 and bool(_HR_RE.match(body) or _HEADING_RE.match(body) or body.startswith(">") or _FENCE_RE.match(body))
            )
            if not is_block and in_paragraph and stack:
                # Paragraph continuation, lazily unindented or not: it belongs to the innermost item.
                owner = stack[-1]
                lettered = _LETTER_RE.match(body)
                if lettered:
                    letter = lettered.group("letter")
                    tree.notes.append(Note(offset, (
                        f"'{letter}.' starts no list on GitHub, so this line runs on into the item above: "
                        f"write the branch as a sub-list ('- {letter}. ...') indented to the item's text"
                    )))
                owner.add_text(body.strip())
                out.append(" " * owner.new_col + body)
                continue
            closed = close(depth)
            if match:
                number = match.group("number")
                width = len(match.group("bullet") or "") or len(number) + 1
                gap = len(match.group("gap"))
                col = indent + width + (gap if 1 <= gap <= 4 and match.group("rest") else 1)
                if closed and indent - closed[0].indent >= 2:  # one space is a sibling written untidily
                    # Indented, but not as far as the text of the item above: GitHub ends that item here.
                    tree.notes.append(Note(offset, (
                        f"this item is indented {indent} spaces, less than the {closed[0].col} of the text of the item "
                        f"above, so GitHub does not nest it: indent it {closed[0].col} spaces to make it part of that item"
                    )))
                if (closed and closed[0].kind != kind) or (in_paragraph and not closed and not stack):
                    out.append("")  # Python-Markdown starts a new list only after a blank line
                if depth:
                    stack[depth - 1].has_sublist = True
                rest = match.group("rest")
                content = _TRAILING_RE.search(rest)
                cut = content.start() if content else len(rest)
                marker = f"{number}." if number else kind
                out.append(" " * new_base + f"{marker} {rest[:cut]}{_MARK.format(offset)}{rest[cut:]}")
                opened = _Open(col, new_base + 4, kind, indent, offset, int(number) if number else None)
                opened.add_text(rest.strip())
                stack.append(opened)
                in_paragraph = bool(rest.strip())
                continue
            fenced = _FENCE_RE.match(body) if rel <= 3 else None
            if fenced:
                fence = (fenced.group("fence"), new_base - base)
            elif depth:
                stack[depth - 1].add_text(body.strip())
            out.append(" " * (new_base + rel) + body if depth else line)
            in_paragraph = not is_block
        close(0)
        return out


class _ItemLines(Treeprocessor):
    """Moves each item's line mark into its `<li data-line>` and removes every mark from the text."""

    def run(self, root: etree.Element) -> None:
        for li in root.iter("li"):
            for node, attr in _own_text(li):
                found = _MARK_RE.search(getattr(node, attr) or "")
                if found:
                    li.set("data-line", found.group(1))
                    break
        for node in root.iter():
            for attr in ("text", "tail"):
                value = getattr(node, attr)
                if value and "\ue000" in value:
                    cleaned = _MARK_RE.sub("", value)
                    setattr(node, attr, AtomicString(cleaned) if isinstance(value, AtomicString) else cleaned)


def _own_text(li: etree.Element) -> Iterator[tuple[etree.Element, str]]:
    """(element, "text"|"tail") pairs holding `li`'s own text, nested lists excluded."""
    yield li, "text"
    for child in li:
        if child.tag not in ("ul", "ol"):
            yield from _descendant_text(child)
        yield child, "tail"


def _descendant_text(node: etree.Element) -> Iterator[tuple[etree.Element, str]]:
    yield node, "text"
    for child in node:
        yield from _descendant_text(child)
        yield child, "tail"


class _KeepTree(Treeprocessor):
    def __init__(self, md_: md.Markdown, ext: GitHubLists) -> None:
        super().__init__(md_)
        self.ext = ext

    def run(self, root: etree.Element) -> None:
        self.ext.tree.root = root


class GitHubLists(Extension):
    """Python-Markdown extension: lists nest, end and continue as on GitHub; see the module docstring."""

    def __init__(self, **kwargs: object) -> None:
        self.tree = MarkdownTree(root=etree.Element("div"), html="")  # the parse being made; set per call
        super().__init__(**kwargs)

    def extendMarkdown(self, md_: md.Markdown) -> None:  # noqa: N802 - Python-Markdown's name
        # After tabs are expanded (30), before fenced code (25) and raw HTML (20) are stashed.
        md_.preprocessors.register(_ListIndentation(md_, self), "github_lists", 27)
        md_.treeprocessors.register(_ItemLines(md_), "github_list_lines", 15)  # after inline (20)
        md_.treeprocessors.register(_KeepTree(md_, self), "keep_tree", -100)


class _Converters(threading.local):
    """One configured Python-Markdown per thread: building one costs a third of parsing a
    procedure's steps, and an instance is reusable after `reset()` but not thread-safe
    (a build and `kb serve --watch`'s rebuild run in different threads)."""

    def __init__(self) -> None:
        self.lists = GitHubLists()
        self.converter = md.Markdown(extensions=[*EXTENSIONS, self.lists], extension_configs=EXTENSION_CONFIGS,
                                     output_format="html")


_CONVERTERS = _Converters()


def _converter(tree: MarkdownTree) -> md.Markdown:
    """This thread's converter, reset, with `tree` as the parse it fills in."""
    converter = _CONVERTERS.converter
    converter.reset()
    _CONVERTERS.lists.tree = tree
    return converter


def parse_markdown(text: str) -> MarkdownTree:
    """Parse article Markdown once: the tree, its (unsanitised) HTML and its list items."""
    tree = MarkdownTree(root=etree.Element("div"), html="")
    tree.html = _converter(tree).convert(text)
    return tree


def parse_blocks(text: str) -> MarkdownTree:
    """The same parse up to its block tree (`html` stays empty): what the steps and lint read.

    Every preprocessor and block processor of `parse_markdown` runs, so lists start, end and
    nest exactly as on the page; only the inline pass (emphasis, links, which cannot move a
    block) and serialising are left out, which halves the cost of linting a procedure.
    """
    tree = MarkdownTree(root=etree.Element("div"), html="")
    converter = _converter(tree)
    lines = text.split("\n")
    for preprocessor in converter.preprocessors:
        lines = preprocessor.run(lines)
    tree.root = converter.parser.parseDocument(lines).getroot()
    _ItemLines(converter).run(tree.root)
    return tree


def plain(node: etree.Element) -> str:
    """An element's text as a reader sees it: whitespace collapsed, stashed raw HTML left out."""
    return " ".join(_PLACEHOLDER_RE.sub(" ", "".join(node.itertext())).split())
