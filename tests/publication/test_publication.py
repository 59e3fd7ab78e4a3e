"""Atomic publication, rollback, run modes and failure handling on both backends."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from stopsync.db.dialect import include_object
from stopsync.errors import PluginError
from stopsync.extensions import db
from stopsync.pipeline.runner import run_pipeline

from ..conftest import dispose, make_app, sample_sources
from ..review.test_reimport import add_reviews
from .helpers import SNAPSHOT_TABLES, digests, runs, schemas

# A smaller box than the sample's: the second snapshot differs from the first.
WEST = "5.9,45.8,7.0,47.9"


@pytest.fixture
def published(backend: str, tmp_path: Path, real_data: Path) -> Iterator[Flask]:
    """The sample published once, with reviewers' decisions on it."""
    app = make_app(backend, tmp_path, **sample_sources(real_data))
    run_pipeline(app)
    with app.app_context():
        add_reviews()
    yield app
    dispose(app)


def snapshot_only(found: dict[str, tuple[int, str]]) -> dict[str, tuple[int, str]]:
    return {table: value for table, value in found.items() if table in SNAPSHOT_TABLES}


@pytest.mark.postgis
def test_swap_keeps_the_migrated_schema_and_the_previous_snapshot(tmp_path: Path, real_data: Path) -> None:
    app = make_app("postgis", tmp_path, **sample_sources(real_data))
    run_pipeline(app)
    run_pipeline(app)
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": include_object,
                                                               "compare_type": False})
        assert compare_metadata(context, db.metadata) == []
        gist = connection.execute(sa.text("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' "
                                          "AND indexname = 'ix_atlas_platforms_geom'")).scalar()
        constraints = set(connection.execute(sa.text(
            "SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE n.nspname = 'public' AND conrelid = 'public.matches'::regclass")).scalars())
        # The id sequence came along: a row without an id still gets one.
        connection.execute(sa.text("INSERT INTO snapshot_meta (run_id, published_at, sources, summary) "
                                   "VALUES ('x', now(), '{}', '{}')"))
    assert gist is not None and "gist" in gist.lower()
    assert {"pk_matches", "uq_matches_pair", "fk_matches_sloid_atlas_platforms",
            "fk_matches_osm_id_osm_elements"} <= constraints
    assert "stopsync_staging" not in schemas(app) and "stopsync_previous" in schemas(app)
    dispose(app)


def test_rollback_restores_the_previous_snapshot_and_swaps_forward_again(published: Flask) -> None:
    first = snapshot_only(digests(published))
    published.config["BBOX"] = WEST
    published.config["BORDER_SOURCE"] = None
    run_pipeline(published)
    second = snapshot_only(digests(published))
    assert second["atlas_platforms"][0] < first["atlas_platforms"][0]
    cli = published.test_cli_runner()
    result = cli.invoke(args=["pipeline", "rollback"])
    assert result.exit_code == 0, result.output
    assert "rolled back" in result.output
    assert snapshot_only(digests(published)) == first
    assert cli.invoke(args=["pipeline", "rollback"]).exit_code == 0
    assert snapshot_only(digests(published)) == second


def test_rollback_says_when_there_is_nothing_to_roll_back(backend: str, tmp_path: Path, real_data: Path) -> None:
    app = make_app(backend, tmp_path, **sample_sources(real_data))
    cli = app.test_cli_runner()
    assert "nothing to roll back" in cli.invoke(args=["pipeline", "rollback"]).output
    run_pipeline(app)  # replaced the empty tables of the migration: still nothing worth restoring
    result = cli.invoke(args=["pipeline", "rollback"])
    assert result.exit_code == 1 and "nothing to roll back" in result.output
    dispose(app)


def test_runs_record_mode_trigger_plan_and_timings(published: Flask) -> None:
    summary = run_pipeline(published, mode="import")
    run_pipeline(published, mode="match-import", trigger="scheduled")
    with published.app_context():
        rows = db.session.execute(sa.text("SELECT run_id, mode, trigger, status, phases FROM pipeline_runs "
                                          "ORDER BY id")).all()
    assert [(r.mode, r.trigger, r.status) for r in rows] == [
        ("full", "manual", "succeeded"), ("import", "manual", "succeeded"), ("match-import", "scheduled", "succeeded")]
    for row in rows:
        phases = row.phases if isinstance(row.phases, dict) else __import__("json").loads(row.phases)
        assert all(isinstance(phases[name], float) for name in phases["plan"]), phases
    assert summary["warnings"][0].startswith(f"imported the match of run {rows[0].run_id}")
    assert "statistics" in summary and summary["published"]["atlas_platforms"] > 0


def test_import_without_a_stored_match_fails_clearly(tmp_path: Path, real_data: Path) -> None:
    app = make_app("sqlite", tmp_path, **sample_sources(real_data))
    result = app.test_cli_runner().invoke(args=["pipeline", "run", "--mode", "import"])
    assert result.exit_code == 1 and "nothing to import" in result.output
    assert runs(app)[-1][1] == "failed"
    dispose(app)


