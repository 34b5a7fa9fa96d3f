"""The pre-commit hook an articles repository uses (.pre-commit-hooks.yaml), run for real by
pre-commit's `try-repo` on a temporary git repository of articles."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from article_samples import PROCEDURE, write, write_tree

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run_hook(repo: Path, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PRE_COMMIT_HOME": str(cache)}
    return subprocess.run(
        [str(BIN / "pre-commit"), "try-repo", str(ROOT), "kb-lint", "--all-files", "--color", "never"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.mark.slow
def test_the_hook_runs_kb_lint_strict_and_fails_the_commit_on_a_todo(tmp_path):
    repo = tmp_path / "kb-articles"
    write_tree(repo / "articles")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "."], cwd=repo, check=True)

    passed = run_hook(repo, tmp_path / "cache")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "kb lint --strict" in passed.stdout and "Passed" in passed.stdout

    write(repo / "articles", "returns/start-a-return", PROCEDURE.replace("Use this when", "TODO: Use this when"))
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    failed = run_hook(repo, tmp_path / "cache")
    assert failed.returncode == 1
    assert "articles/returns/start-a-return.md:15: warning: TODO left in the article" in failed.stdout
