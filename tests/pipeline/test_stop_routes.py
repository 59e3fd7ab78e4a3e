"""Routes and transport modes per stop, from the OSM route relations and the GTFS feed."""

from __future__ import annotations

from stopsync.pipeline.gtfs import GtfsFeed, GtfsPattern, GtfsRoute, StopResolution
from stopsync.pipeline.records import Link, OsmElement, OsmMember, OsmRoute
from stopsync.pipeline.stop_routes import (
    StopRoute,
    gtfs_route_mode,
    gtfs_stop_routes,
    osm_stop_routes,
    osm_tag_modes,
    ref_key,
    stop_modes,
)


def test_ref_keys_ignore_spaces_case_and_accents() -> None:
    assert ref_key("IC 5") == ref_key("ic5") == "ic5"
    assert ref_key(" S12 ") == "s12" and ref_key("Zürich-Linie 1") == "zurichlinie1" and ref_key("") == ""


def test_modes_from_osm_tags() -> None:
    assert osm_tag_modes({"highway": "bus_stop"}) == {"bus"}
    assert osm_tag_modes({"railway": "platform"}) == {"train"}
    assert osm_tag_modes({"railway": "platform", "tram": "yes"}) == {"tram"}
    assert osm_tag_modes({"railway": "tram_stop"}) == {"tram"}
    assert osm_tag_modes({"railway": "station", "station": "funicular"}) == {"funicular"}
    assert osm_tag_modes({"public_transport": "platform", "bus": "yes", "trolleybus": "yes"}) == {"bus"}
    assert osm_tag_modes({"amenity": "ferry_terminal"}) == {"ferry"}
    assert osm_tag_modes({"aerialway": "station"}) == {"aerialway"}
    assert osm_tag_modes({"public_transport": "platform"}) == set()


def test_modes_from_gtfs_route_types_basic_and_extended() -> None:
    assert [gtfs_route_mode(t) for t in (0, 2, 3, 4, 6, 7, 102, 106, 401, 700, 900, 1000, 1300, 1400)] == [
        "tram", "train", "bus", "ferry", "aerialway", "funicular", "train", "train", "subway", "bus", "tram",
        "ferry", "aerialway", "funicular"]
    assert gtfs_route_mode(None) == "" and gtfs_route_mode(1700) == ""


def _route(number: int, members: list[OsmMember], kind: str = "route", **tags: str) -> OsmRoute:
    return OsmRoute(number, dict(tags), members, kind=kind)


def test_osm_routes_merge_the_directions_of_a_route_master() -> None:
    there = _route(100, [OsmMember("node", 1, "platform"), OsmMember("node", 2, "platform")], route="bus",
                   ref="31", name="Bus 31: A => B", operator="BERNMOBIL", ref_trips="1.TA.91-31-j25-1.1.H")
    back = _route(101, [OsmMember("node", 2, "platform"), OsmMember("way", 7, "")], route="bus", ref="31",
                  name="Bus 31: B => A", ref_trips="2.TA.91-31-j25-1.2.R")
    master = _route(200, [OsmMember("relation", 100), OsmMember("relation", 101)], kind="route_master",
                    route_master="bus", ref="31", name="Bus 31")
    hiking = _route(300, [OsmMember("node", 1)], route="hiking", ref="31")
    served = osm_stop_routes([there, back, master, hiking])
    assert set(served) == {"node/1", "node/2", "way/7"}
    (one,) = served["node/1"]
    assert one == StopRoute("osm:relation/200", "osm", "31", "Bus 31", "bus", "BERNMOBIL", "0")
    assert served["node/2"][0].directions == "0,1" and served["node/2"][0].ref_key == "31"


def test_gtfs_routes_per_sloid_with_directions() -> None:
    feed = GtfsFeed(
        routes=[GtfsRoute("11-5-Y-j25-1", "11-5-Y-jXX-1", "IC5", "", 102, "11")],
        patterns=[GtfsPattern("a", "11-5-Y-j25-1", 0, ("8503000:0:7", "8507000:0:3"), 10),
                  GtfsPattern("b", "11-5-Y-j25-1", 1, ("8507000:0:3", "8503000:0:7"), 9),
                  GtfsPattern("c", "unknown-route", None, ("8503000:0:7",), 1)])
    resolutions = {"8503000:0:7": StopResolution("ch:1:sloid:3000:0:7", "original_stop_id", 1.0)}
    served = gtfs_stop_routes(feed, resolutions)
    assert list(served) == ["ch:1:sloid:3000:0:7"]
    ic5, unknown = served["ch:1:sloid:3000:0:7"]
    assert ic5 == StopRoute("gtfs:11-5-Y-jXX-1", "gtfs", "IC5", "", "train", "11", "0,1")
    assert unknown.route_id == "gtfs:unknown-route" and unknown.mode == "" and unknown.directions == ""


def test_atlas_modes_come_from_the_timetable_else_from_linked_osm() -> None:
    bus_stop = OsmElement("node", 1, 47.0, 8.0, {"highway": "bus_stop"}, kind="platform")
    tram_stop = OsmElement("node", 2, 47.0, 8.0, {"public_transport": "platform"}, kind="platform")
    osm_routes = {"node/2": [StopRoute("osm:relation/9", "osm", "4", "", "tram", "", "")]}
    timetable = {"ch:1:sloid:1:0:1": [StopRoute("gtfs:x", "gtfs", "S1", "", "train", "11", "0")]}
    links = [Link("ch:1:sloid:1:0:1", "node/1", "exact_reference", 1.0),
             Link("ch:1:sloid:2:0:1", "node/2", "exact_reference", 1.0)]
    atlas, osm = stop_modes(["ch:1:sloid:1:0:1", "ch:1:sloid:2:0:1", "ch:1:sloid:3:0:1"], [bus_stop, tram_stop],
                            links, osm_routes, timetable)
    assert osm == {"node/1": {"bus"}, "node/2": {"tram"}}
    assert atlas == {"ch:1:sloid:1:0:1": {"train"}, "ch:1:sloid:2:0:1": {"tram"}}
