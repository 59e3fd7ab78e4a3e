"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text

from ...extensions import db, limiter

bp = Blueprint("health", __name__)
limiter.exempt(bp)


def _migration_heads() -> set[str]:
    """The newest migrations, read from disk once per process (probes call readyz often)."""
    heads = current_app.extensions.get("stopsync_migration_heads")
    if heads is None:
        heads = set(ScriptDirectory(current_app.extensions["migrate"].directory).get_heads())
        current_app.extensions["stopsync_migration_heads"] = heads
    return set(heads)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is alive; touches nothing else."""
    return jsonify(status="ok", version=current_app.config["STOPSYNC_VERSION"])


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready to serve: the database answers and its schema is at the newest migration."""
    heads = _migration_heads()
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
    except Exception as exc:  # any driver error means "not ready", with the reason
        return jsonify(status="unavailable", reason=f"database unreachable: {exc.__class__.__name__}: {exc}"), 503
    if current != heads:
        return (
            jsonify(
                status="unavailable",
                reason="database schema is not at the newest migration; run `flask db upgrade`",
                current=sorted(current),
                expected=sorted(heads),
            ),
            503,
        )
    return jsonify(status="ready", schema=sorted(current), backend=db.engine.dialect.name), 200
