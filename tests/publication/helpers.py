"""Checksums of every published and review table, and a child process that publishes."""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from flask import Flask

from stopsync.extensions import db

SNAPSHOT_TABLES = ("atlas_platforms", "osm_elements", "osm_stop_units", "matches", "problems", "snapshot_meta",
                   "stop_modes", "stop_routes", "overview_cells")
REVIEW_TABLES = ("review_users", "review_decisions", "review_notes", "review_audit_log", "review_problem_states")


def digests(app: Flask) -> dict[str, tuple[int, str]]:
    """Row count and SHA-256 of every column of every row of each snapshot and review table."""
    out = {}
    with app.app_context(), db.engine.connect() as connection:
        for table in (*SNAPSHOT_TABLES, *REVIEW_TABLES):
            order = "problem_key" if table == "review_problem_states" else "id"
            columns = [c["name"] for c in sa.inspect(connection).get_columns(table) if c["name"] != "geom"]
            rows = connection.execute(sa.text(
                f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")).mappings().all()
            canonical = json.dumps([dict(row) for row in rows], sort_keys=True, default=str)
            out[table] = (len(rows), hashlib.sha256(canonical.encode()).hexdigest())
    return out


def schemas(app: Flask) -> set[str]:
    with app.app_context(), db.engine.connect() as connection:
        return set(connection.execute(sa.text("SELECT nspname FROM pg_namespace")).scalars())


def runs(app: Flask) -> list[tuple[str, str, str | None]]:
    with app.app_context(), db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(  # type: ignore[misc]
            "SELECT mode, status, error FROM pipeline_runs ORDER BY id"))]
