"""What the store costs on each backend: SQLite (a file) against PostgreSQL (a local server).

The real store functions, one process, one thread, as a request handler calls them:
`insert_feedback` (one write transaction), `tokens.find_token` (the per-request token
check), `log_query`'s insert, and the per-article report over the logged rows. PostgreSQL
is a throwaway server that tests/servers.py starts (initdb + pg_ctl on 127.0.0.1, fsync on
unlike the tests, so a commit waits for the disk as in production). Prints one JSON object.

    python benchmarks/store_backends.py [--rows 2000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from kbserver.access import tokens  # noqa: E402
from kbserver.store import feedback, querylog, reports  # noqa: E402
from kbserver.store import tokens as token_table  # noqa: E402
from kbserver.store.db import connect, to_ts, utc_now  # noqa: E402

from servers import PostgresServer  # noqa: E402


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {"p50": round(statistics.median(ordered), 3), "p95": round(ordered[int(len(ordered) * 0.95) - 1], 3)}


def timed(call, n: int) -> dict[str, float]:
    samples = []
    for i in range(n):
        start = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples)


def measure(url: str, rows: int) -> dict[str, object]:
    db = connect(url)
    _, secret = tokens.create(db, "bench", "search")
    token_hash = tokens.hash_token(secret)
    now = to_ts(utc_now())
    out: dict[str, object] = {"backend": db.backend}
    out["insert_feedback_ms"] = timed(
        lambda i: feedback.insert_feedback(
            db, feedback.FeedbackRecord(now, f"area/article-{i % 50}", "Team", "helpful", f"r{i}", None, "bench")
        ),
        rows,
    )
    out["insert_query_ms"] = timed(
        lambda i: querylog.insert_query(
            db,
            querylog.QueryRecord(f"q{i}", now, "suggest", "hybrid", "parcel never arrived",
                                 json.dumps([{"id": f"area/article-{i % 50}", "score": 0.8}]), False, "bench"),
        ),
        rows,
    )
    out["find_token_ms"] = timed(lambda i: token_table.find_token(db, token_hash), rows)
    from indexer.article import Article

    articles = {
        f"area/article-{i}": Article(f"area/article-{i}", f"area/article-{i}.md", f"Article {i}", "procedure", "", "Team")
        for i in range(50)
    }
    out["article_report_ms"] = timed(lambda i: reports.article_report(db, articles, "2000-01-01"), 20)
    db.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(measure(str(Path(tmp) / "kb.sqlite3"), args.rows))
    server = PostgresServer().initdb()
    server.fsync = True
    server.start()
    try:
        results.append(measure(server.url(), args.rows))
    finally:
        server.remove()
    print(json.dumps({"rows": args.rows, "results": results}, indent=1))


if __name__ == "__main__":
    main()
