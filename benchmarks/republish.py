"""Republish under load: kb under gunicorn answers while `kb index` republishes, some runs SIGKILLed.

The real service (`gunicorn -w 2 -k gthread --threads 4 'kbserver:create_app()'`, reloading
every 0.5 s) serves a copy of tests/data/articles. Client threads send search, suggest,
article, feedback and /healthz requests without pause while the main thread edits a step of
one of two procedures (alternately) and runs `kb index`, as an author would. Some runs are
killed with SIGKILL half-way: as soon as their new build folder appears (after embedding,
while files are being written), plus a random delay of up to `--kill-delay-ms`. After a kill
the edit is undone, so the killed revision must never be seen.

Every response is checked, not only its status: a search has results; a suggestion's steps
are the article's full list and step 1 carries a revision that was published; an article
fetch likewise; /healthz names a build that `kb index` published. At the end the service must
serve the newest published build and its revisions, and every feedback answered 201 must be
in the database.

    python benchmarks/republish.py --republishes 20 --kills 5 --json benchmarks/out/republish.json

tests/test_republish.py runs a short version (4 republishes, 1 kill) through `run()`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer.parse import parse_text  # noqa: E402  (after the sys.path line above)

ARTICLES = ROOT / "tests" / "data" / "articles"
BIN = Path(sys.executable).parent
# The two procedures whose step 1 the republisher edits, and a message each that suggest answers with it.
EDITED = {
    "returns/start-a-return": "I want to send back a jacket I don't want any more",
    "delivery/where-is-my-order": "My parcel is late and the tracking hasn't moved for days",
}
SEARCHES = ("start a return", "where is my parcel", "refund to a different card", "gift card balance")
REVISION_RE = re.compile(r"Revision (\d+)\.")
TIMEOUT_S = 30.0


@dataclass
class Settings:
    republishes: int = 20
    kills: int = 5
    clients: int = 6
    workers: int = 2
    threads: int = 4
    reload_interval_s: float = 0.5
    kill_delay_ms: int = 150
    think_ms: int = 0  # pause between a client's requests; 0 sends them back to back
    seed: int = 9
    seed_index: Path | None = None  # copy this index root instead of a first full build


@dataclass
class Run:
    """One `kb index` run."""

    revision: int
    article_id: str
    killed: bool
    build_id: str | None  # published build, None when killed
    seconds: float
    left_half_written: bool = False


@dataclass
class Result:
    settings: dict
    seconds: float = 0.0
    requests: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    versions_seen: list[str] = field(default_factory=list)
    final_build: str | None = None
    served_final_build: bool = False
    served_final_revisions: bool = False
    feedback_created: int = 0
    feedback_stored: int = 0
    server_errors_logged: int = 0

    @property
    def killed(self) -> int:
        return sum(r.killed for r in self.runs)

    @property
    def lost_feedback(self) -> int:
        return self.feedback_created - self.feedback_stored

    def summary(self) -> dict:
        out = asdict(self)
        out["requests"] = dict(self.requests)
        out["requests_total"] = sum(self.requests.values())
        out["failures_total"] = len(self.failures)
        out["failures"] = self.failures[:20]
        out["republished"] = sum(r.build_id is not None for r in self.runs)
        out["killed"] = self.killed
        out["killed_half_written"] = sum(r.left_half_written for r in self.runs)
        out["lost_feedback"] = self.lost_feedback
        return out


# ---------------------------------------------------------------------------- the articles


def step_counts(articles: Path) -> dict[str, int]:
    """Steps per article id, from the sources (edits never change them)."""
    counts = {}
    for path in sorted(articles.rglob("*.md")):
        article_id = path.relative_to(articles).with_suffix("").as_posix()
        article, _ = parse_text(path.read_text(encoding="utf-8"), article_id, str(path))
        if article is not None:
            counts[article_id] = len(article.steps)
    return counts


class Author:
    """Edits step 1 of an article with a revision number, and undoes an edit whose build was killed."""

    def __init__(self, articles: Path) -> None:
        self.articles = articles
        self.original = {a: self.path(a).read_text(encoding="utf-8") for a in EDITED}
        self.published = {a: self.original[a] for a in EDITED}

    def path(self, article_id: str) -> Path:
        return self.articles / f"{article_id}.md"

    def edit(self, article_id: str, revision: int) -> None:
        text = re.sub(r"^(1\. .*)$", rf"\1 Revision {revision}.", self.original[article_id], count=1, flags=re.MULTILINE)
        self.path(article_id).write_text(text, encoding="utf-8")

    def keep(self, article_id: str) -> None:
        self.published[article_id] = self.path(article_id).read_text(encoding="utf-8")

    def undo(self, article_id: str) -> None:
        self.path(article_id).write_text(self.published[article_id], encoding="utf-8")


# ---------------------------------------------------------------------------- the service


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """gunicorn running kb, as production runs it."""

    def __init__(self, workdir: Path, index: Path, database: Path, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "gunicorn.log"
        env = {
            **os.environ,
            "KB_INDEX_DIR": str(index),
            "KB_DATABASE": str(database),
            "KB_RELOAD_INTERVAL_S": str(settings.reload_interval_s),
            # The load comes from one address; the default 600/minute would answer 429.
            "KB_RATE_LIMIT": "1000000 per minute",
            "KB_INFERENCE_THREADS": "1",
        }
        command = [
            str(BIN / "gunicorn"), "-w", str(settings.workers), "-k", "gthread", "--threads", str(settings.threads),
            "-b", f"127.0.0.1:{self.port}", "--timeout", "60", "kbserver:create_app()",
        ]
        self.log = open(self.log_path, "w")  # noqa: SIM115 - gunicorn writes to it until stop()
        self.process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = 60.0) -> str:
        """The build /healthz reports once the service answers. Raises RuntimeError on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}: see {self.log_path}")
            try:
                response = requests.get(self.url + "/healthz", timeout=5)
                if response.status_code == 200:
                    return response.json()["index_version"]
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or the workers are still loading the app
            threading.Event().wait(0.05)
        raise RuntimeError(f"gunicorn did not answer /healthz within {timeout_s} s")

    def stop(self) -> int:
        """Stop gracefully; returns the number of tracebacks the workers logged."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        return self.log_path.read_text(errors="replace").count("Traceback")


# ---------------------------------------------------------------------------- clients


class Clients:
    """Threads sending requests until stopped, checking every answer."""

    def __init__(self, url: str, settings: Settings, steps: dict[str, int]) -> None:
        self.url = url
        self.steps = steps
        self.think_s = settings.think_ms / 1000
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.requests: Counter = Counter()
        self.failures: list[str] = []
        self.latency: dict[str, list[float]] = {}
        self.versions: set[str] = set()
        self.revisions: dict[str, set[int]] = {a: set() for a in EDITED}  # seen in answers
        self.feedback: list[tuple[int, str]] = []
        kinds = ("suggest", "search", "feedback", "article", "healthz")
        self.threads = [
            threading.Thread(target=self._loop, args=(kinds[i % len(kinds)], i), daemon=True)
            for i in range(settings.clients)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=TIMEOUT_S + 5)

    def _loop(self, kind: str, number: int) -> None:
        session = requests.Session()
        i = 0
        while not self.stop.is_set():
            i += 1
            started = time.perf_counter()
            try:
                problem = getattr(self, f"_{kind}")(session, number, i)
            except (requests.RequestException, ValueError, KeyError, IndexError, TypeError) as exc:
                # A refused connection, a timeout or an answer that is not the documented JSON.
                problem = f"{type(exc).__name__}: {exc}"
            elapsed_ms = (time.perf_counter() - started) * 1000
            with self.lock:
                self.requests[kind] += 1
                self.latency.setdefault(kind, []).append(elapsed_ms)
                if problem:
                    self.failures.append(f"{kind}: {problem}")
            if self.think_s:
                self.stop.wait(self.think_s)  # pacing, and returns at once when the run ends

    def _check_steps(self, article_id: str, steps: list[dict]) -> str | None:
        if len(steps) != self.steps[article_id]:
            return f"{article_id}: {len(steps)} steps, expected {self.steps[article_id]}"
        if article_id in EDITED:
            match = REVISION_RE.search(steps[0]["text"])
            with self.lock:
                self.revisions[article_id].add(int(match.group(1)) if match else 0)
        return None

    def _suggest(self, session, number: int, i: int) -> str | None:
        article_id = list(EDITED)[i % len(EDITED)]
        response = session.post(self.url + "/api/v1/suggest", json={"text": EDITED[article_id]}, timeout=TIMEOUT_S)
        if response.status_code != 200:
            return f"HTTP {response.status_code}: {response.text[:200]}"
        suggestions = response.json()["suggestions"]
        if not suggestions:
            return "no suggestion"
        for s in suggestions:
            problem = self._check_steps(s["article"]["id"], s["steps"])
            if problem:
                return problem
        return None

    def _search(self, session, number: int, i: int) -> str | None:
        response = session.get(self.url + "/api/v1/search", params={"q": SEARCHES[i % len(SEARCHES)]}, timeout=TIMEOUT_S)
        if response.status_code != 200:
            return f"HTTP {response.status_code}: {response.text[:200]}"
        return None if response.json()["results"] else "no results"

    def _article(self, session, number: int, i: int) -> str | None:
        article_id = list(EDITED)[i % len(EDITED)]
        response = session.get(f"{self.url}/api/v1/articles/{article_id}", timeout=TIMEOUT_S)
        if response.status_code != 200:
            return f"HTTP {response.status_code}: {response.text[:200]}"
        return self._check_steps(article_id, response.json()["steps"])

    def _feedback(self, session, number: int, i: int) -> str | None:
        article_id = list(EDITED)[i % len(EDITED)]
        comment = f"load test client {number} message {i}"
        body = {"article_id": article_id, "outcome": "helpful", "comment": comment}
        response = session.post(self.url + "/api/v1/feedback", json=body, timeout=TIMEOUT_S)
        if response.status_code != 201:
            return f"HTTP {response.status_code}: {response.text[:200]}"
        with self.lock:
            self.feedback.append((response.json()["id"], comment))
        return None

    def _healthz(self, session, number: int, i: int) -> str | None:
        response = session.get(self.url + "/healthz", timeout=TIMEOUT_S)
        if response.status_code != 200:
            return f"HTTP {response.status_code}: {response.text[:200]}"
        with self.lock:
            self.versions.add(response.json()["index_version"])
        return None


# ---------------------------------------------------------------------------- the republisher


def kb_index(articles: Path, index: Path, database: Path) -> subprocess.Popen:
    command = [str(BIN / "kb"), "index", "--articles", str(articles), "--index", str(index), "--database", str(database)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def build_folders(index: Path) -> set[str]:
    folder = index / "builds"
    return set(os.listdir(folder)) if folder.is_dir() else set()


def current_build(index: Path) -> str | None:
    try:
        return (index / "CURRENT").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


def republish(articles: Path, index: Path, database: Path, kill_after_s: float | None) -> tuple[str | None, bool]:
    """Run `kb index` once: (published build id, whether it left a half-written build).

    With `kill_after_s`, SIGKILL it that long after its new build folder appears; if it
    publishes first, it counts as a normal run. Raises RuntimeError if a run fails.
    """
    before = build_folders(index)
    live = current_build(index)
    process = kb_index(articles, index, database)
    if kill_after_s is not None:
        while process.poll() is None and not (build_folders(index) - before):
            threading.Event().wait(0.001)
        if process.poll() is None:
            threading.Event().wait(kill_after_s)
            process.send_signal(signal.SIGKILL)
    out, err = process.communicate(timeout=300)
    if process.returncode == -signal.SIGKILL:
        if current_build(index) != live:
            raise RuntimeError("a killed build was published")
        new = build_folders(index) - before
        half_written = any(not (index / "builds" / name / "manifest.json").exists() for name in new)
        return None, half_written
    if process.returncode != 0:
        raise RuntimeError(f"kb index failed ({process.returncode}): {out}{err}")
    match = re.search(r"published build (\S+)", out)
    if not match or current_build(index) != match.group(1):
        raise RuntimeError(f"kb index did not publish: {out}{err}")
    return match.group(1), False


def wait_for_build(url: str, build_id: str, timeout_s: float = 20.0, in_a_row: int = 8) -> bool:
    """True once `in_a_row` consecutive /healthz answers (any worker) name `build_id`."""
    deadline = time.monotonic() + timeout_s
    streak = 0
    while time.monotonic() < deadline:
        version = requests.get(url + "/healthz", timeout=TIMEOUT_S).json().get("index_version")
        streak = streak + 1 if version == build_id else 0
        if streak >= in_a_row:
            return True
        threading.Event().wait(0.05)
    return False


def served_revisions(url: str) -> dict[str, int]:
    out = {}
    for article_id in EDITED:
        steps = requests.get(f"{url}/api/v1/articles/{article_id}", timeout=TIMEOUT_S).json()["steps"]
        match = REVISION_RE.search(steps[0]["text"])
        out[article_id] = int(match.group(1)) if match else 0
    return out


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {"n": len(ordered), "p50": pick(0.5), "p95": pick(0.95), "max": round(ordered[-1], 1)}


def run(workdir: Path, settings: Settings) -> Result:
    """The whole experiment in `workdir`; see the module docstring."""
    started = time.perf_counter()
    result = Result(settings={k: str(v) for k, v in asdict(settings).items()})
    articles, index, database = workdir / "articles", workdir / "index", workdir / "kb.sqlite3"
    shutil.copytree(ARTICLES, articles)
    if settings.seed_index is not None:
        shutil.copytree(settings.seed_index, index)
    else:
        republish(articles, index, database, None)  # a first, full build
    result.published.append(current_build(index))
    author = Author(articles)
    steps = step_counts(articles)
    rng = random.Random(settings.seed)
    kill_runs = set(rng.sample(range(1, settings.republishes - 1), settings.kills)) if settings.kills else set()

    service = Service(workdir, index, database, settings)
    clients = None
    try:
        service.wait_ready()
        clients = Clients(service.url, settings, steps)
        clients.start()
        published_revisions = {a: {0} for a in EDITED}
        for revision in range(1, settings.republishes + 1):
            article_id = list(EDITED)[revision % len(EDITED)]
            author.edit(article_id, revision)
            kill = revision in kill_runs
            delay_s = rng.uniform(0, settings.kill_delay_ms / 1000) if kill else None
            t0 = time.perf_counter()
            build_id, half_written = republish(articles, index, database, delay_s)
            run_ = Run(revision, article_id, build_id is None, build_id, round(time.perf_counter() - t0, 2), half_written)
            result.runs.append(run_)
            if build_id is None:
                author.undo(article_id)  # the author fixes what was being published when it died
            else:
                author.keep(article_id)
                published_revisions[article_id].add(revision)
                result.published.append(build_id)
        result.final_build = current_build(index)
        result.served_final_build = wait_for_build(service.url, result.final_build)
        expected = {a: REVISION_RE.search(author.published[a]) for a in EDITED}
        expected = {a: int(m.group(1)) if m else 0 for a, m in expected.items()}
        result.served_final_revisions = served_revisions(service.url) == expected
    finally:
        if clients is not None:
            clients.finish()
        result.server_errors_logged = service.stop()

    result.requests = clients.requests
    result.failures = list(clients.failures)
    result.latency_ms = {k: percentiles(v) for k, v in clients.latency.items()}
    result.versions_seen = sorted(clients.versions)
    for version in clients.versions - set(result.published):
        result.failures.append(f"healthz: served build {version}, which was never published")
    for article_id, seen in clients.revisions.items():
        for revision in seen - published_revisions[article_id]:
            result.failures.append(f"{article_id}: served revision {revision}, which was never published")
    result.feedback_created = len(clients.feedback)
    with sqlite3.connect(database) as db:
        stored = {(row[0], row[1]) for row in db.execute("SELECT id, comment FROM feedback")}
    result.feedback_stored = sum(item in stored for item in clients.feedback)
    result.seconds = round(time.perf_counter() - started, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--republishes", type=int, default=20)
    parser.add_argument("--kills", type=int, default=5, help="how many of the runs are SIGKILLed half-way")
    parser.add_argument("--clients", type=int, default=6, help="client threads (suggest, search, feedback, article, healthz)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kill-delay-ms", type=int, default=150, help="random delay after the build folder appears")
    parser.add_argument("--think-ms", type=int, default=0, help="pause between a client's requests")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--seed-index", type=Path, help="start from a copy of this index root (skips the full build)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args(argv)
    settings = Settings(
        republishes=args.republishes, kills=args.kills, clients=args.clients, workers=args.workers,
        kill_delay_ms=args.kill_delay_ms, think_ms=args.think_ms, seed=args.seed, seed_index=args.seed_index,
    )
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=False)
        result = run(args.keep, settings)
    else:
        with tempfile.TemporaryDirectory(prefix="kb-republish-") as tmp:
            result = run(Path(tmp), settings)
    summary = result.summary()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1, default=str) + "\n", encoding="utf-8")
    print(json.dumps({k: summary[k] for k in (
        "seconds", "requests_total", "requests", "failures_total", "republished", "killed", "killed_half_written",
        "served_final_build", "served_final_revisions", "feedback_created", "feedback_stored", "lost_feedback",
        "server_errors_logged", "latency_ms")}, indent=1))
    for failure in summary["failures"]:
        print("FAILURE", failure)
    ok = not result.failures and not result.lost_feedback and result.served_final_build and result.served_final_revisions
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
