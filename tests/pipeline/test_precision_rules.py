"""The rules that keep distance and tags from linking what they cannot decide."""

from __future__ import annotations

from stopsync.pipeline.engine import MatchEngine
from stopsync.plugins.builtin.distance_stages import GroupProximityStrategy, RatioTestStrategy
from stopsync.plugins.builtin.exact_reference import ExactReferenceStrategy
from stopsync.plugins.builtin.name_stages import ExactNameStrategy

from .matching_helpers import atlas, engine_for, osm, pairs


def _run(engine: MatchEngine, *strategies: type) -> MatchEngine:
    for strategy in strategies:
        strategy().run(engine)
    return engine


def test_a_uic_ref_two_kilometres_away_is_a_tagging_error() -> None:
    records = [atlas("a1", 0, number="8500001")]
    assert pairs(_run(engine_for(records, [osm(1, 1999, uic_ref="8500001")]), ExactReferenceStrategy)) == {
        ("a1", "node/1")}
    assert pairs(_run(engine_for(records, [osm(1, 2001, uic_ref="8500001")]), ExactReferenceStrategy)) == set()


def test_one_platform_takes_only_the_elements_lying_together() -> None:
    elements = [osm(1, 3, uic_ref="8500001"), osm(2, 20, uic_ref="8500001"), osm(3, 160, uic_ref="8500001")]
    engine = _run(engine_for([atlas("a1", 0, number="8500001")], elements), ExactReferenceStrategy)
    assert pairs(engine) == {("a1", "node/1"), ("a1", "node/2")}  # node/3: 157 m beyond the nearest


def test_an_equal_name_does_not_link_across_contradicting_uic_refs() -> None:
    records = [atlas("a1", 0, number="8500001", name="Testdorf, Post")]
    other_stop = [osm(1, 20, name="Testdorf, Post", uic_ref="8500002")]
    assert pairs(_run(engine_for(records, other_stop), ExactNameStrategy)) == set()
    untagged = [osm(1, 20, name="Testdorf, Post")]
    assert pairs(_run(engine_for(records, untagged), ExactNameStrategy)) == {("a1", "node/1")}


def test_an_element_about_as_near_two_platforms_is_left_ambiguous() -> None:
    # One element between two unlettered platforms of a stop, 1 m nearer a1: a coin toss.
    records = [atlas("a1", 0, 0, number="8500001"), atlas("a2", 0, 13, number="8500001")]
    elements = [osm(1, 0, 6, uic_ref="8500001")]
    engine = _run(engine_for(records, elements, {"EXACT_ONE_OSM_FACTOR": 0}), GroupProximityStrategy,
                  RatioTestStrategy)
    assert pairs(engine) == set()
    assert engine.stage_stats["group_proximity"]["ambiguous"] == 1
    reasons = engine.unmatched_reasons()
    assert reasons[0].reason == "ambiguous" and reasons[0].candidates == ("node/1",)
    # Clearly nearer one of them (3 m against 10 m): linked.
    clear = _run(engine_for(records, [osm(1, 0, 3, uic_ref="8500001")]), GroupProximityStrategy)
    assert pairs(clear) == {("a1", "node/1")}


def test_beyond_the_first_radius_only_one_to_one_groups_link() -> None:
    # Two platforms and two elements of one stop, each element 80-100 m from both platforms: the 150 m pass would have
    # to guess the assignment, and does not.
    records = [atlas("a1", 0, 0, number="8500001"), atlas("a2", 0, 30, number="8500001")]
    elements = [osm(1, 80, 0, uic_ref="8500001"), osm(2, 90, 30, uic_ref="8500001")]
    assert pairs(_run(engine_for(records, elements), GroupProximityStrategy)) == set()
    single = _run(engine_for(records[:1], elements[:1]), GroupProximityStrategy)
    assert pairs(single) == {("a1", "node/1")}


def test_a_sibling_lying_at_another_platform_is_not_carried_along() -> None:
    # A platform of a1 paired with a stop_position that lies at a2 (both directions of a road,
    # mapped half each): a link to the platform does not take the stop_position along.
    records = [atlas("a1", 0, 0, number="8500001"), atlas("a2", 0, 15, number="8500001")]
    elements = [osm(1, 0, 1, kind="platform", uic_ref="8500001"),
                osm(2, 0, 12, kind="stop_position", uic_ref="8500001"),
                osm(3, 12, 6, kind="platform")]  # a third element nearby: the pair is not isolated
    engine = engine_for(records, elements, {"PAIR_RATIO": 1.0, "PAIR_STRADDLE_MARGIN_M": 1000})
    assert engine.units.kind(0) == "pair"
    engine.link(0, 0, "group_proximity")
    assert pairs(engine) == {("a1", "node/1")}
    assert engine.refused["sibling_nearer_other_platform"] == 1
