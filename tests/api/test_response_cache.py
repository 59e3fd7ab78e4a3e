"""The response cache: serialized answers keyed by the published run id, ETag and 304, hits
without a database transaction (with Redis), and never an old snapshot's bytes once a process
has seen the new run id (with and without Redis, across app instances sharing one database)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask

from stopsync import create_app
from stopsync.blueprints.api.cache import (
    ANNOUNCEMENT_TTL_S,
    CLIENT_MAX_AGE_S,
    PUBLISHED_RUN_KEY,
    announce_published_run,
)
from stopsync.blueprints.api.tiles import tile_of
from stopsync.extensions import db
from stopsync.models import AtlasPlatformRow, SnapshotMeta
from stopsync.pipeline.runner import run_pipeline

from ..conftest import base_config, dispose, publish_sample, redis_url
from .conftest import GLARUS_SLOID, SWITZERLAND

GLARUS = (9.06870540386, 47.04155345219)
GLARUS_TILE = "/api/v1/tiles/15/{}/{}".format(*tile_of(*GLARUS, 15))
# Without Glarus: the second snapshot of the publication tests differs from the first.
WEST = "5.9,45.8,7.0,47.9"
HOT_READS = [
    GLARUS_TILE, GLARUS_TILE + ".json", "/api/v1/statistics", "/api/v1/operators",
    f"/api/v1/overview?bbox={SWITZERLAND}&zoom=8", "/api/v1/problems?limit=5&sort=distance",
    "/api/v1/search?q=Glarus", "/api/v1/largest-distances?limit=3",
]


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """Every SQL statement the app's engine sends while the block runs."""
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def run_id_of(app: Flask) -> str:
    with app.app_context():
        return str(db.session.execute(sa.select(SnapshotMeta.run_id)).scalar_one())


def _has_glarus(tile: Any) -> bool:
    return any(f["properties"].get("id") == GLARUS_SLOID for f in tile.json["features"])


def etag_run(response: Any) -> str:
    """The run id an answer was computed from, as its ETag says."""
    etag, _weak = response.get_etag()
    return str(etag).rsplit(".", 1)[0]


@pytest.fixture
def redis_app(backend: str, tmp_path: Path, real_data: Path) -> Iterator[Flask]:
    """The published sample with Redis as cache and announcement channel (production setup)."""
    url = redis_url()
    redis.Redis.from_url(url).flushdb()
    app = publish_sample(backend, tmp_path, real_data, REDIS_URL=url)
    yield app
    dispose(app)


@pytest.mark.redis
def test_a_hit_answers_identical_bytes_without_a_database_statement(redis_app: Flask) -> None:
    client = redis_app.test_client()
    for path in HOT_READS:
        first = client.get(path)
        assert first.status_code == 200, (path, first.get_data(as_text=True)[:300])
        with statements(redis_app) as seen:
            again = client.get(path)
        assert seen == [], (path, seen)
        assert again.status_code == 200 and again.get_data() == first.get_data() and again.mimetype == first.mimetype
        assert again.headers["ETag"] == first.headers["ETag"] and etag_run(first) == run_id_of(redis_app)
        assert again.headers["Cache-Control"] == f"public, max-age={CLIENT_MAX_AGE_S}"
        assert again.headers["X-Robots-Tag"] == "noindex"
    assert "Accept" in client.get(GLARUS_TILE).headers["Vary"]
    # Not cached: arbitrary bboxes, review data, random picks.
    for path in ("/api/v1/stops?bbox=9.06,47.03,9.08,47.05", f"/api/v1/stops/{GLARUS_SLOID}", "/api/v1/random"):
        client.get(path)
        with statements(redis_app) as seen:
            response = client.get(path)
        assert response.status_code == 200 and seen and "ETag" not in response.headers, path


@pytest.mark.redis
def test_a_publication_makes_old_entries_unreachable(redis_app: Flask) -> None:
    client = redis_app.test_client()
    old_run = run_id_of(redis_app)
    old_tile = client.get(GLARUS_TILE)
    old_statistics = client.get("/api/v1/statistics").json
    assert _has_glarus(old_tile)
    redis_app.config.update(BBOX=WEST, BORDER_SOURCE=None)
    run_pipeline(redis_app)
    new_run = run_id_of(redis_app)
    assert new_run != old_run
    assert redis.Redis.from_url(redis_url()).get(PUBLISHED_RUN_KEY) == new_run.encode()
    new_tile = client.get(GLARUS_TILE)
    assert etag_run(new_tile) == new_run and not _has_glarus(new_tile)
    statistics = client.get("/api/v1/statistics").json
    assert statistics["run_id"] == new_run and statistics["atlas"]["total"] < old_statistics["atlas"]["total"]
    # The old ETag no longer matches: a revalidating client gets the new answer.
    revalidated = client.get(GLARUS_TILE, headers={"If-None-Match": old_tile.headers["ETag"]})
    assert revalidated.status_code == 200 and not _has_glarus(revalidated)


