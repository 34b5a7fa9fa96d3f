"""The article contract: parse `articles/<area>/<slug>.md` into an `Article`, and lint it.

Both sides use this module: the indexer parses and lints, the server only reads the
`Article` values the indexer stored. Findings carry the file and line they point at, so
`kb lint` reads like a compiler.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml
from yaml.constructor import SafeConstructor

TYPES = ("policy", "product", "procedure")
AUDIENCES = ("internal", "public")
REQUIRED_KEYS = ("title", "type", "summary", "owner")
OPTIONAL_KEYS = ("tags", "audience", "policies", "related", "updated", "review_by", "aliases")
LIST_KEYS = ("tags", "policies", "related", "aliases")
DATE_KEYS = ("updated", "review_by")

# Conventional sections kb understands, by the key the API uses for them.
CONVENTIONAL_SECTIONS = {
    "steps": "Steps",
    "exceptions": "Exceptions",
    "what_you_can_offer": "What you can offer",
    "escalation": "Escalation",
    "follow_up": "Follow-up",
}

# Other teams' headings for the conventional sections, by key (as `section_key` spells them).
# A synonym counts only when the article has no section under the conventional heading, and
# only its first match does. Steps are required of a procedure, so reading another heading
# as `## Steps` is a lint warning; the optional sections are simply recognised.
SECTION_SYNONYMS = {
    "steps": (
        "procedure", "resolution", "resolution_steps", "steps_to_resolve", "steps_to_take", "what_to_do",
        "instructions", "step_by_step", "step_by_step_guide", "troubleshooting_steps", "agent_steps",
    ),
    "exceptions": ("exception", "exceptions_and_approvals", "approvals", "who_can_approve", "policy_exceptions"),
    "what_you_can_offer": (
        "what_we_can_offer", "what_to_offer", "what_you_can_offer_instead", "alternatives", "alternatives_to_offer",
        "offer_instead", "goodwill", "goodwill_gestures",
    ),
    "escalation": (
        "escalate", "escalations", "escalation_path", "escalation_process", "when_to_escalate",
        "escalation_and_handover", "handover", "warm_transfer",
    ),
    "follow_up": ("followup", "follow_ups", "follow_up_actions", "follow_up_checklist", "after_the_contact", "after_the_call"),
}

_HEADING_RE = re.compile(r"^##[ \t]+(?P<name>\S.*)")  # closing #s are cut in code: `.+?\s*#*\s*$` is quadratic
_FENCE_RE = re.compile(r"^\s*(```|~~~)")
# A line that starts a Markdown block of its own (a bullet, heading, quote, fence, table row),
# never the lazy continuation of a list item.
_BLOCK_START_RE = re.compile(r"^(?:[-*+][ \t]|#|>|\||```|~~~)")
_STEP_RE = re.compile(r"^(?P<n>\d+)[.)]\s+(?P<text>.*)$")
# A nested item: indented by two or more spaces or a tab; bulleted, numbered or lettered ("a.").
_NESTED_RE = re.compile(r"^(?:\s{2,}|\t)(?:[-*+]|\d+[.)]|[a-zA-Z][.)])\s+(?P<text>.*)$")
_BULLET_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s+)?(?P<text>.*)$")
_UNSAFE_TAG_RE = re.compile(r"<\s*/?\s*(script|iframe|object|embed|style|svg|form|base|meta|link)\b", re.I)
# A tag (which may span lines) but not a Markdown autolink such as <https://example.com/onsale=1>.
_TAG_RE = re.compile(r"<(?!(?:https?|ftp|mailto):[^\s<>]*>)[a-z][^<>]*", re.I)
# Browsers also take `/` or a closing quote as the end of the previous attribute: <img/onerror=...>.
_EVENT_HANDLER_RE = re.compile(r"[\s/\"']on[a-z]+\s*=", re.I)
_SCRIPT_URL_RE = re.compile(r"(javascript|vbscript|data\s*:\s*text/html)", re.I)

# libyaml parses front matter many times faster than PyYAML's pure-Python loader, but it is a
# different parser: it accepts YAML that PyYAML rejects (a tab as a separator, `?` inside a flow
# collection, `|#comment`), reads a lone `!` tag and the Unicode line breaks differently, cannot
# take a lone surrogate, and words its errors differently. A lint verdict must not depend on
# whether libyaml is installed, so front matter that holds any of these (found by comparing the
# two on random front matter), and every YAML error, goes to the pure-Python loader.
_LIBYAML_LOADER = getattr(yaml, "CSafeLoader", None)
_LIBYAML_DIFFERS_RE = re.compile(r"[\t\r\x85\u2028\u2029\ufeff\ud800-\udfff]|[|>][-+0-9]*#|(?:^|[\s,\[\]{}])!")
# libyaml composes nested collections by recursing in C with no limit: 2,000 nested `[` overflow
# a 512 KiB thread stack and crash the interpreter. Each collection needs one of these
# characters, so front matter with at most this many cannot nest deeper, and is safe to hand to
# libyaml. Real front matter has well under 100 (63 at most over 1,048 articles).
_COLLECTION_INDICATORS = "[{-?:"
_MAX_LIBYAML_INDICATORS = 500
# PyYAML gives up (RecursionError) at roughly 500 levels. A deeper tree from libyaml is composed
# again in pure Python, so such front matter gets the finding it has always got.
_MAX_LIBYAML_DEPTH = 100


@dataclass(frozen=True)
class Finding:
    """One lint problem, printed as `path:line: severity: message`."""

    path: str
    line: int
    severity: str  # "error" | "warning"
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity}: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


@dataclass(frozen=True)
class Step:
    n: int
    text: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    """A `##` section: its heading, the line it starts on and its Markdown body."""

    name: str
    key: str  # snake_case of the heading, e.g. "what_you_can_offer", or the conventional key it stands for
    line: int
    markdown: str


@dataclass(frozen=True)
class Article:
    id: str
    path: str
    title: str
    type: str
    summary: str
    owner: str
    tags: tuple[str, ...] = ()
    audience: str = "internal"
    policies: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    updated: str | None = None
    review_by: str | None = None
    aliases: tuple[str, ...] = ()
    intro: str = ""
    sections: tuple[Section, ...] = ()
    steps: tuple[Step, ...] = ()

    def section(self, key: str) -> Section | None:
        """The section whose key (snake_case heading) is `key`, if the article has one."""
        return next((s for s in self.sections if s.key == key), None)

    @property
    def is_public(self) -> bool:
        return self.audience == "public"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (what `from_dict` reads); a shallow copy, 10x cheaper than `asdict`."""
        data = dict(vars(self))
        data["sections"] = [dict(vars(s)) for s in self.sections]
        data["steps"] = [dict(vars(s)) for s in self.steps]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Article":
        values = dict(data)
        values["sections"] = tuple(Section(**s) for s in data.get("sections", ()))
        values["steps"] = tuple(
            Step(n=s["n"], text=s["text"], details=tuple(s.get("details", ()))) for s in data.get("steps", ())
        )
        for key in LIST_KEYS:
            values[key] = tuple(data.get(key, ()))
        return cls(**values)


