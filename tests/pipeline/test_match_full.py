"""Every built-in strategy, in the default order, on the real samples.

Checked by hand in atlas_traffic_points_sample.csv and osm_sample.xml:
- Bex, Vasselin (8510409, ch:1:sloid:10409:0:1001, platform C): OSM node 11552206970
  (highway=bus_stop, name "Bex Vasselin", no uic_ref, no local_ref) lies 5.8 m away; the next
  OSM element is 9.8 km away. The names agree after normalisation ("bex vasselin"), so exact
  name (order 300) links it before any distance stage; it is also within every distance gate.
- Epalinges, Croisettes D (ch:1:sloid:79239:0:510): platform node 3220361523 carries
  ref:sloid=ch:1:sloid:79239:0:510; its stop_position 12130887789 (local_ref D) follows through
  exact reference. The other five ref:sloid values name platforms not in the ATLAS sample.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from stopsync.errors import ConfigurationError
from stopsync.pipeline.match import MatchResult, run_match
from stopsync.pipeline.output import write_outputs
from stopsync.plugins.builtin.sources import AtlasCsvSource, OsmFileSource
from stopsync.plugins.manager import build_plugins

from .test_match_slice import STATION_NODES


def run_all(atlas_sample: Path, osm_sample: Path, profile: dict[str, Any] | None = None,
            context: dict[str, Any] | None = None) -> MatchResult:
    strategies = build_plugins({"SAFE_MODE": True}).strategies_for(None, profile or {})
    return run_match(atlas_sample, osm_sample, atlas_source=AtlasCsvSource({"TODAY": "2026-11-26"}),
                     osm_source=OsmFileSource(), strategies=strategies, profile=profile, context=context)


@pytest.fixture(scope="module")
def full_result(atlas_sample: Path, osm_sample: Path) -> MatchResult:
    return run_all(atlas_sample, osm_sample)


def linked(result: MatchResult, sloid: str) -> dict[str, str]:
    return {link.osm_id: link.method for link in result.links if link.sloid == sloid}


def test_hand_verified_reference_pairs_hold(full_result: MatchResult) -> None:
    assert set(linked(full_result, "ch:1:sloid:80266:0:16213")) == {
        "node/34674546", "node/1788539962", "node/1788539907", "node/984732544"}
    assert set(linked(full_result, "ch:1:sloid:1405:2:2")) == {"node/11491437685", "node/11491437686"}
    assert set(linked(full_result, "ch:1:sloid:2274:0:203356")) == {"node/310844900"}
    assert set(linked(full_result, "ch:1:sloid:5650::01")) == {"node/3659211870"}
    assert set(linked(full_result, "ch:1:sloid:74708:0:514351")) == {"node/984712674"}
    assert set(linked(full_result, "ch:1:sloid:90864::50")) == {"node/1618233484"}
    assert set(linked(full_result, "ch:1:sloid:79686:0:882410")) == {"node/615320931", "node/984750049"}


def test_epalinges_links_by_ref_sloid_then_its_own_stop_position(full_result: MatchResult) -> None:
    assert linked(full_result, "ch:1:sloid:79239:0:510") == {
        "node/3220361523": "ref_sloid", "node/12130887789": "exact_reference"}


def test_bex_vasselin_links_by_exact_name(full_result: MatchResult) -> None:
    link = next(link for link in full_result.links if link.sloid == "ch:1:sloid:10409:0:1001")
    assert (link.osm_id, link.method) == ("node/11552206970", "exact_name")
    assert link.distance_m == pytest.approx(5.8, abs=0.05)
    assert link.evidence["name"] == "Bex Vasselin" and link.evidence["variant"] == "full"


def test_stations_stay_unmatched(full_result: MatchResult) -> None:
    assert not STATION_NODES & {link.osm_id for link in full_result.links}


def test_summary(full_result: MatchResult) -> None:
    matching = full_result.summary["matching"]
    assert matching["per_method"] == {"exact_name": 1, "exact_reference": 97, "ref_sloid": 1}
    assert (matching["atlas_matched"], matching["match_rate"], matching["osm_matched"]) == (40, 1.0, 99)
    assert matching["unmatched_reasons"] == dict.fromkeys(
        ("no_osm_within_50m", "no_candidate", "contradicting_platform_code", "ambiguous"), 0)
    route = next(s for s in matching["per_strategy"] if s["name"] == "route_evidence")
    assert route["stats"]["skipped"] == "no route tokens in the run context"
    json.dumps(full_result.summary)


def test_context_reaches_the_strategies(atlas_sample: Path, osm_sample: Path, tmp_path: Path) -> None:
    # A manual link wins over the name stage; a link to a station is refused and counted.
    result = run_all(atlas_sample, osm_sample, context={"manual_links": [
        {"sloid": "ch:1:sloid:10409:0:1001", "osm_id": "node/11552206970"},
        {"sloid": "ch:1:sloid:2274:0:203356", "osm_id": "node/3329987894"},
    ]})
    assert linked(result, "ch:1:sloid:10409:0:1001") == {"node/11552206970": "manual_links"}
    manual = next(s for s in result.summary["matching"]["per_strategy"] if s["name"] == "manual_links")
    assert manual["stats"]["refused"] == 1
    paths = write_outputs(result, tmp_path)
    with paths["matches"].open(encoding="utf-8", newline="") as handle:
        rows = {(r["sloid"], r["osm_id"]): r for r in csv.DictReader(handle)}
    assert json.loads(rows[("ch:1:sloid:10409:0:1001", "node/11552206970")]["evidence"]) == {"manual": True}


def test_unknown_profile_key_fails_before_parsing(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown key"):
        run_all(tmp_path / "missing.csv", tmp_path / "missing.osm", profile={"RATIO": 4})


def test_tighter_profile_changes_the_outcome(atlas_sample: Path, osm_sample: Path) -> None:
    # Exact name within 5 m: Bex (5.8 m) is left to the distance stages. Group proximity has
    # no group for it (no uic_ref or uic_name; OSM name "Bex Vasselin" is not the stop part
    # "Vasselin"), so the single candidate within 50 m takes it.
    result = run_all(atlas_sample, osm_sample, profile={"EXACT_NAME_MAX_M": 5.0})
    assert linked(result, "ch:1:sloid:10409:0:1001") == {"node/11552206970": "single_candidate"}
