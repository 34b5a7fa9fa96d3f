"""Republish under load, short: gunicorn keeps answering while `kb index` republishes (issue 9).

The short version of benchmarks/republish.py: 2 gunicorn workers, 5 client threads (suggest,
search, feedback, article fetch, /healthz; 50 ms between requests, so `kb index` is not starved
of CPU), 4 republishes of which one is SIGKILLed once its build folder exists. The full run
(20 republishes, 5 kills, clients back to back) and its numbers are in docs/security.md.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def load_benchmark():
    spec = importlib.util.spec_from_file_location("benchmarks_republish", ROOT / "benchmarks" / "republish.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def republished(kb_index, tmp_path_factory):
    """One short run, started from a copy of the session's index (so every build is incremental)."""
    if shutil.which("gunicorn", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("needs gunicorn in the virtualenv")
    republish = load_benchmark()
    settings = republish.Settings(republishes=4, kills=1, clients=5, kill_delay_ms=0, think_ms=50, seed_index=kb_index)
    return republish.run(tmp_path_factory.mktemp("republish"), settings)


def test_no_request_fails_while_republishing(republished):
    assert republished.failures == []
    assert sum(republished.requests.values()) > 200
    assert set(republished.requests) == {"suggest", "search", "feedback", "article", "healthz"}
    assert republished.server_errors_logged == 0


def test_killed_build_is_never_published_or_served(republished):
    killed = [run for run in republished.runs if run.killed]
    assert len(killed) == 1 and killed[0].left_half_written
    assert set(republished.versions_seen) <= set(republished.published)
    assert len(republished.published) == 1 + 3  # the seed build and three republishes


def test_service_ends_on_the_newest_published_build(republished):
    assert republished.final_build == republished.published[-1]
    assert republished.served_final_build
    assert republished.served_final_revisions


def test_every_feedback_answered_201_is_stored(republished):
    assert republished.feedback_created > 20
    assert republished.feedback_stored == republished.feedback_created
