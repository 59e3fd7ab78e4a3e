"""Route relations without route/direction tags get them from their stop sequence; the engine
refuses links between the two directions of a stop."""

from __future__ import annotations

from stopsync.pipeline.gtfs import GtfsFeed, GtfsPattern, GtfsRoute, StopResolution
from stopsync.pipeline.records import OsmMember, OsmRoute
from stopsync.pipeline.route_inference import infer_osm_route_tokens
from stopsync.plugins.builtin.distance_stages import GroupProximityStrategy

from .matching_helpers import atlas, engine_for, osm, pairs

# Five stops 400 m apart along a line; each has two platforms ("a" and "b" sides) 12 m apart.
STOPS = [f"85000{n}" for n in range(10, 15)]


def _atlas() -> list:
    records = []
    for k, number in enumerate(STOPS):
        records.append(atlas(f"ch:1:sloid:{number[2:]}:0:1", 400 * k, 0, number=number, designation="1"))
        records.append(atlas(f"ch:1:sloid:{number[2:]}:0:2", 400 * k, 12, number=number, designation="2"))
    return records


def _feed() -> tuple[GtfsFeed, dict[str, StopResolution]]:
    routes = [GtfsRoute("92-31-A-j25-1", "92-31-A-jXX-1", "31", "", 3, "1"),
              GtfsRoute("92-7-A-j25-1", "92-7-A-jXX-1", "7", "", 3, "1")]
    outbound = tuple(f"{n}:0:1" for n in STOPS)
    inbound = tuple(f"{n}:0:2" for n in reversed(STOPS))
    patterns = [GtfsPattern("p0", "92-31-A-j25-1", 0, outbound, 20), GtfsPattern("p1", "92-31-A-j25-1", 1, inbound, 20),
                GtfsPattern("p2", "92-7-A-j25-1", 0, outbound[:2], 5)]
    resolutions = {f"{n}:0:{side}": StopResolution(f"ch:1:sloid:{n[2:]}:0:{side}", "uic_platform", 0.95)
                   for n in STOPS for side in (1, 2)}
    return GtfsFeed(stops=[], routes=routes, patterns=patterns), resolutions


def _elements() -> list:
    elements = []
    for k, number in enumerate(STOPS):
        elements.append(osm(100 + k, 400 * k + 1, -1, uic_ref=number))  # side a, tagged
        elements.append(osm(200 + k, 400 * k - 1, 13))  # side b, no uic_ref: snapped by position
    return elements


def _relation(rid: int, refs: list[int], **tags: str) -> OsmRoute:
    return OsmRoute(rid, {"type": "route", "route": "bus", **tags},
                    [OsmMember("node", ref, "platform") for ref in refs])


def test_direction_and_route_follow_from_the_stop_order() -> None:
    feed, resolutions = _feed()
    relations = [
        _relation(1, [100, 101, 102, 103, 104], ref="31"),  # no gtfs tags: route by ref, direction by order
        _relation(2, [204, 203, 202, 201, 200], **{"gtfs:route_id": "92-31-A-j22-1"}),  # route given, no direction
        _relation(3, [100, 101, 102], **{"gtfs:route_id": "92-31-A-j24-1", "ref_trips": "1.TA.92-31-A-j24-1.1.R"}),
    ]
    tokens, stats = infer_osm_route_tokens(relations, _elements(), _atlas(), feed, resolutions)
    assert tokens["node/100"] == {"92-31-A-jXX-1:0", "92-31-A-jXX-1:1"}  # relation 3's explicit (wrong) tag kept
    assert tokens["node/102"] == {"92-31-A-jXX-1:0", "92-31-A-jXX-1:1"}
    assert tokens["node/104"] == {"92-31-A-jXX-1:0"}
    assert tokens["node/203"] == {"92-31-A-jXX-1:1"}
    assert stats == {"explicit": 1, "inferred_direction": 1, "inferred_route": 1, "undecided": 0}


def test_relations_that_fit_nothing_clearly_get_no_direction() -> None:
    feed, resolutions = _feed()
    relations = [
        _relation(4, [100, 101, 102, 201, 200], ref="31"),  # out and back: neither direction's order
        _relation(5, [100, 101], ref="99"),  # no route with that ref
        _relation(6, [101, 100, 102, 104, 103], **{"gtfs:route_id": "92-31-A-j25-1"}),  # shuffled
    ]
    tokens, stats = infer_osm_route_tokens(relations, _elements(), _atlas(), feed, resolutions)
    assert tokens == {f"node/{n}": {"92-31-A-jXX-1:"} for n in (100, 101, 102, 103, 104)}
    assert stats == {"explicit": 0, "inferred_direction": 0, "inferred_route": 0, "undecided": 3}


def test_the_engine_refuses_the_other_directions_element() -> None:
    # Two platforms of one stop 8 m apart; OSM has one element for each side, placed with
    # errors that make plain distance pick the crossed assignment.
    records = [atlas("ch:1:sloid:10:0:1", 0, 0, number="8500010"), atlas("ch:1:sloid:10:0:2", 0, 8, number="8500010")]
    elements = [osm(1, 0, 5.0, uic_ref="8500010"), osm(2, 0, 2.0, uic_ref="8500010")]
    context = {"atlas_route_tokens": {"ch:1:sloid:10:0:1": {"r31:0"}, "ch:1:sloid:10:0:2": {"r31:1"}},
               "osm_route_tokens": {"node/1": {"r31:0", "r7:"}, "node/2": {"r31:1"}}}
    engine = engine_for(records, elements, context=context)
    assert engine.routes_contradict(0, 1) and engine.routes_contradict(1, 0)
    assert not engine.routes_contradict(0, 0) and not engine.routes_contradict(1, 1)
    assert engine.link(0, 1, "group_proximity") is None
    assert engine.refused["route_direction"] == 1
    GroupProximityStrategy().run(engine)
    assert pairs(engine) == {("ch:1:sloid:10:0:1", "node/1"), ("ch:1:sloid:10:0:2", "node/2")}

    # Without route evidence the same geometry gives the crossed (nearest) assignment.
    plain = engine_for(records, elements)
    GroupProximityStrategy().run(plain)
    assert pairs(plain) == {("ch:1:sloid:10:0:1", "node/2"), ("ch:1:sloid:10:0:2", "node/1")}


def test_explicit_links_agreeing_codes_and_undirected_tokens_are_not_vetoed() -> None:
    records = [atlas("ch:1:sloid:10:0:1", 0, 0, number="8500010", designation="A")]
    elements = [osm(1, 0, 3, uic_ref="8500010", local_ref="A"), osm(2, 0, 5, uic_ref="8500010"),
                osm(3, 0, 7, uic_ref="8500010")]
    context = {"atlas_route_tokens": {"ch:1:sloid:10:0:1": {"r31:0"}},
               "osm_route_tokens": {"node/1": {"r31:1"}, "node/2": {"r31:1"}, "node/3": {"r31:"}}}
    engine = engine_for(records, elements, context=context)
    assert engine.link(0, 0, "exact_reference") is not None  # platform codes agree
    assert engine.link(0, 1, "ref_sloid") is not None  # an explicit statement
    assert not engine.routes_contradict(0, 2)  # a route without direction says nothing of sides
