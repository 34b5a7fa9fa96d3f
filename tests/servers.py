"""Real PostgreSQL, Redis and OpenID Connect servers for the tests, started by the suite itself (issue 19).

`scripts/bootstrap --test` installs Debian's postgresql and redis-server and the unprivileged
user `kbtest`. Each server here lives in a temporary folder, listens on 127.0.0.1 on a free
port and is stopped (and its folder removed) when the test session, or the test that made
its own, ends. initdb and pg_ctl refuse to run as root, so as root they run as `kbtest`.
The OpenID Connect provider (`OidcProvider`, tests/oidc_provider.py) needs nothing installed
beyond Authlib: it runs with this Python.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests

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


# The people kb's tests sign in as (tests/oidc_provider.py); each one's password is `pw-<username>`.
OIDC_USERS: dict[str, list[str]] = {
    "alice": ["support"],
    "lena": ["support", "support-leads"],
    "olive": ["kb-authors"],
    "adam": ["kb-admins"],
    "nora": [],
}


class _LoginForm(HTMLParser):
    """The first form's action and the names of its inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.inputs: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = values.get("action") or ""
        elif tag == "input" and values.get("name"):
            self.inputs.add(values["name"] or "")


class OidcProvider:
    """tests/oidc_provider.py (Authlib's server: code flow, PKCE S256, RS256 ID tokens) as its own
    process on 127.0.0.1 and a free port, in a temporary folder (config.json, provider.log).

    One confidential client, `client_id` "kb" with a random `client_secret`. Redirect URIs match
    exactly: give them to the constructor, or register one on the running provider with
    `register_redirect_uri` (kb's callback is http://127.0.0.1:<kb port>/signin/callback).
    Users: OIDC_USERS, password `pw-<username>`, email `<username>@example.com`, sub `sub-<username>`.
    The ID token carries `groups` only when the `groups` scope is asked for (and granted).
    """

    client_id = "kb"

    def __init__(self, redirect_uris: Iterable[str] = (), post_logout_redirect_uris: Iterable[str] = ()) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="kb-oidc-"))
        self.log = self.folder / "provider.log"
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.client_secret = secrets.token_urlsafe(24)
        self._admin_token = secrets.token_urlsafe(24)
        self.users = {name: {"username": name, "password": f"pw-{name}", "sub": f"sub-{name}",
                             "email": f"{name}@example.com", "name": name.capitalize(), "groups": groups}
                      for name, groups in OIDC_USERS.items()}
        self._clients = [{"client_id": self.client_id, "client_secret": self.client_secret,
                          "redirect_uris": list(redirect_uris),
                          "post_logout_redirect_uris": list(post_logout_redirect_uris)}]
        self.process: subprocess.Popen | None = None

    @property
    def metadata_url(self) -> str:
        """The discovery document (Authlib's client: `server_metadata_url`)."""
        return f"{self.issuer}/.well-known/openid-configuration"

    def _up(self) -> bool:
        import requests

        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"the OIDC provider exited: {self.log.read_text(errors='replace')[-2000:]}")
        try:
            return requests.get(self.metadata_url, timeout=1).ok
        except requests.ConnectionError:
            return False

    def start(self) -> OidcProvider:
        config = self.folder / "config.json"
        config.write_text(json.dumps({"issuer": self.issuer, "clients": self._clients,
                                      "users": list(self.users.values()), "admin_token": self._admin_token}))
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("oidc_provider.py")), "--port", str(self.port),
                 "--config", str(config)],
                stdout=log, stderr=subprocess.STDOUT,
            )
        _wait_for(self._up, f"the OIDC provider on port {self.port}")
        return self

    def register_redirect_uri(self, redirect_uri: str, post_logout_redirect_uri: str | None = None) -> None:
        """Allow one more exact redirect URI (and post-logout redirect URI) for client `kb`."""
        import requests

        response = requests.post(
            f"{self.issuer}/_test/clients/{self.client_id}/redirect_uris", timeout=10,
            headers={"Authorization": f"Bearer {self._admin_token}"},
            json={"redirect_uri": redirect_uri, "post_logout_redirect_uri": post_logout_redirect_uri},
        )
        response.raise_for_status()

    def sign_in(self, http_session: requests.Session, authorize_url: str, username: str,
                password: str) -> requests.Response:
        """Sign in as a browser would, with a `requests.Session`: fetch the login form at
        `authorize_url` (the provider's /authorize URL, or a client URL that redirects there), post
        the credentials, and return the provider's answer unfollowed: a 302 to the client's
        redirect_uri with code and state (or error, if the request itself is refused), or, for a
        wrong password, the form again with 200. Raises RuntimeError if no login form is shown:
        the request is refused (error page, or error redirect), or this session is already signed
        in at the provider (it would return to the client at once; use a fresh session)."""
        from urllib.parse import urljoin

        url = authorize_url
        for _ in range(5):  # the client's own redirects, up to the provider's /authorize
            response = http_session.get(url, allow_redirects=False, timeout=10)
            if not response.is_redirect or url.startswith(f"{self.issuer}/authorize"):
                break
            url = urljoin(url, response.headers["Location"])
        form = _LoginForm()
        form.feed(response.text)
        if response.status_code != 200 or form.action is None or not {"username", "password"} <= form.inputs:
            raise RuntimeError(f"no login form at {url}: {response.status_code} {response.headers.get('Location')}")
        return http_session.post(urljoin(response.url, form.action), data={"username": username, "password": password},
                                 allow_redirects=False, timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
