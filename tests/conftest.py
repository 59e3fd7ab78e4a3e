"""Shared fixtures: apps on both backends, the real data, a published sample.

PostGIS and Redis tests need ``STOPSYNC_TEST_DATABASE_URL`` / ``STOPSYNC_TEST_REDIS_URL``;
without them those tests are skipped with a reason (``.ci/run`` sets both).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from stopsync import create_app

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "data" / "real"


def pytest_report_header() -> list[str]:
    def state(var: str) -> str:
        return f"{var} set" if os.environ.get(var) else f"{var} not set, those tests skip"

    return [f"PostGIS: {state('STOPSYNC_TEST_DATABASE_URL')}", f"Redis: {state('STOPSYNC_TEST_REDIS_URL')}"]


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip(f"real data not found at {REAL_DATA}")
    return REAL_DATA


def base_config(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "LOG_FORMAT": "text",
        "MATCHING_STRATEGIES": None,
        # Tests never download the national timetable; those that need GTFS name a file.
        "GTFS_SOURCE": None,
    }
    config.update(overrides)
    return config


def postgis_url() -> str:
    url = os.environ.get("STOPSYNC_TEST_DATABASE_URL")
    if not url:
        pytest.skip("PostGIS not configured: set STOPSYNC_TEST_DATABASE_URL (see .ci/run)")
    return url


def redis_url() -> str:
    url = os.environ.get("STOPSYNC_TEST_REDIS_URL")
    if not url:
        pytest.skip("Redis not configured: set STOPSYNC_TEST_REDIS_URL (see .ci/run)")
    return url


def reset_postgres(url: str) -> None:
    """An empty public schema, as a fresh database has (PostGIS is created by the migration)."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        # Publication keeps its staging and previous snapshots in schemas of their own.
        for schema in ("stopsync_staging", "stopsync_previous", "stopsync_rollback"):
            connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def make_app(backend: str, tmp_path: Path, migrate: bool = True, **overrides: Any) -> Flask:
    if backend == "postgis":
        url = postgis_url()
        reset_postgres(url)
    else:
        url = "sqlite:///" + str(tmp_path / "stopsync.db")
    url = overrides.pop("DATABASE_URL", url)
    app = create_app(base_config(tmp_path, DATABASE_URL=url, **overrides))
    if migrate:
        with app.app_context():
            upgrade()
    return app


def dispose(app: Flask) -> None:
    from stopsync.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app(backend: str, tmp_path: Path) -> Iterator[Flask]:
    """A migrated app on each backend."""
    application = make_app(backend, tmp_path)
    yield application
    dispose(application)


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[Flask]:
    application = make_app("sqlite", tmp_path)
    yield application
    dispose(application)


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


def sample_sources(real_data: Path) -> dict[str, Any]:
    return {
        "ATLAS_SOURCE": str(real_data / "atlas_traffic_points_sample.csv"),
        "OSM_SOURCE": str(real_data / "osm_sample.xml"),
        "BORDER_SOURCE": str(real_data / "switzerland.geojson"),
    }


def publish_sample(backend: str, tmp_path: Path, real_data: Path, **overrides: Any) -> Flask:
    """An app whose database holds the published real ATLAS/OSM sample."""
    from stopsync.pipeline.runner import run_pipeline

    application = make_app(backend, tmp_path, **sample_sources(real_data), **overrides)
    run_pipeline(application)
    return application


@pytest.fixture
def published_app(backend: str, tmp_path: Path, real_data: Path) -> Iterator[Flask]:
    application = publish_sample(backend, tmp_path, real_data)
    yield application
    dispose(application)


@pytest.fixture
def published_sqlite_app(tmp_path: Path, real_data: Path) -> Iterator[Flask]:
    """The published real sample on the embedded backend (used by the browser tests)."""
    application = publish_sample("sqlite", tmp_path, real_data)
    yield application
    dispose(application)
