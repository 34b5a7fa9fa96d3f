"""What changed in each article, from the git history of the articles folder. No Flask here.

Agents need to know what changed since they last read an article, and git already holds
every change. At build time, when the articles folder is inside a git work tree, the last
MAX_CHANGES commits that touched each article are recorded in the build (`history.json`):
date, author name, commit subject, and the steps removed and added (each side parsed with
the same parser as the build, so a reworded step shows as one line out and one line in).
The build is then self-contained: a host serving a copied build needs no git checkout.

Two git processes per build, whatever the number of articles: one `git log --raw` for the
whole folder (newest first, at most MAX_COMMITS commits), one `git cat-file --batch` for
the file versions that log names. Changes a previous build already read are reused by
(commit, path), so a rebuild reads only new commits. Without git, or outside a work tree,
the build records nothing and the service says so.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.article import Step
from indexer.parse import parse_text

MAX_CHANGES = 5  # per article, newest first
MAX_COMMITS = 2000  # of the folder's history read per build
GIT_TIMEOUT_S = 120
NULL_BLOB = "0" * 40
SEP = "\x1f"


@dataclass(frozen=True)
class Change:
    """One commit's change to one article."""

    commit: str
    date: str  # ISO 8601 with the author's offset
    author: str  # the author's name (never the e-mail address)
    subject: str
    path: str  # relative to the articles folder
    kind: str  # "added" or "modified"
    public: bool  # whether both sides of the change were public articles
    removed: tuple[str, ...] = ()  # step lines as agents read them ("2. Check the order"); none when added
    added: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"commit": self.commit, "date": self.date, "author": self.author, "subject": self.subject,
                "path": self.path, "kind": self.kind, "public": self.public,
                "steps_removed": list(self.removed), "steps_added": list(self.added)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Change":
        return cls(data["commit"], data["date"], data["author"], data["subject"], data["path"], data["kind"],
                   bool(data["public"]), tuple(data["steps_removed"]), tuple(data["steps_added"]))


