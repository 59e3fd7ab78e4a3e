"""GET /api/v1/status, the /status page and the navbar line, from the database and from Redis."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest
import redis

from stopsync.pipeline.runner import run_pipeline

from ..conftest import dispose, make_app, redis_url, sample_sources

STORES = [pytest.param(False, id="database"), pytest.param(True, id="redis", marks=pytest.mark.redis)]


@pytest.mark.parametrize("use_redis", STORES)
def test_status_before_during_and_after_runs(use_redis: bool, backend: str, tmp_path: Path, real_data: Path) -> None:
    extra: dict[str, Any] = {}
    if use_redis:
        extra["REDIS_URL"] = redis_url()
        redis.Redis.from_url(extra["REDIS_URL"]).flushdb()
    app = make_app(backend, tmp_path, **sample_sources(real_data), STATUS_CACHE_S=0, **extra)
    client = app.test_client()
    empty = client.get("/api/v1/status").json
    assert empty["state"] == "idle" and empty["run"] is None and empty["published"] is None
    assert empty["next_run"]  # from SCHEDULE_CRON
    seen: dict[str, Any] = {}

    def on_phase(phase: str, number: int, total: int) -> None:
        if phase == "publish":
            # From another thread, as another process would: this one is inside the run's app context.
            reader = threading.Thread(target=lambda: seen.update(client.get("/api/v1/status").json))
            reader.start()
            reader.join()

    summary = run_pipeline(app, on_phase=on_phase)
    assert seen["state"] == "running" and seen["run"]["phase"] == "publish"
    assert seen["run"]["run_id"] == summary["run_id"]
    assert seen["run"]["plan"][:2] == ["acquire", "match"] and "match" in seen["run"]["timings"]
    after = client.get("/api/v1/status").json
    assert after["state"] == "idle" and after["last_success"]["run_id"] == summary["run_id"]
    assert set(after["published"]["datasets"]) >= {"atlas", "osm"}
    assert re.match(r"\d{4}-\d\d-\d\dT", after["published"]["datasets"]["atlas"]["timestamp"])
    assert set(after["run"]["timings"]) == set(after["run"]["plan"])
    page = client.get("/").get_data(as_text=True)
    assert "data from ATLAS 20" in page and ", OSM 20" in page and "next update" in page
    status_page = client.get("/status").get_data(as_text=True)
    assert "statistics" in status_page and "phase-done" in status_page
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", status_page)  # no inline script (CSP)

    app.config["OSM_SOURCE"] = str(tmp_path / "gone.osm")
    assert app.test_cli_runner().invoke(args=["pipeline", "run"]).exit_code == 1
    failed = client.get("/api/v1/status").json
    assert failed["state"] == "failed" and "gone.osm" in failed["run"]["error"]
    assert failed["last_success"]["run_id"] == summary["run_id"]
    assert "phase-failed" in client.get("/status").get_data(as_text=True)
    dispose(app)
