"""One exception hierarchy for the whole application, plus the app-level handlers.

Every error a user can cause or meet is a ``StopsyncError`` with a status code, a stable
machine-readable ``code`` and a human message. Under ``/api/`` errors answer as JSON, elsewhere
as an HTML page.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


class StopsyncError(Exception):
    """Base of every error stopsync raises on purpose."""

    status_code = 500
    code = "internal_error"
    exit_code = 1  # for command-line use

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class ConfigurationError(StopsyncError):
    """The configuration is missing something or is unsafe; the app refuses to start."""

    code = "configuration_error"


class PluginError(StopsyncError):
    """A plugin is broken or conflicts with another (for example a duplicate name)."""

    code = "plugin_error"


class InputError(StopsyncError):
    """An input file is malformed: names the file and, where known, the line and column."""

    status_code = 422
    code = "input_error"

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: str | None = None,
        **details: Any,
    ) -> None:
        where = ", ".join(
            part
            for part in (
                str(path) if path else "",
                f"line {line}" if line is not None else "",
                f"column {column!r}" if column else "",
            )
            if part
        )
        super().__init__(
            f"{where}: {message}" if where else message,
            **{k: v for k, v in {"path": str(path) if path else None, "line": line,
                                 "column": column}.items() if v is not None},
            **details,
        )


class SourceUnavailableError(StopsyncError):
    """A configured data source could not be reached or returned unusable data."""

    status_code = 503
    code = "source_unavailable"

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"data source {source!r} is unavailable: {reason}", source=source)
        self.source = source
        self.reason = reason


class BadRequestError(StopsyncError):
    """A request parameter is invalid; ``parameter`` names it."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, parameter: str | None = None) -> None:
        super().__init__(message, **({"parameter": parameter} if parameter else {}))
        self.parameter = parameter


class NotFoundError(StopsyncError):
    status_code = 404
    code = "not_found"


class RunLockedError(StopsyncError):
    """Another pipeline run holds the run lock."""

    status_code = 409
    code = "run_locked"
    exit_code = 2


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path in ("/healthz", "/readyz")


def _render(status: int, body: dict[str, Any]) -> tuple[Response | str, int]:
    if _wants_json():
        return jsonify(body), status
    return render_template("error.html", status=status, error=body), status


def register_error_handlers(app: Flask) -> None:
    """Register app-level handlers (blueprint handlers would miss unknown URLs)."""

    @app.errorhandler(StopsyncError)
    def handle_stopsync_error(error: StopsyncError) -> tuple[Response | str, int]:
        if error.status_code >= 500:
            app.logger.error("request failed", extra={"error": error.to_dict()})
        return _render(error.status_code, error.to_dict())

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException) -> tuple[Response | str, int]:
        status = error.code or 500
        code = (error.name or "error").lower().replace(" ", "_")
        return _render(status, {"error": code, "message": error.description or error.name})

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception) -> tuple[Response | str, int]:
        app.logger.exception("unhandled error")
        return _render(500, {"error": "internal_error", "message": "internal server error"})