@dataclass
class History:
    """Per article id, its last changes, newest first; `head` is the commit the folder was at."""

    head: str
    changes: dict[str, list[Change]] = field(default_factory=dict)
    commits: list[str] = field(default_factory=list)  # every commit read, newest first (git's order)

    def to_json(self) -> dict[str, Any]:
        return {"head": self.head, "commits": self.commits,
                "articles": {aid: [c.to_json() for c in cs] for aid, cs in sorted(self.changes.items())}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "History":
        return cls(data["head"], {aid: [Change.from_json(c) for c in cs] for aid, cs in data["articles"].items()},
                   list(data.get("commits", [])))


def _git(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    return subprocess.run(["git", "-C", str(root), *args], input=stdin, capture_output=True, check=True,
                          timeout=GIT_TIMEOUT_S, env=env).stdout


def head_commit(root: Path) -> str | None:
    """The commit HEAD points at when `root` is inside a git work tree with history; else None."""
    try:
        if _git(root, "rev-parse", "--is-inside-work-tree").strip() != b"true":
            return None
        return _git(root, "rev-parse", "HEAD").decode().strip()
    except (OSError, subprocess.SubprocessError):
        return None  # no git, not a work tree, or a repository without commits yet


def step_lines(steps: tuple[Step, ...]) -> list[str]:
    """Steps as an agent reads them, one line per step and per detail."""
    lines = []
    for step in steps:
        lines.append(f"{step.n}. {step.text}")
        lines.extend(f"   - {d}" for d in step.details)
    return lines


def steps_diff(old: list[str], new: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The step lines removed and added between two versions (renumbering alone is no change)."""
    def bare(line: str) -> str:
        head, _, rest = line.partition(". ")
        return rest if head.isdigit() else line

    matcher = difflib.SequenceMatcher(a=[bare(x) for x in old], b=[bare(x) for x in new], autojunk=False)
    removed: list[str] = []
    added: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "equal":
            removed.extend(old[i1:i2])
            added.extend(new[j1:j2])
    return tuple(removed), tuple(added)


def _log(root: Path) -> list[tuple[str, str, str, str, list[tuple[str, str, str, str]]]]:
    """Newest first: (commit, date, author, subject, [(status, old blob, new blob, path)]) for
    every commit that touched a Markdown file under `root`."""
    out = _git(root, "log", f"--max-count={MAX_COMMITS}", "--no-renames", "--raw", "--no-abbrev", "-z",
               "--relative", f"--format=%x1e%H{SEP}%aI{SEP}%an{SEP}%s", "--", ".")
    commits = []
    for record in out.decode("utf-8", "replace").split("\x1e")[1:]:
        head, _, raw = record.partition("\n")
        commit, date, author, subject = (head.rstrip("\0").split(SEP) + ["", "", "", ""])[:4]
        fields = [f for f in raw.split("\0") if f.strip()]
        files = []
        # -z --raw: ":old_mode new_mode old_blob new_blob status" then the path, as separate fields.
        for i in range(0, len(fields) - 1, 2):
            meta, path = fields[i].strip().split(), fields[i + 1]
            if len(meta) >= 5 and path.endswith(".md"):
                files.append((meta[4][0], meta[2], meta[3], path))
        commits.append((commit, date, author, subject, files))
    return commits


def _blobs(root: Path, shas: set[str]) -> dict[str, str]:
    """The text of each blob, read by one `git cat-file --batch`."""
    if not shas:
        return {}
    order = sorted(shas)
    out = _git(root, "cat-file", "--batch", stdin="".join(s + "\n" for s in order).encode())
    texts: dict[str, str] = {}
    pos = 0
    for sha in order:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        texts[sha] = out[pos : pos + size].decode("utf-8", "replace")
        pos += size + 1  # the content is followed by a newline
    return texts


def _parsed(text: str | None, path: str, today: dt.date) -> tuple[list[str], bool] | None:
    if text is None:
        return None
    article, _ = parse_text(text, path.removesuffix(".md"), path, today=today)
    if article is None:
        return None
    return step_lines(article.steps), article.is_public


def read_history(root: Path, ids: dict[str, str], previous: History | None = None,
                 today: dt.date | None = None) -> History | None:
    """The last changes of each article whose path (relative to `root`) `ids` maps to its id.

    None when `root` is not in a git work tree. Uncommitted edits are not history yet: the
    page shows the article as built, its changes as committed."""
    root = Path(root)
    head = head_commit(root)
    if head is None:
        return None
    today = today or dt.date.today()
    if previous is not None and previous.head == head:
        return History(head, {aid: cs for aid, cs in previous.changes.items() if aid in ids.values()}, previous.commits)
    known = {(c.commit, c.path): c for cs in (previous.changes.values() if previous else ()) for c in cs}
    wanted: list[tuple[str, str, str, str, tuple[str, str, str, str]]] = []
    counts: dict[str, int] = {}
    log = _log(root)
    for commit, date, author, subject, files in log:
        for entry in files:
            status, _, _, path = entry
            if path not in ids or status not in "AM" or counts.get(path, 0) >= MAX_CHANGES:
                continue
            counts[path] = counts.get(path, 0) + 1
            wanted.append((commit, date, author, subject, entry))
    need: set[str] = set()
    for commit, _, _, _, (_, old, new, path) in wanted:
        if (commit, path) not in known:
            need.update(s for s in (old, new) if s != NULL_BLOB)
    texts = _blobs(root, need)
    history = History(head, commits=[c[0] for c in log])
    for commit, date, author, subject, (status, old, new, path) in wanted:
        change = known.get((commit, path))
        if change is None:
            before = _parsed(texts.get(old), path, today) if old != NULL_BLOB else ([], True)
            after = _parsed(texts.get(new), path, today)
            removed: tuple[str, ...] = ()
            added: tuple[str, ...] = ()
            if status != "A":
                removed, added = steps_diff(before[0] if before else [], after[0] if after else [])
            public = bool(before and after and before[1] and after[1])
            change = Change(commit, date, author, subject, path, "added" if status == "A" else "modified",
                            public, removed, added)
        history.changes.setdefault(ids[path], []).append(change)
    return history
