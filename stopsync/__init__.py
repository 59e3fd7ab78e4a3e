"""stopsync: keep the official Swiss stop registry (ATLAS) and OpenStreetMap in sync."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .plugins.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["__version__", "create_app", "hookimpl"]

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application (see :mod:`stopsync.app`); imported lazily so that the
    pipeline engine can be used without loading Flask."""
    from .app import create_app as _create_app

    return _create_app(config)
