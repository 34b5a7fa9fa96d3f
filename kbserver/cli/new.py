from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import click

from kbserver.cli.options import articles_option

_ID_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*/[a-z0-9]+(?:-[a-z0-9]+)*")
REVIEW_AFTER_DAYS = 182

_FRONT = """\
---
title: "{title}"
type: {type}
summary: "TODO: one sentence on what this article is for"
owner: "{owner}"
tags: [TODO]
audience: internal
updated: {today}
review_by: {review_by}
{extra}---
TODO: one paragraph on when an agent should use this article.
"""

_BODIES = {
    "procedure": """
## Steps
1. TODO: the first thing the agent does, one concrete action.
   - TODO: a branch or a detail, indented to the step's text.
2. TODO: the next step.

## Exceptions
- TODO: who may approve an exception, and within what limits.

## What you can offer
- TODO: what to offer when the answer is no.

## Escalation
- TODO: to whom, when, and what to hand over.

## Follow-up
- TODO: what to check before the case is closed.
""",
    "policy": """
## The rules
- TODO: the rule, with its numbers (days, amounts).

## Exceptions
- TODO: who may approve an exception, and within what limits.

## What you can offer
- TODO: what to offer when the answer is no.
""",
    "product": """
## Key facts
- TODO: what the product is, with its numbers (prices, limits, validity).

## Common questions
- TODO: a question customers ask, and its answer.
""",
}


def register(group: click.Group) -> None:
    group.add_command(new)


def template(kind: str, *, title: str, owner: str, today: dt.date) -> str:
    """The text `kb new` writes: lints clean, every place to fill in marked TODO."""
    extra = "policies: []\nrelated: []\naliases:\n  - \"TODO: how a customer would describe this problem\"\n"
    return _FRONT.format(
        title=title.replace('"', "'"),
        type=kind,
        owner=owner.replace('"', "'"),
        today=today.isoformat(),
        review_by=(today + dt.timedelta(days=REVIEW_AFTER_DAYS)).isoformat(),
        extra=extra if kind == "procedure" else "related: []\n",
    ) + _BODIES[kind]


@click.command()
@click.argument("article_id", metavar="AREA/SLUG")
@click.option("--type", "kind", type=click.Choice(sorted(_BODIES)), required=True, help="What the article is.")
@click.option("--title", default="TODO: the title agents will search for", help="The article's title.")
@click.option("--owner", default="TODO: the team that owns it", help="The team that owns it.")
@articles_option
def new(article_id: str, kind: str, title: str, owner: str, articles_dir: str) -> None:
    """Write a new article from a template that lints clean, with TODO where to fill in.

    `kb lint --strict` fails until every TODO is replaced. Refuses to overwrite a file.

    Example: kb new returns/damaged-in-transit --type procedure --owner "Returns team"
    """
    if not _ID_RE.fullmatch(article_id):
        raise click.ClickException(
            f"'{article_id}' is no article id: write <area>/<slug> in lower case, words joined by '-' "
            "(returns/damaged-in-transit)"
        )
    path = Path(articles_dir) / f"{article_id}.md"
    text = template(kind, title=title, owner=owner, today=dt.date.today())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as out:  # "x": never overwrite an article
            out.write(text)
    except FileExistsError as exc:
        raise click.ClickException(f"{path}: already exists; kb new never overwrites an article") from exc
    click.echo(f"wrote {path}: fill in every TODO, then kb lint --strict {path}")
