"""Parse one article: front matter, then the body's sections, steps and unsafe markup.

`parse_text` is the whole parse of one file's text; `lint` runs it over a folder and adds the
checks that need every article. Findings carry the file and line they point at, so `kb lint`
reads like a compiler.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
import xml.etree.ElementTree as etree
from pathlib import Path
from typing import Any

import yaml

from indexer.article import (
    DEFAULT_LANG,
    LOCALISED_SECTIONS,
    SECTION_SYNONYMS,
    Article,
    Finding,
    FindingLog,
    Section,
    Step,
    article_id,
    display_path,
    localised_synonym,
    section_key,
)
from indexer.frontmatter import (
    check_front_matter,
    iso_date,
    parse_front_matter,
    read_plain_values_as_written,
    tabs_as_spaces,
)
from indexer.language import detect, language_name, looks_english, normalise_tag
from indexer.markup import MarkdownTree, parse_blocks, plain

_HEADING_RE = re.compile(r"^##[ \t]+(?P<name>\S.*)")  # closing #s are cut in code: `.+?\s*#*\s*$` is quadratic
_FENCE_RE = re.compile(r"^\s*(```|~~~)")
_TODO_RE = re.compile(r"\bTODO\b")
_UNSAFE_TAG_RE = re.compile(r"<\s*/?\s*(script|iframe|object|embed|style|svg|form|base|meta|link)\b", re.I)
# A tag (which may span lines) but not a Markdown autolink such as <https://example.com/onsale=1>.
_TAG_RE = re.compile(r"<(?!(?:https?|ftp|mailto):[^\s<>]*>)[a-z][^<>]*", re.I)
# Browsers also take `/` or a closing quote as the end of the previous attribute: <img/onerror=...>.
_EVENT_HANDLER_RE = re.compile(r"[\s/\"']on[a-z]+\s*=", re.I)
_SCRIPT_URL_RE = re.compile(r"(javascript|vbscript|data\s*:\s*text/html)", re.I)
_CODE_RE = re.compile(r"^\s*(```|~~~).*?^\s*\1[^\n]*$|`[^`\n]*`|\]\([^)\s]*\)", re.M | re.S)
# An article's language is told from the first this many characters of its prose: enough for
# a confident answer, and detection stays well under a millisecond an article.
LANG_SAMPLE_CHARS = 600
LANG_MIN_LETTERS = 40  # less prose than this (a stub) says too little to warn about
LANG_MIN_CONFIDENCE = 0.9


def parse_article(
    path: Path, root: Path, *, today: dt.date | None = None, raw: bytes | None = None,
    references: dict[str, Any] | None = None,
) -> tuple[Article | None, list[Finding]]:
    """Parse and lint one article file on its own (cross-article checks are in `lint_articles`).

    Returns the article (None when it has errors that prevent building one) and the findings.
    `raw` is the file's bytes when the caller has read them already; `references` as in `parse_text`.
    """
    display = display_path(path)
    raw = path.read_bytes() if raw is None else raw
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return None, [Finding(display, line, "error", f"not UTF-8 (byte 0x{raw[exc.start]:02x}): save the file as UTF-8")]
    return parse_text(text, article_id(path, root), display, today=today, references=references)


def parse_text(
    text: str, id_: str, display_path: str, *, today: dt.date | None = None, references: dict[str, Any] | None = None
) -> tuple[Article | None, list[Finding]]:
    """Parse article source `text` whose id is `id_`; findings name `display_path`.

    Every check runs whatever else is wrong, so one pass reports every finding of the file.
    When given, `references` is filled with the `policies` and `related` the front matter
    names and the `key_lines`, even when errors leave no article: lint still checks them.
    """
    p = FindingLog(display_path)
    today = today or dt.date.today()
    # Windows editors often save UTF-8 with a byte-order mark; it is not part of the text.
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").split("\n")
    if not lines or lines[0].strip() != "---":
        p.error(1, "missing YAML front matter: the file must start with a line '---'")
        return None, p.findings
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
    except StopIteration:
        p.error(1, "front matter is not closed: add a line '---' after it")
        return None, p.findings

    front = read_plain_values_as_written(tabs_as_spaces(lines[1:end], p, first_line=2), p, first_line=2)
    parsed_meta, key_lines = parse_front_matter("\n".join(front), p, first_line=2)
    body_first_line = end + 2  # 1-based line number of lines[end + 1]
    body_lines = lines[end + 1 :]
    _check_todo(lines, p)
    meta: dict[str, Any] = parsed_meta if parsed_meta is not None else {}
    if parsed_meta is not None:
        check_front_matter(meta, key_lines, p, today)
        is_procedure = meta.get("type") == "procedure"
    else:  # YAML that does not parse: the body is still checked, as the procedure it says it is
        is_procedure = any(re.match(r"type:\s*['\"]?procedure\b", line) for line in front)
    if references is not None:
        references.update(key_lines=key_lines, **{
            key: [str(v) for v in meta[key]] for key in ("policies", "related") if isinstance(meta.get(key), list)
        })
    intro, sections = _split_sections(body_lines, body_first_line)
    sections = _recognise_synonyms(sections, p, is_procedure=is_procedure)
    _check_unsafe_markup(body_lines, body_first_line, p)

    steps: tuple[Step, ...] = ()
    steps_section = next((s for s in sections if s.key == "steps"), None)
    if steps_section is not None:
        # Section.markdown drops the blank lines under the heading; count them back in.
        after_heading = body_lines[steps_section.line - body_first_line + 1 :]
        skipped = next((i for i, line in enumerate(after_heading) if line), 0)
        steps = _parse_steps(steps_section, p, first_line=steps_section.line + 1 + skipped)
    if is_procedure and not steps:
        line = steps_section.line if steps_section else body_first_line
        p.error(line, "a procedure needs a '## Steps' section with a numbered list (1., 2., ...)")

    if parsed_meta is not None:
        _check_language(meta, key_lines, intro, sections, p)

    if parsed_meta is None or any(f.is_error for f in p.findings):
        return None, p.findings
    article = Article(
        id=id_,
        path=display_path,
        title=str(meta["title"]).strip(),
        type=meta["type"],
        summary=str(meta["summary"]).strip(),
        owner=str(meta["owner"]).strip(),
        tags=tuple(str(t) for t in meta.get("tags") or ()),
        audience=meta.get("audience") or "internal",
        policies=tuple(str(t) for t in meta.get("policies") or ()),
        related=tuple(str(t) for t in meta.get("related") or ()),
        updated=iso_date(meta.get("updated")),
        review_by=iso_date(meta.get("review_by")),
        aliases=tuple(str(t) for t in meta.get("aliases") or ()),
        lang=meta.get("lang") or DEFAULT_LANG,
        intro=intro,
        sections=tuple(sections),
        steps=steps,
    )
    return article, p.findings


def _heading_name(text: str) -> str:
    """A heading's text without an ATX closing sequence: `Rules ##` -> `Rules`, `C#` stays."""
    name = text.rstrip()
    bare = name.rstrip("#")
    if bare != name and bare[-1:] in (" ", "\t") and bare.strip():
        return bare.rstrip()
    return name


