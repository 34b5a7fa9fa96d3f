"""Front matter: the YAML between the `---` lines, read as its author wrote it, and checked.

A title holding ": " or " #" is one line of text to its author and YAML syntax to YAML, so
plain values are quoted before YAML sees them; libyaml is used where it reads exactly as the
pure-Python loader does. Every finding names the line it points at.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from typing import Any, Iterable

import yaml
from yaml.constructor import SafeConstructor

from indexer.article import AUDIENCES, DATE_KEYS, LIST_KEYS, OPTIONAL_KEYS, REQUIRED_KEYS, TYPES, FindingLog
from indexer.language import normalise_tag

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


def tabs_as_spaces(lines: list[str], p: FindingLog, first_line: int) -> list[str]:
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


def read_plain_values_as_written(lines: list[str], p: FindingLog, first_line: int) -> list[str]:
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


def parse_front_matter(source: str, p: FindingLog, first_line: int) -> tuple[dict | None, dict[str, int]]:
    """Load the YAML mapping and remember the line of each top-level key.

    The source is parsed once: the node tree gives the key lines, and the values are
    constructed from that same tree. Returns None only when there is no mapping to read (a
    YAML syntax error); a value that cannot be constructed is an error and the rest is read.
    """
    try:
        node = _compose(source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        if exc.context_mark is not None and (mark is None or mark.index >= len(source)):
            # An unclosed quote or bracket is only noticed at the end of the front matter;
            # the line where it opened is the one the author has to fix.
            mark = exc.context_mark
        line = first_line + (mark.line if mark else 0)
        p.error(line, f"front matter is not valid YAML: {exc.problem or exc.context}")
        return None, {}
    except yaml.YAMLError as exc:
        p.error(first_line, f"front matter is not valid YAML: {exc}")
        return None, {}
    except RecursionError:
        # PyYAML composes recursively: a few hundred nested brackets would crash `kb lint`.
        p.error(first_line, "front matter is nested too deeply to be article metadata")
        return None, {}
    if not isinstance(node, yaml.MappingNode):
        p.error(first_line, "front matter must be a YAML mapping of keys to values")
        return None, {}
    key_lines = {
        str(k.value): first_line + k.start_mark.line for k, _ in node.value if isinstance(k, yaml.ScalarNode)
    }
    try:
        data = SafeConstructor().construct_document(node)
    except (ValueError, AttributeError, KeyError, TypeError, yaml.YAMLError, RecursionError):
        # One value YAML cannot construct (`updated: 2026-02-30`, `!!bool x`) is that key's
        # error; the other keys are still read, so every other finding is reported too.
        data = _construct_each_key(node, p, first_line)
    if not isinstance(data, dict):
        p.error(first_line, "front matter must be a YAML mapping of keys to values")
        return None, {}
    return data, key_lines


def _construct_each_key(node: yaml.MappingNode, p: FindingLog, first_line: int) -> dict:
    """The mapping `node`, key by key: a value that fails to construct is an error on its line and left out."""
    data: dict = {}
    for key_node, value in node.value:
        key = str(key_node.value)
        line = first_line + value.start_mark.line
        try:
            data[key] = SafeConstructor().construct_document(value)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            p.error(first_line + mark.line if mark else line, f"front matter is not valid YAML: {exc.problem or exc.context}")
        except ValueError as exc:
            # A value YAML resolves as a date but that is none fails with no line attached.
            is_date = isinstance(value, yaml.ScalarNode) and value.tag == "tag:yaml.org,2002:timestamp"
            p.error(line, f"'{key}' is not a valid date: {exc}" if is_date else f"'{key}' has an invalid value: {exc}")
        except (AttributeError, KeyError, TypeError, yaml.YAMLError, RecursionError):
            # An explicit tag on a value that is not of that type fails inside PyYAML's constructor.
            p.error(line, f"'{key}' has a value YAML cannot read as its tag says")
    return data


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


def check_front_matter(meta: dict, key_lines: dict[str, int], p: FindingLog, today: dt.date) -> None:
    """Log what is wrong with the keys: missing or empty required ones, unknown types, lists and dates (errors or warnings)."""
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
        p.error(line_of("type"), f"unknown type '{meta['type']}' (expected one of: {', '.join(TYPES)})"
                + did_you_mean(meta["type"], TYPES))
    if "audience" in meta and meta["audience"] not in AUDIENCES:
        p.error(line_of("audience"), f"unknown audience '{meta['audience']}' (expected internal or public)"
                + did_you_mean(str(meta["audience"]), AUDIENCES))
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
    if "lang" in meta:
        _check_lang(meta, line_of("lang"), p)
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
            p.warning(line_of(str(key)), f"unknown key '{key}' is ignored"
                      + did_you_mean(str(key), [*REQUIRED_KEYS, *OPTIONAL_KEYS]))


def _check_lang(meta: dict, line: int, p: FindingLog) -> None:
    """`lang:` must be a BCP 47 tag; it is kept as its primary language subtag (`ta-IN` -> `ta`)."""
    value = meta["lang"]
    if not isinstance(value, str):
        p.error(line, f"'lang' must be a BCP 47 language tag such as 'en', 'ta' or 'fa-IR', got {value!r}")
        return
    try:
        meta["lang"] = normalise_tag(value)
    except ValueError as exc:
        p.error(line, f"'lang': {exc}")


def did_you_mean(word: str, known: Iterable[str], *, cutoff: float = 0.75) -> str:
    """`: did you mean 'x'?` for the known word closest to `word`, or "" when none is close."""
    close = difflib.get_close_matches(word.strip().lower(), list(known), n=1, cutoff=cutoff)
    return f": did you mean '{close[0]}'?" if close else ""


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


def iso_date(value: Any) -> str | None:
    """A front matter date as `YYYY-MM-DD`, or None when absent or not a date."""
    parsed = _as_date(value) if value is not None else None
    return parsed.isoformat() if parsed else None
