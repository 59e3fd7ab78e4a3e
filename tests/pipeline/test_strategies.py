"""Each built-in strategy on constructed cases around its thresholds."""

from __future__ import annotations

from typing import Any

import pytest

from stopsync.pipeline.engine import MatchEngine
from stopsync.plugins.base import MatchingStrategy
from stopsync.plugins.builtin import distance_stages, manual_links, name_stages, reference_stages, route_stage
from stopsync.plugins.builtin.distance_stages import (
    GroupProximityStrategy,
    PlatformCodeDistanceStrategy,
    RatioTestStrategy,
    SingleCandidateStrategy,
    assign,
)
from stopsync.plugins.builtin.manual_links import ManualLinksStrategy
from stopsync.plugins.builtin.name_stages import ExactNameStrategy, FuzzyNameStrategy
from stopsync.plugins.builtin.reference_stages import RefSloidStrategy
from stopsync.plugins.builtin.route_stage import RouteEvidenceStrategy
from stopsync.plugins.builtin.selection import mutual_best, unique_best

from .matching_helpers import atlas, engine_for, osm, pairs


def run(strategy: type[MatchingStrategy], atlas_records: list[Any], osm_records: list[Any],
        profile: dict[str, Any] | None = None, context: dict[str, Any] | None = None) -> MatchEngine:
    engine = engine_for(atlas_records, osm_records, profile, context)
    strategy(profile).run(engine)
    return engine


def test_hooks_register_every_strategy() -> None:
    registered = [*manual_links.stopsync_register_matching_strategies(),
                  *reference_stages.stopsync_register_matching_strategies(),
                  *name_stages.stopsync_register_matching_strategies(),
                  *route_stage.stopsync_register_matching_strategies(),
                  *distance_stages.stopsync_register_matching_strategies()]
    assert {(cls.name, cls.order) for cls in registered} == {  # type: ignore[attr-defined]
        ("manual_links", 100), ("ref_sloid", 150), ("exact_name", 300), ("route_evidence", 400),
        ("group_proximity", 500), ("platform_code_distance", 600), ("single_candidate", 650),
        ("ratio_test", 700), ("fuzzy_name", 800)}


# -- manual links ------------------------------------------------------------------------


def test_manual_links_from_profile_and_context_skip_unknown_ids() -> None:
    profile = {"MANUAL_LINKS": [{"sloid": "a1", "osm_id": "node/2"}, {"sloid": "gone", "osm_id": "node/1"},
                                {"sloid": "a1", "osm_id": "node/99"}]}
    context = {"manual_links": [{"sloid": "a2", "osm_id": "node/1"}, {"sloid": "a2", "osm_id": "node/3"}]}
    engine = run(ManualLinksStrategy, [atlas("a1"), atlas("a2", 500)],
                 [osm(1, 900), osm(2, 1000), osm(3, 0, kind="station")], profile, context)
    assert pairs(engine) == {("a1", "node/2"), ("a2", "node/1")}
    assert {link.method for link in engine.links} == {"manual_links"}
    assert engine.stage_stats["manual_links"] == {"given": 5, "linked": 2, "unknown_sloid": 1,
                                                  "unknown_osm_id": 1, "refused": 1}


# -- ref:sloid ---------------------------------------------------------------------------


def test_ref_sloid_links_each_listed_sloid_but_never_a_station() -> None:
    engine = run(RefSloidStrategy, [atlas("ch:1:sloid:1:0:1"), atlas("ch:1:sloid:1:0:2"), atlas("ch:1:sloid:9")],
                 [osm(1, 500, ref__sloid="ch:1:sloid:1:0:1; ch:1:sloid:1:0:2;ch:1:sloid:404"),
                  osm(2, 0, kind="station", ref__sloid="ch:1:sloid:9"),
                  osm(3, 900, kind="stop_position", ref__sloid="ch:1:sloid:1:0:1")])
    assert pairs(engine) == {("ch:1:sloid:1:0:1", "node/1"), ("ch:1:sloid:1:0:2", "node/1"),
                             ("ch:1:sloid:1:0:1", "node/3")}
    assert engine.links[0].evidence == {"ref:sloid": "ch:1:sloid:1:0:1"} and engine.links[0].score == 1.0
    assert engine.stage_stats["ref_sloid"] == {"tagged": 2, "linked": 3, "unknown_sloid": 1}


# -- exact name --------------------------------------------------------------------------


@pytest.mark.parametrize(("distance", "linked"), [(149.9, True), (150.1, False)])
def test_exact_name_within_150_m(distance: float, linked: bool) -> None:
    engine = run(ExactNameStrategy, [atlas("a1", name="Testdorf, Post")], [osm(1, distance, name="Post")])
    assert bool(engine.links) is linked
    if linked:
        assert engine.links[0].evidence == {"name_tag": "name", "name": "Post", "normalised": "post",
                                            "variant": "stop_part", "local_ref_agrees": False, "rank": 1}
        assert engine.links[0].score == 0.9