def section_key(name: str) -> str:
    """`What you can offer` -> `what_you_can_offer`; `Follow-up` -> `follow_up`."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def display_path(path: Path) -> str:
    """`path` as the user would type it: relative to the working directory when under it."""
    absolute, cwd = os.path.abspath(path), os.getcwd()
    if absolute.startswith(cwd.rstrip(os.sep) + os.sep):
        return Path(os.path.relpath(absolute, cwd)).as_posix()
    return str(path)


def article_id(path: Path, root: Path) -> str:
    """The stable id of an article: its path under the articles folder, without `.md`."""
    return path.relative_to(root).with_suffix("").as_posix()


def bullet_items(markdown: str) -> list[str]:
    """The top-level list items of a Markdown fragment, as plain text (checkboxes removed)."""
    items: list[str] = []
    for line in markdown.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        match = _BULLET_RE.match(line)
        if match and indent < 2:
            items.append(match.group("text").strip())
        elif items and indent >= 2:
            nested = _BULLET_RE.match(line)
            items[-1] += " " + (nested.group("text") if nested else line).strip()
    return items


class _Parse:
    """Collects findings while one file is parsed."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.findings: list[Finding] = []

    def error(self, line: int, message: str) -> None:
        self.findings.append(Finding(self.path, line, "error", message))

    def warning(self, line: int, message: str) -> None:
        self.findings.append(Finding(self.path, line, "warning", message))


