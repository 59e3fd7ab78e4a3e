"""Structured logging: one JSON object per line, with the pipeline run id when there is one."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask.logging import default_handler

_run_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("stopsync_run_id", default=None)

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is logged.
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def current_run_id() -> str | None:
    return _run_id.get()


@contextlib.contextmanager
def run_context(run_id: str) -> Iterator[None]:
    """Tag every log line emitted inside the block with ``run_id``."""
    token = _run_id.set(run_id)
    try:
        yield
    finally:
        _run_id.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        run_id = current_run_id()
        if run_id:
            entry["run_id"] = run_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        run_id = current_run_id()
        prefix = f"[{run_id}] " if run_id else ""
        return f"{record.levelname.lower():7} {record.name}: {prefix}{record.getMessage()}"


def configure_logging(app: Flask) -> None:
    """Send the ``stopsync`` loggers (and Flask's app logger) to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if app.config["LOG_FORMAT"] == "json" else TextFormatter())
    level = str(app.config["LOG_LEVEL"]).upper()
    for name in sorted({"stopsync", app.logger.name}):
        logger = logging.getLogger(name)
        # Re-creating the app (tests, CLI) must not stack handlers.
        # Flask's own default handler would print every event a second time, unstructured.
        for old in [h for h in logger.handlers if getattr(h, "_stopsync", False) or h is default_handler]:
            logger.removeHandler(old)
        handler._stopsync = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
