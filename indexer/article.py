"""The article contract's values: `Article`, `Section`, `Step`, `Finding` and article ids.

Both sides use this module: the indexer builds these values (`indexer.parse`, `indexer.lint`),
the server only reads the ones the indexer stored, so it imports neither YAML nor the parser.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TYPES = ("policy", "product", "procedure")
AUDIENCES = ("internal", "public")
REQUIRED_KEYS = ("title", "type", "summary", "owner")
OPTIONAL_KEYS = ("tags", "audience", "policies", "related", "updated", "review_by", "aliases", "lang")
# The language of an article without `lang:` (a BCP 47 primary subtag).
DEFAULT_LANG = "en"
LIST_KEYS = ("tags", "policies", "related", "aliases")
DATE_KEYS = ("updated", "review_by")
# The language of an article without `lang:` (a BCP 47 primary subtag).
DEFAULT_LANG = "en"

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

# The conventional sections' headings in other languages, by language and key: the first is
# the heading to write, and it means the section as `## Steps` does; the others are read as
# it the way SECTION_SYNONYMS are (docs/articles.md). Matched in `heading_form`, so Unicode
# normalisation, Arabic or Persian yeh and kaf, a ZWNJ written, left out or typed as a space,
# case and a trailing colon do not matter.
LOCALISED_SECTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "ta": {
        "steps": ("படிகள்", "செய்முறை"),
        "exceptions": ("விதிவிலக்குகள்",),
        "what_you_can_offer": ("நீங்கள் வழங்கக்கூடியவை",),
        "escalation": ("மேல்நிலைக்கு அனுப்புதல்", "எஸ்கலேஷன்"),
        "follow_up": ("பின்தொடர்தல்",),
    },
    "te": {
        "steps": ("దశలు", "విధానం"),
        "exceptions": ("మినహాయింపులు",),
        "what_you_can_offer": ("మీరు అందించగలిగేవి",),
        "escalation": ("ఎస్కలేషన్", "పై స్థాయికి పంపడం"),
        "follow_up": ("ఫాలో-అప్", "తదుపరి చర్యలు"),
    },
    "fa": {
        "steps": ("مراحل", "گام‌ها"),
        "exceptions": ("استثناها", "موارد استثنا"),
        "what_you_can_offer": ("آنچه می‌توانید پیشنهاد دهید", "پیشنهادهای جایگزین"),
        "escalation": ("ارجاع", "ارجاع به سطح بالاتر"),
        "follow_up": ("پیگیری",),
    },
}

# Letters Persian and Arabic write differently (Arabic yeh and alef maksura, Arabic kaf, teh
# marbuta is left alone) and the joiners and kashida that change a word's look, not its letters.
_HEADING_FOLD = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "‌": None,
                               "‍": None, "ـ": None, "‏": None, "‎": None})


def heading_form(name: str) -> str:
    """What two spellings of one heading share: NFKC, case-folded, Persian letters for Arabic
    ones, and only letters, marks and digits (no ZWNJ, spaces, hyphens or colon)."""
    folded = unicodedata.normalize("NFKC", name).translate(_HEADING_FOLD).casefold()
    return "".join(ch for ch in unicodedata.normalize("NFC", folded) if unicodedata.category(ch)[0] in "LMN")


_LOCALISED_PRIMARY = {
    heading_form(headings[0]): key for sections in LOCALISED_SECTIONS.values() for key, headings in sections.items()
}
_LOCALISED_OTHER = {
    heading_form(heading): (key, lang)
    for lang, sections in LOCALISED_SECTIONS.items() for key, headings in sections.items() for heading in headings[1:]
}


def localised_synonym(name: str) -> tuple[str, str] | None:
    """(key, language) when heading `name` is another language's second heading for a
    conventional section (`செய்முறை` -> ("steps", "ta")), else None."""
    return _LOCALISED_OTHER.get(heading_form(name))


_BULLET_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s+)?(?P<text>.*)$")


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
    lang: str = DEFAULT_LANG  # BCP 47 primary subtag of `lang:` (or the folder's default)
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
    """`What you can offer` -> `what_you_can_offer`; `Follow-up` -> `follow_up`; `படிகள்` -> `steps`.

    A heading in Latin letters keeps its ASCII slug. Another language's first heading for a
    conventional section (LOCALISED_SECTIONS) is that section's key; any other heading with
    non-Latin letters is a slug of its letters, marks and digits (`சிறப்பு குறிப்புகள்` ->
    `சிறப்பு_குறிப்புகள்`), so two such sections never share the key "".
    """
    if all(not ch.isalpha() or unicodedata.name(ch, "").startswith("LATIN") for ch in name):
        return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    conventional = _LOCALISED_PRIMARY.get(heading_form(name))
    if conventional is not None:
        return conventional
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFKC", name).translate(_HEADING_FOLD).casefold())
    slug = "".join(ch if unicodedata.category(ch)[0] in "LMN" else "_" for ch in folded)
    return re.sub(r"_+", "_", slug).strip("_")


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


def section_items(markdown: str) -> list[str]:
    """A section as a list, the way steps are one: its top-level list items, or, for a section
    written as paragraphs (an escalation note), each paragraph on one line."""
    items = bullet_items(markdown)
    if items:
        return items
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", markdown) if p.strip()]


class FindingLog:
    """Collects the findings of one file while it is parsed (front matter and body alike)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.findings: list[Finding] = []

    def error(self, line: int, message: str) -> None:
        self.findings.append(Finding(self.path, line, "error", message))

    def warning(self, line: int, message: str) -> None:
        self.findings.append(Finding(self.path, line, "warning", message))


@dataclass(frozen=True)
class Parsed:
    """One file's own parse (no cross-article checks): what a rebuild may reuse while the
    file's bytes, its display path, the parser and the day are the same. A reused parse's
    `article` is an `indexer.store.StoredArticle`, which reads like an Article."""

    sha256: str
    article: Article
    findings: tuple[Finding, ...]
    key_lines: dict[str, int]
    # (size, mtime_ns, ctime_ns, inode) when the file was read, if its times were then safely
    # in the past: a rebuild that finds the same four reuses `sha256` without reading the file.
    stat: tuple[int, int, int, int] | None = None
