"""`flask pipeline sources` and `flask pipeline run --force/--offline` against a local HTTP server."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from ..conftest import dispose, make_app, sample_sources
from .test_acquire import ATLAS, FileServer, real_files

GTFS = "gtfs_ch_2019_subset.zip"


@pytest.fixture
def server(real_data: Path) -> Iterator[FileServer]:
    with FileServer(real_files(real_data)) as running:
        yield running


@pytest.fixture
def app(tmp_path: Path, real_data: Path, server: FileServer) -> Iterator[Flask]:
    application = make_app("sqlite", tmp_path, **dict(
        sample_sources(real_data), ATLAS_SOURCE=server.url(ATLAS), GTFS_SOURCE=server.url(GTFS), HTTP_TIMEOUT_S=5))
    yield application
    dispose(application)


def invoke(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["pipeline", *args])


def sources_json(app: Flask, *args: str) -> dict[str, dict[str, Any]]:
    result = invoke(app, "sources", "--json", *args)
    assert result.exit_code == 0, result.output
    return {report["kind"]: report for report in json.loads(result.output)}


def test_sources_before_and_after_a_run(app: Flask, server: FileServer, real_data: Path) -> None:
    before = sources_json(app)
    assert list(before) == ["border", "atlas", "osm", "gtfs"]
    atlas = before["atlas"]
    assert atlas["location"] == server.url(ATLAS) and atlas["location_type"] == "url"
    assert atlas["plugin"] == "atlas-csv" and atlas["cache"] is None
    assert atlas["decision"] == "missing" and atlas["reason"] == "no cached copy"
    assert before["osm"]["location_type"] == "file" and before["osm"]["decision"] == "missing"
    assert before["gtfs"]["plugin"] == "gtfs-zip" and before["gtfs"]["decision"] == "missing"
    assert before["atlas"]["remote_validators"]["etag"] == server.etag(ATLAS)  # reachable
    assert server.full_gets() == [] and len(server.ranged_gets()) == 2  # atlas and gtfs, probed only
    server.requests.clear()

    result = invoke(app, "run")
    assert result.exit_code == 0, result.output
    assert "source atlas: missing" in result.output and "artifact atlas-records.pickle: missing" in result.output
    assert [r["path"] for r in server.requests] == ["/" + ATLAS, "/" + GTFS]
    assert "source gtfs: missing" in result.output and "artifact gtfs-feed.pickle: missing" in result.output
    server.requests.clear()

    after = sources_json(app)
    atlas = after["atlas"]
    content = server.files[ATLAS]
    assert atlas["decision"] == "hit" and atlas["last_decision"] == "missing"
    assert atlas["cache"]["present"] and atlas["cache"]["size"] == len(content) and atlas["cache"]["fetched_at"]
    assert atlas["validators"]["etag"] == server.etag(ATLAS)
    assert atlas["remote_validators"] == {"etag": server.etag(ATLAS), "content_length": len(content),
                                          "last_modified": atlas["validators"]["last_modified"]}
    assert after["osm"]["decision"] == "hit" and after["osm"]["cache"]["path"] == str(real_data / "osm_sample.xml")
    assert after["gtfs"]["decision"] == "hit"
    assert server.full_gets() == [] and len(server.ranged_gets()) == 2  # atlas and gtfs

    server.set_file(ATLAS, content + b"\n")
    assert sources_json(app)["atlas"]["decision"] == "source_changed"


def test_sources_without_probing_asks_no_server(app: Flask, server: FileServer) -> None:
    assert invoke(app, "run").exit_code == 0
    server.requests.clear()
    report = sources_json(app, "--no-probe")["atlas"]
    assert report["decision"] == "unknown" and "not probed" in report["reason"]
    assert report["remote_validators"] is None and server.requests == []


def test_sources_reports_an_unreachable_or_failing_server(app: Flask, server: FileServer) -> None:
    assert invoke(app, "run").exit_code == 0
    server.mode = "500"
    report = sources_json(app)["atlas"]
    assert report["decision"] == "unreachable" and report["reason"].startswith("HTTP 500")
    app.config["ATLAS_SOURCE"] = "http://127.0.0.1:9/" + ATLAS
    report = sources_json(app)["atlas"]
    assert report["decision"] == "unreachable"
    assert report["reason"].startswith("location changed") and "cannot reach http://127.0.0.1:9/" in report["reason"]
    assert sources_json(app, "--no-probe")["atlas"]["decision"] == "missing"


def test_sources_text_output(app: Flask, server: FileServer) -> None:
    assert invoke(app, "run").exit_code == 0
    result = invoke(app, "sources")
    assert result.exit_code == 0, result.output
    assert f"atlas: {server.url(ATLAS)} [url, plugin atlas-csv]" in result.output
    assert "a run now: hit (server validators unchanged)" in result.output
    assert f"etag={server.etag(ATLAS)}" in result.output
    assert f"gtfs: {server.url(GTFS)} [url, plugin gtfs-zip]" in result.output


def test_sources_lists_a_plugin_fetched_source_and_a_missing_file(tmp_path: Path, real_data: Path) -> None:
    app = make_app("sqlite", tmp_path, **dict(sample_sources(real_data), OSM_SOURCE="overpass",
                                              ATLAS_SOURCE=str(tmp_path / "gone.csv")))
    reports = {r["kind"]: r for r in json.loads(invoke(app, "sources", "--json").output)}
    assert reports["osm"]["plugin"] == "overpass" and reports["osm"]["location_type"] == "plugin"
    assert reports["osm"]["decision"] == "unknown" and "fetched by the data source plugin" in reports["osm"]["reason"]
    assert reports["atlas"]["decision"] == "unavailable" and "no such file" in reports["atlas"]["reason"]
    assert "gtfs" not in reports  # GTFS_SOURCE unset
    dispose(app)


def test_run_force_and_offline(app: Flask, server: FileServer) -> None:
    assert invoke(app, "run").exit_code == 0
    server.requests.clear()
    forced = invoke(app, "run", "--force")
    assert forced.exit_code == 0, forced.output
    assert "source atlas: forced" in forced.output and "artifact osm-records.pickle: forced" in forced.output
    assert [r["path"] for r in server.full_gets()] == ["/" + ATLAS, "/" + GTFS]
    server.requests.clear()
    server.mode = "500"  # offline never asks
    offline = invoke(app, "run", "--offline")
    assert offline.exit_code == 0, offline.output
    assert "source atlas: offline (offline: using the cached copy fetched" in offline.output
    assert "artifact atlas-records.pickle: hit" in offline.output and server.requests == []


def test_run_offline_without_a_cache_fails_clearly(app: Flask, server: FileServer) -> None:
    result = invoke(app, "run", "--offline")
    assert result.exit_code == 1
    assert (f"data source 'atlas-csv' is unavailable: offline, and no cached copy for {server.url(ATLAS)}"
            in result.output)
    assert server.requests == []


@pytest.mark.parametrize(("mode", "message"), [
    ("500", "HTTP 500"),
    ("html", "content type 'text/html'"),
    ("truncate", "download truncated"),
])
def test_run_fails_on_a_bad_answer_and_keeps_the_cache(app: Flask, server: FileServer, mode: str, message: str) -> None:
    assert invoke(app, "run").exit_code == 0
    cached = sources_json(app, "--no-probe")["atlas"]["cache"]
    server.set_file(ATLAS, server.files[ATLAS] + b"\n")
    server.mode = mode
    result = invoke(app, "run")
    assert result.exit_code == 1
    assert "data source 'atlas-csv' is unavailable: " in result.output and message in result.output
    assert sources_json(app, "--no-probe")["atlas"]["cache"] == cached


def test_the_default_timetable_is_the_current_years_feed(tmp_path: Path, real_data: Path) -> None:
    app = make_app("sqlite", tmp_path, **sample_sources(real_data), GTFS_SOURCE="timetable")
    reports = {r["kind"]: r for r in json.loads(invoke(app, "sources", "--json", "--no-probe").output)}
    assert re.fullmatch(r"https://data\.opentransportdata\.swiss/dataset/timetable-20\d\d-gtfs2020/permalink",
                        reports["gtfs"]["location"])
    dispose(app)


def test_an_unreachable_timetable_only_warns(tmp_path: Path, real_data: Path) -> None:
    app = make_app("sqlite", tmp_path, **sample_sources(real_data), GTFS_SOURCE="http://127.0.0.1:9/gtfs.zip",
                   HTTP_TIMEOUT_S=2)
    result = invoke(app, "run")
    assert result.exit_code == 0, result.output
    summary_warnings = run_summary(app)["warnings"]
    assert len(summary_warnings) == 1 and "timetable not used" in summary_warnings[0]
    assert "cannot reach http://127.0.0.1:9/gtfs.zip" in summary_warnings[0]
    assert "warning: timetable not used" in result.output
    dispose(app)


def run_summary(app: Flask) -> dict[str, Any]:
    import sqlalchemy as sa

    from stopsync.extensions import db
    from stopsync.models import PipelineRun

    with app.app_context():
        run = db.session.scalars(sa.select(PipelineRun).order_by(PipelineRun.id.desc())).first()
        assert run is not None
        return dict(run.summary)
