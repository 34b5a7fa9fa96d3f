"""Run the app under gunicorn from `kb serve --workers N` (the same as `gunicorn 'kbserver:create_app()'`)."""

from __future__ import annotations

from typing import Any, Mapping

from gunicorn.app.base import BaseApplication


class _App(BaseApplication):
    def __init__(self, options: dict[str, Any], overrides: Mapping[str, Any]) -> None:
        self.options = options
        self.overrides = dict(overrides)
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        # gunicorn 25.1+ opens a control socket for `gunicornc`, by default one path per user
        # ($HOME/.gunicorn/gunicorn.ctl): two `kb serve --workers 2` on one host would share it,
        # the first to stop would remove the other's, and a HOME that does not exist gets
        # created. kb is stopped and reloaded by signals, never through it, so it stays off.
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)

    def load(self):
        from kbserver import create_app

        return create_app(self.overrides)


def run_gunicorn(host: str, port: int, workers: int, overrides: Mapping[str, Any]) -> None:
    """Serve `create_app(overrides)` from `workers` gunicorn processes of four threads each."""
    options = {"bind": f"{host}:{port}", "workers": workers, "threads": 4, "worker_class": "gthread", "timeout": 60}
    _App(options, overrides).run()