def _split_sections(body: list[str], first_line: int) -> tuple[str, list[Section]]:
    """Split the body on `##` headings (ignoring fenced code) into an intro and sections."""
    intro: list[str] = []
    sections: list[tuple[str, int, list[str]]] = []
    in_fence = False
    for offset, line in enumerate(body):
        if _FENCE_RE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING_RE.match(line)
        if match:
            sections.append((_heading_name(match.group("name")), first_line + offset, []))
        elif sections:
            sections[-1][2].append(line)
        else:
            intro.append(line)
    return "\n".join(intro).strip(), [
        Section(name=name, key=section_key(name), line=line, markdown="\n".join(text).strip("\n"))
        for name, line, text in sections
    ]


def _recognise_synonyms(sections: list[Section], p: FindingLog, *, is_procedure: bool) -> list[Section]:
    """`sections` with the first heading that names a missing conventional section keyed as it
    (steps only in a procedure: a policy's `## Instructions` is just a section)."""
    present = {s.key for s in sections}
    for key, synonyms in SECTION_SYNONYMS.items():
        if key in present or (key == "steps" and not is_procedure):
            continue
        found = next((i for i, s in enumerate(sections) if s.key in synonyms or _localised_key(s.name) == key), None)
        if found is None:
            continue
        i = found
        lang = (localised_synonym(sections[i].name) or ("", ""))[1]  # "" for an English synonym
        section = sections[i]
        sections[i] = Section(name=section.name, key=key, line=section.line, markdown=section.markdown)
        present.add(key)
        if key == "steps":
            heading = LOCALISED_SECTIONS[lang]["steps"][0] if lang else "Steps"
            p.warning(section.line, f"'## {section.name}' read as '## {heading}': name the section {heading}")
    return sections


def _localised_key(name: str) -> str | None:
    """The conventional key a heading stands for as another language's second heading, if it does."""
    found = localised_synonym(name)
    return found[0] if found else None


