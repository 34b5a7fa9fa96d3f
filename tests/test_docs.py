"""Docs cannot drift from code: every `kb` command and every KB_ setting is in README.md."""

from __future__ import annotations

import pytest

from kbserver.cli import main
from kbserver.config import SETTINGS

from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_is_in_the_readme_and_has_help(name):
    assert f"`kb {name}" in README, f"kb {name} is not documented in README.md"
    command = main.commands[name]
    leaves = list(command.commands.values()) if hasattr(command, "commands") else [command]
    for leaf in leaves:
        assert leaf.help and "Example" in leaf.help, f"kb {name} {leaf.name}: --help needs a runnable example"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_in_the_readme(setting):
    assert f"`KB_{setting.name}`" in README, f"KB_{setting.name} is not in README.md's settings"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = "scripts/bootstrap --test && .venv/bin/pytest"
    assert command in README and command in ci
