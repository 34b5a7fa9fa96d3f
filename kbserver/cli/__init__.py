"""The `kb` command: one entry point for authors, operators and CI.

Heavy imports (torch, whoosh, Flask) happen inside command bodies so `kb --help` is instant.
"""

from __future__ import annotations

import click

from kbserver.cli import bench, db, evaluate, index, learn, lint, new, prune, report, serve, suite, token
from kbserver.config import SettingError


class _Main(click.Group):
    """The `kb` group: a setting kb cannot use ends any command with its one-line message, exit 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SettingError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="kb")
def main() -> None:
    """kb: the knowledge base and answer assist for customer-service teams."""


for module in (lint, new, index, serve, evaluate, suite, bench, report, prune, token, learn, db):
    module.register(main)