def parse_article(
    path: Path, root: Path, *, today: dt.date | None = None, raw: bytes | None = None
) -> tuple[Article | None, list[Finding]]:
    """Parse and lint one article file on its own (cross-article checks are in `lint_articles`).

    Returns the article (None when it has errors that prevent building one) and the findings.
    `raw` is the file's bytes when the caller has read them already.
    """
    display = display_path(path)
    raw = path.read_bytes() if raw is None else raw
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return None, [Finding(display, line, "error", f"not UTF-8 (byte 0x{raw[exc.start]:02x}): save the file as UTF-8")]
    return parse_text(text, article_id(path, root), display, today=today)


def parse_text(
    text: str, id_: str, display_path: str, *, today: dt.date | None = None
) -> tuple[Article | None, list[Finding]]:
    """Parse article source `text` whose id is `id_`; findings name `display_path`."""
    p = _Parse(display_path)
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

    front = _read_plain_values_as_written(_tabs_as_spaces(lines[1:end], p, first_line=2), p, first_line=2)
    meta, key_lines = _parse_front_matter("\n".join(front), p, first_line=2)
    if meta is None:
        return None, p.findings
    body_first_line = end + 2  # 1-based line number of lines[end + 1]
    body_lines = lines[end + 1 :]

    _check_front_matter(meta, key_lines, p, today)
    intro, sections = _split_sections(body_lines, body_first_line)
    sections = _recognise_synonyms(sections, p, is_procedure=meta.get("type") == "procedure")
    _check_unsafe_markup(body_lines, body_first_line, p)

    steps: tuple[Step, ...] = ()
    steps_section = next((s for s in sections if s.key == "steps"), None)
    if steps_section is not None:
        # Section.markdown drops the blank lines under the heading; count them back in.
        after_heading = body_lines[steps_section.line - body_first_line + 1 :]
        skipped = next((i for i, line in enumerate(after_heading) if line), 0)
        steps = _parse_steps(steps_section, p, first_line=steps_section.line + 1 + skipped)
    if meta.get("type") == "procedure" and not steps:
        line = steps_section.line if steps_section else body_first_line
        p.error(line, "a procedure needs a '## Steps' section with a numbered list (1., 2., ...)")

    if any(f.is_error for f in p.findings):
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
        updated=_iso(meta.get("updated")),
        review_by=_iso(meta.get("review_by")),
        aliases=tuple(str(t) for t in meta.get("aliases") or ()),
        intro=intro,
        sections=tuple(sections),
        steps=steps,
    )
    return article, p.findings


# Values that are one line of plain text to their author but YAML syntax to YAML: a title
# holding ": " (`title: Returns: how to start one` is a YAML error), " #" before a word (the
# rest of `Order #1 problems` would silently become a comment; "Team  # EMEA" is one), or
# opening with a quote, bracket, `*`, `&`, `%`, `@` or a backtick (`title: 'Lost' parcels`,
# `[Draft] Refund`). (Patterns end in `\S.*`, never `.*?\s*$`: that is quadratic in a run of spaces.)
_TEXT_KEYS = ("title", "summary", "owner")
_TOP_VALUE_RE = re.compile(rf"^(?P<key>{'|'.join(_TEXT_KEYS)}):[ \t]+(?P<value>\S.*)")
_ITEM_VALUE_RE = re.compile(r"^[ \t]*-[ \t]+(?P<value>\S.*)")
_LIST_KEY_RE = re.compile(rf"^(?P<key>{'|'.join(LIST_KEYS)}):[ \t]*(?:#.*)?$")
_KEY_LINE_RE = re.compile(r"^[ \t]*(?:-[ \t]|[\w-]+:(?:\s|$)|---|\.\.\.)")
_COMMENT_RE = re.compile(r"[ \t]#(?:[ \t]|$)")  # YAML's comment: '#' after a space, before a space or the end
_YAML_ALIAS_RE = re.compile(r"\*[^\s\[\]{},]+")  # `summary: *title`, an alias of an anchor
_RISKY_VALUE_RE = re.compile(r": |:$| #|^[\[\]{}*&%@`'\"]")


