"""The database-free slice on the real samples: sources -> match -> summary -> output files.

Expected pairs were checked by hand in atlas_traffic_points_sample.csv and osm_sample.xml:
same 7-digit number / uic_ref, and for Epalinges the platform code D = local_ref D.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from stopsync.errors import InputError
from stopsync.pipeline.match import MatchResult, run_match
from stopsync.pipeline.output import write_outputs
from stopsync.pipeline.region import Region, load_region, region_from_bbox
from stopsync.plugins.builtin import sources
from stopsync.plugins.builtin.exact_reference import ExactReferenceStrategy
from stopsync.plugins.builtin.sources import AtlasCsvSource, BorderFileSource, OsmFileSource

# The four public_transport=station nodes plus Vernayaz' bare railway=halt.
STATION_NODES = {"node/3329987894", "node/1825303888", "node/3339882668", "node/3219060209",
                 "node/2888950257"}


def run_sample(atlas_path: Path, osm_path: Path, region: Region | None,
               stages: list[tuple[str, dict[str, Any]]] | None = None) -> MatchResult:
    def on_stage(name: str, stats: dict[str, Any]) -> None:
        if stages is not None:
            stages.append((name, stats))

    return run_match(
        atlas_path, osm_path,
        atlas_source=AtlasCsvSource({"TODAY": "2026-11-26"}),
        osm_source=OsmFileSource(),
        strategies=[ExactReferenceStrategy()],
        region=region,
        on_stage=on_stage,
    )


@pytest.fixture(scope="module")
def sample_result(atlas_sample: Path, osm_sample: Path, swiss_border: Path) -> MatchResult:
    return run_sample(atlas_sample, osm_sample, load_region(swiss_border))


def linked(result: MatchResult, sloid: str) -> set[str]:
    return {link.osm_id for link in result.links if link.sloid == sloid}


def test_hand_verified_pairs(sample_result: MatchResult) -> None:
    # Glarus, Stampf 8580266: two platforms and two stop_positions carry uic_ref 8580266.
    assert linked(sample_result, "ch:1:sloid:80266:0:16213") == {
        "node/34674546", "node/1788539962", "node/1788539907", "node/984732544",
    }
    stampf = next(link for link in sample_result.links if link.osm_id == "node/34674546")
    assert stampf.distance_m == pytest.approx(3.2, abs=0.1)  # 3.15 m north, 0.57 m east
    assert stampf.score == 0.9
    # Epalinges, Croisettes 8579239, platform D: only the elements with local_ref D.
    assert linked(sample_result, "ch:1:sloid:79239:0:510") == {"node/3220361523",
                                                               "node/12130887789"}
    # Vernayaz 8501405: the two stop_positions, not the railway=halt node.
    assert linked(sample_result, "ch:1:sloid:1405:2:2") == {"node/11491437685",
                                                            "node/11491437686"}
    # Zufikon 8502274: the stop_position; the other node is the station.
    assert linked(sample_result, "ch:1:sloid:2274:0:203356") == {"node/310844900"}
    # Bissone (lago) 8505650: the ferry terminal's stop_position.
    assert linked(sample_result, "ch:1:sloid:5650::01") == {"node/3659211870"}
    # Untervaz, Giesacker 8574708 and Wädenswil, Meierhof-Rain 8590864: one node each.
    assert linked(sample_result, "ch:1:sloid:74708:0:514351") == {"node/984712674"}
    assert linked(sample_result, "ch:1:sloid:90864::50") == {"node/1618233484"}
    # Dietfurt, Bahnhof 8579686 (bus): its own two nodes, not the railway stop 8506202.
    assert linked(sample_result, "ch:1:sloid:79686:0:882410") == {"node/615320931",
                                                                  "node/984750049"}


def test_stations_are_never_linked(sample_result: MatchResult) -> None:
    stations = {e.osm_id for e in sample_result.osm if e.kind == "station"}
    assert stations == STATION_NODES
    assert not stations & {link.osm_id for link in sample_result.links}


def test_bex_vasselin_stays_unmatched(sample_result: MatchResult) -> None:
    # Its OSM node 11552206970 has no uic_ref, so exact reference cannot see it.
    assert linked(sample_result, "ch:1:sloid:10409:0:1001") == set()
    assert "node/11552206970" not in {link.osm_id for link in sample_result.links}


def test_summary_counts(sample_result: MatchResult) -> None:
    summary = sample_result.summary
    assert [step["count"] for step in summary["funnel"]] == [40, 40, 40, 40, 40]
    assert summary["inputs"]["atlas_rows"] == 40
    assert summary["inputs"]["atlas_bad_rows"] == 0
    assert summary["inputs"]["osm_elements"] == 125
    assert summary["inputs"]["osm_per_kind"] == {"platform": 54, "station": 5, "stop_position": 66}
    matching = summary["matching"]
    # 93 = the sum over the 39 shared numbers of their eligible OSM elements (tallied by hand;
    # Epalinges counts 2 of its 14), plus 5 since stop units: stop_positions without uic_ref
    # that pair with a linked platform (Chemin Vert 2, Rigaud 2) and Petite-Grave's untagged
    # platform paired with its stop_position. (Changed on purpose with sibling propagation.)
    assert {k: matching[k] for k in (
        "strategies", "links", "per_method", "atlas_platforms", "atlas_matched", "atlas_unmatched",
        "match_rate", "osm_elements_eligible", "osm_stations_excluded", "osm_matched",
        "osm_unmatched")} == {
        "strategies": ["exact_reference"], "links": 98, "per_method": {"exact_reference": 98},
        "atlas_platforms": 40, "atlas_matched": 39, "atlas_unmatched": 1, "match_rate": 0.975,
        "osm_elements_eligible": 120, "osm_stations_excluded": 5, "osm_matched": 98,
        "osm_unmatched": 22,
    }
    # Bex, Vasselin: one free, compatible element 5.8 m away that exact reference cannot decide.
    assert matching["unmatched_reasons"] == {"no_osm_within_50m": 0, "no_candidate": 0,
                                             "contradicting_platform_code": 0, "ambiguous": 1}
    assert matching["stop_units"] == {"single": 74, "pair": 23, "trio": 0}
    assert set(summary["stages"]) == {"parse_atlas", "parse_osm", "match", "problems", "summary"}
    assert summary["duration_s"] >= 0
    assert summary["peak_rss_mb"] > 10
    json.dumps(summary)  # must be JSON-serialisable as it is


def test_stages_are_reported_in_order(atlas_sample: Path, osm_sample: Path) -> None:
    stages: list[tuple[str, dict[str, Any]]] = []
    run_sample(atlas_sample, osm_sample, None, stages)
    assert [name for name, _ in stages] == ["parse_atlas", "parse_osm", "match", "problems", "summary"]
    assert all("duration_s" in stats for _, stats in stages)
    assert stages[0][1]["funnel"][2] == {"step": "inside_region", "count": 40, "skipped": True}
    assert stages[2][1]["strategies"][0]["name"] == "exact_reference"
    assert stages[2][1]["strategies"][0]["links"] == 98


def test_region_reaches_the_atlas_source(atlas_sample: Path, osm_sample: Path) -> None:
    result = run_sample(atlas_sample, osm_sample, region_from_bbox(5.9, 45.8, 7.0, 47.9))
    assert result.summary["matching"]["atlas_platforms"] == 9
    assert {p.number for p in result.atlas} >= {"8579239", "8504957"}


def test_write_outputs(sample_result: MatchResult, tmp_path: Path) -> None:
    paths = write_outputs(sample_result, tmp_path / "out")
    assert set(paths) == {"matches", "unmatched_atlas", "unmatched_osm", "problems", "summary"}
    with paths["matches"].open(encoding="utf-8", newline="") as handle:
        matches = list(csv.DictReader(handle))
    assert len(matches) == 98
    assert list(matches[0]) == ["sloid", "osm_id", "method", "distance_m", "score", "evidence"]
    keys = [(row["sloid"], row["osm_id"]) for row in matches]
    assert keys == sorted(keys)
    d_platform = next(row for row in matches if row["osm_id"] == "node/3220361523")
    assert json.loads(d_platform["evidence"])["local_ref"] == "D"
    assert d_platform["score"] == "1.0"
    with paths["unmatched_atlas"].open(encoding="utf-8", newline="") as handle:
        unmatched_atlas = list(csv.DictReader(handle))
    # The reason now comes from the engine (was the fixed "no_exact_reference").
    assert [(r["sloid"], r["name"], r["reason"], r["candidates"]) for r in unmatched_atlas] == [
        ("ch:1:sloid:10409:0:1001", "Bex, Vasselin", "ambiguous", "node/11552206970"),
    ]
    with paths["unmatched_osm"].open(encoding="utf-8", newline="") as handle:
        unmatched_osm = list(csv.DictReader(handle))
    assert len(unmatched_osm) == 22
    assert not {r["osm_id"] for r in unmatched_osm} & STATION_NODES
    assert "node/11552206970" in {r["osm_id"] for r in unmatched_osm}
    assert json.loads(paths["summary"].read_text(encoding="utf-8")) == sample_result.summary
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "matches.csv", "problems.csv", "summary.json", "unmatched_atlas.csv", "unmatched_osm.csv",
    ]  # no temporary files left behind
    with paths["problems"].open(encoding="utf-8", newline="") as handle:
        problems = list(csv.DictReader(handle))
    assert len(problems) == sample_result.summary["problems"]["total"]
    assert {"key", "type", "priority", "sloid", "osm_id", "side", "evidence"} <= set(problems[0])
    # Bex, Vasselin: no OSM element carries its UIC (its node has no uic_ref): a P1 unmatched problem.
    assert ("unmatched_atlas", "1", "ch:1:sloid:10409:0:1001") in {
        (p["type"], p["priority"], p["sloid"]) for p in problems}


def test_failed_write_keeps_the_previous_file(sample_result: MatchResult, tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_outputs(sample_result, out)
    before = (out / "summary.json").read_text(encoding="utf-8")
    broken = MatchResult(atlas=sample_result.atlas, osm=sample_result.osm,
                         links=sample_result.links, summary={"bad": object()})
    with pytest.raises(TypeError):
        write_outputs(broken, out)
    assert (out / "summary.json").read_text(encoding="utf-8") == before
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_source_plugins(swiss_border: Path, atlas_sample: Path) -> None:
    assert sources.stopsync_register_data_sources() == [AtlasCsvSource, OsmFileSource,
                                                         BorderFileSource]
    assert (AtlasCsvSource.kind, OsmFileSource.kind, BorderFileSource.kind) == ("atlas", "osm",
                                                                                "border")
    border = BorderFileSource().read(swiss_border)
    assert isinstance(border.records, Region)
    assert border.records.contains(46.948, 7.447)
    atlas = AtlasCsvSource({"REGION": border.records, "TODAY": date(2026, 11, 26)}).read(
        atlas_sample)
    assert atlas.stats["funnel"][2]["skipped"] is False
    with pytest.raises(InputError, match="TODAY must be an ISO date"):
        AtlasCsvSource({"TODAY": "26.11.2026"}).read(atlas_sample)
