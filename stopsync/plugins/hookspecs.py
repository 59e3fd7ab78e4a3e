"""Every hook a stopsync plugin can implement.

The project name ``stopsync`` is the pluggy marker name and the entry-point group. Hooks that
register things return *lists of classes or objects*; all results are collected. Lifecycle
hooks are notifications: their return values are ignored. Each hook is documented in
``docs/plugin-hooks.md`` with the same signature (a test checks this).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click
    from flask import Blueprint

    from .base import DataSource, MatchingStrategy

PROJECT_NAME = "stopsync"
ENTRY_POINT_GROUP = "stopsync"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def stopsync_register_data_sources() -> list[type[DataSource]]:
    """Return the ``DataSource`` subclasses this plugin provides.

    Called once per application at start-up. Every class needs a unique ``name`` and a
    ``kind`` (``atlas``, ``osm``, ``gtfs`` or ``border``).
    """


@hookspec
def stopsync_register_matching_strategies() -> list[type[MatchingStrategy]]:
    """Return the ``MatchingStrategy`` subclasses this plugin provides.

    Called once per application at start-up. Names must be unique across all plugins; the
    ``MATCHING_STRATEGIES`` setting chooses which run and in what order.
    """


@hookspec
def stopsync_register_cli_commands() -> list[click.Command]:
    """Return click commands or groups to add to the ``flask`` command line."""


@hookspec
def stopsync_register_blueprints() -> list[Blueprint]:
    """Return Flask blueprints to register on the application (pages or API routes)."""


@hookspec
def stopsync_stage_finished(run_id: str, stage: str, stats: dict[str, Any]) -> None:
    """Called after each pipeline stage with the run id, the stage name and its statistics
    (counts, ``duration_s``). Return values are ignored; exceptions are logged, not raised."""


@hookspec
def stopsync_snapshot_published(run_id: str, summary: dict[str, Any]) -> None:
    """Called once a new data snapshot is published to the database, with the run summary.
    Return values are ignored; exceptions are logged, not raised."""
