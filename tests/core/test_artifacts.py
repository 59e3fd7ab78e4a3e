"""The derived-artifact cache, alone and as the runner uses it for parsed ATLAS/OSM records."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from stopsync.extensions import db
from stopsync.models import PipelineRun
from stopsync.pipeline.acquire import sha256_file
from stopsync.pipeline.artifacts import ArtifactCache, ArtifactRecord
from stopsync.pipeline.runner import CachedRead, run_pipeline
from stopsync.plugins.base import DataSource, SourceResult

from ..conftest import dispose, make_app, sample_sources


def writer(text: str, calls: list[str]) -> object:
    def build(target: Path) -> None:
        calls.append(text)
        target.write_text(text)

    return build


def test_every_decision(tmp_path: Path) -> None:
    cache, calls = ArtifactCache(tmp_path / "artifacts"), []
    inputs = {"source:atlas": "aaa", "config:TODAY": "2025-01-01"}
    first = cache.get_or_build("atlas.txt", inputs, writer("one", calls))  # type: ignore[arg-type]
    assert first.decision == "missing" and first.sha256 == sha256_file(first.path) and calls == ["one"]
    hit = cache.get_or_build("atlas.txt", inputs, writer("two", calls))  # type: ignore[arg-type]
    assert hit.decision == "hit" and calls == ["one"] and hit.sha256 == first.sha256
    config = cache.get_or_build("atlas.txt", {**inputs, "config:TODAY": "2025-01-02"},
                                writer("two", calls))  # type: ignore[arg-type]
    assert config.decision == "inputs_changed" and config.changed_inputs == ["config:TODAY"]
    assert config.path.read_text() == "two"
    source = cache.get_or_build("atlas.txt", {"source:atlas": "bbb", "config:TODAY": "2025-01-02"},
                                writer("three", calls))  # type: ignore[arg-type]
    assert source.decision == "source_changed" and "source:atlas" in source.reason
    forced = cache.get_or_build("atlas.txt", {"source:atlas": "bbb", "config:TODAY": "2025-01-02"},
                                writer("four", calls), force=True)  # type: ignore[arg-type]
    assert forced.decision == "forced" and calls == ["one", "two", "three", "four"]
    meta = json.loads((tmp_path / "artifacts" / "atlas.txt.meta.json").read_text())
    assert meta["sha256"] == forced.sha256 and meta["decision"] == "forced"
    assert meta["inputs"] == {"source:atlas": "bbb", "config:TODAY": "2025-01-02"}


def test_a_new_input_counts_as_changed(tmp_path: Path) -> None:
    cache, calls = ArtifactCache(tmp_path), []
    cache.get_or_build("x", {"parser": "1"}, writer("a", calls))  # type: ignore[arg-type]
    again = cache.get_or_build("x", {"parser": "1", "config:region": "ch"}, writer("b", calls))  # type: ignore[arg-type]
    assert again.decision == "inputs_changed" and again.changed_inputs == ["config:region"]


@pytest.mark.parametrize("damage", ["deleted", "tampered", "meta_unreadable"])
def test_damaged_artifact_is_rebuilt(tmp_path: Path, damage: str) -> None:
    cache, calls = ArtifactCache(tmp_path), []
    built = cache.get_or_build("x", {"parser": "1"}, writer("good", calls))  # type: ignore[arg-type]
    if damage == "deleted":
        built.path.unlink()
    elif damage == "tampered":
        built.path.write_text("evil")
    else:
        cache.meta_path("x").write_text("{")
    again = cache.get_or_build("x", {"parser": "1"}, writer("good", calls))  # type: ignore[arg-type]
    assert again.decision == "missing" and len(calls) == 2 and again.path.read_text() == "good"


def test_failed_build_keeps_the_previous_artifact(tmp_path: Path) -> None:
    cache, calls = ArtifactCache(tmp_path), []
    good = cache.get_or_build("x", {"source:a": "1"}, writer("good", calls))  # type: ignore[arg-type]

    def broken(target: Path) -> None:
        target.write_text("half")
        raise RuntimeError("parser crashed")

    with pytest.raises(RuntimeError, match="parser crashed"):
        cache.get_or_build("x", {"source:a": "2"}, broken)
    assert good.path.read_text() == "good" and not list(tmp_path.glob("*.part"))
    assert cache.get_or_build("x", {"source:a": "1"}, broken).decision == "hit"


def test_build_must_leave_a_file(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path)
    with pytest.raises(FileNotFoundError, match="left no file"):
        cache.get_or_build("x", {}, lambda target: target.unlink())
    assert cache.stored("x") is None


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "x" * 200])
def test_bad_artifact_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="artifact name"):
        ArtifactCache(tmp_path).get_or_build(name, {}, lambda target: target.write_text("x"))


# --- in the runner ----------------------------------------------------------------------------


def _decisions(summary: dict[str, object]) -> dict[str, str]:
    artifacts = summary["artifacts"]
    assert isinstance(artifacts, dict)
    return {name: record["decision"] for name, record in artifacts.items()}


def _links(summary: dict[str, object]) -> tuple[object, ...]:
    matching = summary["matching"]
    assert isinstance(matching, dict)
    return tuple(matching[key] for key in ("links", "per_method", "atlas_platforms", "atlas_matched"))


def test_runner_reuses_parsed_records(tmp_path: Path, real_data: Path) -> None:
    osm = tmp_path / "osm.xml"
    shutil.copy(real_data / "osm_sample.xml", osm)
    app = make_app("sqlite", tmp_path, **dict(sample_sources(real_data), OSM_SOURCE=str(osm)))
    first = run_pipeline(app)
    assert _decisions(first) == {"atlas-records.pickle": "missing", "osm-records.pickle": "missing"}
    assert {kind: item["decision"] for kind, item in first["sources"].items()} == {
        "border": "missing", "atlas": "missing", "osm": "missing"}

    second = run_pipeline(app)
    assert _decisions(second) == {"atlas-records.pickle": "hit", "osm-records.pickle": "hit"}
    assert _links(second) == _links(first) and second["funnel"] == first["funnel"]
    assert second["sources"]["atlas"]["decision"] == "hit"

    app.config["TODAY"] = date(2030, 1, 1)
    dated = run_pipeline(app)
    assert _decisions(dated) == {"atlas-records.pickle": "inputs_changed", "osm-records.pickle": "hit"}
    assert dated["artifacts"]["atlas-records.pickle"]["changed_inputs"] == ["config:TODAY"]

    osm.write_text(osm.read_text().replace("</osm>", "<!-- edited --></osm>"))
    edited = run_pipeline(app)
    assert _decisions(edited) == {"atlas-records.pickle": "hit", "osm-records.pickle": "source_changed"}
    assert edited["sources"]["osm"]["decision"] == "source_changed"

    forced = run_pipeline(app, force=True)
    assert _decisions(forced) == {"atlas-records.pickle": "forced", "osm-records.pickle": "forced"}
    assert {item["decision"] for item in forced["sources"].values()} == {"forced"}

    with app.app_context():
        runs = db.session.scalars(sa.select(PipelineRun).order_by(PipelineRun.id)).all()
    assert runs[1].phases["artifacts"] == {"atlas-records.pickle": "hit", "osm-records.pickle": "hit"}
    assert runs[1].phases["sources"] == {"border": "hit", "atlas": "hit", "osm": "hit"}
    assert runs[3].summary["artifacts"]["osm-records.pickle"]["decision"] == "source_changed"
    dispose(app)


def test_a_changed_border_reparses_atlas(tmp_path: Path, real_data: Path) -> None:
    border = tmp_path / "border.geojson"
    shutil.copy(real_data / "switzerland.geojson", border)
    app = make_app("sqlite", tmp_path, **dict(sample_sources(real_data), BORDER_SOURCE=str(border)))
    run_pipeline(app)
    shutil.copy(real_data / "switzerland_with_liechtenstein.geojson", border)
    summary = run_pipeline(app)
    assert _decisions(summary) == {"atlas-records.pickle": "source_changed", "osm-records.pickle": "hit"}
    assert summary["artifacts"]["atlas-records.pickle"]["changed_inputs"] == ["source:border"]
    dispose(app)


def test_unreadable_cached_records_are_parsed_again(tmp_path: Path, real_data: Path) -> None:
    app = make_app("sqlite", tmp_path, **sample_sources(real_data))
    first = run_pipeline(app)
    cache = ArtifactCache(Path(app.config["DATA_DIR"]) / "artifacts")
    artifact = cache.path_for("osm-records.pickle")
    artifact.write_bytes(b"not a pickle")
    meta = json.loads(cache.meta_path("osm-records.pickle").read_text())
    meta.update(sha256=sha256_file(artifact), size=artifact.stat().st_size)  # consistent, yet unreadable
    cache.meta_path("osm-records.pickle").write_text(json.dumps(meta))
    again = run_pipeline(app)
    assert _decisions(again)["osm-records.pickle"] == "missing"
    assert _links(again) == _links(first)
    assert artifact.read_bytes()[:1] == b"\x80"  # a pickle again
    dispose(app)


class _Unpicklable(DataSource):
    name = "unpicklable"
    kind = "osm"

    def read(self, path: Path) -> SourceResult:
        return SourceResult(records=[lambda: path])  # a lambda cannot be pickled


def test_records_that_cannot_be_pickled_are_still_returned(tmp_path: Path) -> None:
    records: dict[str, ArtifactRecord] = {}
    reader = CachedRead(_Unpicklable(), ArtifactCache(tmp_path), "x.pickle", {"source:osm": "1"},
                        force=False, records=records)
    result = reader.read(tmp_path / "input.osm")
    assert callable(result.records[0]) and records == {}
    assert not list(tmp_path.glob("x.pickle*"))


def test_parser_errors_are_not_swallowed(tmp_path: Path) -> None:
    class Broken(_Unpicklable):
        def read(self, path: Path) -> SourceResult:
            raise TypeError("parser bug")

    reader = CachedRead(Broken(), ArtifactCache(tmp_path), "x.pickle", {}, force=False, records={})
    with pytest.raises(TypeError, match="parser bug"):
        reader.read(tmp_path / "input.osm")