@pytest.mark.redis
def test_a_miss_is_computed_and_stored_under_the_run_id_read_inside_its_snapshot(redis_app: Flask) -> None:
    client = redis_app.test_client()
    store = redis.Redis.from_url(redis_url())
    published = run_id_of(redis_app)
    # A stale announcement (a run whose entries are gone): the miss reads the database's run id.
    store.set(PUBLISHED_RUN_KEY, "20000101T000000Z-stale0", ex=ANNOUNCEMENT_TTL_S)
    body = client.get("/api/v1/statistics")
    assert body.json["run_id"] == published and etag_run(body) == published
    # No announcement at all (expired, or a change nobody announced): read from the database,
    # and announced again for the requests that follow.
    with redis_app.app_context():
        db.session.execute(sa.delete(AtlasPlatformRow.__table__).where(AtlasPlatformRow.sloid == GLARUS_SLOID))
        db.session.execute(sa.update(SnapshotMeta.__table__).values(run_id="20990101T000000Z-fresh0"))
        db.session.commit()
    store.delete(PUBLISHED_RUN_KEY)
    tile = client.get(GLARUS_TILE)
    assert etag_run(tile) == "20990101T000000Z-fresh0"
    assert not _has_glarus(tile)
    assert store.get(PUBLISHED_RUN_KEY) == b"20990101T000000Z-fresh0"
    assert 0 < int(store.ttl(PUBLISHED_RUN_KEY)) <= ANNOUNCEMENT_TTL_S
    # The publisher's announcement always wins over a reader's.
    with redis_app.app_context():
        announce_published_run(redis_app, "20990101T000000Z-newer0")
    assert store.get(PUBLISHED_RUN_KEY) == b"20990101T000000Z-newer0"


def _etag_checks(client: Any) -> None:
    first = client.get(GLARUS_TILE)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('"') and len(first.get_data()) > 0
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        not_modified = client.get(GLARUS_TILE, headers={"If-None-Match": header})
        assert not_modified.status_code == 304 and not_modified.get_data() == b"", header
        assert not_modified.headers["ETag"] == etag and "max-age" in not_modified.headers["Cache-Control"]
    assert client.get(GLARUS_TILE, headers={"If-None-Match": '"other"'}).status_code == 200
    # Another representation is another answer with another ETag.
    plain = client.get(GLARUS_TILE, headers={"Accept": "application/json", "If-None-Match": etag})
    assert plain.status_code == 200 and plain.headers["ETag"] != etag and plain.mimetype == "application/json"


@pytest.mark.redis
def test_etag_and_not_modified_with_redis(redis_app: Flask) -> None:
    _etag_checks(redis_app.test_client())


def test_etag_and_not_modified_without_redis(published_app: Flask) -> None:
    client = published_app.test_client()
    _etag_checks(client)
    # The first answer of a query is already a 304 when the client holds it (computed, then compared).
    etag = client.get("/api/v1/operators").headers["ETag"]
    with published_app.app_context():
        from stopsync.extensions import cache

        cache.clear()
    assert client.get("/api/v1/operators", headers={"If-None-Match": etag}).status_code == 304


def _web_instance(tmp_path: Path, database_url: str, **overrides: Any) -> Flask:
    """Another process's app on the same database (its own SimpleCache unless Redis is given)."""
    return create_app(base_config(tmp_path / "web", DATABASE_URL=database_url, **overrides))


@pytest.mark.parametrize("use_redis", [False, pytest.param(True, marks=pytest.mark.redis)])
def test_another_instance_never_serves_the_old_snapshot_after_seeing_the_new_one(
    backend: str, use_redis: bool, tmp_path: Path, real_data: Path
) -> None:
    """One instance publishes, the other answers hot reads throughout: each answer comes from
    one snapshot, and once an answer came from the new one, none comes from the old."""
    extra = {"REDIS_URL": redis_url()} if use_redis else {}
    if use_redis:
        redis.Redis.from_url(extra["REDIS_URL"]).flushdb()
    publisher = publish_sample(backend, tmp_path / "publisher", real_data, **extra)
    web = _web_instance(tmp_path, publisher.config["SQLALCHEMY_DATABASE_URI"], **extra)
    client = web.test_client()
    old_run = run_id_of(publisher)
    old_total = client.get("/api/v1/statistics").json["atlas"]["total"]
    assert _has_glarus(client.get(GLARUS_TILE))
    if backend == "sqlite" and not use_redis:
        # Embedded: a hit reads the run id and nothing else (no snapshot table, no Redis).
        with statements(web) as seen:
            assert client.get(GLARUS_TILE).status_code == 200
        assert len(seen) <= 2 and not any("atlas_platforms" in statement for statement in seen), seen

    answers: list[tuple[str, bool]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                statistics = client.get("/api/v1/statistics").json
                answers.append((statistics["run_id"], statistics["atlas"]["total"] == old_total))
                tile = client.get(GLARUS_TILE)
                answers.append((etag_run(tile), _has_glarus(tile)))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        publisher.config.update(BBOX=WEST, BORDER_SOURCE=None)
        run_pipeline(publisher)
    finally:
        stop.set()
        reader.join()
    new_run = run_id_of(publisher)
    assert not errors, errors
    answers.append((client.get("/api/v1/statistics").json["run_id"], False))
    # Every answer is of one snapshot: the old run with the old data, the new run with the new.
    assert {(run == old_run) == old_data for run, old_data in answers} == {True}, answers
    assert {run for run, _ in answers} == {old_run, new_run}
    first_new = next(index for index, (run, _) in enumerate(answers) if run == new_run)
    assert all(run == new_run for run, _ in answers[first_new:]), answers
    dispose(web)
    dispose(publisher)