def test_exact_name_uses_uic_name_and_normalisation() -> None:
    engine = run(ExactNameStrategy, [atlas("a1", name="St. Gallen, Bahnhofstr.")],
                 [osm(1, 30, uic_name="Sankt Gallen, Bahnhofstrasse", name="Bahnhofstrasse")])
    assert engine.links[0].evidence["name_tag"] in {"name", "uic_name"}
    assert engine.links[0].evidence["normalised"] == "sankt gallen bahnhofstrasse"
    assert engine.links[0].score == 0.95


def test_exact_name_disambiguated_by_local_ref() -> None:
    engine = run(ExactNameStrategy, [atlas("a1", designation="B")],
                 [osm(1, 5, name="Post", local_ref="A"), osm(2, 20, name="Post", local_ref="B"),
                  osm(3, 10, name="Post")])
    assert pairs(engine) == {("a1", "node/2")}
    assert engine.links[0].score == 1.0 - 0.05  # stop-part variant, platform code agrees


def test_exact_name_ambiguous_or_contradicting_or_other_town_links_nothing() -> None:
    assert run(ExactNameStrategy, [atlas("a1")], [osm(1, 5, name="Post"), osm(2, 20, name="Post")]).links == []
    assert run(ExactNameStrategy, [atlas("a1", designation="A")], [osm(1, 5, name="Post", local_ref="B")]).links == []
    assert run(ExactNameStrategy, [atlas("a1")], [osm(1, 5, name="Bern, Post")]).links == []
    # Two platforms, one element: neither takes it.
    assert run(ExactNameStrategy, [atlas("a1"), atlas("a2", 10)], [osm(1, 5, name="Post")]).links == []


# -- route evidence ----------------------------------------------------------------------


def test_route_evidence_without_tokens_links_nothing_and_says_so() -> None:
    engine = run(RouteEvidenceStrategy, [atlas("a1")], [osm(1, 5)])
    assert engine.links == []
    assert engine.stage_stats["route_evidence"]["skipped"] == "no route tokens in the run context"


@pytest.mark.parametrize(("distance", "linked"), [(49.9, True), (50.1, False)])
def test_route_evidence_within_50_m(distance: float, linked: bool) -> None:
    context = {"atlas_route_tokens": {"a1": {"1:0", "2:0"}}, "osm_route_tokens": {"node/1": {"1:0"}}}
    engine = run(RouteEvidenceStrategy, [atlas("a1")], [osm(1, distance)], context=context)
    assert bool(engine.links) is linked
    if linked:
        assert engine.links[0].evidence == {"tokens_shared": ["1:0"], "jaccard": 0.5, "rank": 1}
        assert engine.links[0].score == 0.8


def test_route_evidence_mutual_unique_best_beats_distance() -> None:
    context = {"atlas_route_tokens": {"a1": {"1:0"}, "a2": {"2:0"}},
               "osm_route_tokens": {"node/1": {"2:0"}, "node/2": {"1:0"}}}
    engine = run(RouteEvidenceStrategy, [atlas("a1", 0), atlas("a2", 20)], [osm(1, 2), osm(2, 18)],
                 context=context)
    assert pairs(engine) == {("a1", "node/2"), ("a2", "node/1")}
    tied = {"atlas_route_tokens": {"a1": {"1:0"}}, "osm_route_tokens": {"node/1": {"1:0"}, "node/2": {"1:0"}}}
    assert run(RouteEvidenceStrategy, [atlas("a1")], [osm(1, 2), osm(2, 30)], context=tied).links == []


def test_route_tokens_of_a_stop_position_count_for_its_platform() -> None:
    context = {"atlas_route_tokens": {"a1": {"7:1"}}, "osm_route_tokens": {"node/2": {"7:1"}}}
    engine = run(RouteEvidenceStrategy, [atlas("a1")], [osm(1, 3), osm(2, 6, kind="stop_position")],
                 context=context)
    assert pairs(engine) == {("a1", "node/1"), ("a1", "node/2")}


# -- group proximity ---------------------------------------------------------------------


def test_group_proximity_maximises_cardinality_before_distance() -> None:
    # Nearest-first would give a1 node/1 (20 m) and leave a2 without; the optimum links both.
    engine = run(GroupProximityStrategy, [atlas("a1", 0), atlas("a2", 40)],
                 [osm(1, 20, uic_ref="8500001"), osm(2, -25, uic_ref="8500001")])
    assert pairs(engine) == {("a1", "node/2"), ("a2", "node/1")}
    assert {link.evidence["group"] for link in engine.links} == {"uic"}


