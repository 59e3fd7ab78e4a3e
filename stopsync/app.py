"""The application factory. Reads like a table of contents; order matters where commented."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

from . import __version__
from .config import load_config
from .errors import register_error_handlers
from .extensions import cache, db, migrate
from .logging_setup import configure_logging
from .plugins.manager import EXTENSION_KEY, build_plugins


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask("stopsync", instance_path=_instance_path(config), instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    load_config(app, config)  # first: everything below reads the config
    configure_logging(app)
    _init_extensions(app)
    _init_i18n(app)
    # Plugins before blueprints and CLI: both collect contributions from plugins.
    plugins = build_plugins(app.config)
    app.extensions[EXTENSION_KEY] = plugins
    _register_blueprints(app)
    register_error_handlers(app)
    _register_cli(app)
    app.config["STOPSYNC_VERSION"] = __version__
    return app


def _instance_path(config: dict[str, Any] | None) -> str | None:
    path = (config or {}).get("INSTANCE_PATH") or os.environ.get("STOPSYNC_INSTANCE_PATH")
    return str(Path(path).resolve()) if path else None


def _init_extensions(app: Flask) -> None:
    from .db.dialect import configure_engine
    from .security import init_security

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    migrate.init_app(app, db, directory=str(migrations_directory()))
    cache.init_app(app)
    init_security(app)


def _init_i18n(app: Flask) -> None:
    from .i18n import init_i18n

    init_i18n(app)


def migrations_directory() -> Path:
    """The migrations tree: beside the package in a checkout or image, else the working dir."""
    env = os.environ.get("STOPSYNC_MIGRATIONS_DIR")
    if env:
        return Path(env)
    beside_package = Path(__file__).resolve().parent.parent / "migrations"
    return beside_package if beside_package.is_dir() else Path.cwd() / "migrations"


def _register_blueprints(app: Flask) -> None:
    # "/api/v1/stops//0" must be a JSON 404, not a redirect to a merged-slash URL.
    app.url_map.merge_slashes = False
    from .blueprints.api import bp as api_bp
    from .blueprints.health import bp as health_bp
    from .blueprints.help import bp as help_bp
    from .blueprints.map import bp as map_bp
    from .blueprints.pages import bp as pages_bp
    from .blueprints.status import bp as status_bp

    for blueprint in (health_bp, api_bp, map_bp, help_bp, status_bp, pages_bp):
        app.register_blueprint(blueprint)
    for blueprints in app.extensions[EXTENSION_KEY].hook.stopsync_register_blueprints():
        for blueprint in blueprints or []:
            app.register_blueprint(blueprint)


def _register_cli(app: Flask) -> None:
    from .cli import pipeline_cli, plugins_cli
    from .evaluation.cli import evaluate_command, generate_command

    pipeline_cli.add_command(evaluate_command)
    pipeline_cli.add_command(generate_command)
    app.cli.add_command(pipeline_cli)
    app.cli.add_command(plugins_cli)
    for commands in app.extensions[EXTENSION_KEY].hook.stopsync_register_cli_commands():
        for command in commands or []:
            app.cli.add_command(command)


def start_role(app: Flask) -> None:
    """Start what the role runs besides serving requests: the scheduler for ``scheduler`` and
    ``all``. Called by the process entry points (``wsgi``, ``python -m stopsync.scheduler``),
    never by ``create_app``, so that ``flask`` commands never start a second scheduler."""
    if app.config["ROLE"] in ("scheduler", "all"):
        from .scheduling import start_scheduler

        start_scheduler(app)
