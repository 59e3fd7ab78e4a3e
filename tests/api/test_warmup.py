"""A new gunicorn worker answers the hot reads once before taking traffic (stopsync.warmup),
computing them instead of reading the response cache, and never fails because of it."""

from __future__ import annotations

import gc
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask

from stopsync import warmup
from stopsync.blueprints.api import aggregates
from stopsync.config import DEFAULTS

from ..conftest import make_app
from .conftest import SWITZERLAND

OVERVIEW = f"/api/v1/overview?bbox={SWITZERLAND}&zoom=8"


def test_every_default_path_answers_200_on_a_published_snapshot(api_app: Flask) -> None:
    statuses = warmup.warm(api_app)
    assert list(statuses) == DEFAULTS["WARMUP_PATHS"]
    assert set(statuses.values()) == {200}, statuses


def test_warm_up_requests_compute_instead_of_reading_the_cache(
    api_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    computed = []
    original = aggregates._overview

    def counting(*args: Any) -> Any:
        computed.append(1)
        return original(*args)

    monkeypatch.setattr(aggregates, "_overview", counting)
    client = api_app.test_client()
    query = f"{OVERVIEW}&canton=GL"  # a query no other test has cached
    first = client.get(query)
    assert first.status_code == 200
    assert client.get(query).status_code == 200
    assert len(computed) == 1  # the second answer came from the cache
    warmed = client.get(query, environ_overrides={warmup.WARMUP_ENVIRON_KEY: True})
    assert warmed.status_code == 200 and warmed.json["clusters"] == first.json["clusters"]
    assert len(computed) == 2
    # No HTTP request can claim to be a warm-up: a header of that name changes nothing.
    assert client.get(query, headers={warmup.WARMUP_ENVIRON_KEY: "1"}).status_code == 200
    assert len(computed) == 2


def test_a_failing_path_is_reported_and_does_not_stop_the_warm_up(
    api_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(aggregates, "_overview", broken)
    monkeypatch.setitem(api_app.config, "WARMUP_PATHS", [OVERVIEW + "&canton=ZH", "/api/v1/status"])
    statuses = warmup.warm(api_app)
    assert statuses[OVERVIEW + "&canton=ZH"] in (0, 500)  # raised (testing) or answered 500
    assert statuses["/api/v1/status"] == 200


def test_an_empty_list_switches_the_warm_up_off(tmp_path: Path) -> None:
    app = make_app("sqlite", tmp_path, WARMUP_PATHS="")
    assert app.config["WARMUP_PATHS"] == []
    assert warmup.warm(app) == {}


def test_a_worker_without_published_data_still_starts(tmp_path: Path) -> None:
    app = make_app("sqlite", tmp_path)
    try:
        statuses = warmup.prepare_worker(app)
        # What was alive after the warm-up is out of the collector's reach.
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert set(statuses) == set(DEFAULTS["WARMUP_PATHS"])
    assert all(status in (0, 200, 404, 503) for status in statuses.values()), statuses


def test_a_worker_forked_during_a_run_gets_its_collector_back(tmp_path: Path) -> None:
    app = make_app("sqlite", tmp_path, WARMUP_PATHS="")
    gc.disable()  # as in a master running a pipeline (stopsync.pipeline.gc_pause)
    try:
        warmup.prepare_worker(app)
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.enable()


def test_prepare_worker_leaves_anything_but_a_flask_app_alone() -> None:
    assert warmup.prepare_worker(object()) == {}


def test_the_gunicorn_hook_prepares_the_worker_s_app(monkeypatch: pytest.MonkeyPatch) -> None:
    from stopsync import gunicorn_conf

    seen = []
    monkeypatch.setattr(warmup, "prepare_worker", lambda app: seen.append(app) or {})
    app = object()
    gunicorn_conf.post_worker_init(SimpleNamespace(wsgi=app))
    assert seen == [app]