def test_group_proximity_minimises_total_distance() -> None:
    engine = run(GroupProximityStrategy, [atlas("a1", 0), atlas("a2", 10)],
                 [osm(1, 1, uic_ref="8500001"), osm(2, 11, uic_ref="8500001")])
    assert pairs(engine) == {("a1", "node/1"), ("a2", "node/2")}


@pytest.mark.parametrize(("distance", "radius"), [(49.9, 50.0), (50.1, 150.0), (149.9, 150.0), (150.1, None)])
def test_group_proximity_radii(distance: float, radius: float | None) -> None:
    engine = run(GroupProximityStrategy, [atlas("a1")], [osm(1, distance, uic_ref="8500001")])
    assert [link.evidence["radius_m"] for link in engine.links] == ([] if radius is None else [radius])


def test_group_proximity_by_name_and_never_across_uic_or_codes() -> None:
    engine = run(GroupProximityStrategy, [atlas("a1", name="Testdorf, Post")], [osm(1, 30, name="Post")])
    assert engine.links[0].evidence["group"] == "name"
    engine = run(GroupProximityStrategy, [atlas("a1", name="Testdorf, Post")],
                 [osm(1, 30, uic_name="Testdorf, Post")])
    assert engine.links[0].evidence["group"] == "uic_name"
    # A bare stop name counts only within the first radius; the full official name to 150 m.
    assert run(GroupProximityStrategy, [atlas("a1", name="Testdorf, Post")], [osm(1, 60, name="Post")]).links == []
    assert len(run(GroupProximityStrategy, [atlas("a1", name="Testdorf, Post")],
                   [osm(1, 60, uic_name="Testdorf, Post")]).links) == 1
    assert run(GroupProximityStrategy, [atlas("a1")], [osm(1, 30, name="Post", uic_ref="8500002")]).links == []
    assert run(GroupProximityStrategy, [atlas("a1", designation="1")],
               [osm(1, 30, uic_ref="8500001", local_ref="2")]).links == []


def test_assignment_helper() -> None:
    engine = engine_for([atlas("a1", 0), atlas("a2", 40)], [osm(1, 20), osm(2, -25)])
    candidates = engine.candidate_pairs(engine.pending_atlas(), 50)
    chosen = candidates.where(assign(candidates, 50))
    assert sorted(zip(chosen.atlas.tolist(), chosen.osm.tolist(), strict=True)) == [(0, 1), (1, 0)]


# -- platform code, single candidate, ratio ----------------------------------------------


@pytest.mark.parametrize(("distance", "linked"), [(49.9, True), (50.1, False)])
def test_platform_code_distance(distance: float, linked: bool) -> None:
    engine = run(PlatformCodeDistanceStrategy, [atlas("a1", designation="3")],
                 [osm(1, 5), osm(2, distance, local_ref="3")])
    assert pairs(engine) == ({("a1", "node/2")} if linked else set())


def test_platform_code_distance_nearest_on_both_sides() -> None:
    engine = run(PlatformCodeDistanceStrategy, [atlas("a1", 0, designation="3"),
                                                atlas("a2", 30, number="8500002", designation="3")],
                 [osm(1, 28, local_ref="3")])
    assert pairs(engine) == {("a2", "node/1")}


@pytest.mark.parametrize(("distance", "linked"), [(49.9, True), (50.1, False)])
def test_single_candidate_within_50_m(distance: float, linked: bool) -> None:
    engine = run(SingleCandidateStrategy, [atlas("a1")], [osm(1, distance)])
    assert bool(engine.links) is linked


def test_single_candidate_refuses_contradictions_and_shared_candidates() -> None:
    assert run(SingleCandidateStrategy, [atlas("a1")], [osm(1, 5), osm(2, 40)]).links == []
    assert run(SingleCandidateStrategy, [atlas("a1", designation="A")], [osm(1, 5, local_ref="B")]).links == []
    assert run(SingleCandidateStrategy, [atlas("a1", 0), atlas("a2", 20)], [osm(1, 10)]).links == []


def test_single_candidate_rounds_free_a_neighbour() -> None:
    # a1's only candidate is node/1; once linked, node/2 is a2's only candidate.
    engine = run(SingleCandidateStrategy, [atlas("a1", 0), atlas("a2", 45)], [osm(1, -4), osm(2, 60)])
    assert pairs(engine) == {("a1", "node/1"), ("a2", "node/2")}
    # Both within 50 m of both: neither platform has a single candidate.
    assert run(SingleCandidateStrategy, [atlas("a1", 0), atlas("a2", 45)], [osm(1, -4), osm(2, 40)]).links == []


