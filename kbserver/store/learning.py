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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy import case, func, select
from sqlalchemy.dialects import postgresql, sqlite

from indexer.store import Example
from kbserver.store.db import Database, to_ts, utc_now
from kbserver.store.querylog import logged_query_text
from kbserver.store.redact import redact
from kbserver.store.schema import learned_examples

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
    db: Database,
    path: Path,
    known_ids: set[str],
    *,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import resolved tickets from `path`; bad lines become `FILE:line: message` findings and are skipped."""
    report = ImportReport()
    now = to_ts(utc_now())
    records: list[ExampleRecord] = []
    for number, row, problem in _rows(path):
        report.lines += 1
        if progress:
            progress(1)
        where = f"{path}:{number}"
        if problem or row is None:
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
                ExampleRecord(now, article_id, clean, outcome, "import", source_key(article_id, clean), IMPORT_CALLER)
            )
    report.imported = insert_examples(db, records)
    report.duplicates = len(records) - report.imported
    return report


def learn_from_feedback(db: Database, request_id: str, article_id: str, outcome: str, caller: str) -> bool:
    """Make a logged request's redacted text an example for `article_id`. Returns True when one was added."""
    if outcome not in WEIGHTS:
        return False
    logged = logged_query_text(db, request_id)
    if logged is None or not logged.text.strip():
        return False
    if count_caller_examples(db, caller, article_id) >= MAX_PER_CALLER:
        return False
    record = ExampleRecord(
        to_ts(utc_now()), article_id, logged.text, outcome, "feedback", f"{request_id}:{article_id}", caller
    )
    return insert_examples(db, [record]) == 1


def active_examples(db: Database) -> list[Example]:
    """The examples a build should use, after the agreement rule; weights by outcome."""
    rows = list_examples(db, status="active")
    callers: dict[str, set[str]] = {}
    for row in rows:
        if row.source == "feedback":
            callers.setdefault(row.article_id, set()).add(row.caller)
    out = []
    for row in rows:
        if row.source == "feedback" and len(callers[row.article_id]) < MIN_AGREEING_CALLERS:
            continue
        out.append(
            Example(
                id=row.id,
                article_id=row.article_id,
                text=row.text,
                weight=WEIGHTS.get(row.outcome, 0.0),
                hash=hashlib.sha256(row.text.encode("utf-8")).hexdigest(),
            )
        )
    return sorted(out, key=lambda e: e.id)


def count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def describe(rows: Iterable[ExampleRow | ExampleStat]) -> list[dict[str, Any]]:
    """Rows as JSON objects, columns in order (`kb learn list --json`)."""
    return [asdict(row) for row in rows]


# ---------------------------------------------------------------------------- the learned_examples table



@dataclass(frozen=True)
class ExampleRecord:
    """One learned example, ready to store (text already redacted)."""

    ts: str
    article_id: str
    text: str
    outcome: str
    source: str  # feedback | import
    source_key: str  # unique per source: re-importing or re-sending adds nothing twice
    caller: str


@dataclass(frozen=True)
class ExampleRow:
    """One stored example, as `kb learn list` shows it."""

    id: int
    ts: str
    article_id: str
    text: str
    outcome: str
    source: str
    caller: str
    status: str


@dataclass(frozen=True)
class ExampleStat:
    """Per article and source: how many examples are active and how many were removed."""

    article_id: str
    source: str
    active: int
    removed: int


# INSERT ... ON CONFLICT DO NOTHING: both dialects have it, each under its own insert().
_INSERT_IGNORING_DUPLICATES: dict[str, Any] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def insert_examples(db: Database, records: Iterable[ExampleRecord]) -> int:
    """Store examples in one transaction, skipping any whose (source, source_key) exists. Returns how many were new."""
    # RETURNING counts what was inserted on both dialects (psycopg's rowcount is -1 here).
    statement = (
        _INSERT_IGNORING_DUPLICATES[db.backend](learned_examples)
        .on_conflict_do_nothing(index_elements=["source", "source_key"])
        .returning(learned_examples.c.id)
    )
    added = 0
    with db.write() as conn:
        for r in records:
            added += len(
                conn.execute(
                    statement.values(
                        ts=r.ts, article_id=r.article_id, text=r.text, outcome=r.outcome, source=r.source,
                        source_key=r.source_key, caller=r.caller,
                    )
                ).all()
            )
    return added


def count_caller_examples(db: Database, caller: str, article_id: str) -> int:
    """Active feedback examples one caller has taught for one article."""
    c = learned_examples.c
    query = select(func.count()).where(
        c.caller == caller, c.article_id == article_id, c.source == "feedback", c.status == "active"
    )
    with db.read() as conn:
        return int(conn.execute(query).scalar_one())


_ROW_COLUMNS = tuple(
    learned_examples.c[name] for name in ("id", "ts", "article_id", "text", "outcome", "source", "caller", "status")
)


def list_examples(
    db: Database, *, article_id: str | None = None, status: str | None = "active", limit: int | None = None
) -> list[ExampleRow]:
    """Learned examples, newest first, optionally for one article or status."""
    c = learned_examples.c
    query = select(*_ROW_COLUMNS)
    if article_id is not None:
        query = query.where(c.article_id == article_id)
    if status is not None:
        query = query.where(c.status == status)
    query = query.order_by(c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with db.read() as conn:
        return [ExampleRow(*tuple(r)) for r in conn.execute(query).all()]


def remove_examples(
    db: Database, *, ids: Iterable[int] = (), article_id: str | None = None, caller: str | None = None
) -> int:
    """Mark examples removed (kept for the audit trail, never used again). Returns how many changed."""
    c = learned_examples.c
    remove = learned_examples.update().where(c.status == "active").values(status="removed")
    changed = 0
    ids = list(ids)
    with db.write() as conn:
        if ids:
            changed += conn.execute(remove.where(c.id.in_(ids))).rowcount
        if article_id is not None or caller is not None:
            chosen = remove
            if article_id is not None:
                chosen = chosen.where(c.article_id == article_id)
            if caller is not None:
                chosen = chosen.where(c.caller == caller)
            changed += conn.execute(chosen).rowcount
    return changed


def example_stats(db: Database) -> list[ExampleStat]:
    """Per article and source: active and removed counts."""
    c = learned_examples.c
    query = (
        select(
            c.article_id,
            c.source,
            func.sum(case((c.status == "active", 1), else_=0)).label("active"),
            func.sum(case((c.status == "removed", 1), else_=0)).label("removed"),
        )
        .group_by(c.article_id, c.source)
        .order_by(c.article_id, c.source)
    )
    with db.read() as conn:
        return [ExampleStat(r.article_id, r.source, int(r.active), int(r.removed)) for r in conn.execute(query).all()]
