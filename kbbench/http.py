"""HTTP load against a real gunicorn server (`kb serve --workers N`) on 127.0.0.1.

The load generator runs on the same machine as the server, so at high concurrency the
clients compete with the workers for the same cores; the numbers are what one box gives,
not what the server would give behind a separate load balancer.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlencode

from kbbench.measure import load_average, percentiles

KINDS = ("search", "suggest")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> dict[str, int]:
    """Resident memory of a process now (VmRSS) and at its peak (VmHWM), in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":", 1)
            out[key] = int(value.split()[0])
    return {"rss_kib": out.get("VmRSS", 0), "peak_rss_kib": out.get("VmHWM", 0)}


def child_pids(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Server:
    """`kb serve --workers N` in a subprocess, with its own feedback database and no rate limit.

    A context manager: entering waits (with a deadline) until /healthz answers 200 and every
    worker has loaded the model; leaving sends SIGTERM to the master and waits for it.
    """

    def __init__(self, index_root: Path, work_dir: Path, *, workers: int = 2, inference_threads: int = 1,
                 startup_timeout_s: float = 120.0) -> None:
        self.index_root = Path(index_root)
        self.work_dir = Path(work_dir)
        self.workers = workers
        self.inference_threads = inference_threads
        self.startup_timeout_s = startup_timeout_s
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log_path = self.work_dir / f"server-{self.port}.log"

    def __enter__(self) -> Self:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "KB_INDEX_DIR": str(self.index_root),
            "KB_DATABASE": str(self.work_dir / f"bench-{self.port}.sqlite3"),
            "KB_INFERENCE_THREADS": str(self.inference_threads),
            "KB_RATE_LIMIT": "100000000 per minute",  # the limiter still runs; it just never says no
            "KB_RELOAD_INTERVAL_S": "3600",
        }
        kb = Path(sys.executable).with_name("kb")
        command = [str(kb)] if kb.exists() else [sys.executable, "-c", "from kbserver.cli import main; main()"]
        command += ["serve", "--index", str(self.index_root), "--port", str(self.port), "--workers", str(self.workers)]
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            self._wait_healthy()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_healthy(self) -> None:
        assert self.process is not None  # started by __enter__
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"kb serve exited with {self.process.returncode}; see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200 and len(child_pids(self.process.pid)) >= self.workers:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"kb serve did not become healthy in {self.startup_timeout_s} s; see {self.log_path}")

    def __exit__(self, *exc: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def worker_pids(self) -> list[int]:
        return child_pids(self.process.pid) if self.process else []

    def memory(self) -> dict[str, Any]:
        assert self.process is not None  # started by __enter__
        workers = {str(pid): rss_kib(pid) for pid in self.worker_pids()}
        return {
            "master": rss_kib(self.process.pid),
            "workers": workers,
            "max_worker_rss_mib": round(max((w["rss_kib"] for w in workers.values()), default=0) / 1024, 1),
        }


def unique_text(text: str, n: int) -> str:
    """`text` made unique per request by a last line of two 3-digit numbers that query cleaning keeps.

    The service caches query embeddings, so a benchmark that repeats the same 230 messages
    would measure cache hits. Real customer messages are almost all new; this last line (not
    an order or phone number, no word for the spell checker, too short to be embedded as a
    sentence of its own) keeps each request's cleaned text distinct without changing what it
    asks or how many sentences are embedded.
    """
    return f"{text}\n{100 + n % 900} {100 + (n // 900) % 900}"


class _Client(threading.Thread):
    def __init__(self, port: int, kind: str, texts: Sequence[str], offset: int, deadline: float,
                 is_unique: bool, counter: _Counter) -> None:
        super().__init__(daemon=True)
        self.port, self.kind, self.texts, self.offset = port, kind, texts, offset
        self.deadline, self.is_unique, self.counter = deadline, is_unique, counter
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        i = self.offset
        while time.monotonic() < self.deadline:
            text = self.texts[i % len(self.texts)]
            if self.is_unique:
                text = unique_text(text, self.counter.next())
            i += 1
            if self.kind == "search":
                method, path, body, headers = "GET", "/api/v1/search?" + urlencode({"q": text, "mode": "hybrid"}), None, {}
            else:
                method, path = "POST", "/api/v1/suggest"
                body = json.dumps({"text": text, "limit": 3})
                headers = {"Content-Type": "application/json"}
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                # Count it and reconnect: one broken keep-alive connection must not end the run.
                self.errors[type(exc).__name__] = self.errors.get(type(exc).__name__, 0) + 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                continue
            elapsed = time.perf_counter() - started
            if status == 200:
                self.latencies.append(elapsed)
            else:
                self.errors[str(status)] = self.errors.get(str(status), 0) + 1
        conn.close()


class _Counter:
    def __init__(self) -> None:
        self._n = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._n += 1
            return self._n


def run_load(port: int, kind: str, texts: Sequence[str], *, clients: int, duration_s: float,
             is_unique: bool = True) -> dict[str, Any]:
    """`clients` threads, each on its own keep-alive connection, sending requests for `duration_s`."""
    counter = _Counter()
    loadavg = load_average()
    deadline = time.monotonic() + duration_s
    step = max(1, len(texts) // max(clients, 1))
    threads = [_Client(port, kind, texts, c * step, deadline, is_unique, counter) for c in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies = [x for t in threads for x in t.latencies]
    errors: dict[str, int] = {}
    for t in threads:
        for key, value in t.errors.items():
            errors[key] = errors.get(key, 0) + value
    return {
        "kind": kind,
        "clients": clients,
        "cache": "cold" if is_unique else "warm",
        "duration_s": round(elapsed, 2),
        "requests": len(latencies),
        "throughput_rps": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "errors": errors,
        **percentiles(latencies),
        "loadavg": loadavg,
    }


def warm_up(port: int, texts: Sequence[str], *, seconds: float = 3.0, clients: int = 4) -> None:
    """Send both kinds of request from several clients, so every worker has loaded its encoder."""
    for kind in KINDS:
        run_load(port, kind, texts, clients=clients, duration_s=seconds / 2, is_unique=True)


def prime_caches(port: int, texts: Sequence[str], *, clients: int = 4) -> None:
    """Send every text once from each of `clients` keep-alive connections.

    Connections are spread over the workers, so each worker's query-embedding cache (search
    and suggest share it) ends up holding every text.
    """

    def one_pass() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for text in texts:
            conn.request("POST", "/api/v1/suggest", body=json.dumps({"text": text}),
                         headers={"Content-Type": "application/json"})
            conn.getresponse().read()
        conn.close()

    threads = [threading.Thread(target=one_pass, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def measure_http(index_root: Path, work_dir: Path, texts: Sequence[str], *, clients: Sequence[int] = (1, 4, 16),
                 duration_s: float = 8.0, workers: int = 2, inference_threads: int = 1,
                 caches: Sequence[str] = ("cold", "warm"), kinds: Sequence[str] = KINDS,
                 warm_up_s: float = 3.0) -> dict[str, Any]:
    """Latency and throughput at each client count, for each request kind and cache mode; worker RSS."""
    out: dict[str, Any] = {"workers": workers, "inference_threads": inference_threads, "duration_s": duration_s,
                           "loadavg_start": load_average(), "runs": []}
    with Server(index_root, work_dir, workers=workers, inference_threads=inference_threads) as server:
        warm_up(server.port, texts, seconds=warm_up_s)
        for cache in caches:
            if cache == "warm":
                prime_caches(server.port, texts)
            for kind in kinds:
                for n in clients:
                    out["runs"].append(run_load(server.port, kind, texts, clients=n, duration_s=duration_s,
                                                is_unique=cache == "cold"))
        out["memory"] = server.memory()
    out["loadavg_end"] = load_average()
    return out


def measure_oversubscription(index_root: Path, work_dir: Path, texts: Sequence[str], *,
                             threads: Sequence[int] = (1, 2), clients: Sequence[int] = (4, 16),
                             duration_s: float = 8.0, workers: int = 2, warm_up_s: float = 3.0) -> dict[str, Any]:
    """Suggest latency with `workers` workers at each inference-thread setting, back to back."""
    out: dict[str, Any] = {"workers": workers, "loadavg_start": load_average(), "runs": []}
    for n_threads in threads:
        with Server(index_root, work_dir, workers=workers, inference_threads=n_threads) as server:
            warm_up(server.port, texts, seconds=warm_up_s)
            for n in clients:
                run = run_load(server.port, "suggest", texts, clients=n, duration_s=duration_s)
                out["runs"].append({"inference_threads": n_threads, **run})
    out["loadavg_end"] = load_average()
    return out
