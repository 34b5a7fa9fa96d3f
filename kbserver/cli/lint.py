from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from kbserver.cli.options import json_option


def register(group: click.Group) -> None:
    group.add_command(lint)


@click.command()
@click.argument("path", default="articles", type=click.Path(exists=True, path_type=str))
@click.option("--strict", is_flag=True, help="Treat warnings (e.g. review_by in the past) as errors.")
@json_option
def lint(path: str, strict: bool, as_json: bool) -> None:
    """Check articles like a compiler: one `path:line: severity: message` per problem.

    Exits 1 on any error (or any warning with --strict), 0 otherwise.

    Example: kb lint articles/returns
    """
    from indexer.lint import lint_articles

    result = lint_articles(Path(path))
    if as_json:
        findings = [f.__dict__ for f in result.findings]
        click.echo(json.dumps({"checked": result.checked, "articles": len(result.articles), "findings": findings}, indent=1))
    else:
        for finding in result.findings:
            click.echo(str(finding), err=False)
        click.echo(
            f"{result.checked} articles checked: {len(result.errors)} error(s), {len(result.warnings)} warning(s)",
            err=True,
        )
    if result.errors or (strict and result.warnings):
        sys.exit(1)
