"""Lint a folder of articles: parse every file, then the checks across articles (references, ids).

`lint_articles` is what `kb lint` and `kb index` run; a rebuild hands it the previous build's
parses so unchanged files are not parsed again.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from indexer.article import Article, Finding, Parsed, article_id, display_path
from indexer.frontmatter import did_you_mean
from indexer.parse import parse_article


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
    # By id, every file's references (broken files too: one pass reports every finding).
    sources: dict[str, tuple[Path, dict[str, int], dict[str, tuple[str, ...]]]] = {}
    file_ids = [article_id(path, base) for path in files]
    for path, id_ in zip(files, file_ids):
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        earlier = reuse.get(id_) if reuse else None
        shown = display_path(path)
        article: Article | None
        refs: dict[str, tuple[str, ...]] = {}
        if earlier is not None and earlier.sha256 == digest and earlier.article.path == shown:
            article, findings, key_lines = earlier.article, list(earlier.findings), earlier.key_lines
            result.reused += 1
        else:
            named: dict = {}
            article, findings = parse_article(path, base, today=today, raw=raw, references=named)
            key_lines = _key_lines(raw.decode("utf-8")) if article is not None else named.get("key_lines", {})
            refs = {key: tuple(named.get(key, ())) for key in ("policies", "related")}
        if article is not None:
            refs = {"policies": article.policies, "related": article.related}
        result.findings.extend(findings)
        folded = id_.lower()
        if folded in seen:
            result.findings.append(Finding(shown, 1, "error", f"duplicate id '{id_}': {seen[folded]} has the same id"))
            continue
        seen[folded] = shown
        sources[id_] = (path, key_lines, refs)
        if article is not None:
            result.articles.append(article)
            result.parsed[article.id] = Parsed(digest, article, tuple(findings), key_lines)
    # Every id under the base, for references: the files just read when they are the whole base.
    ids = set(file_ids) if root == base else {article_id(p, base) for p in find_article_files(base)}
    types: dict[str, str | None] = {a.id: a.type for a in result.articles}

    def type_of(ref: str) -> str | None:
        if ref not in types:  # an article outside the linted files: its own lint reports its errors
            other, _ = parse_article(base / f"{ref}.md", base, today=today)
            types[ref] = other.type if other else None
        return types[ref]

    for path, key_lines, refs in sources.values():
        for key in ("policies", "related"):
            for ref in refs.get(key, ()):
                if ref not in ids:
                    result.findings.append(Finding(
                        display_path(path), key_lines.get(key, 2), "error",
                        f"'{key}' names '{ref}', which is no article" + _closest_id(ref, ids),
                    ))
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


def _closest_id(ref: str, ids: set[str]) -> str:
    """`: did you mean 'x'?` for the id closest to `ref` (a typo, or the right slug in another area)."""
    found = did_you_mean(ref, ids, cutoff=0.8)
    if not found:
        by_slug = {i.rsplit("/", 1)[-1]: i for i in sorted(ids)}
        close = difflib.get_close_matches(ref.rsplit("/", 1)[-1], list(by_slug), n=1, cutoff=0.8)
        found = f": did you mean '{by_slug[close[0]]}'?" if close else ""
    return found


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