def _tabs_as_spaces(lines: list[str], p: _Parse, first_line: int) -> list[str]:
    """Key and list-item lines indented with tabs (YAML allows only spaces) indented with two
    spaces a tab; a block scalar's own text keeps its tabs."""
    out = []
    for i, line in enumerate(lines):
        indent = len(line) - len(line.lstrip(" \t"))
        if "\t" in line[:indent] and _KEY_LINE_RE.match(line):
            line = line[:indent].replace("\t", "  ") + line[indent:]
            p.warning(first_line + i, "front matter indented with a tab, read as spaces: YAML allows only spaces")
        out.append(line)
    return out


def _closes(value: str) -> bool:
    """Whether a value opening with a quote closes it on its line (YAML's '' and \\" escapes)."""
    quote, i = value[0], 1
    while i < len(value):
        if quote == '"' and value[i] == "\\":
            i += 2
            continue
        if value[i] == quote:
            if quote == "'" and value[i + 1 : i + 2] == "'":
                i += 2
                continue
            return True
        i += 1
    return False


def _misread_by_yaml(value: str) -> bool:
    """Whether YAML reads `value`, one line's text, as anything but that text (pure-Python
    loader, so the verdict is the same everywhere). A flow collection (`[a, b]`), anchors and
    aliases YAML can read, an unclosed quote and control characters are left to the parser:
    they are YAML written on purpose, or its findings are the right ones."""
    if value[0] in "[{" and (value.count(value[0]) > 1 or value[-1] in "]}"):
        return False
    if value[0] in "'\"" and not _closes(value):
        return False
    if _YAML_ALIAS_RE.fullmatch(value):
        return False
    if not value.isprintable():
        return False
    try:
        read = yaml.load(f"k: {value}", Loader=yaml.SafeLoader).get("k")
    except RecursionError:
        return False
    except (yaml.YAMLError, AttributeError, ValueError, TypeError, KeyError):
        return True
    if value[0] in "'\"&*":
        return not isinstance(read, str)  # quoted properly, or an anchor or alias YAML resolved
    return not isinstance(read, str) or read != value


def _read_plain_values_as_written(lines: list[str], p: _Parse, first_line: int) -> list[str]:
    """Front matter lines with each one-line title, summary, owner or list item that YAML would
    misread (see _RISKY_VALUE_RE) quoted as written, its comment kept, and a warning on its line."""
    out = list(lines)
    list_key = None
    for i, line in enumerate(lines):
        if line and not line[0].isspace() and not line.startswith("-"):
            heading = _LIST_KEY_RE.match(line)
            list_key = heading.group("key") if heading else None
        match = _TOP_VALUE_RE.match(line) or (_ITEM_VALUE_RE.match(line) if list_key else None)
        if not match:
            continue
        value, comment = match.group("value").rstrip(), ""
        found = _COMMENT_RE.search(value)
        if found and value[0] not in "'\"":
            value, comment = value[: found.start()].rstrip(), value[found.start() :].strip()
        if not value or not _RISKY_VALUE_RE.search(value):
            continue
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if following.strip() and not _KEY_LINE_RE.match(following):
            continue  # a value continued on the next line: YAML's to read
        if not _misread_by_yaml(value):
            continue
        key = match.groupdict().get("key") or list_key
        out[i] = line[: match.start("value")] + json.dumps(value, ensure_ascii=False) + (f"  {comment}" if comment else "")
        p.warning(first_line + i, f"'{key}' value read as written: quote a value that holds ': ' or ' #' or starts with a quote or bracket")
    return out


