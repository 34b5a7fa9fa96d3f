"""Every KB_ setting is checked at start: a bad value stops kb with one line naming it (issue 30).

The bad values are keyed by setting and the cases are built from SETTINGS, so a new setting
without bad values here (or without a check in config.CHECKS) fails collection, not review.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kbserver import create_app
from kbserver.cli import main
from kbserver.config import CHECKS, SETTINGS, SettingError

ROOT = Path(__file__).resolve().parent.parent
SECRETS = ("hunter2", "s3cret")

# Written as they would be in the environment (kb parses them as JSON when it can).
BAD_VALUES: dict[str, list[str]] = {
    "ARTICLES_DIR": ["", " ", "2024", "[1, 2]"],
    "INDEX_DIR": ["", " ", "2024"],
    "DATABASE": ["mysql://kb@127.0.0.1/kb", "postgresql://kb:s3cret@db.internal", "postgresql:/typo", "", "5"],
    "RELOAD_INTERVAL_S": ["-1", "soon", "true", "1e9"],
    "INFERENCE_THREADS": ["0", "1.5", "all", "100000"],
    "QUERY_ENCODER": ["fp16", ""],
    "MAX_CONTENT_LENGTH": ["0", "64k", "1e12", "-5"],
    "MAX_TEXT_CHARS": ["0", "lots", "2.5"],
    "MAX_LIMIT": ["0", "true", "100000"],
    "ANONYMOUS_SCOPES": ["search,root", "search,admin", "1", '["everything"]'],
    "RATE_LIMIT": ["lots", "0 per minute", "600", "", "600 per fortnight"],
    "RATE_LIMIT_STORAGE": ["memcached://x", "redis//x", "redis://:hunter2@", "", "memory"],
    "LEARNING": ["maybe", "2"],
    "MULTILINGUAL": ["maybe", "[]"],
    "NO_MATCH_THRESHOLD": ["high", "5", "-0.1", "true"],
    "FRAME_ANCESTORS": ["'self'; script-src *", "", "'self' \"evil\"", "'none' https://x.example", "'unsafe-inline'"],
    "CORS_ORIGINS": ["https://x/", "*", "https://x.example:port"],
    "SECRET_KEY": ["short", "12345"],
    "OIDC_ISSUER": ["http://login.example.com", "https://user:s3cret@login.example.com", "login.example.com",
                    "https://login.example.com"],  # the last: no KB_OIDC_CLIENT_ID
    "OIDC_CLIENT_ID": ["[1]", "true"],
    "OIDC_CLIENT_SECRET": ["[\"s3cret\"]", "{}"],
    "OIDC_SCOPES": ["[]", "null"],
    "OIDC_GROUPS_CLAIM": ["[]", "{}"],
    "ROLE_GROUPS": ["boss=leads", "lead", "lead=", "5"],
    "DEFAULT_ROLE": ["boss", "1"],
    "PROXY_USER_HEADER": ["X User", "X-Forwarded-Email"],  # the last: no KB_TRUSTED_PROXIES
    "PROXY_GROUPS_HEADER": ["X:Groups", "[1]"],
    "TRUSTED_PROXIES": ["10.0.0.300", "0.0.0.0/0", "proxy.internal"],
    "SESSION_HOURS": ["0", "forever", "100000"],
    "COOKIE_SECURE": ["maybe", "2"],
    "PERSON_ID": ["name", "pseudonym"],  # the last: no KB_SECRET_KEY
}
CASES = [pytest.param(s.name, value, id=f"{s.name}={value}") for s in SETTINGS for value in BAD_VALUES[s.name]]


def test_every_setting_has_a_check_and_bad_values():
    names = {s.name for s in SETTINGS}
    assert set(CHECKS) == names
    assert set(BAD_VALUES) == names


def assert_one_line_naming(text: str, name: str) -> None:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert f"KB_{name}" in lines[0]
    assert "Traceback" not in text
    assert not any(secret in text for secret in SECRETS), text


@pytest.mark.parametrize("name, value", CASES)
def test_kb_serve_refuses_a_bad_setting_in_one_line(name, value, tmp_path, monkeypatch):
    import werkzeug.serving

    def never(*args, **kwargs):
        raise AssertionError(f"kb serve started with KB_{name}={value!r}")

    monkeypatch.setattr(werkzeug.serving, "make_server", never)
    result = CliRunner().invoke(main, ["serve", "--port", "0"], env={f"KB_{name}": value})

    assert isinstance(result.exception, SystemExit), result.exception  # anything else is a traceback
    assert result.exit_code == 1
    assert result.stdout == ""
    assert_one_line_naming(result.stderr, name)


@pytest.mark.parametrize("name, value", CASES)
def test_create_app_refuses_a_bad_setting_in_one_line(name, value, tmp_path, monkeypatch):
    monkeypatch.setenv(f"KB_{name}", value)
    with pytest.raises(SettingError) as refused:
        create_app({"TESTING": True})
    assert str(refused.value).startswith(f"KB_{name}")
    assert_one_line_naming(str(refused.value), name)


@pytest.mark.parametrize("command", [["index"], ["eval"], ["suite", "--only", "ours"]])
@pytest.mark.parametrize("name", ["RATE_LIMIT", "LEARNING", "NO_MATCH_THRESHOLD", "QUERY_ENCODER", "MULTILINGUAL"])
def test_commands_that_read_settings_refuse_a_bad_one_before_working(command, name, tmp_path):
    value = BAD_VALUES[name][0]
    result = CliRunner().invoke(main, command, env={f"KB_{name}": value})

    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1
    assert_one_line_naming(result.stderr, name)


def test_a_kb_variable_that_names_no_setting_is_warned_about_with_a_hint(caplog):
    from kbserver import config

    with caplog.at_level("WARNING", logger="kbserver.config"):
        config.validate(config.defaults(), environ={"KB_RATE_LIMITS": "5 per minute"})
    assert [r.getMessage() for r in caplog.records] == [
        "KB_RATE_LIMITS is not a kb setting (did you mean KB_RATE_LIMIT?); ignored (README's settings table lists them all)"
    ]


def test_a_valid_rate_limit_with_several_windows_is_accepted(tmp_path):
    app = create_app({"TESTING": True, "RATE_LIMIT": "10/second;600 per hour", "INDEX_DIR": str(tmp_path / "index")})
    assert app.config["RATE_LIMIT"] == "10/second;600 per hour"


def kb_process(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from kbserver.cli import main; main()", *args],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env}, cwd=cwd, capture_output=True, text=True, timeout=120,
    )


@pytest.mark.parametrize(
    "name, value", [("RATE_LIMIT", "lots"), ("CORS_ORIGINS", "https://x/"), ("DATABASE", "postgresql://kb:s3cret@db")]
)
def test_kb_serve_process_prints_one_line_and_no_traceback(name, value, tmp_path):
    done = kb_process("serve", "--workers", "2", "--port", "0", env={f"KB_{name}": value}, cwd=tmp_path)

    assert done.returncode == 1
    assert done.stdout == ""
    assert_one_line_naming(done.stderr, name)
    assert list(tmp_path.iterdir()) == []  # nothing opened, nothing created


def test_gunicorn_worker_refuses_a_bad_setting_in_one_line_and_the_master_stops(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", "127.0.0.1:0", "--no-control-socket", "kbserver:create_app()"],
        env={**os.environ, "PYTHONPATH": str(ROOT), "KB_RATE_LIMIT": "lots"},
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )

    assert done.returncode == 4  # gunicorn's "App failed to load": the master halts, no worker is rebooted
    assert "Traceback" not in done.stderr
    named = [line for line in done.stderr.splitlines() if "KB_RATE_LIMIT" in line]
    assert named == ["KB_RATE_LIMIT must be a rate such as '600 per minute' or '10/second;600/hour', not 'lots'"]


def test_kb_serve_workers_open_no_gunicorn_control_socket(tmp_path):
    from gunicorn.arbiter import Arbiter

    from kbserver.cli.gunicorn_app import _App

    control = tmp_path / "home" / ".gunicorn" / "gunicorn.ctl"
    app = _App({"bind": "127.0.0.1:0", "workers": 2, "control_socket": str(control)}, {})
    arbiter = Arbiter(app)
    arbiter._start_control_server()

    assert app.cfg.control_socket_disable is True
    assert arbiter._control_server is None
    assert not (tmp_path / "home").exists()  # two instances cannot share (or remove) one socket
