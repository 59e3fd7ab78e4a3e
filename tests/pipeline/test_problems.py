"""Problem predicates at and around every threshold, stable keys, fingerprints, real sample."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from stopsync.errors import ConfigurationError, InputError
from stopsync.pipeline.problems import (
    DetectionInput,
    ProblemThresholds,
    detect_problems,
    distance_priority,
    load_operator_aliases,
    operators_agree,
    problem_key,
)
from stopsync.pipeline.records import AtlasPlatform, Link, OsmElement

M_PER_DEG_LAT = 111_195.0  # metres per degree of latitude on the mean-radius sphere


def atlas(sloid: str = "ch:1:sloid:7000:1:1", number: str = "8507000", designation: str = "1",
          name: str = "Bern", lat: float = 46.9, lon: float = 7.4, operator: str = "BLS",
          operator_name: str = "BLS AG") -> AtlasPlatform:
    return AtlasPlatform(sloid=sloid, number=number, designation=designation, name=name, lat=lat,
                         lon=lon, operator=operator, operator_name=operator_name)


def osm(node: int = 1, lat: float = 46.9, lon: float = 7.4, kind: str = "platform", **tags: str) -> OsmElement:
    return OsmElement("node", node, lat, lon, {k.replace("__", ":"): v for k, v in tags.items()}, kind)


def north(metres: float) -> float:
    return 46.9 + metres / M_PER_DEG_LAT


def link(a: AtlasPlatform, o: OsmElement, distance: float, method: str = "exact_reference") -> Link:
    return Link(a.sloid, o.osm_id, method, distance)


def of_type(problems: list, kind: str) -> list:
    return [p for p in problems if p.type == kind]


@pytest.mark.parametrize(
    ("distance", "operator", "priority"),
    [(15.0, "BLS", None), (15.1, "BLS", 3), (25.0, "BLS", 3), (25.1, "BLS", 2), (80.0, "BLS", 2),
     (80.1, "BLS", 1), (15.0, "SBB", None), (26.0, "SBB", 3), (300.0, "SBB", 3)],
)
def test_distance_priority_thresholds(distance: float, operator: str, priority: int | None) -> None:
    assert distance_priority(distance, operator, ProblemThresholds()) == priority


def test_distance_problem_on_a_linked_pair() -> None:
    a, o = atlas(), osm(lat=north(30), uic_ref="8507000", local_ref="1")
    problems = detect_problems(DetectionInput([a], [o], [link(a, o, 30.0)]))
    (problem,) = of_type(problems, "distance")
    assert problem.priority == 2 and problem.sloid == a.sloid and problem.osm_id == "node/1"
    assert problem.evidence["distance_m"] == 30.0 and problem.side == "unknown"


def test_stop_level_atlas_coordinates_blame_atlas() -> None:
    a1, a2 = atlas(), atlas(sloid="ch:1:sloid:7000:1:2", designation="2")
    o = osm(lat=north(40), uic_ref="8507000", local_ref="1")
    problems = detect_problems(DetectionInput([a1, a2], [o], [link(a1, o, 40.0)]))
    (problem,) = of_type(problems, "distance")
    assert problem.side == "atlas" and "share one coordinate" in problem.side_reason


@pytest.mark.parametrize(
    ("tags", "expected", "priority"),
    [
        ({"uic_ref": "8507001"}, {"uic"}, 1),
        ({"uic_ref": "8507000", "uic_name": "Bern Bahnhof"}, {"name"}, 1),
        ({"uic_ref": "8507000", "uic_name": "bern"}, set(), None),  # case only: same name
        ({"uic_ref": "8507000", "local_ref": "2"}, {"platform_code"}, 2),
        ({"uic_ref": "8507000", "local_ref": " 1 "}, set(), None),
        ({"uic_ref": "8507000", "operator": "PostAuto"}, {"operator"}, 3),
        ({"uic_ref": "8507000", "operator": "BLS AG"}, set(), None),  # the ATLAS description
        ({"uic_ref": "8507000", "local_ref": "2", "uic_name": "X"}, {"platform_code", "name"}, 1),
        ({}, set(), None),  # nothing to compare: no problem
    ],
)
def test_attribute_differences(tags: dict[str, str], expected: set[str], priority: int | None) -> None:
    a, o = atlas(), osm(**tags)
    problems = of_type(detect_problems(DetectionInput([a], [o], [link(a, o, 1.0)])), "attributes")
    if not expected:
        assert problems == []
        return
    (problem,) = problems
    assert set(problem.evidence["differences"]) == expected and problem.priority == priority


def test_operator_aliases_normalise() -> None:
    aliases = load_operator_aliases()
    sbb = atlas(operator="SBB", operator_name="Schweizerische Bundesbahnen SBB")
    assert operators_agree(sbb, "SBB CFF FFS", aliases)
    assert operators_agree(sbb, "  sbb ", aliases)
    assert operators_agree(sbb, "PostAuto;SBB", aliases)
    assert not operators_agree(sbb, "BLS", aliases)
    assert operators_agree(atlas(operator="PAG", operator_name="PostAuto AG"), "CarPostal", aliases)


def test_broken_alias_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "aliases.csv"
    bad.write_text("name;value\nx;y\n")
    with pytest.raises(InputError, match="alias;canonical"):
        load_operator_aliases(bad)


def test_unmatched_atlas_priorities() -> None:
    far = atlas(sloid="far", number="8500001")
    # P1: no OSM element carries the UIC.
    problems = detect_problems(DetectionInput([far], [osm(lat=north(10), uic_ref="8599999")], []))
    (p1,) = of_type(problems, "unmatched_atlas")
    assert p1.priority == 1 and p1.side == "osm"
    # The UIC exists within 50 m, counts agree: P3.
    near = detect_problems(DetectionInput([far], [osm(lat=north(49.9), uic_ref="8500001")], []))
    assert of_type(near, "unmatched_atlas")[0].priority == 3
    # Nearest at 50.1 m: P2; beyond 80 m: P1.
    assert of_type(detect_problems(DetectionInput([far], [osm(lat=north(50.1), uic_ref="8500001")], [])),
                   "unmatched_atlas")[0].priority == 2
    assert of_type(detect_problems(DetectionInput([far], [osm(lat=north(80.1), uic_ref="8500001")], [])),
                   "unmatched_atlas")[0].priority == 1
    # Platform counts differ (2 ATLAS, 1 OSM unit) within 50 m: P2.
    two = [far, atlas(sloid="far2", number="8500001", designation="2")]
    counted = of_type(detect_problems(DetectionInput(two, [osm(lat=north(10), uic_ref="8500001")], [])),
                      "unmatched_atlas")
    assert {p.priority for p in counted} == {2}


def test_unmatched_osm_priorities() -> None:
    a = atlas(number="8500001")
    unknown = detect_problems(DetectionInput([a], [osm(lat=north(5), uic_ref="8599999")], []))
    assert of_type(unknown, "unmatched_osm")[0].priority == 1
    lonely = detect_problems(DetectionInput([a], [osm(lat=north(60), uic_ref="8500001")], []))
    assert of_type(lonely, "unmatched_osm")[0].priority == 2
    close = detect_problems(DetectionInput([a], [osm(lat=north(20), uic_ref="8500001")], []))
    assert of_type(close, "unmatched_osm")[0].priority == 3
    station = detect_problems(DetectionInput([a], [osm(kind="station", uic_ref="8599999")], []))
    assert of_type(station, "unmatched_osm") == []  # stations are never candidates


def test_duplicates() -> None:
    twins = [atlas(sloid="a"), atlas(sloid="b"), atlas(sloid="c", designation="2")]
    (dup,) = of_type(detect_problems(DetectionInput(twins, [], [])), "duplicate_atlas")
    assert dup.priority == 2 and dup.evidence["sloids"] == ["a", "b"] and dup.side == "atlas"
    nodes = [osm(1, uic_ref="8507000", local_ref="1"), osm(2, uic_ref="8507000", local_ref="1"),
             osm(3, kind="stop_position", uic_ref="8507000", local_ref="1")]
    (odup,) = of_type(detect_problems(DetectionInput([], nodes, [])), "duplicate_osm")
    assert odup.priority == 3 and odup.evidence["osm_ids"] == ["node/1", "node/2", "node/3"]
    # Members of a pair/trio are exempt.
    grouped = detect_problems(DetectionInput([], nodes, [], unit_of={"node/1": "u1", "node/2": "u1"}))
    assert of_type(grouped, "duplicate_osm") == []


def test_route_contradiction() -> None:
    a, o = atlas(), osm(uic_ref="8507000")
    data = DetectionInput([a], [o], [link(a, o, 2.0)], atlas_route_tokens={a.sloid: {"r1:0"}},
                          osm_route_tokens={o.osm_id: {"r2:0"}})
    (problem,) = of_type(detect_problems(data), "route_contradiction")
    assert problem.priority == 2
    data.osm_route_tokens = {o.osm_id: {"r1:0", "r2:0"}}
    assert of_type(detect_problems(data), "route_contradiction") == []


def test_keys_are_stable_and_fingerprints_track_material_change() -> None:
    a = atlas()
    o = osm(lat=north(30), uic_ref="8507000")
    first = of_type(detect_problems(DetectionInput([a], [o], [link(a, o, 30.0)])), "distance")[0]
    again = of_type(detect_problems(DetectionInput([atlas(name="x")], [o], [link(a, o, 31.0)])), "distance")[0]
    moved = of_type(detect_problems(DetectionInput([a], [o], [link(a, o, 60.0)])), "distance")[0]
    assert first.key == again.key == moved.key == problem_key("distance", a.sloid, o.osm_id)
    assert first.fingerprint == again.fingerprint  # 30 m -> 31 m is not material
    assert first.fingerprint != moved.fingerprint
    assert len(first.key) == 32 and not math.isnan(first.priority)


def test_thresholds_from_profile() -> None:
    t = ProblemThresholds.from_mapping({"distance_critical_m": 100, "long_platform_operators": ["SBB", "BLS"]})
    assert t.distance_critical_m == 100 and t.long_platform_operators == ("SBB", "BLS")
    with pytest.raises(ConfigurationError, match="unknown problem threshold 'nope'"):
        ProblemThresholds.from_mapping({"nope": 1})


def test_real_sample(real_data: Path) -> None:
    from stopsync.pipeline.atlas import read_atlas
    from stopsync.pipeline.engine import MatchEngine
    from stopsync.pipeline.osm import read_osm
    from stopsync.plugins.builtin.exact_reference import ExactReferenceStrategy

    platforms = read_atlas(real_data / "atlas_traffic_points_sample.csv").records
    elements = read_osm(real_data / "osm_sample.xml").records
    engine = MatchEngine(platforms, elements)
    ExactReferenceStrategy().run(engine)
    problems = detect_problems(DetectionInput(platforms, elements, engine.links))
    # Bex, Vasselin (8510409): its OSM node has no uic_ref, so no OSM element carries the UIC.
    bex = [p for p in problems if p.type == "unmatched_atlas"]
    assert [(p.priority, p.evidence["osm_units_with_uic"]) for p in bex] == [(1, 0)]
    assert all(p.key for p in problems) and len({p.key for p in problems}) == len(problems)
    assert all(p.side in ("atlas", "osm", "both", "unknown") for p in problems)