def _parse_front_matter(source: str, p: _Parse, first_line: int) -> tuple[dict | None, dict[str, int]]:
    """Load the YAML mapping and remember the line of each top-level key.

    The source is parsed once: the node tree gives the key lines, and the values are
    constructed from that same tree.
    """
    node = None
    try:
        node = _compose(source)
        data = SafeConstructor().construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        if exc.context_mark is not None and (mark is None or mark.index >= len(source)):
            # An unclosed quote or bracket is only noticed at the end of the front matter;
            # the line where it opened is the one the author has to fix.
            mark = exc.context_mark
        line = first_line + (mark.line if mark else 0)
        p.error(line, f"front matter is not valid YAML: {exc.problem or exc.context}")
        return None, {}
    except ValueError as exc:
        # A value YAML resolves as a date but that is none (`2026-02-30`) fails in the
        # constructor, after parsing, with no line attached.
        key, line = _impossible_date(node, first_line)
        p.error(line, f"'{key}' is not a valid date: {exc}" if key else f"front matter has an invalid value: {exc}")
        return None, {}
    except yaml.YAMLError as exc:
        p.error(first_line, f"front matter is not valid YAML: {exc}")
        return None, {}
    except (AttributeError, KeyError, TypeError):
        # An explicit tag on a value that is not of that type (`!!timestamp hello`, `!!bool x`)
        # fails inside PyYAML's constructor with a Python error instead of a YAML one.
        key, line = _unconstructible(node, first_line)
        p.error(line, f"'{key}' has a value YAML cannot read as its tag says" if key else "front matter has a value YAML cannot read")
        return None, {}
    except RecursionError:
        # PyYAML composes recursively: a few hundred nested brackets would crash `kb lint`.
        p.error(first_line, "front matter is nested too deeply to be article metadata")
        return None, {}
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        p.error(first_line, "front matter must be a YAML mapping of keys to values")
        return None, {}
    key_lines = {
        str(k.value): first_line + k.start_mark.line for k, _ in node.value if isinstance(k, yaml.ScalarNode)
    }
    return data, key_lines


def _compose(source: str) -> yaml.Node | None:
    """The node tree of one YAML document: from libyaml when it reads `source` as PyYAML does.

    Raises what PyYAML's pure-Python SafeLoader raises, because findings quote its messages
    and lines.
    """
    indicators = sum(map(source.count, _COLLECTION_INDICATORS))
    if _LIBYAML_LOADER is not None and indicators <= _MAX_LIBYAML_INDICATORS and not _LIBYAML_DIFFERS_RE.search(source):
        try:
            node = yaml.compose(source, Loader=_LIBYAML_LOADER)
        except yaml.YAMLError:
            # Not a failure to hide: the pure-Python loader below composes the same source
            # and raises the error with the message and line findings have always quoted.
            pass
        else:
            # Collections cannot nest deeper than there are indicators, and without a `?` no
            # flow collection holds one, so most front matter needs no walk over the tree.
            if (indicators <= _MAX_LIBYAML_DEPTH and "?" not in source) or _is_read_alike(node, source):
                return node
    return yaml.compose(source, Loader=yaml.SafeLoader)


def _is_read_alike(root: yaml.Node | None, source: str) -> bool:
    """Whether PyYAML would compose `source` to the same tree libyaml composed to `root`.

    Not when collections nest deeper than `_MAX_LIBYAML_DEPTH`, and not when a flow collection
    (`[...]`, `{...}`) holds a `?`: PyYAML ends a plain scalar there and libyaml does not.
    """
    seen: set[int] = set()
    stack = [(root, 1)] if root is not None else []
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:  # an alias: the anchored node was measured where it is written
            continue
        seen.add(id(node))
        if depth > _MAX_LIBYAML_DEPTH:
            return False
        is_flow = isinstance(node, yaml.CollectionNode) and node.flow_style
        # libyaml marks count characters, so they index `source` directly.
        if is_flow and "?" in source[node.start_mark.index : node.end_mark.index]:
            return False
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in reversed(node.value))
        elif isinstance(node, yaml.MappingNode):
            stack.extend((child, depth + 1) for pair in reversed(node.value) for child in reversed(pair))
    return True


def _unconstructible(node: yaml.Node | None, first_line: int) -> tuple[str | None, int]:
    """The top-level key (and its line) whose value PyYAML's constructor fails on."""
    for key, value in node.value if isinstance(node, yaml.MappingNode) else ():
        try:
            SafeConstructor().construct_document(value)
        except Exception:  # noqa: BLE001 - any failure here is the one being located
            return str(key.value), first_line + value.start_mark.line
    return None, first_line


