"""What changed: each article's recent commits from a real git repository, in the API and pages (issue 20)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from indexer import history
from kbserver.access import tokens
from kbserver.store.db import connect

from conftest import DATA_ARTICLES, build_into, make_app

EDITED = "delivery/where-is-my-order"  # public
INTERNAL = "account/suspected-account-takeover"
PUBLIC = {"ANONYMOUS_SCOPES": "search,suggest,feedback"}  # anonymous callers without `internal`
OLD_STEP = "1. Find the order in Order Hub"
NEW_STEP = "1. Greet the customer, then find the order in Order Hub"


def git(repo: Path, *args: str, author: str = "Ann Author") -> str:
    env = {"GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": f"{author.split()[0].lower()}@example.com",
           "GIT_COMMITTER_NAME": author, "GIT_COMMITTER_EMAIL": "ci@example.com", "HOME": str(repo),
           "PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture(scope="module")
def repo(tmp_path_factory, onnx_model) -> tuple[Path, Path]:
    """(index root, repository): the sample articles committed, then one step reworded by another author."""
    repo = tmp_path_factory.mktemp("history-repo")
    articles = repo / "articles"
    shutil.copytree(DATA_ARTICLES, articles)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "First articles")
    edit(articles / f"{EDITED}.md", OLD_STEP, NEW_STEP)
    edit(articles / f"{INTERNAL}.md", "1. Verify the caller", "1. Check, then verify the caller")
    git(repo, "commit", "-qam", "Greet before looking up the order", author="Bo Editor")
    root = tmp_path_factory.mktemp("history-index")
    build_into(articles, root, onnx_model)
    return root, articles


def internal_headers(app) -> dict[str, str]:
    db = connect(app.config["DATABASE"])
    try:
        secret = tokens.create(db, "kb-owner", "search,internal")[1]
    finally:
        db.close()
    return {"Authorization": f"Bearer {secret}"}


def test_an_article_lists_its_commits_with_the_steps_that_changed(repo, tmp_path):
    root, _ = repo
    client = make_app(root, tmp_path, **PUBLIC).test_client()
    changes = client.get(f"/api/v1/articles/{EDITED}").get_json()["changes"]
    assert [c["subject"] for c in changes] == ["Greet before looking up the order", "First articles"]
    latest, first = changes
    assert latest["author"] == "Bo Editor" and latest["kind"] == "modified" and latest["public"] is True
    assert [line[: len(OLD_STEP)] for line in latest["steps_removed"]] == [OLD_STEP]
    assert [line[: len(NEW_STEP)] for line in latest["steps_added"]] == [NEW_STEP]
    assert first["kind"] == "added" and first["steps_added"] == [] and first["author"] == "Ann Author"
    assert "@" not in str(changes)  # names only, never e-mail addresses
    page = client.get(f"/articles/{EDITED}").get_data(as_text=True)
    assert "Recent changes" in page and "Bo Editor" in page and "Greet before looking up the order" in page
    assert '<del dir="auto">' + OLD_STEP in page and '<ins dir="auto">' + NEW_STEP in page


def test_what_changed_lists_the_articles_changed_in_the_window(repo, tmp_path):
    root, _ = repo
    app = make_app(root, tmp_path, **PUBLIC)
    client = app.test_client()
    body = client.get("/api/v1/changes?since=1d").get_json()
    assert body["available"] is True and len(body["head"]) == 40 and body["since"] == "1d"
    ids = [row["article"]["id"] for row in body["changes"]]
    assert ids[0] == EDITED and INTERNAL not in ids  # a public caller never hears of internal articles
    assert len(ids) == len(list(DATA_ARTICLES.rglob("*.md"))) - 4  # every public article was added today
    internal = client.get("/api/v1/changes?since=1d", headers=internal_headers(app)).get_json()
    assert INTERNAL in [row["article"]["id"] for row in internal["changes"]]
    assert client.get("/api/v1/changes?since=2999-01-01").get_json()["changes"] == []
    assert client.get("/api/v1/changes").get_json()["since"] == "7d"
    bad = client.get("/api/v1/changes?since=last+tuesday")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_since"
    page = client.get("/changes?since=1d").get_data(as_text=True)
    assert "What changed" in page and f'data-article-id="{EDITED}"' in page and INTERNAL not in page
    assert client.get("/changes?since=nonsense").status_code == 400


def test_a_public_reader_sees_no_diff_of_a_change_made_while_the_article_was_internal(repo, tmp_path_factory, onnx_model):
    _, articles = repo
    clone = tmp_path_factory.mktemp("flip-repo")
    shutil.copytree(articles.parent, clone, dirs_exist_ok=True)
    page = clone / "articles" / f"{INTERNAL}.md"
    edit(page, "audience: internal", "audience: public")
    git(clone, "commit", "-qam", "Publish the takeover procedure")
    root = tmp_path_factory.mktemp("flip-index")
    build_into(clone / "articles", root, onnx_model)
    app = make_app(root, tmp_path_factory.mktemp("flip-db"), **PUBLIC)
    public = app.test_client().get(f"/api/v1/articles/{INTERNAL}").get_json()["changes"]
    assert [c["subject"] for c in public][:2] == ["Publish the takeover procedure", "Greet before looking up the order"]
    assert all(c["steps_removed"] == [] and c["steps_added"] == [] for c in public)
    assert public[1]["diff_hidden"] is True
    internal = app.test_client().get(f"/api/v1/articles/{INTERNAL}", headers=internal_headers(app)).get_json()["changes"]
    assert internal[1]["steps_added"][0].startswith("1. Check, then verify the caller")


def test_a_rebuild_reads_only_new_commits_and_keeps_the_old_ones(repo, tmp_path_factory, onnx_model):
    _, articles = repo
    clone = tmp_path_factory.mktemp("rebuild-repo")
    shutil.copytree(articles.parent, clone, dirs_exist_ok=True)
    root = tmp_path_factory.mktemp("rebuild-index")
    build_into(clone / "articles", root, onnx_model)
    edit(clone / "articles" / f"{EDITED}.md", NEW_STEP, NEW_STEP + " Say your name")
    git(clone, "commit", "-qam", "Introduce yourself")
    build_into(clone / "articles", root, onnx_model)
    app = make_app(root, tmp_path_factory.mktemp("rebuild-db"), **PUBLIC)
    changes = app.test_client().get(f"/api/v1/articles/{EDITED}").get_json()["changes"]
    assert [c["subject"] for c in changes] == ["Introduce yourself", "Greet before looking up the order", "First articles"]


def test_without_git_the_service_says_so(onnx_model, tmp_path):
    articles = tmp_path / "plain" / "articles"  # a folder outside any git work tree
    shutil.copytree(DATA_ARTICLES, articles)
    assert history.head_commit(articles) is None
    build_into(articles, tmp_path / "index", onnx_model)
    client = make_app(tmp_path / "index", tmp_path, **PUBLIC).test_client()
    article = client.get("/api/v1/articles/returns/start-a-return").get_json()
    assert article["changes"] is None
    body = client.get("/api/v1/changes").get_json()
    assert body == {"since": "7d", "available": False, "head": None, "changes": []}
    assert "not a git work tree" in client.get("/changes").get_data(as_text=True)


def test_steps_diff_ignores_renumbering_and_keeps_at_most_the_last_changes(tmp_path):
    old = ["1. Greet", "2. Check the order", "   - by number"]
    new = ["1. Check the order", "   - by number"]
    assert history.steps_diff(old, new) == (("1. Greet",), ())
    repo = tmp_path / "repo"
    (repo / "articles").mkdir(parents=True)
    shutil.copyfile(DATA_ARTICLES / f"{EDITED}.md", repo / "articles" / "a.md")
    git(repo, "init", "-q")
    for n in range(history.MAX_CHANGES + 2):
        (repo / "articles" / "a.md").write_text((DATA_ARTICLES / f"{EDITED}.md").read_text() + f"\n<!-- {n} -->\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", f"change {n}")
    found = history.read_history(repo / "articles", {"a.md": "a"})
    assert found is not None
    assert [c.subject for c in found.changes["a"]] == [f"change {n}" for n in range(history.MAX_CHANGES + 1, 1, -1)]
    assert history.read_history(tmp_path / "not-a-repo", {"a.md": "a"}) is None
