"""`kb token create|list|revoke`: API tokens, stored in the database as SHA-256 hashes only."""

from __future__ import annotations

import json

import click

from kbserver.cli.options import database_option, json_option, open_database

SCOPES_HELP = "Comma-separated scopes: search, suggest, feedback, reports, internal."


def register(group: click.Group) -> None:
    group.add_command(token)


@click.group()
def token() -> None:
    """Create, list and revoke API tokens (sent as `Authorization: Bearer <token>`)."""


@token.command()
@click.option("--name", required=True, help="Who holds the token, e.g. helpdesk-eu. Unique; revoked names stay taken.")
@click.option("--scopes", required=True, help=SCOPES_HELP)
@database_option
def create(name: str, scopes: str, database: str) -> None:
    """Create a token and print it once: only its SHA-256 is stored, so copy it now.

    The token goes to stdout alone (for scripts); the note about it goes to stderr.

    Example: kb token create --name helpdesk --scopes search,suggest,feedback
    """
    from kbserver.access import tokens

    with open_database(database) as db:
        try:
            created, secret = tokens.create(db, name, scopes)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(secret)
    click.echo(
        f"created token '{created.name}' with scopes {','.join(sorted(created.scopes)) or '(none)'}; "
        "it is shown only this once",
        err=True,
    )


@token.command("list")
@database_option
@json_option
def list_command(database: str, as_json: bool) -> None:
    """List tokens: name, scopes, when created and whether revoked (never the secret).

    Example: kb token list --json
    """
    from kbserver.access import tokens

    with open_database(database) as db:
        found = tokens.list_all(db)
    if as_json:
        rows = [
            {"name": t.name, "scopes": sorted(t.scopes), "created": t.created, "revoked": t.revoked} for t in found
        ]
        click.echo(json.dumps(rows, indent=1))
        return
    for t in found:
        state = f"revoked {t.revoked}" if t.revoked else "active"
        click.echo(f"{t.name}\t{','.join(sorted(t.scopes)) or '-'}\tcreated {t.created}\t{state}")
    click.echo(f"{len(found)} token(s)", err=True)


@token.command()
@click.argument("name")
@database_option
def revoke(name: str, database: str) -> None:
    """Revoke the token called NAME: its next request gets 401. Exits 1 if there is no live token by that name.

    Example: kb token revoke helpdesk
    """
    from kbserver.access import tokens

    with open_database(database) as db:
        if not tokens.revoke(db, name):
            raise click.ClickException(f"no active token named '{name}'")
    click.echo(f"revoked token '{name}'")
