"""`flask pipeline match` (no database) and `flask pipeline run` (publishes) end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from stopsync import create_app
from stopsync.extensions import db
from stopsync.models import MatchRow, PipelineRun
from stopsync.pipeline.runner import run_pipeline

from ..conftest import base_config, dispose, make_app, sample_sources


def _match(tmp_path: Path, real_data: Path, *extra: str, **config: object) -> tuple[object, Path]:
    app = create_app(base_config(tmp_path, DATABASE_URL="sqlite:///" + str(tmp_path / "unused.db"), **config))
    out = tmp_path / "out"
    result = app.test_cli_runner().invoke(args=[
        "pipeline", "match", "--atlas", str(real_data / "atlas_traffic_points_sample.csv"),
        "--osm", str(real_data / "osm_sample.xml"), "--out", str(out), *extra,
    ])
    return result, out


def test_match_writes_its_files_without_a_database(tmp_path: Path, real_data: Path) -> None:
    result, out = _match(tmp_path, real_data, "--border", str(real_data / "switzerland.geojson"))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "matches.csv", "problems.csv", "summary.json", "unmatched_atlas.csv", "unmatched_osm.csv"]
    assert not (tmp_path / "unused.db").exists()  # no database was touched
    with (out / "matches.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {"sloid", "osm_id", "method", "distance_m"} <= set(rows[0])
    pairs = {(r["sloid"], r["osm_id"]) for r in rows}
    # Glarus, Stampf: one ATLAS platform, an OSM stop_position and platform with its uic_ref.
    assert ("ch:1:sloid:80266:0:16213", "node/34674546") in pairs
    assert ("ch:1:sloid:80266:0:16213", "node/1788539962") in pairs
    summary = json.loads((out / "summary.json").read_text())
    assert sum(summary["matching"]["per_method"].values()) == len(rows)
    assert [s["step"] for s in summary["funnel"]][:2] == ["rows", "country_code_85"]
    assert summary["peak_rss_mb"] > 0 and "parse_atlas" in summary["stages"]
    assert "links:" in result.output


def test_match_reports_a_missing_file(tmp_path: Path, real_data: Path) -> None:
    app = create_app(base_config(tmp_path))
    result = app.test_cli_runner().invoke(args=[
        "pipeline", "match", "--atlas", str(tmp_path / "nope.csv"),
        "--osm", str(real_data / "osm_sample.xml"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "--atlas: no such file" in result.output
    assert not (tmp_path / "out").exists()


def test_match_reports_a_malformed_atlas_file(tmp_path: Path, real_data: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("sloid;number\nch:1:sloid:1;8500001\n")
    app = create_app(base_config(tmp_path))
    result = app.test_cli_runner().invoke(args=[
        "pipeline", "match", "--atlas", str(bad), "--osm", str(real_data / "osm_sample.xml"),
        "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "bad.csv" in result.output and "designation" in result.output


def test_example_plugin_strategy_runs_when_configured(tmp_path: Path, real_data: Path) -> None:
    result, out = _match(tmp_path, real_data, MATCHING_STRATEGIES="exact_reference,example_nearest")
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["matching"]["strategies"] == ["exact_reference", "example_nearest"]
    assert summary["matching"]["per_method"].get("example_nearest", 0) >= 1
    with (out / "matches.csv").open() as handle:
        methods = {row["method"] for row in csv.DictReader(handle)}
    assert methods == {"exact_reference", "example_nearest"}


def test_run_publishes_and_notifies_plugins(app: Flask, real_data: Path) -> None:
    import stopsync_example_nearest as example

    example.SEEN.clear()
    app.config.update(sample_sources(real_data))
    summary = run_pipeline(app)
    with app.app_context():
        links = db.session.scalar(sa.select(sa.func.count()).select_from(MatchRow))
        run = db.session.scalars(sa.select(PipelineRun)).one()
    assert links == summary["published"]["matches"] > 0
    assert run.status == "succeeded" and run.trigger == "manual" and run.finished_at
    assert {"acquire", "match", "publish"} <= set(run.phases)
    stages = [name for kind, name in example.SEEN if kind == "stage"]
    assert stages[:2] == ["parse_atlas", "parse_osm"] and "match" in stages
    assert ("published", summary["run_id"]) in example.SEEN


def test_failed_run_keeps_the_published_snapshot(tmp_path: Path, real_data: Path) -> None:
    app = make_app("sqlite", tmp_path, **sample_sources(real_data))
    run_pipeline(app)
    with app.app_context():
        before = db.session.execute(sa.select(MatchRow.sloid, MatchRow.osm_id).order_by(MatchRow.sloid)).all()
    app.config["OSM_SOURCE"] = str(tmp_path / "missing.osm")
    result = app.test_cli_runner().invoke(args=["pipeline", "run"])
    assert result.exit_code == 1
    assert "data source 'osm-file' is unavailable: no such file" in result.output
    with app.app_context():
        after = db.session.execute(sa.select(MatchRow.sloid, MatchRow.osm_id).order_by(MatchRow.sloid)).all()
        runs = db.session.execute(sa.select(PipelineRun.status, PipelineRun.error).order_by(PipelineRun.id)).all()
    assert after == before and len(before) > 0
    assert runs[0].status == "succeeded" and runs[1].status == "failed" and "missing.osm" in runs[1].error
    dispose(app)


def test_unreachable_source_is_named(tmp_path: Path, real_data: Path) -> None:
    sources = dict(sample_sources(real_data), ATLAS_SOURCE="http://127.0.0.1:9/atlas.zip")
    app = make_app("sqlite", tmp_path, **sources, HTTP_TIMEOUT_S=2)
    result = app.test_cli_runner().invoke(args=["pipeline", "run"])
    assert result.exit_code == 1
    assert "data source 'atlas-csv' is unavailable: cannot reach http://127.0.0.1:9/atlas.zip" in result.output
    assert app.test_client().get("/api/v1/stops?bbox=5.9,45.8,10.5,47.9").json["features"] == []
    dispose(app)


@pytest.mark.parametrize("bad", ["overpass_error", "truncated"])
def test_bad_osm_input_fails_the_run_cleanly(tmp_path: Path, real_data: Path, bad: str) -> None:
    osm = tmp_path / "bad.osm"
    if bad == "overpass_error":
        osm.write_text('<?xml version="1.0"?><osm version="0.6"><remark>runtime error: Query timed out'
                       ' in "query" at line 3 after 180 seconds.</remark></osm>')
    else:
        osm.write_text((real_data / "osm_sample.xml").read_text()[:5000])
    app = make_app("sqlite", tmp_path, **sample_sources(real_data))
    app.config["OSM_SOURCE"] = str(osm)
    result = app.test_cli_runner().invoke(args=["pipeline", "run"])
    assert result.exit_code == 1
    assert "bad.osm" in result.output or "Overpass" in result.output
    dispose(app)


def test_match_with_a_bbox_keeps_only_that_box(tmp_path: Path, real_data: Path) -> None:
    result, out = _match(tmp_path, real_data, "--bbox", "5.9,45.8,7.0,47.9")
    assert result.exit_code == 0, result.output
    funnel = {s["step"]: s for s in json.loads((out / "summary.json").read_text())["funnel"]}
    assert funnel["inside_region"]["count"] == 9  # the nine sample stops west of 7.0 E


def test_match_region_none_skips_the_region_step(tmp_path: Path, real_data: Path) -> None:
    result, out = _match(tmp_path, real_data, "--region", "none")
    assert result.exit_code == 0, result.output
    funnel = {s["step"]: s for s in json.loads((out / "summary.json").read_text())["funnel"]}
    assert funnel["inside_region"]["skipped"] is True


@pytest.mark.parametrize(("args", "message"), [
    (("--region", "atlantis"), "unknown region 'atlantis'"),
    (("--bbox", "7,47,6,46"), "is not a valid minLon,minLat,maxLon,maxLat box"),
])
def test_match_rejects_a_bad_region(tmp_path: Path, real_data: Path, args: tuple[str, ...], message: str) -> None:
    result, out = _match(tmp_path, real_data, *args)
    assert result.exit_code == 1 and message in result.output
    assert not out.exists()


def test_run_defaults_to_the_vendored_swiss_border(tmp_path: Path, real_data: Path) -> None:
    sources = {k: v for k, v in sample_sources(real_data).items() if k != "BORDER_SOURCE"}
    app = make_app("sqlite", tmp_path, **sources)
    summary = run_pipeline(app)
    funnel = {s["step"]: s for s in summary["funnel"]}
    assert funnel["inside_region"]["skipped"] is False and funnel["inside_region"]["count"] == 40
    dispose(app)
