"""The engine's cardinality rules, propagation, spatial queries and unmatched reasons."""

from __future__ import annotations

import pytest

from stopsync.pipeline.engine import UnmatchedReason

from .matching_helpers import atlas, engine_for, osm, pairs


def test_candidates_within_is_sorted_and_inclusive() -> None:
    engine = engine_for([atlas("a1")], [osm(1, 50.1), osm(2, 49.9), osm(3, -20), osm(4, 50.0)])
    found = engine.candidates_within(0, 50.0)
    assert [engine.osm[j].osm_id for j, _ in found] == ["node/3", "node/2", "node/4"]
    assert [d for _, d in found] == pytest.approx([20.0, 49.9, 50.0], abs=1e-6)


def test_sibling_propagation_carries_the_stop_position() -> None:
    engine = engine_for([atlas("a1")], [osm(1, 0), osm(2, 4, kind="stop_position")])
    link = engine.link(0, 0, "test", score=0.5, evidence={"why": "x"})
    assert link is not None and link.osm_id == "node/1"
    assert pairs(engine) == {("a1", "node/1"), ("a1", "node/2")}
    carried = engine.links[1]
    assert carried.method == "test" and carried.score == 0.5
    assert carried.evidence == {"why": "x", "propagated_from": {"sloid": "a1", "osm_id": "node/1"},
                                "propagation": "unit_sibling"}
    # Linking the stop_position of a pair carries the platform just the same.
    engine = engine_for([atlas("a1")], [osm(1, 0), osm(2, 4, kind="stop_position")])
    engine.link(0, 1, "test")
    assert pairs(engine) == {("a1", "node/1"), ("a1", "node/2")}


def test_trio_side_carries_only_the_middle() -> None:
    engine = engine_for([atlas("a1", number="8500009"), atlas("a2", number="8500009")],
                        [osm(1, 8, uic_ref="8500009"), osm(2, 0, kind="stop_position", uic_ref="8500009"),
                         osm(3, -8, uic_ref="8500009")])
    engine.link(0, 0, "test", exclusive=True)
    engine.link(1, 2, "test", exclusive=True)
    assert pairs(engine) == {("a1", "node/1"), ("a1", "node/2"), ("a2", "node/3"), ("a2", "node/2")}


def test_atlas_duplicates_receive_the_same_links() -> None:
    engine = engine_for([atlas("a1", designation="A"), atlas("a2", 100, designation="a"),
                         atlas("a3", designation="B"), atlas("a4"), atlas("a5")],
                        [osm(1, 0)])
    engine.link(0, 0, "test")
    assert pairs(engine) == {("a1", "node/1"), ("a2", "node/1")}
    assert engine.links[1].evidence["propagation"] == "atlas_duplicate"
    assert engine.pending_atlas().tolist() == [2, 3, 4]
    # An empty platform code is no identity: a4 and a5 are not duplicates of each other.
    engine.link(3, 0, "test")
    assert ("a5", "node/1") not in pairs(engine)


def test_exclusive_links_use_a_representative_once() -> None:
    engine = engine_for([atlas("a1"), atlas("a2", 5)], [osm(1, 0), osm(2, 40), osm(3, 2, kind="stop_position")])
    assert engine.link(0, 0, "distance", exclusive=True) is not None
    assert engine.link(1, 0, "distance", exclusive=True) is None  # node/1 is taken
    assert engine.link(0, 1, "distance", exclusive=True) is None  # a1 is taken
    assert engine.link(1, 2, "distance", exclusive=True) is None  # node/3 went with node/1 (its pair)
    assert engine.refused == {"osm_taken": 2, "atlas_taken": 1}
    assert engine.link(1, 1, "distance", exclusive=True) is not None
    # Not exclusive (reference stages): one OSM element may serve two platforms.
    assert engine.link(1, 0, "reference") is not None
    assert engine.candidates_within(0, 100) == []


def test_stations_are_never_linked() -> None:
    engine = engine_for([atlas("a1")], [osm(1, 0, kind="station")])
    assert engine.link(0, 0, "manual") is None
    assert engine.refused == {"station": 1} and engine.links == []


def test_score_outside_unit_interval_is_an_error() -> None:
    engine = engine_for([atlas("a1")], [osm(1, 0)])
    with pytest.raises(ValueError, match="score must lie in"):
        engine.link(0, 0, "x", score=1.5)


def test_same_pair_twice_is_one_link() -> None:
    engine = engine_for([atlas("a1")], [osm(1, 0)])
    assert engine.link(0, 0, "x") is not None
    assert engine.link(0, 0, "y") is None
    assert engine.counts_per_method() == {"x": 1}


def test_tree_stays_correct_after_many_links() -> None:
    atlas_records = [atlas(f"a{k}", 1000 * k) for k in range(30)]
    osm_records = [osm(k, 1000 * k + 3) for k in range(30)]
    engine = engine_for(atlas_records, osm_records)
    for k in range(0, 30, 2):
        engine.link(k, k, "x", exclusive=True)
    for k in range(30):
        expected = [] if k % 2 == 0 else [k]
        assert [j for j, _ in engine.candidates_within(k, 10)] == expected
    nearest, first, second = engine.nearest_two(engine.pending_atlas(), 5000)
    assert nearest.tolist() == list(range(1, 30, 2))
    assert first == pytest.approx([3.0] * 15, abs=1e-6)
    assert all(s > 1000 for s in second)


def test_unmatched_reasons() -> None:
    engine = engine_for(
        [atlas("far", 0), atlas("taken", 1000), atlas("clash", 2000, designation="1"),
         atlas("two", 3000), atlas("done", 1000.5)],
        [osm(1, 60), osm(2, 1001), osm(3, 2005, local_ref="2"), osm(4, 3004), osm(5, 2996)],
    )
    engine.link(4, 1, "x", exclusive=True)
    reasons = {engine.atlas[i].sloid: r for i, r in engine.unmatched_reasons().items()}
    assert reasons == {
        "far": UnmatchedReason("no_osm_within_50m"),
        "taken": UnmatchedReason("no_candidate"),
        "clash": UnmatchedReason("contradicting_platform_code", ("node/3",)),
        "two": UnmatchedReason("ambiguous", ("node/4", "node/5")),
    }
