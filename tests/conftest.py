"""Shared fixtures: real indexes built once per session with the real indexer and model."""

from __future__ import annotations

import contextlib
import os
import re as _re
import shutil
import signal
import socket
import sys
import tempfile
import threading
from pathlib import Path

import flask
import pytest
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from indexer.build import build_index
from indexer.embedding import export_onnx, get_encoder, onnx_file
from indexer.multilingual import get_encoder as multilingual_encoder

from servers import OidcProvider, PostgresServer, RedisServer

CSRF_META = _re.compile(r'<meta name="csrf-token" content="([^"]*)"')


class PageClient(FlaskClient):
    """Flask's test client, posting page forms as a browser does: with the CSRF token of a page it opened.

    Every app's `test_client()` is one (below). A page form POST without `csrf_token` first opens
    the sign-in page (which any caller may see) and copies the token from its meta tag, as the
    form would carry it. API calls and requests with `Authorization` are sent as they are.
    tests/test_auth.py checks the refusal itself with `RawClient`.
    """

    def open(self, *args, **kwargs):
        path = args[0] if args and isinstance(args[0], str) else kwargs.get("path", "")
        method = str(kwargs.get("method", "GET")).upper()
        data = kwargs.get("data")
        headers = dict(kwargs.get("headers") or {})
        if (
            method == "POST" and isinstance(path, str) and not path.startswith("/api/")
            and isinstance(data, dict) and "csrf_token" not in data and "Authorization" not in headers
        ):
            page = super().open("/signin", method="GET", follow_redirects=True)
            found = CSRF_META.search(page.get_data(as_text=True))
            if found:
                kwargs["data"] = {**data, "csrf_token": found.group(1)}
        return super().open(*args, **kwargs)


RawClient = FlaskClient
flask.Flask.test_client_class = PageClient

ROOT = Path(__file__).resolve().parent.parent
# `kb index` embeds with the multilingual encoder too by default (docs/languages.md): about twice
# the time of a build. Tests that run `kb index` build English-only unless they are about languages
# (they set KB_MULTILINGUAL=on, and the session's sample_index is multilingual).
os.environ.setdefault("KB_MULTILINGUAL", "off")
DATA_ARTICLES = ROOT / "tests" / "data" / "articles"
SAMPLE_ARTICLES = ROOT / "articles"

# Tests never read or write the developer's state (issue 30): the database and index folder a
# command falls back to are a fresh temporary folder's, per test (`own_state`), and from here
# until the first test (collection, session fixtures). KB_ARTICLES_DIR stays `articles`: the
# repository's own articles are content, not state. `./var` is watched (`_var_guard`).
_SESSION_STATE = Path(tempfile.mkdtemp(prefix="kb-test-state-"))
os.environ["KB_DATABASE"] = str(_SESSION_STATE / "kb.sqlite3")
os.environ["KB_INDEX_DIR"] = str(_SESSION_STATE / "index")
VAR = ROOT / "var"
_VAR_BEFORE = pytest.StashKey[dict]()  # ./var as the session found it
_VAR_EVENTS = frozenset({"open", "os.listdir", "os.scandir", "os.mkdir", "os.remove", "os.rename", "sqlite3.connect"})
_var_touches: list[str] = []
_is_guarding = False


def _var_guard(event: str, args: tuple) -> None:
    """An audit hook: a test that opens, lists, creates or connects to anything under ./var fails there."""
    if not _is_guarding or event not in _VAR_EVENTS or not args:
        return
    path = args[0]
    if isinstance(path, (bytes, os.PathLike)):
        path = os.fsdecode(path)
    if not isinstance(path, str):
        return  # a file descriptor, or None for the working folder
    if event == "sqlite3.connect" and path.startswith("file:"):
        path = path[5:].split("?", 1)[0]
    full = os.path.abspath(path)
    if full == str(VAR) or full.startswith(str(VAR) + os.sep):
        _var_touches.append(f"{event} {full}")
        raise PermissionError(f"{event} {full}: tests never touch the developer's ./var (tests/conftest.py)")


sys.addaudithook(_var_guard)  # hooks cannot be removed: _is_guarding turns it off after the session


def _var_listing() -> dict[str, tuple[int, int]]:
    if not VAR.is_dir():
        return {}
    return {str(p.relative_to(VAR)): (p.stat().st_size, p.stat().st_mtime_ns) for p in VAR.rglob("*")}


def pytest_sessionstart(session):
    global _is_guarding
    session.config.stash[_VAR_BEFORE] = _var_listing()
    _is_guarding = True