def _raise(*_args: Any, **_kwargs: Any) -> Any:
    raise PluginError("injected fault")


FAULTS = {
    "acquire": ("stopsync.pipeline.runner.acquire", None),
    "match": ("stopsync.pipeline.match.MatchEngine.link", None),
    "problems": ("stopsync.pipeline.match.detect_problems", None),
    "validate": ("stopsync.db.publication.PostgresPublisher._validate",
                 "stopsync.db.publication.SqlitePublisher._validate"),
    # After the lifecycle has written review rows inside the swap transaction.
    "swap": ("stopsync.db.publication.PostgresPublisher._move_all",
             "stopsync.db.publication.SqlitePublisher._validate"),
}


@pytest.mark.parametrize("phase", list(FAULTS))
def test_a_fault_in_any_phase_leaves_published_and_review_data_intact(
    published: Flask, backend: str, phase: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = digests(published)
    published.config["BBOX"] = WEST  # the run would change the snapshot if it got through
    published.config["BORDER_SOURCE"] = None
    postgis_target, sqlite_target = FAULTS[phase]
    monkeypatch.setattr(postgis_target if backend == "postgis" or sqlite_target is None else sqlite_target, _raise)
    result = published.test_cli_runner().invoke(args=["pipeline", "run"])
    assert result.exit_code == 1 and "injected fault" in result.output
    assert digests(published) == before
    assert runs(published)[-1][1:] == ("failed", "injected fault")
    if backend == "postgis":
        assert "stopsync_staging" not in schemas(published)
    monkeypatch.undo()
    assert run_pipeline(published)["published"]["atlas_platforms"] > 0  # the lock was released


@pytest.mark.postgis
def test_a_dropped_database_connection_mid_copy_leaves_everything_intact(
    tmp_path: Path, real_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stopsync.db import publication

    app = make_app("postgis", tmp_path, **sample_sources(real_data))
    run_pipeline(app)
    with app.app_context():
        add_reviews()
    before = digests(app)
    original = publication.CopyBuffer.read
    killer = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])

    def read_then_drop(self: Any, size: int | None = -1) -> str:
        with killer.begin() as connection:
            connection.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                       "WHERE application_name = :name"), {"name": publication.APPLICATION_NAME})
        return original(self, size)

    monkeypatch.setattr(publication.CopyBuffer, "read", read_then_drop)
    with pytest.raises(sa.exc.DBAPIError):
        run_pipeline(app, mode="import")
    monkeypatch.undo()
    killer.dispose()
    assert digests(app) == before
    assert runs(app)[-1][1] == "failed"
    assert "stopsync_staging" not in schemas(app)
    run_pipeline(app, mode="import")
    dispose(app)


def _count_all(connection: sa.Connection) -> tuple[int, int, int]:
    # One statement: it sees one snapshot, whichever it is.
    row = connection.execute(sa.text(
        "SELECT (SELECT count(*) FROM atlas_platforms), (SELECT count(*) FROM osm_elements), "
        "(SELECT count(*) FROM matches)")).one()
    return int(row[0]), int(row[1]), int(row[2])


def _layer_counts(body: dict[str, Any]) -> tuple[int, int, int]:
    layers = [feature["properties"]["layer"] for feature in body["features"]]
    return layers.count("atlas"), layers.count("osm"), layers.count("link")


def test_readers_never_see_an_empty_or_mixed_snapshot(published: Flask) -> None:
    client = published.test_client()
    bbox = "/api/v1/stops?bbox=5.0,45.0,11.0,48.5&limit=10000"
    with published.app_context(), db.engine.connect() as connection:
        old = _count_all(connection)
    old_api = _layer_counts(client.get(bbox).json)
    answers: list[tuple[int, int, int]] = []
    api_answers: list[tuple[int, int, int]] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def hammer() -> None:
        engine = sa.create_engine(published.config["SQLALCHEMY_DATABASE_URI"])
        try:
            while not stop.is_set():
                with engine.connect() as connection:
                    answers.append(_count_all(connection))
                # All three layers in one request: one snapshot, never a mix of old and new.
                api_answers.append(_layer_counts(client.get(bbox).json))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            engine.dispose()

    readers = [threading.Thread(target=hammer) for _ in range(3)]
    for reader in readers:
        reader.start()
    published.config["BBOX"] = WEST
    published.config["BORDER_SOURCE"] = None
    for _ in range(3):
        run_pipeline(published)
        run_pipeline(published, mode="import")
    stop.set()
    for reader in readers:
        reader.join()
    assert not errors, errors
    with published.app_context(), db.engine.connect() as connection:
        new = _count_all(connection)
    new_api = _layer_counts(client.get(bbox).json)
    assert new != old and answers and api_answers
    assert set(answers) <= {old, new}, set(answers)
    assert set(api_answers) <= {old_api, new_api}
