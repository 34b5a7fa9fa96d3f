"""`kb token create|list|revoke`: API tokens, stored in the database as SHA-256 hashes only."""

from __future__ import annotations

import json

import click

from kbserver.cli.options import database_option, json_option, open_database

SCOPES_HELP = "Comma-separated scopes: search, suggest, feedback, reports, internal, author, admin, delegate."
DEFAULT_LIFE = "90d"


def _creator() -> str:
    """Who is making a token from the command line: the OS user, and the host."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"[:128]


def register(group: click.Group) -> None:
    group.add_command(token)


@click.group()
def token() -> None:
    """Create, list and revoke API tokens (sent as `Authorization: Bearer <token>`)."""


@token.command()
@click.option("--name", required=True, help="Who holds the token, e.g. helpdesk-eu. Unique; revoked names stay taken.")
@click.option("--scopes", required=True, help=SCOPES_HELP)
@click.option("--expires", "life", default=DEFAULT_LIFE, show_default=True,
              help="How long it works: 30m, 12h, 90d (at most 3660d), or never.")
@database_option
def create(name: str, scopes: str, life: str, database: str) -> None:
    """Create a token and print it once: only its SHA-256 is stored, so copy it now.

    The token goes to stdout alone (for scripts); the note about it goes to stderr.

    Example: kb token create --name helpdesk --scopes search,suggest,feedback --expires 365d
    """
    from kbserver.access import tokens

    try:
        lasting = tokens.parse_life(life)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expires") from exc
    with open_database(database) as db:
        try:
            created, secret = tokens.create(db, name, scopes, life=lasting, created_by=_creator())
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(secret)
    until = f"until {created.expires}" if created.expires else "with no expiry"
    click.echo(
        f"created token '{created.name}' with scopes {','.join(sorted(created.scopes)) or '(none)'}, {until}; "
        "it is shown only this once",
        err=True,
    )


@token.command("list")
@database_option
@json_option
def list_command(database: str, as_json: bool) -> None:
    """List tokens: name, scopes, created (and by whom), expiry, last use and state (never the secret).

    Example: kb token list --json
    """
    from kbserver.access import tokens
    from kbserver.store.db import to_ts, utc_now

    with open_database(database) as db:
        found = tokens.list_all(db)
    now = to_ts(utc_now())
    if as_json:
        rows = [
            {"name": t.name, "scopes": sorted(t.scopes), "created": t.created, "created_by": t.created_by,
             "expires": t.expires, "last_used": t.last_used, "revoked": t.revoked, "state": t.state(now)}
            for t in found
        ]
        click.echo(json.dumps(rows, indent=1))
        return
    for t in found:
        state = {"revoked": f"revoked {t.revoked}", "expired": f"expired {t.expires}"}.get(t.state(now), "active")
        click.echo("\t".join((
            t.name, ",".join(sorted(t.scopes)) or "-", f"created {t.created} by {t.created_by or '?'}",
            f"expires {t.expires or 'never'}", f"last used {t.last_used or 'never'}", state,
        )))
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