@pytest.mark.parametrize(("second", "linked"), [(39.0, False), (41.0, True)])
def test_ratio_test_factor_4(second: float, linked: bool) -> None:
    engine = run(RatioTestStrategy, [atlas("a1")], [osm(1, 10), osm(2, -second)])
    assert pairs(engine) == ({("a1", "node/1")} if linked else set())
    if linked:
        assert engine.links[0].evidence == {"second_nearest_m": 41.0, "ratio": 4.1, "rank": 1}


@pytest.mark.parametrize(("second", "linked"), [(9.9, False), (10.1, True)])
def test_ratio_test_second_at_least_10_m(second: float, linked: bool) -> None:
    engine = run(RatioTestStrategy, [atlas("a1")], [osm(1, 2), osm(2, -second)])
    assert bool(engine.links) is linked


@pytest.mark.parametrize(("nearest", "linked"), [(49.9, True), (50.1, False)])
def test_ratio_test_nearest_within_50_m(nearest: float, linked: bool) -> None:
    engine = run(RatioTestStrategy, [atlas("a1")], [osm(1, nearest)])
    assert bool(engine.links) is linked
    if linked:
        assert engine.links[0].evidence["second_nearest_m"] is None


def test_ratio_test_respects_platform_codes_and_takes_the_closer_claimant() -> None:
    assert run(RatioTestStrategy, [atlas("a1", designation="1")], [osm(1, 3, local_ref="2")]).links == []
    engine = run(RatioTestStrategy, [atlas("a1", 0), atlas("a2", 9)], [osm(1, 2)])
    assert pairs(engine) == {("a1", "node/1")}


# -- fuzzy name --------------------------------------------------------------------------


def test_fuzzy_name_links_a_misspelling_over_a_closer_other_stop() -> None:
    engine = run(FuzzyNameStrategy, [atlas("a1", name="Bex, Vasselin")],
                 [osm(1, 5, name="Kirche"), osm(2, 30, name="Bex Vaselin")])
    assert pairs(engine) == {("a1", "node/2")}
    evidence = engine.links[0].evidence
    assert evidence["similarity"] == pytest.approx(0.957, abs=0.001)
    assert (evidence["atlas_variant"], evidence["osm_variant"], evidence["rank"]) == ("bex vasselin", "bex vaselin", 2)
    assert engine.links[0].score == pytest.approx(0.8 * 0.957, abs=0.001)


@pytest.mark.parametrize(("distance", "linked"), [(49.9, True), (50.1, False)])
def test_fuzzy_name_distance_bound(distance: float, linked: bool) -> None:
    engine = run(FuzzyNameStrategy, [atlas("a1", name="Testdorf, Vasselin")], [osm(1, distance, name="Vaselin")])
    assert bool(engine.links) is linked


def test_fuzzy_name_threshold() -> None:
    # "zurich kirche" vs "zurich kreuz" scores 0.80: below 0.85, and above 0.75.
    assert run(FuzzyNameStrategy, [atlas("a1", name="Zürich, Kirche")], [osm(1, 10, name="Zürich, Kreuz")]).links == []
    engine = run(FuzzyNameStrategy, [atlas("a1", name="Zürich, Kirche")], [osm(1, 10, name="Zürich, Kreuz")],
                 {"FUZZY_MIN_SIMILARITY": 0.75})
    assert pairs(engine) == {("a1", "node/1")}


def test_selection_helpers_skip_ties() -> None:
    import numpy as np

    keys = np.array([1, 1, 2, 2, 3])
    cost = np.array([1.0, 1.0, 2.0, 1.0, 5.0])
    assert unique_best(keys, cost).tolist() == [False, False, False, True, True]
    engine = engine_for([atlas("a1"), atlas("a2")], [osm(1, 1)])
    candidates = engine.candidate_pairs(engine.pending_atlas(), 10)
    assert mutual_best(candidates, candidates.distance).tolist() == [False, False]  # 1 m both ways


@pytest.mark.parametrize(("far", "linked"), [(22.9, True), (23.1, False)])
def test_distance_stages_skip_an_element_much_nearer_another_platform(far: float, linked: bool) -> None:
    # node/1 lies 10 m from a2 and `far` m from a1: a1 may take it up to 2 x 10 + 3 = 23 m.
    # (Within 30 m a1 has no other candidate; a2 has two, node/1 and its own node/2.)
    records = [atlas("a1", 0), atlas("a2", far + 10, number="8500002")]
    profile = {"SINGLE_CANDIDATE_MAX_M": 30.0}
    engine = engine_for(records, [osm(1, far), osm(2, far + 10)], profile)
    assert engine.nearer_other_platform(engine.candidate_pairs([0], 30.0)).tolist() == [not linked]
    SingleCandidateStrategy(profile).run(engine)
    assert (("a1", "node/1") in pairs(engine)) is linked
