from __future__ import annotations

from pathlib import Path

import click

from kbserver.cli.options import articles_option, index_option


def register(group: click.Group) -> None:
    group.add_command(serve)


@click.command()
@index_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on (0 picks a free one).")
@click.option("--workers", default=1, show_default=True, type=int, help="gunicorn workers (1 = a single threaded process).")
@click.option("--watch", is_flag=True,
              help="Rebuild and publish the index on every save under --articles; the open page follows (an author's preview).")
@articles_option
def serve(index_dir: str, host: str, port: int, workers: int, watch: bool, articles_dir: str) -> None:
    """Serve the agents' web page and the JSON API from the published index.

    New builds published by `kb index` are picked up without a restart. With --workers > 1
    it runs gunicorn, each worker loading the index and the model once. With --watch it
    builds the index from --articles first, rebuilds it on every save, and the open page
    reloads itself; a save that does not lint keeps the last good build and shows why.

    Example: kb serve --watch --articles articles --index var/preview
    """
    from kbserver import config

    overrides = {"INDEX_DIR": index_dir}  # given to the app, not through the environment
    # Every setting is checked here, before a worker starts: a bad one is one line (kb's main group).
    config.from_env(overrides)
    if watch and workers > 1:
        raise click.ClickException("--watch runs one process: leave --workers at 1")
    if watch and not Path(articles_dir).is_dir():
        raise click.ClickException(f"{articles_dir}: no such articles folder")
    if workers > 1:
        from kbserver.cli.gunicorn_app import run_gunicorn

        run_gunicorn(host, port, workers, overrides)
        return
    from werkzeug.serving import make_server

    from kbserver import create_app

    app = create_app(overrides)
    if watch:
        from indexer.adapt import active_model
        from kbserver.cli.index import make_encoder_factory, once
        from kbserver.cli.watch import start_watching

        model = active_model(Path(index_dir))
        encoder_factory = once(make_encoder_factory(Path(index_dir), model=model))
        start_watching(Path(articles_dir), Path(index_dir), app, encoder_factory, model)
        click.echo(f"watching {articles_dir}: every save is rebuilt and published", err=True)
    server = make_server(host, port, app, threaded=True)
    click.echo(f"kb serving on http://{host}:{server.server_port}/ (index {index_dir})", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
