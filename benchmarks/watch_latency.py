"""Edit -> visible with `kb serve --watch`: how long after a save the open page shows the change.

Runs the real command (`kb serve --watch --articles <copy of articles/> --index <tmp>`) and a
real headless Chromium on one article page. Each round rewrites the article's title, as an
editor's save would, and times from just before the write until the page's `<h1>` shows the
new title (the watcher's rebuild and publish, the page's poll, its reload and render, all
included). The first build (and the one-off ONNX export) happen before the clock starts.

    python benchmarks/watch_latency.py --rounds 10 --json benchmarks/out/watch.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from selenium.webdriver.common.by import By  # noqa: E402

from chromium import headless_chromium  # noqa: E402  (after the sys.path line above)

ARTICLE = "returns/refund-not-received"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout_s: float, every_s: float = 0.01) -> float:
    """Poll `condition` until it is true; the time it took. Raises TimeoutError."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        if condition():
            return time.perf_counter() - start
        time.sleep(every_s)
    raise TimeoutError("condition not met")


def run(rounds: int, article: str) -> dict:
    work = Path(tempfile.mkdtemp(prefix="kb-watch-"))
    articles = work / "articles"
    shutil.copytree(ROOT / "articles", articles)
    path = articles / f"{article}.md"
    original = path.read_text(encoding="utf-8")
    title = next(line for line in original.splitlines() if line.startswith("title:"))
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "kb"), "serve", "--watch", "--articles", str(articles),
         "--index", str(work / "index"), "--port", str(port)],
        env={**os.environ, "KB_DATABASE": str(work / "kb.sqlite3")}, stderr=subprocess.PIPE, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(url), timeout_s=600, every_s=0.5)
        times = []
        with headless_chromium() as driver:
            driver.get(f"{url}/articles/{article}")
            for n in range(rounds):
                new_title = f"Refund not received, edit {n}"
                started = time.perf_counter()
                path.write_text(original.replace(title, f"title: {new_title}"), encoding="utf-8")
                wait_for(lambda expected=new_title: _heading(driver) == expected, timeout_s=60)
                times.append(time.perf_counter() - started)
                time.sleep(0.5)  # let the page settle on its new build before the next save
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    ordered = sorted(times)
    return {
        "rounds": rounds,
        "article": article,
        "articles": sum(1 for _ in (ROOT / "articles").rglob("*.md")),
        "median_s": statistics.median(ordered),
        "p95_s": ordered[max(0, round(0.95 * len(ordered)) - 1)],
        "max_s": ordered[-1],
        "all_s": [round(t, 3) for t in times],
    }


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _heading(driver) -> str:
    try:
        return driver.find_element(By.CSS_SELECTOR, "h1").text
    except Exception:  # noqa: BLE001 - the page is between unload and load; look again
        return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--article", default=ARTICLE)
    parser.add_argument("--json", type=Path, help="Write the result here too.")
    args = parser.parse_args()
    result = run(args.rounds, args.article)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
