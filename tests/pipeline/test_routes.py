"""OSM route tokens, directions and the timetable-year feed location."""

from __future__ import annotations

from datetime import date

import pytest

from stopsync.pipeline.gtfs import normalise_route_id, route_token
from stopsync.pipeline.records import OsmMember, OsmRoute
from stopsync.pipeline.routes import gtfs_location, osm_route_tokens, route_direction, timetable_year


@pytest.mark.parametrize(("day", "year"), [
    (date(2026, 11, 26), 2026), (date(2026, 12, 12), 2026), (date(2026, 12, 13), 2027),
    (date(2026, 12, 31), 2027), (date(2027, 1, 5), 2027), (date(2025, 12, 14), 2026),
    (date(2025, 12, 13), 2025),
])
def test_timetable_year_changes_on_the_sunday_after_the_second_saturday(day: date, year: int) -> None:
    # 2026: Saturdays 5 and 12 December, change on Sunday 13; 2025: change on Sunday 14.
    assert timetable_year(day) == year


def test_gtfs_location() -> None:
    assert gtfs_location("timetable", date(2026, 11, 26)).endswith("/timetable-2026-gtfs2020/permalink")
    assert gtfs_location("/data/feed.zip") == "/data/feed.zip"


def route(tags: dict[str, str], members: list[OsmMember], kind: str = "route") -> OsmRoute:
    return OsmRoute(1, tags, members, kind)


@pytest.mark.parametrize(("tags", "direction"), [
    ({"ref_trips": "1.TA.92-13-D-j21-1.1.H"}, 0), ({"ref_trips": "1.TA.92-13-D-j21-1.1.R"}, 1),
    ({"gtfs:trip_id:sample": "5.TA.1-85-j19-1.2.R"}, 1), ({"ref_trips": "abc"}, None), ({}, None),
])
def test_route_direction(tags: dict[str, str], direction: int | None) -> None:
    assert route_direction(route(tags, [])) == direction


def test_osm_route_tokens_match_the_gtfs_token_form() -> None:
    members = [OsmMember("node", 1, "platform"), OsmMember("way", 2, "platform"), OsmMember("way", 3, "")]
    bus = route({"gtfs:route_id": "92-13-D-j21-1", "ref_trips": "x.H"}, members)
    master = route({"gtfs:route_id": "92-13-D-j21-1"}, [OsmMember("relation", 1, "")], kind="route_master")
    no_id = route({"ref": "13"}, [OsmMember("node", 9, "stop")])
    tokens = osm_route_tokens([bus, master, no_id])
    expected = route_token(normalise_route_id("92-13-D-j25-1"), 0)
    assert tokens == {"node/1": {expected}, "way/2": {expected}, "way/3": {expected}}
