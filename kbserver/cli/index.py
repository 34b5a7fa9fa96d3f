from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import click

from kbserver.cli.options import articles_option, database_option, index_option


def register(group: click.Group) -> None:
    group.add_command(index)


def _progress_factory(desc: str = "embedding", unit: str = "chunk") -> Callable[[int], Callable[[int], None]]:
    """A tqdm bar on a terminal; a plain line every tenth of the way otherwise."""
    interactive = sys.stderr.isatty()

    def factory(total: int) -> Callable[[int], None]:
        if interactive:
            from tqdm import tqdm

            bar = tqdm(total=total, unit=unit, desc=desc, leave=False)

            def advance_bar(n: int) -> None:
                bar.update(n)
                if bar.n >= total:
                    bar.close()

            return advance_bar
        done = [0, 0]

        def step(n: int) -> None:
            done[0] += n
            tenth = done[0] * 10 // max(total, 1)
            if tenth > done[1] or done[0] >= total:
                done[1] = tenth
                click.echo(f"{desc}: {done[0]}/{total} {unit}s", err=True)

        return step

    return factory


def make_encoder_factory(index_dir: Path, *, use_onnx: bool = True, model=None):
    """Load the encoder of `model` (the packaged one by default), exporting it to ONNX under the index root first."""

    def factory():
        from indexer.embedding import BASE_MODEL, ModelError, export_onnx, get_encoder

        chosen = model or BASE_MODEL
        onnx_path = chosen.onnx_file(Path(index_dir))
        if use_onnx and not onnx_path.exists():
            click.echo(f"exporting the model to ONNX ({onnx_path.name}), once per index root...", err=True)
            try:
                export_onnx(onnx_path, chosen.folder, chosen.sha256)
            except (ImportError, RuntimeError, ModelError) as exc:
                if isinstance(exc, ModelError):
                    raise
                click.echo(f"warning: ONNX export failed ({exc}); embedding with torch instead", err=True)
        return get_encoder(onnx_path=onnx_path if use_onnx else None, model=chosen)

    return factory


def calibration_hook(index_dir: Path, encoder_factory: Callable[[], object]) -> Callable[[Path], None]:
    """build_index's `finalize`: fit the new build's thresholds (and weights) before it is published.

    The encoder is the build's own (loaded once, shared with embedding), so queries are scored
    exactly as the service will score them on this build."""
    from indexer.store import current_build_path
    from kbserver import config
    from kbserver.retrieval.calibration import calibrate_build
    from kbserver.retrieval.embedder import QueryEmbedder
    from kbserver.retrieval.settings import rank_params

    params = rank_params(config.from_env()["LEARNING"])
    live = current_build_path(Path(index_dir))

    def finalize(build: Path) -> None:
        data = calibrate_build(build, lambda: QueryEmbedder(encoder_factory()), params, previous=live)  # type: ignore[arg-type]
        thresholds = ", ".join(f"{m} {v:.3f}" for m, v in data["thresholds"].items())
        fitted = f"; fitted weights {data['weights']}" if data.get("weights") else ""
        click.echo(f"calibrated ({data['method']}, {data['samples']} messages): {thresholds}{fitted}", err=True)

    return finalize


def multilingual_factory():
    """The multilingual encoder's factory when KB_MULTILINGUAL is on (the default), else None.
    A bad setting raises config.SettingError (one line from the `kb` group)."""
    from kbserver import config

    if not config.is_multilingual(config.from_env()["MULTILINGUAL"]):
        return None
    from indexer import multilingual

    return multilingual.get_encoder


def once(factory: Callable[[], object]) -> Callable[[], object]:
    """`factory`, called at most once: embedding and calibration share one loaded encoder."""
    made: list[object] = []

    def get() -> object:
        if not made:
            made.append(factory())
        return made[0]

    return get


@click.command()
@articles_option
@index_option
@click.option("--full", is_flag=True, help="Re-embed every chunk even if an earlier build has it.")
@click.option("--torch", "use_torch", is_flag=True, help="Embed with sentence-transformers on torch, not ONNX Runtime.")
@database_option
def index(articles_dir: str, index_dir: str, full: bool, use_torch: bool, database: str) -> None:
    """Lint the articles, build the keyword and semantic indexes, and publish them atomically.

    Refuses to publish when lint finds errors (exit 1); the live index stays as it was.
    Only added or changed chunks are embedded. Active learned examples in the database
    (`kb learn`) are embedded into the build too, unless KB_LEARNING=off. After
    `kb learn train`, everything is embedded with the adapted model (and its queries too).
    Each build fits its own no-match thresholds before it is published (docs/quality.md).

    Example: kb index --articles articles --index var/index
    """
    from indexer.adapt import active_model
    from indexer.build import LintFailed, build_index
    from indexer.embedding import ModelError
    from indexer.store import BuildLocked
    from kbserver import config

    # Every setting checked first (one line for a bad one), and LEARNING read as the service reads it.
    settings = config.from_env({"ARTICLES_DIR": articles_dir, "INDEX_DIR": index_dir, "DATABASE": database})
    if not Path(articles_dir).is_dir():
        raise click.ClickException(f"{articles_dir}: no such articles folder")
    examples = _learned_examples(database) if config.is_learning_on(settings["LEARNING"]) else []
    try:
        model = active_model(Path(index_dir))
        if model.folder is not None:
            click.echo(f"embedding with the adapted model {model.folder.name} (kb learn train --reset goes back)", err=True)
        encoder_factory = once(make_encoder_factory(Path(index_dir), use_onnx=not use_torch, model=model))
        report = build_index(
            Path(articles_dir),
            Path(index_dir),
            encoder_factory=encoder_factory,  # type: ignore[arg-type]
            full=full,
            progress_factory=_progress_factory(),
            examples=examples,
            model=model,
            finalize=calibration_hook(Path(index_dir), encoder_factory),
            multilingual_factory=multilingual_factory(),
        )
    except LintFailed as exc:
        for finding in exc.findings:
            click.echo(str(finding))
        click.echo(f"{exc}; the live index is unchanged", err=True)
        sys.exit(1)
    except BuildLocked as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc
    for warning in report.warnings:
        click.echo(str(warning), err=True)
    click.echo(report.summary())
    click.echo(f"published build {report.build_id} to {index_dir}")


def _learned_examples(database: str) -> list:
    """Active learned examples from the feedback database, if there is one."""
    from kbserver.cli.options import database_exists, open_database

    if not database_exists(database):
        return []
    from kbserver.store import learning

    with open_database(database) as db:
        return learning.active_examples(db)
