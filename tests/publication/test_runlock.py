"""One run at a time across processes: Redis, PostgreSQL advisory and file locks; a dead
holder's lock is recovered; SIGKILL in the middle of a COPY leaves the published data intact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from stopsync.errors import RunLockedError
from stopsync.pipeline.runlock import REDIS_LOCK_KEY, RedisRunLock
from stopsync.pipeline.runner import run_pipeline

from ..conftest import REPO, base_config, dispose, make_app, redis_url, sample_sources
from ..review.test_reimport import add_reviews
from .helpers import digests, runs, schemas


def spawn(action: str, app: Flask, tmp_path: Path, marker: Path, **extra: Any) -> subprocess.Popen[str]:
    config = base_config(tmp_path, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
                         **{k: app.config[k] for k in ("ATLAS_SOURCE", "OSM_SOURCE", "BORDER_SOURCE")}, **extra)
    config["INSTANCE_PATH"] = app.instance_path
    return subprocess.Popen([sys.executable, "-m", "tests.publication.child", action, json.dumps(config),
                             str(marker)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(marker: Path, child: subprocess.Popen[str], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not marker.exists():
        if child.poll() is not None:
            raise AssertionError(f"child exited early: {child.stdout.read() if child.stdout else ''}")
        if time.monotonic() > deadline:
            raise AssertionError("child never got there")
        time.sleep(0.05)


def kill(child: subprocess.Popen[str]) -> None:
    if child.poll() is None:
        os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)


@pytest.fixture
def redis_lock_url() -> Iterator[str]:
    url = redis_url()
    redis.Redis.from_url(url).flushdb()
    yield url
    redis.Redis.from_url(url).flushdb()


LOCKS = [
    pytest.param("sqlite", False, id="file"),
    pytest.param("postgis", False, id="advisory", marks=pytest.mark.postgis),
    pytest.param("sqlite", True, id="redis", marks=pytest.mark.redis),
]


@pytest.mark.parametrize(("backend", "use_redis"), LOCKS)
def test_a_second_trigger_is_refused_with_exit_code_2_and_a_dead_holder_is_recovered(
    backend: str, use_redis: bool, tmp_path: Path, real_data: Path
) -> None:
    extra = {"REDIS_URL": redis_url(), "RUN_LOCK_TTL_S": 2} if use_redis else {}
    if use_redis:
        redis.Redis.from_url(extra["REDIS_URL"]).flushdb()
    app = make_app(backend, tmp_path, **sample_sources(real_data), **extra)
    marker = tmp_path / "locked"
    holder = spawn("hold-lock", app, tmp_path / "child", marker, **extra)
    try:
        wait_for(marker, holder)
        result = app.test_cli_runner().invoke(args=["pipeline", "run"])
        assert result.exit_code == 2, result.output
        assert "another pipeline run is active: run child-holder" in result.output
        assert runs(app) == []  # a refused trigger leaves no run behind
        # The scheduler's job meets the same lock and skips.
        from stopsync.scheduling import scheduled_run

        scheduled_run(app)
        assert runs(app) == []
    finally:
        kill(holder)
    if use_redis:  # the dead owner's lock lives until it expires, then it is taken over
        with pytest.raises(RunLockedError):
            run_pipeline(app)
        time.sleep(2.2)
    assert run_pipeline(app)["published"]["atlas_platforms"] > 0
    dispose(app)


@pytest.mark.redis
def test_redis_lock_heartbeat_token_and_safe_release(redis_lock_url: str) -> None:
    client = redis.Redis.from_url(redis_lock_url)
    first = RedisRunLock(client, ttl_s=1)
    first.acquire("one")
    time.sleep(1.5)  # longer than the ttl: only the heartbeat keeps it
    first.check()
    with pytest.raises(RunLockedError, match="run one"):
        RedisRunLock(client, ttl_s=1).acquire("two")
    # Someone else's lock (ours expired and was taken over) is never deleted by our release.
    first._stop.set()
    client.set(REDIS_LOCK_KEY, json.dumps({"run_id": "other", "token": "x"}))
    with pytest.raises(RunLockedError, match="lost"):
        first.check()
    first.release()
    assert json.loads(client.get(REDIS_LOCK_KEY) or b"{}")["run_id"] == "other"


@pytest.mark.postgis
def test_sigkill_mid_copy_leaves_the_published_snapshot_intact_and_the_next_run_recovers(
    tmp_path: Path, real_data: Path
) -> None:
    app = make_app("postgis", tmp_path, **sample_sources(real_data))
    run_pipeline(app)
    with app.app_context():
        add_reviews()
    before = digests(app)
    marker = tmp_path / "copying"
    loader = spawn("stall-in-copy", app, tmp_path / "child", marker)
    try:
        wait_for(marker, loader)
        # A second process meanwhile: refused, exit code 2.
        args = tmp_path / "args.json"
        args.write_text(json.dumps(["--mode", "import"]))
        second = spawn("run", app, tmp_path / "child2", args)
        assert second.wait(timeout=60) == 2, second.stdout.read() if second.stdout else ""
        assert digests(app) == before  # readers meanwhile see the published snapshot
    finally:
        kill(loader)
    assert digests(app) == before
    assert "stopsync_staging" in schemas(app)  # what the killed run left behind
    run_pipeline(app, mode="import")
    assert "stopsync_staging" not in schemas(app)
    history = runs(app)
    assert [status for _, status, _ in history] == ["succeeded", "failed", "succeeded"]
    assert "abandoned" in (history[1][2] or "")
    dispose(app)