def _impossible_date(node: yaml.Node | None, first_line: int) -> tuple[str | None, int]:
    """The top-level key (and its line) whose date-like value YAML cannot construct."""
    for key, value in node.value if isinstance(node, yaml.MappingNode) else ():
        if isinstance(value, yaml.ScalarNode) and value.tag == "tag:yaml.org,2002:timestamp":
            try:
                yaml.safe_load(value.value)
            except ValueError:
                return str(key.value), first_line + value.start_mark.line
    return None, first_line


def _check_front_matter(meta: dict, key_lines: dict[str, int], p: _Parse, today: dt.date) -> None:
    top = min(key_lines.values(), default=2)

    def line_of(key: str) -> int:
        return key_lines.get(key, top)

    for key in REQUIRED_KEYS:
        value = meta.get(key)
        if key not in meta:
            p.error(top, f"missing required key '{key}'")
        elif not isinstance(value, str) or not value.strip():
            p.error(line_of(key), f"'{key}' must be a non-empty string")
    for key, allowed in (("type", TYPES), ("audience", AUDIENCES)):
        value = meta.get(key)
        if isinstance(value, str) and value not in allowed and value.strip().lower() in allowed:
            # "Procedure" means procedure: say so, but do not hold back the whole build over case.
            meta[key] = value.strip().lower()
            p.warning(line_of(key), f"'{key}: {value}' read as '{meta[key]}': write it in lower case")
    if "type" in meta and isinstance(meta["type"], str) and meta["type"] not in TYPES:
        p.error(line_of("type"), f"unknown type '{meta['type']}' (expected one of: {', '.join(TYPES)})")
    if "audience" in meta and meta["audience"] not in AUDIENCES:
        p.error(line_of("audience"), f"unknown audience '{meta['audience']}' (expected internal or public)")
    for key in LIST_KEYS:
        value = meta.get(key)
        if isinstance(value, str) and value.strip():
            # `tags: billing` is a list of one; ids and tags hold no commas, so `a, b` is two.
            # An alias may contain a comma, so it stays one phrase.
            items = [value.strip()] if key == "aliases" else [v.strip() for v in value.split(",") if v.strip()]
            meta[key] = items
            p.warning(line_of(key), f"'{key}' should be a list: read as [{', '.join(items)}]")
        elif value is not None and not (isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value)):
            p.error(line_of(key), f"'{key}' must be a list of strings")
    if meta.get("type") == "procedure" and not meta.get("aliases"):
        p.warning(
            line_of("type"),
            "procedure has no 'aliases': list a few ways customers describe this problem, ranking leans on them",
        )
    for key in DATE_KEYS:
        value = meta.get(key)
        if value is None:
            continue
        parsed = _as_date(value)
        if parsed is None:
            p.error(line_of(key), f"'{key}' must be an ISO date (YYYY-MM-DD), got {value!r}")
        elif key == "review_by" and parsed < today:
            p.warning(line_of(key), f"review_by {parsed.isoformat()} is in the past: the article is due for review")
    for key in meta:
        if key not in REQUIRED_KEYS and key not in OPTIONAL_KEYS:
            p.warning(line_of(str(key)), f"unknown key '{key}' is ignored")


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _iso(value: Any) -> str | None:
    parsed = _as_date(value) if value is not None else None
    return parsed.isoformat() if parsed else None


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


def _recognise_synonyms(sections: list[Section], p: _Parse, *, is_procedure: bool) -> list[Section]:
    """`sections` with the first heading that names a missing conventional section keyed as it
    (steps only in a procedure: a policy's `## Instructions` is just a section)."""
    present = {s.key for s in sections}
    for key, synonyms in SECTION_SYNONYMS.items():
        if key in present or (key == "steps" and not is_procedure):
            continue
        i = next((i for i, s in enumerate(sections) if s.key in synonyms), None)
        if i is None:
            continue
        section = sections[i]
        sections[i] = Section(name=section.name, key=key, line=section.line, markdown=section.markdown)
        present.add(key)
        if key == "steps":
            p.warning(section.line, f"'## {section.name}' read as '## Steps': name the section Steps")
    return sections