def pytest_sessionfinish(session, exitstatus):
    """Fail the session if anything (a test, or a server a test started) read or changed ./var."""
    global _is_guarding
    _is_guarding = False
    changed = sorted(set(_var_listing().items()) ^ set(session.config.stash.get(_VAR_BEFORE, {}).items()))
    problems = _var_touches + [f"changed: var/{name}" for name, _ in changed]
    if problems:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("tests touched the developer's ./var: " + "; ".join(dict.fromkeys(problems)), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    shutil.rmtree(_SESSION_STATE, ignore_errors=True)


@pytest.fixture(autouse=True)
def own_state(monkeypatch, tmp_path_factory):
    """This test's own KB_DATABASE and KB_INDEX_DIR: nothing a test leaves there reaches another."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("KB_DATABASE", str(state / "kb.sqlite3"))
    monkeypatch.setenv("KB_INDEX_DIR", str(state / "index"))


# Fixtures that build a larger index once per session: a test that needs one is `slow`, so the
# fast lane (`pytest -m "not slow and not browser"`) builds only the ten-article kb_index.
SLOW_FIXTURES = {"sample_index", "telecom_index", "sample_server"}


# Tests marked `store` run once per backend: the same test against SQLite and against the
# session's real PostgreSQL (`postgres` below), never a copy of the test.
BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("store"):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL for the whole session: initdb + pg_ctl in a temporary folder, a free port."""
    server = PostgresServer().initdb().start()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def redis_server():
    """A real redis-server for the whole session, on 127.0.0.1 and a free port."""
    server = RedisServer().start()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def oidc_provider():
    """A real OpenID Connect provider for the whole session (tests/oidc_provider.py, own process).
    A test registers its kb's exact callback first: `oidc_provider.register_redirect_uri(url)`."""
    server = OidcProvider().start()
    yield server
    server.remove()


@pytest.fixture(autouse=True)
def close_every_database(monkeypatch):
    """Close every Database a test opened (apps, `connect`), as sqlite-utils' conftest does.

    A pool dropped without closing leaves psycopg connections to the garbage collector,
    whose ResourceWarning would fail a later, unrelated test.
    """
    from kbserver.store.db import Database

    opened: list[Database] = []
    original = Database.__init__

    def tracked(self, *args, **kwargs):
        original(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(Database, "__init__", tracked)
    yield
    for db in opened:
        db.close()


@pytest.fixture
def backend(request) -> str:
    """Which database the test's app uses: sqlite, unless the test is marked `store` (then both)."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def database_url(backend, tmp_path, request) -> str:
    """KB_DATABASE for this test: a file in tmp_path, or a fresh schema on the session's PostgreSQL."""
    if backend == "postgresql":
        return request.getfixturevalue("postgres").url()
    return str(tmp_path / "kb.sqlite3")


def sql_rows(database: str, sql: str, **params) -> list[dict]:
    """Rows of one SQL statement (named `:params`) on the database `database` names, as dicts."""
    from sqlalchemy import text

    from kbserver.store.db import connect

    db = connect(database)
    try:
        with db.write() as conn:
            result = conn.execute(text(sql), params)
            return [dict(row._mapping) for row in result] if result.returns_rows else []
    finally:
        db.close()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def onnx_model(tmp_path_factory) -> Path:
    """The ONNX export of the pinned model, made once per test session."""
    return export_onnx(onnx_file(tmp_path_factory.mktemp("models")))


def build_into(articles: Path, root: Path, onnx_model: Path, *, multilingual: bool = False, **kwargs):
    """Build and publish an index of `articles` under `root`, reusing the session's ONNX export;
    `multilingual` also embeds with multilingual-e5-small, as `kb index` does by default."""
    models = root / "models"
    models.mkdir(parents=True, exist_ok=True)
    target = onnx_file(models)
    if not target.exists():
        shutil.copyfile(onnx_model, target)
    return build_index(articles, root, encoder_factory=lambda: get_encoder(onnx_path=onnx_model),
                       multilingual_factory=multilingual_encoder if multilingual else None, **kwargs)


@pytest.fixture(scope="session")
def kb_index(tmp_path_factory, onnx_model) -> Path:
    """An index root built from tests/data/articles (ten small real articles)."""
    root = tmp_path_factory.mktemp("index")
    build_into(DATA_ARTICLES, root, onnx_model)
    return root


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory, onnx_model) -> Path:
    """An index root built from the bundled sample knowledge base (articles/)."""
    root = tmp_path_factory.mktemp("sample-index")
    build_into(SAMPLE_ARTICLES, root, onnx_model, multilingual=True)
    return root


@pytest.fixture(scope="session")
def telecom_index(tmp_path_factory, onnx_model) -> Path:
    """An index root built from tests/eval/telecom/articles: another industry, no aliases."""
    root = tmp_path_factory.mktemp("telecom-index")
    build_into(ROOT / "tests" / "eval" / "telecom" / "articles", root, onnx_model)
    return root


@pytest.fixture
def articles_copy(tmp_path) -> Path:
    """A writable copy of tests/data/articles for tests that edit articles."""
    target = tmp_path / "articles"
    shutil.copytree(DATA_ARTICLES, target)
    return target


def make_app(index_root: Path, tmp_path: Path, **overrides):
    from kbserver import create_app

    config = {
        "TESTING": True,
        "INDEX_DIR": str(index_root),
        "DATABASE": str(tmp_path / "kb.sqlite3"),
        "RELOAD_INTERVAL_S": 0.0,
        "RATE_LIMIT": "10000 per minute",
    }
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def app(kb_index, tmp_path, database_url):
    return make_app(kb_index, tmp_path, DATABASE=database_url)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class LiveServer:
    """A real HTTP server on 127.0.0.1 (port 0) running the app in a thread."""

    def __init__(self, app) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        # A short poll interval: shutdown() waits up to one interval, and many tests start a server.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


@contextlib.contextmanager
def recording_feedback_server(app):
    """The app on a real port with its feedback endpoint wrapped to record each JSON body the
    page sent (`server.feedback_sent`), still storing it for real."""
    from flask import request

    sent: list[dict] = []
    real = app.view_functions["api.feedback"]

    def recording_feedback():
        sent.append(request.get_json())
        return real()

    app.view_functions["api.feedback"] = recording_feedback
    with LiveServer(app) as live:
        live.feedback_sent = sent
        yield live


@pytest.fixture
def live_server(app):
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def sample_server(sample_index, tmp_path):
    with LiveServer(make_app(sample_index, tmp_path)) as server:
        yield server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def finishes_within(seconds: int):
    """Fails a call that hangs (a regex backtracking quadratically), not one that is merely slow."""
    def hang(*_):
        raise TimeoutError(f"still running after {seconds} s")
    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
