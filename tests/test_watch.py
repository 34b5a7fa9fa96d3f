"""`kb serve --watch`'s pieces that need no browser: the live channel and the command's checks
(tests/test_watch_browser.py drives the whole loop in Chromium)."""

from __future__ import annotations

from click.testing import CliRunner

from kbserver.cli import main
from kbserver.web import live

from conftest import make_app


def test_the_live_channel_names_the_live_build_and_the_findings_of_a_refused_save(kb_index, tmp_path):
    app = make_app(kb_index, tmp_path)
    state = live.init_app(app)
    client = app.test_client()
    build = client.get("/healthz").get_json()["index_version"]

    assert client.get("/_live").get_json() == {"build": build, "problems": [], "rebuilds": 0}
    state.refused(["articles/a/b.md:3: error: unknown type 'polcy'"])
    answer = client.get("/_live")
    assert answer.get_json()["problems"] == ["articles/a/b.md:3: error: unknown type 'polcy'"]
    assert answer.headers["Cache-Control"] == "no-store"
    page = client.get("/").get_data(as_text=True)
    assert "kb-live.js" in page and f'data-live-build="{build}"' in page


def test_a_page_served_without_watch_has_no_live_reload(client):
    page = client.get("/").get_data(as_text=True)

    assert "kb-live.js" not in page and "data-live-url" not in page
    assert client.get("/_live").status_code == 404


def test_watch_refuses_several_workers_and_a_missing_articles_folder(tmp_path):
    many = CliRunner().invoke(main, ["serve", "--watch", "--workers", "2", "--index", str(tmp_path / "i"),
                                     "--articles", str(tmp_path)])
    missing = CliRunner().invoke(main, ["serve", "--watch", "--index", str(tmp_path / "i"),
                                        "--articles", str(tmp_path / "nope")])

    assert many.exit_code == 1 and "--watch runs one process" in many.stderr
    assert missing.exit_code == 1 and "no such articles folder" in missing.stderr