def _parse_steps(section: Section, p: _Parse, first_line: int) -> tuple[Step, ...]:
    """The top-level numbered items of `## Steps`, each with its nested bullets as details.

    `first_line` is the file line of the first line of `section.markdown`.
    """
    steps: list[tuple[int, list[str], list[str]]] = []
    all_ones = True  # every step so far written "1."
    after_blank = False
    between: list[str] = []  # unindented lines after a step: a note on it if another step follows

    def note_between() -> None:
        """The note written since the last step, as that step's next detail."""
        if steps and between:
            steps[-1][2].append(" ".join(between))
        between.clear()

    for offset, raw in enumerate(section.markdown.splitlines()):
        if not raw.strip():
            after_blank = True
            continue
        top = _STEP_RE.match(raw)
        nested = _NESTED_RE.match(raw)
        if top and not raw[0].isspace():
            n = int(top.group("n"))
            expected = len(steps) + 1
            all_ones = all_ones and n == 1
            # "1. 1. 1." is Markdown's lazy numbering (rendered 1, 2, 3): in order, by position.
            if n != expected and not all_ones:
                p.error(first_line + offset, f"step numbered {n} where {expected} was expected: number steps in order")
            note_between()
            steps.append((expected, [top.group("text").strip()], []))
        elif nested and steps:
            note_between()  # a note written before this detail comes before it
            steps[-1][2].append(nested.group("text").strip())
        elif steps and raw[0].isspace():
            note_between()
            details = steps[-1][2]
            if details and not after_blank:
                details[-1] += " " + raw.strip()  # a wrapped detail line continues that detail
            else:
                (details if details else steps[-1][1]).append(raw.strip())
        elif steps and not after_blank and not between and not _BLOCK_START_RE.match(raw):
            # Markdown's lazy continuation: an unindented line straight after an item continues it.
            details = steps[-1][2]
            if details:
                details[-1] += " " + raw.strip()
            else:
                steps[-1][1].append(raw.strip())
        elif steps:
            # A note between two steps ("Note: ...") belongs to the step before it; anything
            # after the last step (a closing note) is kept in the section but is not a step.
            between.append(raw.strip())
        after_blank = False
    return tuple(Step(n=n, text=" ".join(text), details=tuple(details)) for n, text, details in steps)


def _check_unsafe_markup(body: list[str], first_line: int, p: _Parse) -> None:
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
        tag = _UNSAFE_TAG_RE.search(decoded)
        if tag:
            p.error(number, f"raw <{tag.group(1).lower()}> is not allowed in an article body")
        elif offset in handler_lines:
            p.error(number, "HTML event handler attributes (on...=) are not allowed in an article body")
        match = _SCRIPT_URL_RE.search(compact)
        if match and re.search(r"(javascript|vbscript):|data:text/html", compact, re.I):
            p.error(number, f"'{match.group(1).lower()}:' URLs are not allowed in an article body")


def find_article_files(root: Path) -> list[Path]:
    """Every `*.md` file under `root`, sorted, skipping hidden folders and README files."""
    if root.is_file():
        return [root]
    prefix = len(str(root).rstrip(os.sep)) + 1
    return sorted(
        path
        for path in root.rglob("*.md")
        if not any(part.startswith(".") for part in str(path)[prefix:].split(os.sep))
        and path.name.lower() != "readme.md"
    )


@dataclass(frozen=True)
class Parsed:
    """One file's own parse (no cross-article checks): what a rebuild may reuse while the
    file's bytes, its display path, the parser and the day are the same. A reused parse's
    `article` is an `indexer.store.StoredArticle`, which reads like an Article."""

    sha256: str
    article: Article
    findings: tuple[Finding, ...]
    key_lines: dict[str, int]


def parser_key() -> str:
    """Identifies this parser: its source and the YAML library; a cached parse is reused only from the same one."""
    source = Path(__file__).read_bytes()
    flavour = f"{yaml.__version__}|{getattr(yaml, '__with_libyaml__', False)}"
    return hashlib.sha256(source + flavour.encode()).hexdigest()[:16]


