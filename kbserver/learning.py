"""Learn from resolved contacts: which customer message was resolved by which article (issue 10).

Examples come from two places and are always redacted before they are stored:

- feedback: `resolved_first_contact` or `helpful` on a logged search/suggest `request_id`
  makes that request's (already redacted) text an example for the article;
- `kb learn import FILE`: resolved tickets exported from a helpdesk (JSONL or CSV).

`kb index` reads the active examples (`active_examples`) and embeds them into the build;
ranking lifts an article by the mean similarity of its three closest examples. The safety
rules live here, where examples are chosen, so every build and every ranking sees the same:

- an example counts only for an article that still exists (checked again at build time);
- at most `MAX_PER_CALLER` feedback examples per agent and article, and feedback examples
  for an article count only once `MIN_AGREEING_CALLERS` different agents taught it, so one
  noisy agent cannot retarget a query; imports are curated history and are trusted;
- the weight follows the outcome: resolved on first contact counts more than "helpful".
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from indexer.store import Example
from kbserver import storage
from kbserver.redact import redact

WEIGHTS = {"resolved_first_contact": 1.0, "helpful": 0.6}
MAX_PER_CALLER = 20
MIN_AGREEING_CALLERS = 2
MAX_TEXT_CHARS = 4000
IMPORT_CALLER = "import"


@dataclass
class ImportReport:
    imported: int = 0
    duplicates: int = 0
    lines: int = 0
    findings: list[str] = field(default_factory=list)


def source_key(article_id: str, text: str) -> str:
    """Identity of an imported example: the same ticket text for the same article is one example."""
    return hashlib.sha256(f"{article_id}\0{text}".encode("utf-8")).hexdigest()


def _rows(path: Path) -> Iterator[tuple[int, dict | None, str | None]]:
    """(line number, row, problem) for each record of a JSONL or CSV file."""
    raw = path.read_bytes()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield 1, None, f"not UTF-8 text ({exc.reason})"
        return
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(content))
        missing = {"text", "article_id"} - set(reader.fieldnames or ())
        if missing:
            yield 1, None, f"CSV header must have the columns text, article_id[, outcome]; missing {', '.join(sorted(missing))}"
            return
        for row in reader:
            yield reader.line_num, row, None
        return
    # Lines end at "\n" only: str.splitlines() also breaks at U+2028 and U+0085, which a JSON
    # string may hold unescaped (ensure_ascii=False), and would cut such a record in two.
    for number, line in enumerate(content.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, None, f"not valid JSON: {exc.msg}"
            continue
        if not isinstance(data, dict):
            yield number, None, "expected an object {\"text\", \"article_id\", \"outcome\"}"
            continue
        yield number, data, None


def import_file(
    db: sqlite3.Connection,
    path: Path,
    known_ids: set[str],
    *,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import resolved tickets from `path`; bad lines become `FILE:line: message` findings and are skipped."""
    report = ImportReport()
    now = storage.to_ts(storage.utc_now())
    records: list[storage.ExampleRecord] = []
    for number, row, problem in _rows(path):
        report.lines += 1
        if progress:
            progress(1)
        where = f"{path}:{number}"
        if problem:
            report.findings.append(f"{where}: {problem}")
            continue
        text, article_id = row.get("text"), row.get("article_id")
        outcome = row.get("outcome") or "resolved_first_contact"
        if not isinstance(text, str) or not text.strip():
            report.findings.append(f"{where}: 'text' must be a non-empty string")
        elif len(text) > MAX_TEXT_CHARS:
            report.findings.append(f"{where}: 'text' is longer than {MAX_TEXT_CHARS} characters")
        elif not isinstance(article_id, str) or article_id not in known_ids:
            report.findings.append(f"{where}: unknown article_id {article_id!r}")
        elif outcome not in WEIGHTS:
            report.findings.append(f"{where}: outcome {outcome!r} teaches nothing (use {' or '.join(WEIGHTS)})")
        else:
            clean = redact(" ".join(text.split()))
            records.append(
                storage.ExampleRecord(now, article_id, clean, outcome, "import", source_key(article_id, clean), IMPORT_CALLER)
            )
    report.imported = storage.insert_examples(db, records)
    report.duplicates = len(records) - report.imported
    return report


def learn_from_feedback(db: sqlite3.Connection, request_id: str, article_id: str, outcome: str, caller: str) -> bool:
    """Make a logged request's redacted text an example for `article_id`. Returns True when one was added."""
    if outcome not in WEIGHTS:
        return False
    logged = storage.logged_query_text(db, request_id)
    if logged is None or not logged["text"].strip():
        return False
    if storage.count_caller_examples(db, caller, article_id) >= MAX_PER_CALLER:
        return False
    record = storage.ExampleRecord(
        storage.to_ts(storage.utc_now()), article_id, logged["text"], outcome, "feedback", f"{request_id}:{article_id}", caller
    )
    return storage.insert_examples(db, [record]) == 1


def active_examples(db: sqlite3.Connection) -> list[Example]:
    """The examples a build should use, after the agreement rule; weights by outcome."""
    rows = storage.list_examples(db, status="active")
    callers: dict[str, set[str]] = {}
    for row in rows:
        if row["source"] == "feedback":
            callers.setdefault(row["article_id"], set()).add(row["caller"])
    out = []
    for row in rows:
        if row["source"] == "feedback" and len(callers[row["article_id"]]) < MIN_AGREEING_CALLERS:
            continue
        out.append(
            Example(
                id=row["id"],
                article_id=row["article_id"],
                text=row["text"],
                weight=WEIGHTS.get(row["outcome"], 0.0),
                hash=hashlib.sha256(row["text"].encode("utf-8")).hexdigest(),
            )
        )
    return sorted(out, key=lambda e: e.id)


def count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def describe(rows: Iterable[sqlite3.Row]) -> list[dict]:
    return [dict(row) for row in rows]
