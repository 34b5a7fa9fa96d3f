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
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from indexer.article import Article, Finding, Parsed, article_id, display_path
from indexer.frontmatter import did_you_mean
from indexer.parse import parse_article

RACY_NS = 2_000_000_000  # 2 s: file times newer than this when read are not trusted next time


def find_article_files(root: Path) -> list[Path]:
    """Every `*.md` file under `root`, sorted, skipping hidden folders and files and README files.

    One os.walk with string paths: at 50,000 articles pathlib's rglob and Path sorting cost
    more than reading the files."""
    if root.is_file():
        return [root]
    found: list[str] = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        found.extend(os.path.join(folder, n) for n in names
                     if n.endswith(".md") and not n.startswith(".") and n.lower() != "readme.md")
    found.sort(key=lambda path: path.split(os.sep))  # the order of Path parts, as before
    return [Path(path) for path in found]


def _fast_ids(files: list[Path], base: Path) -> list[str]:
    """`article_id(path, base)` for each file, by string when the file lies under `base`."""
    prefix = str(base).rstrip(os.sep) + os.sep
    return [
        text[len(prefix) : -3].replace(os.sep, "/") if (text := str(path)).startswith(prefix) and text.endswith(".md")
        else article_id(path, base)
        for path in files
    ]


def _fast_display(files: list[Path]) -> list[str]:
    """`display_path(path)` for each file, the working directory asked for once."""
    cwd = os.getcwd().rstrip(os.sep) + os.sep
    return [
        text[len(cwd) :].replace(os.sep, "/") if (text := str(path)).startswith(cwd) and os.path.isabs(text)
        and ".." not in text.split(os.sep) else display_path(path)
        for path in files
    ]


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
    file_ids = _fast_ids(files, base)
    # A file whose times are this close to now could change again within the same clock tick
    # without its stat changing (git's "racy" entries): it is never trusted by its stat.
    settled_before = time.time_ns() - RACY_NS
    for path, id_, shown in zip(files, file_ids, _fast_display(files)):
        earlier = reuse.get(id_) if reuse else None
        st = os.stat(path)
        stat = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        if earlier is not None and earlier.stat == stat and earlier.article.path == shown:
            digest, raw = earlier.sha256, None  # unchanged since the last build read it: not read again
        else:
            with open(path, "rb") as fh:
                raw = fh.read()
            digest = hashlib.sha256(raw).hexdigest()
        settled = stat if max(st.st_mtime_ns, st.st_ctime_ns) < settled_before else None
        article: Article | None
        refs: dict[str, tuple[str, ...]] = {}
        if earlier is not None and earlier.sha256 == digest and earlier.article.path == shown:
            article, findings, key_lines = earlier.article, list(earlier.findings), earlier.key_lines
            result.reused += 1
        else:
            named: dict = {}
            if raw is None:
                with open(path, "rb") as fh:
                    raw = fh.read()
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
            result.parsed[article.id] = Parsed(digest, article, tuple(findings), key_lines, settled)
    # Every id under the base, for references: the files just read when they are the whole base.
    ids = set(file_ids) if root == base else set(_fast_ids(find_article_files(base), base))
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
