"""Migration 0003 (filters, stop units and routes) up and down with a published snapshot, and
rollback of a snapshot carrying routes and stop units, on both backends."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask_migrate import downgrade, upgrade

from stopsync.extensions import db
from stopsync.pipeline.publish import publish_snapshot, rollback_snapshot

from ..api.test_filters_routes import filters_result
from ..conftest import dispose, make_app

NEW_COLUMNS = {"atlas_platforms": {"canton", "unmatched_reason", "duplicate_key"},
               "osm_elements": {"operator", "canton", "duplicate_key", "unit_key"}, "problems": {"canton"}}
NEW_INDEXES = {"ix_osm_elements_unit_key", "ix_osm_elements_duplicate_key"}


def _columns(app: Flask, table: str) -> set[str]:
    with app.app_context():
        return {column["name"] for column in sa.inspect(db.engine).get_columns(table)}


def _indexes(app: Flask, table: str) -> set[str]:
    with app.app_context():
        return {str(index["name"]) for index in sa.inspect(db.engine).get_indexes(table)}


def _scalar(app: Flask, sql: str) -> object:
    with app.app_context(), db.engine.connect() as connection:
        return connection.execute(sa.text(sql)).scalar()


def test_downgrade_drops_and_upgrade_restores_without_losing_published_links(backend: str, tmp_path: Path) -> None:
    app = make_app(backend, tmp_path)
    try:
        with app.app_context():
            publish_snapshot(db.engine, filters_result(), "run-1", {})
            downgrade(revision="0002_problem_lifecycle")
            tables = set(sa.inspect(db.engine).get_table_names())
        assert not {"stop_routes", "stop_modes"} & tables
        for table, columns in NEW_COLUMNS.items():
            assert not columns & _columns(app, table), table
        assert not NEW_INDEXES & _indexes(app, "osm_elements")
        # Dropping columns must not rebuild atlas_platforms (its links would cascade away).
        assert _scalar(app, "SELECT count(*) FROM matches") == 2
        with app.app_context():
            upgrade()
        for table, columns in NEW_COLUMNS.items():
            assert columns <= _columns(app, table), table
        assert _indexes(app, "osm_elements") >= NEW_INDEXES
        assert _scalar(app, "SELECT count(*) FROM matches") == 2
        assert _scalar(app, "SELECT count(*) FROM osm_elements WHERE unit_key = ''") == 6
        assert _scalar(app, "SELECT count(*) FROM atlas_platforms WHERE canton = ''") == 5
        assert _scalar(app, "SELECT count(*) FROM stop_routes") == 0
    finally:
        dispose(app)


def test_rollback_restores_routes_modes_and_cantons(backend: str, tmp_path: Path) -> None:
    app = make_app(backend, tmp_path)
    try:
        with app.app_context():
            first = filters_result()
            publish_snapshot(db.engine, first, "run-1", {})
            publish_snapshot(db.engine, dataclasses.replace(first, routes=[], timetable_routes={}, units=[]),
                             "run-2", {})
        assert _scalar(app, "SELECT count(*) FROM stop_routes") == 0
        assert _scalar(app, "SELECT count(*) FROM osm_elements WHERE unit_key <> ''") == 0
        with app.app_context():
            assert rollback_snapshot(db.engine) == "run-1"
        assert _scalar(app, "SELECT count(*) FROM stop_routes") == 4
        assert _scalar(app, "SELECT count(*) FROM stop_modes") == 9
        assert _scalar(app, "SELECT canton FROM osm_elements WHERE osm_id = 'node/6'") == "VD"
        assert _scalar(app, "SELECT unit_key FROM osm_elements WHERE osm_id = 'node/5'") == "pair:node/4+node/5"
        assert _scalar(app, "SELECT count(*) FROM osm_elements WHERE unit_key = ''") == 4
    finally:
        dispose(app)
