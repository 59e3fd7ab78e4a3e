"""Exact reference strategy: each grouping rule on small record sets, then the real sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from stopsync.pipeline.atlas import read_atlas
from stopsync.pipeline.engine import MatchEngine
from stopsync.pipeline.osm import read_osm
from stopsync.pipeline.records import AtlasPlatform, OsmElement
from stopsync.plugins.builtin import exact_reference
from stopsync.plugins.builtin.exact_reference import ExactReferenceStrategy, SharedReferenceStrategy

from .matching_helpers import at


def atlas(sloid: str, number: str, designation: str = "", lat: float = 47.0) -> AtlasPlatform:
    return AtlasPlatform(sloid=sloid, number=number, designation=designation, name="Stop",
                         lat=lat, lon=8.0)


def osm(node: int, kind: str, **tags: str) -> OsmElement:
    return OsmElement(osm_type="node", osm_numeric_id=node, lat=47.0001, lon=8.0,
                      tags={k.replace("_colon_", ":"): v for k, v in tags.items()}, kind=kind)


def pairs(engine: MatchEngine) -> set[tuple[str, str]]:
    return {(link.sloid, link.osm_id) for link in engine.links}


def run(atlas_records: list[AtlasPlatform], osm_records: list[OsmElement]) -> MatchEngine:
    engine = MatchEngine(atlas_records, osm_records)
    ExactReferenceStrategy().run(engine)
    return engine


def test_one_osm_many_atlas_all_link_to_it() -> None:
    engine = run([atlas("a1", "8500001", "1"), atlas("a2", "8500001", "2")],
                 [osm(1, "platform", uic_ref="8500001")])
    assert pairs(engine) == {("a1", "node/1"), ("a2", "node/1")}
    assert {link.score for link in engine.links} == {0.9}
    assert engine.links[0].evidence == {"uic_ref": "8500001", "rule": "one_osm", "group": "2:1",
                                        "designation": "1"}
    assert engine.links[0].method == "exact_reference"


def test_one_atlas_many_osm_links_to_all() -> None:
    engine = run([atlas("a1", "8500001")],
                 [osm(1, "platform", uic_ref="8500001"), osm(2, "stop_position", uic_ref="8500001")])
    assert pairs(engine) == {("a1", "node/1"), ("a1", "node/2")}
    assert {link.evidence["rule"] for link in engine.links} == {"one_atlas"}


def test_one_atlas_prefers_its_own_platform_code() -> None:
    engine = run([atlas("a1", "8500001", "b")],
                 [osm(1, "platform", uic_ref="8500001", local_ref="A"),
                  osm(2, "platform", uic_ref="8500001", local_ref=" B "),
                  osm(3, "stop_position", uic_ref="8500001", local_ref="B"),
                  osm(4, "stop_position", uic_ref="8500001")])
    assert pairs(engine) == {("a1", "node/2"), ("a1", "node/3")}
    assert {link.score for link in engine.links} == {1.0}
    assert engine.links[0].evidence["rule"] == "one_atlas_local_ref"


def test_n_to_m_pairs_by_local_ref_case_insensitive() -> None:
    engine = run(
        [atlas("a1", "8500001", "1"), atlas("a2", "8500001", "2"), atlas("a3", "8500001", "3")],
        [osm(1, "platform", uic_ref="8500001", local_ref="1"),
         osm(2, "stop_position", uic_ref="8500001", local_ref="1"),
         osm(3, "platform", uic_ref="8500001", local_ref="2"),
         osm(4, "platform", uic_ref="8500001")],
    )
    assert pairs(engine) == {("a1", "node/1"), ("a1", "node/2"), ("a2", "node/3")}
    assert engine.links[0].evidence == {"uic_ref": "8500001", "local_ref": "1", "designation": "1",
                                        "rule": "n_to_m_local_ref", "group": "3:4"}
    assert engine.unmatched_atlas() == [2]
    assert engine.unmatched_osm() == [3]


def test_contradicting_platform_codes_never_link() -> None:
    engine = run([atlas("a1", "8500001", "1"), atlas("a2", "8500001", "")],
                 [osm(1, "platform", uic_ref="8500001", local_ref="2")])
    assert pairs(engine) == {("a2", "node/1")}


def test_stations_and_other_kinds_are_not_candidates() -> None:
    engine = run([atlas("a1", "8500001")],
                 [osm(1, "station", uic_ref="8500001"), osm(2, "other", uic_ref="8500001")])
    assert engine.links == []


def test_ref_sloid_alone_is_not_this_strategys_evidence() -> None:
    engine = run([atlas("ch:1:sloid:1:0:1", "8500001")],
                 [osm(1, "platform", ref_colon_sloid="ch:1:sloid:1:0:1")])
    assert engine.links == []


def test_already_linked_records_are_left_alone() -> None:
    atlas_records = [atlas("a1", "8500001", "1"), atlas("a2", "8500001", "2")]
    osm_records = [osm(1, "platform", uic_ref="8500001", local_ref="1"),
                   osm(2, "platform", uic_ref="8500001", local_ref="2")]
    engine = MatchEngine(atlas_records, osm_records)
    engine.link(0, 0, "ref_sloid")  # an earlier strategy took a1 and node/1
    ExactReferenceStrategy().run(engine)
    # The group is a1 (linked, code 1), a2 and node/2 (code 2): one OSM element, and only a2
    # may take it (a1 is linked already and its code contradicts).
    assert [(link.sloid, link.osm_id, link.evidence["rule"]) for link in engine.links[1:]] == [
        ("a2", "node/2", "one_osm"),
    ]


def test_hook_registers_the_strategy() -> None:
    assert exact_reference.stopsync_register_matching_strategies() == [ExactReferenceStrategy,
                                                                       SharedReferenceStrategy]
    assert ExactReferenceStrategy.name == "exact_reference"
    assert (SharedReferenceStrategy.name, SharedReferenceStrategy.order) == ("shared_reference", 900)


def placed(sloid: str, north_m: float, **kwargs: str) -> AtlasPlatform:
    lat, lon = at(north_m)
    return AtlasPlatform(sloid=sloid, number=kwargs.get("number", "8500001"), designation=kwargs.get("designation", ""),
                         name="Stop", lat=lat, lon=lon)


def element(node: int, north_m: float, kind: str = "platform", **tags: str) -> OsmElement:
    lat, lon = at(north_m)
    return OsmElement(osm_type="node", osm_numeric_id=node, lat=lat, lon=lon, tags=tags, kind=kind)


def run_both(atlas_records: list[AtlasPlatform], osm_records: list[OsmElement]) -> MatchEngine:
    engine = MatchEngine(atlas_records, osm_records)
    ExactReferenceStrategy().run(engine)
    SharedReferenceStrategy().run(engine)
    return engine


@pytest.mark.parametrize(("far", "linked"), [(12.4, True), (12.6, False)])
def test_one_osm_skips_platforms_beyond_one_and_a_half_times_the_nearest_plus_5_m(far: float, linked: bool) -> None:
    # The element lies 5 m from a1: a2 may share it up to 1.5 x 5 + 5 = 12.5 m away.
    engine = run_both([placed("a1", 0), placed("a2", 5 + far)], [element(1, 5, uic_ref="8500001")])
    assert (("a2", "node/1") in pairs(engine)) is linked
    assert ("a1", "node/1") in pairs(engine)


def test_one_osm_skips_a_further_platform_with_a_nearer_element_of_its_own() -> None:
    # a2 is 10 m from the uic_ref element (within 1.5 x 4 + 5 = 11 m, beyond 1.5 x 4 + 2 = 8 m) and
    # an element without uic_ref lies nearer to it: that one is probably its own.
    records = [element(1, 4, uic_ref="8500001"), element(2, 16)]
    assert pairs(run_both([placed("a1", 0), placed("a2", 14)], records)) == {("a1", "node/1")}
    assert pairs(run_both([placed("a1", 0), placed("a2", 14)], records[:1])) == {
        ("a1", "node/1"), ("a2", "node/1")}


def test_one_osm_links_the_nearest_now_and_the_others_only_if_still_unmatched() -> None:
    engine = MatchEngine([placed("a1", 0), placed("a2", 10)], [element(1, 4, uic_ref="8500001")])
    ExactReferenceStrategy().run(engine)
    assert pairs(engine) == {("a1", "node/1")}
    SharedReferenceStrategy().run(engine)
    assert pairs(engine) == {("a1", "node/1"), ("a2", "node/1")}
    shared = next(link for link in engine.links if link.sloid == "a2")
    assert (shared.method, shared.evidence["rule"], shared.score) == ("shared_reference", "one_osm_shared", 0.75)

    # Another stage linked a2 in between: the shared element is not added.
    engine = MatchEngine([placed("a1", 0), placed("a2", 10)],
                         [element(1, 4, uic_ref="8500001"), element(2, 11)])
    ExactReferenceStrategy().run(engine)
    engine.link(1, 1, "single_candidate", exclusive=True)
    SharedReferenceStrategy().run(engine)
    assert pairs(engine) == {("a1", "node/1"), ("a2", "node/2")}


def test_real_sample_epalinges_pairs_by_platform_code(atlas_sample: Path, osm_sample: Path) -> None:
    # Epalinges, Croisettes (8579239): one ATLAS platform "D" and, in OSM, platforms and
    # stop_positions A-F plus two unlettered metro stop_positions. Only the "D" ones link.
    engine = MatchEngine(read_atlas(atlas_sample).records, read_osm(osm_sample).records)
    ExactReferenceStrategy().run(engine)
    epalinges = {link.osm_id for link in engine.links if link.sloid == "ch:1:sloid:79239:0:510"}
    assert epalinges == {"node/3220361523", "node/12130887789"}
