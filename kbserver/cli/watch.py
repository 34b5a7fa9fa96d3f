"""`kb serve --watch`: rebuild and publish the index on every save, for an author's preview.

Each save runs the same build as `kb index` (lint, incremental embedding, atomic publish of a
new build), with the encoder loaded once for the whole session. A save that does not lint
publishes nothing: the last good build keeps serving and the page shows the findings. The
no-match thresholds are not refitted on each save (that is `kb index`'s job), so a preview
ranks with the constant thresholds.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import click
from flask import Flask

from kbserver.web.live import LiveState

if TYPE_CHECKING:
    from indexer.embedding import Model


def rebuild(
    articles_dir: Path, index_dir: Path, app: Flask, state: LiveState, encoder_factory: Callable[[], object],
    model: Model | None = None,
) -> bool:
    """Build and publish once; on success the app serves the new build at once. Returns whether it published."""
    from indexer.build import LintFailed, build_index
    from indexer.embedding import BASE_MODEL, ModelError
    from indexer.store import BuildLocked
    from kbserver import runtime
    from kbserver.cli.index import multilingual_factory

    try:
        report = build_index(
            articles_dir, index_dir, encoder_factory=encoder_factory, model=model or BASE_MODEL,  # type: ignore[arg-type]
            multilingual_factory=multilingual_factory(),  # KB_MULTILINGUAL, as `kb index`
        )
    except LintFailed as exc:
        problems = [str(f) for f in exc.findings if f.is_error]
        state.refused(problems)
        click.echo("\n".join([*problems, f"{exc}; still serving the last good build"]), err=True)
        return False
    except (BuildLocked, ModelError, OSError) as exc:
        state.refused([f"error: {exc}"])
        click.echo(f"error: {exc}; still serving the last good build", err=True)
        return False
    app.extensions[runtime.EXTENSION].reader.check()  # serve it now, not at the next reload interval
    state.published()
    click.echo(f"{report.summary()}; published build {report.build_id}", err=True)
    return True


def is_article(_change: object, path: str) -> bool:
    """Only Markdown files count (an editor's swap and backup files do not)."""
    name = Path(path).name
    return name.endswith(".md") and not name.startswith(".")


def watch(
    articles_dir: Path, index_dir: Path, app: Flask, state: LiveState, encoder_factory: Callable[[], object],
    stop: threading.Event, model: Model | None = None,
) -> None:
    """Rebuild after each batch of saves under `articles_dir` until `stop` is set."""
    from watchfiles import watch as changes

    # step=50: a batch closes 50 ms after the last write, so an editor's write-rename-chmod
    # of one save is one rebuild, and the rebuild starts well inside the 2 s an author waits.
    for _batch in changes(articles_dir, watch_filter=is_article, stop_event=stop, step=50, debounce=400,
                          yield_on_timeout=False, raise_interrupt=False):
        rebuild(articles_dir, index_dir, app, state, encoder_factory, model)


def start_watching(
    articles_dir: Path, index_dir: Path, app: Flask, encoder_factory: Callable[[], object], model: Model | None = None
) -> tuple[threading.Thread, threading.Event]:
    """Register the live channel on `app`, build once, then watch in a daemon thread; set the event to stop."""
    from kbserver.web import live

    state = live.init_app(app)
    rebuild(articles_dir, index_dir, app, state, encoder_factory, model)
    stop = threading.Event()
    thread = threading.Thread(
        target=watch, args=(articles_dir, index_dir, app, state, encoder_factory, stop, model), name="kb-watch",
        daemon=True,
    )
    thread.start()
    return thread, stop