def _check_language(
    meta: dict[str, Any], key_lines: dict[str, int], intro: str, sections: list[Section], p: FindingLog
) -> None:
    """A warning (never an error: mixed texts exist) when the prose confidently reads as
    another language than `lang:` says, at the `lang:` line (line 1 without one)."""
    lang = meta.get("lang")
    if lang is not None:
        try:
            lang = normalise_tag(lang)
        except ValueError:
            return  # `lang:` itself is the error to fix first
    parts = [str(meta.get(k) or "") for k in ("title", "summary")] + [intro] + [f"{s.name}\n{s.markdown}" for s in sections]
    prose = _CODE_RE.sub(" ", "\n".join(parts))[:LANG_SAMPLE_CHARS]
    claimed = lang or DEFAULT_LANG
    if claimed == "en" and looks_english(prose):
        return
    found = detect(prose)
    letters = sum(1 for ch in prose if ch.isalpha())
    if found.code in ("und", claimed) or found.confidence < LANG_MIN_CONFIDENCE or letters < LANG_MIN_LETTERS:
        return
    said = f"lang: {claimed}" if lang else f"lang: {claimed} (the default)"
    p.warning(
        key_lines.get("lang", 1),
        f"{said} but the text reads as {language_name(found.code)} ({found.code}); fix lang: or the text",
    )


def _parse_steps(section: Section, p: FindingLog, first_line: int) -> tuple[Step, ...]:
    """The top-level numbered items of `## Steps`, each with its nested items as details, read
    from the same parse the page renders (`indexer.markup`), so both see the same lists.

    A block between two steps (a note, a list GitHub does not nest) is a detail of the step
    before it; anything after the last step stays in the section but is not a step.
    `first_line` is the file line of the first line of `section.markdown`.
    """
    tree = parse_blocks(section.markdown)
    for note in tree.notes:
        p.warning(first_line + note.line, note.message)
    steps: list[tuple[int, str, list[str]]] = []
    all_ones = True  # every step so far written "1."
    between: list[str] = []
    for block in tree.root:
        if block.tag != "ol":
            if steps:
                between.extend(_details(tree, block))
            continue
        for li in block.findall("li"):
            item = tree.item(li)
            expected = len(steps) + 1
            n = item.number if item and item.number is not None else expected
            all_ones = all_ones and n == 1
            # "1. 1. 1." is Markdown's lazy numbering (rendered 1, 2, 3): in order, by position.
            if n != expected and not all_ones and item is not None:
                p.error(first_line + item.line, f"step numbered {n} where {expected} was expected: number steps in order")
            if steps:
                steps[-1][2].extend(between)
            between = []
            details = [d for child in li if child.tag in ("ul", "ol") for d in _details(tree, child)]
            if item is not None and item.after:
                details.append(item.after)
            steps.append((expected, item.text if item is not None else plain(li), details))
    return tuple(Step(n=n, text=text, details=tuple(details)) for n, text, details in steps)


def _details(tree: MarkdownTree, block: etree.Element) -> list[str]:
    """A block as details: every item of a list (nested ones flattened, in order), else its text."""
    if block.tag in ("ul", "ol"):
        found: list[str] = []
        for li in block.iter("li"):
            item = tree.item(li)
            found.extend(t for t in ((item.text, item.after) if item else (plain(li),)) if t)
        return found
    text = plain(block)
    return [text] if text else []


def _check_todo(lines: list[str], p: FindingLog) -> None:
    """A TODO (as `kb new` writes them) is a warning, so `kb lint --strict` fails until it is filled in."""
    for number, line in enumerate(lines, start=1):
        if _TODO_RE.search(line):
            p.warning(number, "TODO left in the article: fill it in before publishing")


def _check_unsafe_markup(body: list[str], first_line: int, p: FindingLog) -> None:
    decoded_lines = [html.unescape(html.unescape(line)).replace("\n", " ") for line in body]
    decoded_body = "\n".join(decoded_lines)
    handler_lines = set()
    for tag in _TAG_RE.finditer(decoded_body):
        handler = _EVENT_HANDLER_RE.search(tag.group())
        if handler:
            handler_lines.add(decoded_body.count("\n", 0, tag.start() + handler.start() + 1))
    for offset, decoded in enumerate(decoded_lines):
        compact = re.sub(r"[\s\x00-\x1f]+", "", decoded)
        number = first_line + offset
        unsafe = _UNSAFE_TAG_RE.search(decoded)
        if unsafe:
            p.error(number, f"raw <{unsafe.group(1).lower()}> is not allowed in an article body")
        elif offset in handler_lines:
            p.error(number, "HTML event handler attributes (on...=) are not allowed in an article body")
        match = _SCRIPT_URL_RE.search(compact)
        if match and re.search(r"(javascript|vbscript):|data:text/html", compact, re.I):
            p.error(number, f"'{match.group(1).lower()}:' URLs are not allowed in an article body")


def parser_key() -> str:
    """Identifies this parser: its sources (values, front matter, body) and the YAML library; a cached parse is reused only from the same one."""
    here = Path(__file__).parent
    source = b"".join((here / name).read_bytes() for name in ("article.py", "frontmatter.py", "parse.py", "markup.py", "language.py"))
    flavour = f"{yaml.__version__}|{getattr(yaml, '__with_libyaml__', False)}"
    return hashlib.sha256(source + flavour.encode()).hexdigest()[:16]