@dataclass
class LintResult:
    articles: list[Article] = field(default_factory=list)  # the ones without errors
    findings: list[Finding] = field(default_factory=list)
    checked: int = 0  # files read, broken ones included
    parsed: dict[str, Parsed] = field(default_factory=dict)  # by id, the files that parsed
    reused: int = 0  # parses taken from `reuse` instead of parsing again

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.is_error]


def articles_root(path: Path) -> Path:
    """The folder ids are relative to: the nearest `articles` folder at or above `path`."""
    path = Path(path).resolve()
    for candidate in (path, *path.parents):
        if candidate.name == "articles" and candidate.is_dir():
            return candidate
    return path if path.is_dir() else path.parent


def lint_articles(
    root: Path, *, base: Path | None = None, today: dt.date | None = None, reuse: Mapping[str, Parsed] | None = None
) -> LintResult:
    """Parse every article under `root` (a folder or one file) and run the checks that need the whole set.

    Ids are relative to `base` (default: `articles_root(root)`). References are resolved
    against every article under `base`, so linting one file or one area still knows the
    ids, and the types, of the articles that live elsewhere.

    `reuse` holds earlier parses by id (a previous build's, made by this `parser_key()` on
    the same day): a file whose bytes and display path are unchanged is not parsed again.
    The checks across articles always run on the whole set.
    """
    root = Path(root).resolve()
    base = Path(base).resolve() if base is not None else articles_root(root)
    result = LintResult()
    files = find_article_files(root)  # absolute, under the resolved root: no per-file resolve
    result.checked = len(files)
    seen: dict[str, str] = {}
    sources: dict[str, tuple[Path, dict[str, int]]] = {}
    file_ids = [article_id(path, base) for path in files]
    for path, id_ in zip(files, file_ids):
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        earlier = reuse.get(id_) if reuse else None
        shown = display_path(path)
        if earlier is not None and earlier.sha256 == digest and earlier.article.path == shown:
            article, findings, key_lines = earlier.article, list(earlier.findings), earlier.key_lines
            result.reused += 1
        else:
            article, findings = parse_article(path, base, today=today, raw=raw)
            key_lines = _key_lines(raw.decode("utf-8")) if article is not None else {}
        result.findings.extend(findings)
        folded = id_.lower()
        if folded in seen:
            result.findings.append(Finding(shown, 1, "error", f"duplicate id '{id_}': {seen[folded]} has the same id"))
            continue
        seen[folded] = shown
        if article is not None:
            result.articles.append(article)
            sources[article.id] = (path, key_lines)
            result.parsed[article.id] = Parsed(digest, article, tuple(findings), key_lines)
    # Every id under the base, for references: the files just read when they are the whole base.
    ids = set(file_ids) if root == base else {article_id(p, base) for p in find_article_files(base)}
    types = {a.id: a.type for a in result.articles}

    def type_of(ref: str) -> str | None:
        if ref not in types:  # an article outside the linted files: its own lint reports its errors
            other, _ = parse_article(base / f"{ref}.md", base, today=today)
            types[ref] = other.type if other else None
        return types[ref]

    for article in result.articles:
        path, key_lines = sources[article.id]
        for key in ("policies", "related"):
            for ref in getattr(article, key):
                if ref not in ids:
                    result.findings.append(
                        Finding(display_path(path), key_lines.get(key, 2), "error", f"'{key}' names '{ref}', which is no article")
                    )
                elif key == "policies" and type_of(ref) not in ("policy", None):
                    # Read as meant: suggest lists it with the related articles instead.
                    result.findings.append(
                        Finding(
                            display_path(path), key_lines.get(key, 2), "warning",
                            f"'policies' names '{ref}', which is a {type_of(ref)}, not a policy: it is shown as related",
                        )
                    )
    result.findings.sort(key=lambda f: (f.path, f.line))
    return result


def _key_lines(text: str) -> dict[str, int]:
    """Line numbers of the front matter keys of an already-validated file's text."""
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines()[1:], start=2):
        if line.strip() in ("---", "..."):
            break
        match = re.match(r"^([A-Za-z_][\w-]*)\s*:", line)
        if match:
            lines.setdefault(match.group(1), number)
    return lines
