"""Real PostgreSQL and Redis servers for the tests, started by the suite itself (issue 19).

`scripts/bootstrap --test` installs Debian's postgresql and redis-server and the unprivileged
user `kbtest`. Each server here lives in a temporary folder, listens on 127.0.0.1 on a free
port and is stopped (and its folder removed) when the test session, or the test that made
its own, ends. initdb and pg_ctl refuse to run as root, so as root they run as `kbtest`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

UNPRIVILEGED_USER = "kbtest"
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _postgresql_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise RuntimeError(f"PostgreSQL's {name} is not installed: run scripts/bootstrap --test")


def _wait_for(check, what: str, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up within {timeout_s} s")
        time.sleep(0.05)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class PostgresServer:
    """initdb + pg_ctl in a temporary folder; `url()` names a fresh schema (or the whole database)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="kb-postgres-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.fsync = False  # the tests never survive a power cut; benchmarks/store_backends.py turns it on
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam(UNPRIVILEGED_USER)
            except KeyError:
                raise RuntimeError(f"no user {UNPRIVILEGED_USER}: run scripts/bootstrap --test") from None
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", UNPRIVILEGED_USER, "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as_user, *args], check=True, capture_output=True, timeout=START_TIMEOUT_S)

    def initdb(self) -> PostgresServer:
        self._run(_postgresql_bin("initdb"), "-D", str(self.data), "-U", "kb", "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        return self

    def start(self) -> PostgresServer:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c max_connections=300"
        if not self.fsync:
            options += " -c fsync=off"
        self._run(_postgresql_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        _wait_for(lambda: _port_open(self.port), f"PostgreSQL on port {self.port}")
        return self

    def stop(self) -> None:
        """Stop the server for real (pg_ctl stop, fast mode): connections are cut, data kept."""
        self._run(_postgresql_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def base_url(self) -> str:
        return f"postgresql://kb@127.0.0.1:{self.port}/postgres"

    def url(self) -> str:
        """A URL whose tables live in a new, empty schema: each test gets a database of its own."""
        import psycopg

        schema = f"t{uuid.uuid4().hex[:16]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=kb dbname=postgres", autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        return f"{self.base_url}?options=-csearch_path%3D{schema}"


class RedisServer:
    """redis-server on 127.0.0.1, no persistence, in a temporary folder."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="kb-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise RuntimeError("redis-server is not installed: run scripts/bootstrap --test")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        _wait_for(lambda: _port_open(self.port), f"Redis on port {self.port}")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
