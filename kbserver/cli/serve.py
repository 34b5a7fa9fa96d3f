from __future__ import annotations

import click

from kbserver.cli.options import index_option


def register(group: click.Group) -> None:
    group.add_command(serve)


@click.command()
@index_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on (0 picks a free one).")
@click.option("--workers", default=1, show_default=True, type=int, help="gunicorn workers (1 = a single threaded process).")
def serve(index_dir: str, host: str, port: int, workers: int) -> None:
    """Serve the agents' web page and the JSON API from the published index.

    New builds published by `kb index` are picked up without a restart. With --workers > 1
    it runs gunicorn, each worker loading the index and the model once.

    Example: kb serve --index var/index --port 8000
    """
    from kbserver import config
    from kbserver.store.db import parse_database

    overrides = {"INDEX_DIR": index_dir}  # given to the app, not through the environment
    settings = config.from_env(overrides)
    try:  # a bad setting stops here with one line, not in every worker with a traceback
        config.query_encoder(settings["QUERY_ENCODER"])
        config.no_match_threshold(settings["NO_MATCH_THRESHOLD"])
        parse_database(settings["DATABASE"])
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if workers > 1:
        from kbserver.cli.gunicorn_app import run_gunicorn

        run_gunicorn(host, port, workers, overrides)
        return
    from werkzeug.serving import make_server

    from kbserver import create_app
    from kbserver.access import tokens

    app = create_app(overrides)
    tokens.warm(app)
    server = make_server(host, port, app, threaded=True)
    click.echo(f"kb serving on http://{host}:{server.server_port}/ (index {index_dir})", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
