"""Migrations on both backends, readiness, and the dialect module."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade

from stopsync.db.dialect import include_object
from stopsync.extensions import db

from ..conftest import dispose, make_app, postgis_url, reset_postgres

SNAPSHOT = {"atlas_platforms", "osm_elements", "osm_stop_units", "matches", "problems", "snapshot_meta"}
REVIEW = {"review_users", "review_decisions", "review_notes", "review_audit_log"}


def test_upgrade_creates_every_table(app: Flask) -> None:
    with app.app_context():
        tables = set(sa.inspect(db.engine).get_table_names())
    assert SNAPSHOT | REVIEW | {"pipeline_runs", "alembic_version"} <= tables


def test_models_match_the_migrations(app: Flask) -> None:
    """Autogenerate finds nothing to do: the models and migrations agree (PostGIS's own
    tables and the generated geometry columns are ignored)."""
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": include_object, "compare_type": False}
        )
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_readyz_is_ready_after_upgrade(app: Flask) -> None:
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json["status"] == "ready"


def test_readyz_is_503_before_upgrade(backend: str, tmp_path: Path) -> None:
    app = make_app(backend, tmp_path, migrate=False)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert "flask db upgrade" in response.json["reason"]
    dispose(app)


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    app = make_app("sqlite", tmp_path, migrate=False,
                   DATABASE_URL="postgresql+psycopg2://nobody@127.0.0.1:1/none")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503 and "database unreachable" in response.json["reason"]


def test_downgrade_and_upgrade_again(app: Flask) -> None:
    with app.app_context():
        downgrade(revision="base")
        assert not ({"atlas_platforms", "review_decisions"} & set(sa.inspect(db.engine).get_table_names()))
        upgrade()
        assert "review_decisions" in sa.inspect(db.engine).get_table_names()


def test_sqlite_uses_wal_and_lat_lon_index(sqlite_app: Flask) -> None:
    with sqlite_app.app_context(), db.engine.connect() as connection:
        assert connection.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        indexes = {ix["name"] for ix in sa.inspect(connection).get_indexes("atlas_platforms")}
    assert "ix_atlas_platforms_lat_lon" in indexes


@pytest.mark.postgis
def test_postgis_has_generated_geometry_with_gist_index(tmp_path: Path) -> None:
    app = make_app("postgis", tmp_path)
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO atlas_platforms (sloid, number, designation, name, operator, valid_to,"
            " parent_sloid, lat, lon, matched) VALUES ('ch:1:sloid:1:1:1', '8500001', '1', 'X', '',"
            " '', '', 46.9, 7.4, false)"))
        wkt = connection.execute(sa.text("SELECT ST_AsText(geom), ST_SRID(geom) FROM atlas_platforms")).one()
        gist = connection.execute(sa.text(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_atlas_platforms_geom'")).scalar()
    assert wkt == ("POINT(7.4 46.9)", 4326)
    assert gist is not None and "USING gist" in gist
    dispose(app)


@pytest.mark.postgis
def test_upgrade_on_an_empty_postgis_database_creates_the_extension(tmp_path: Path) -> None:
    url = postgis_url()
    reset_postgres(url)  # drops the extension together with the public schema
    app = make_app("postgis", tmp_path)
    with app.app_context(), db.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT PostGIS_Version()")).scalar()
    dispose(app)
