"""What serves each stop: its routes (OSM route relations, GTFS routes) and transport modes.

Built from what a match run already holds (the OSM route relations parsed with the stops, the
GTFS feed and its stop -> SLOID resolution); nothing is parsed again. The publication writes the
results to ``stop_routes`` and ``stop_modes``.

A route's id says where it comes from: ``osm:relation/123`` (the route_master when the route has
one, so that both directions of a line are one route) or ``gtfs:<normalised route id>``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .gtfs import GtfsFeed, GtfsRoute, StopResolution, normalise_route_id
from .records import Link, OsmElement, OsmRoute
from .routes import route_direction

# Transport modes, in the order menus list them.
MODES = ("train", "light_rail", "subway", "tram", "bus", "ferry", "aerialway", "funicular")
ROUTE_SOURCES = ("osm", "gtfs")

# OSM ``route=*`` / ``route_master=*`` values -> mode.
_OSM_ROUTE_MODES = {
    "train": "train", "railway": "train", "light_rail": "light_rail", "monorail": "light_rail",
    "subway": "subway", "tram": "tram", "bus": "bus", "trolleybus": "bus", "coach": "bus", "minibus": "bus",
    "share_taxi": "bus", "ferry": "ferry", "aerialway": "aerialway", "funicular": "funicular",
}
# OSM ``<mode>=yes`` tags on stops -> mode.
_OSM_YES_TAGS = {
    "bus": "bus", "trolleybus": "bus", "tram": "tram", "train": "train", "light_rail": "light_rail",
    "subway": "subway", "monorail": "light_rail", "ferry": "ferry", "aerialway": "aerialway",
    "funicular": "funicular",
}
_RAIL_STOPS = ("platform", "halt", "station", "stop")
_NON_TRAIN_RAIL = ("tram", "light_rail", "subway", "funicular", "monorail")
_NOT_A_WORD = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True, slots=True)
class StopRoute:
    """One route serving one stop."""

    route_id: str  # "osm:relation/123" or "gtfs:92-13-D-jXX-1"
    source: str  # one of ROUTE_SOURCES
    ref: str  # as published: "31", "S12", "IC 5"
    name: str
    mode: str  # one of MODES, "" when unknown
    operator: str
    directions: str  # "0", "1", "0,1", "" when unknown

    @property
    def ref_key(self) -> str:
        return ref_key(self.ref)


def ref_key(ref: str) -> str:
    """A route ref as searches compare it: lower case, no accents, no spaces or punctuation
    (``IC 5`` and ``IC5`` -> ``ic5``)."""
    decomposed = unicodedata.normalize("NFKD", ref)
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return _NOT_A_WORD.sub("", folded)


def osm_route_mode(value: str) -> str:
    return _OSM_ROUTE_MODES.get(value.strip().lower(), "")


def gtfs_route_mode(route_type: int | None) -> str:
    """A GTFS route_type (basic or extended) as a mode; "" when unknown."""
    if route_type is None:
        return ""
    basic = {0: "tram", 1: "subway", 2: "train", 3: "bus", 4: "ferry", 5: "tram", 6: "aerialway",
             7: "funicular", 11: "bus", 12: "light_rail"}
    if route_type in basic:
        return basic[route_type]
    ranges = ((100, 200, "train"), (200, 300, "bus"), (400, 500, "subway"), (700, 900, "bus"),
              (900, 1000, "tram"), (1000, 1100, "ferry"), (1200, 1300, "ferry"), (1300, 1400, "aerialway"),
              (1400, 1500, "funicular"), (1500, 1600, "bus"))
    return next((mode for low, high, mode in ranges if low <= route_type < high), "")


def osm_tag_modes(tags: Mapping[str, str]) -> set[str]:
    """The modes an OSM stop's own tags declare."""
    modes = {_OSM_YES_TAGS[key] for key, value in tags.items()
             if key in _OSM_YES_TAGS and value.strip().lower() == "yes"}
    railway = tags.get("railway", "").strip().lower()
    if railway == "tram_stop":
        modes.add("tram")
    elif railway in _RAIL_STOPS and not modes & {"tram", "light_rail", "subway", "funicular"}:
        station = tags.get("station", "").strip().lower()
        modes.add(_OSM_ROUTE_MODES.get(station, "train") if station in _NON_TRAIN_RAIL else "train")
    if tags.get("highway", "").strip().lower() == "bus_stop":
        modes.add("bus")
    if tags.get("amenity", "").strip().lower() == "ferry_terminal":
        modes.add("ferry")
    if tags.get("aerialway", "").strip().lower() == "station":
        modes.add("aerialway")
    return modes


def _directions(values: Iterable[int | None]) -> str:
    return ",".join(str(value) for value in sorted({v for v in values if v is not None}))


def osm_stop_routes(routes: Sequence[OsmRoute]) -> dict[str, list[StopRoute]]:
    """Per member element (``node/123``), the routes that contain it (one entry per route:
    both directions of a route_master are one route)."""
    master_of: dict[str, OsmRoute] = {}
    for relation in routes:
        if relation.kind == "route_master":
            for member in relation.members:
                if member.type == "relation":
                    master_of.setdefault(member.osm_id, relation)
    served: dict[str, dict[str, tuple[OsmRoute, OsmRoute | None, set[int | None]]]] = defaultdict(dict)
    for route in routes:
        if route.kind != "route":
            continue
        master = master_of.get(route.osm_id)
        if not (osm_route_mode(route.route) or (master and osm_route_mode(master.route))):
            continue  # hiking, bicycle, road: not public transport
        route_id = f"osm:{(master or route).osm_id}"
        direction = route_direction(route)
        for member in route.members:
            if member.type not in ("node", "way"):
                continue
            entry = served[member.osm_id].setdefault(route_id, (route, master, set()))
            entry[2].add(direction)
    result: dict[str, list[StopRoute]] = {}
    for osm_id, by_route in served.items():
        result[osm_id] = [
            StopRoute(
                route_id=route_id, source="osm",
                ref=(route.ref or (master.ref if master else ""))[:64],
                name=((master.name if master else "") or route.name)[:255],
                mode=osm_route_mode(route.route) or (osm_route_mode(master.route) if master else ""),
                operator=(route.tags.get("operator") or (master.tags.get("operator", "") if master else ""))
                .strip()[:128],
                directions=_directions(directions),
            )
            for route_id, (route, master, directions) in sorted(by_route.items())
        ]
    return result


def gtfs_stop_routes(feed: GtfsFeed, resolutions: Mapping[str, StopResolution]) -> dict[str, list[StopRoute]]:
    """Per SLOID, the GTFS routes whose patterns call there (route ids normalised across
    timetable years; the operator is the feed's agency_id)."""
    routes: dict[str, GtfsRoute] = {}
    for gtfs_route in feed.routes:
        routes.setdefault(gtfs_route.route_id, gtfs_route)
    served: dict[str, dict[str, tuple[str, set[int | None]]]] = defaultdict(dict)
    for pattern in feed.patterns:
        known = routes.get(pattern.route_id)
        normalised = known.route_id_normalised if known else normalise_route_id(pattern.route_id)
        for stop_id in set(pattern.stop_ids):
            resolution = resolutions.get(stop_id)
            if resolution is None:
                continue
            entry = served[resolution.sloid].setdefault(f"gtfs:{normalised}", (pattern.route_id, set()))
            entry[1].add(pattern.direction_id)
    # A route calls at many stops with the same directions: one (frozen) entry serves them all.
    made: dict[tuple[str, str, frozenset[int | None]], StopRoute] = {}

    def entry_for(route_id: str, raw_id: str, directions: set[int | None]) -> StopRoute:
        key = (route_id, raw_id, frozenset(directions))
        entry = made.get(key)
        if entry is None:
            route = routes.get(raw_id)
            entry = made[key] = StopRoute(
                route_id=route_id[:160], source="gtfs", ref=(route.short_name if route else "").strip()[:64],
                name=(route.long_name if route else "").strip()[:255],
                mode=gtfs_route_mode(route.route_type if route else None),
                operator=(route.agency_id if route else "").strip()[:128], directions=_directions(directions),
            )
        return entry

    return {sloid: [entry_for(route_id, raw_id, directions)
                    for route_id, (raw_id, directions) in sorted(by_route.items())]
            for sloid, by_route in served.items()}


def stop_modes(
    atlas_sloids: Iterable[str],
    osm: Iterable[OsmElement],
    links: Iterable[Link],
    osm_routes: Mapping[str, Sequence[StopRoute]],
    timetable_routes: Mapping[str, Sequence[StopRoute]],
) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(modes per SLOID, modes per OSM id). An OSM element: its tags plus its route relations.
    An ATLAS platform: its GTFS routes when the timetable serves it, else its linked OSM
    elements."""
    osm_modes: dict[str, set[str]] = {}
    for element in osm:
        modes = osm_tag_modes(element.tags)
        modes.update(route.mode for route in osm_routes.get(element.osm_id, ()) if route.mode)
        if modes:
            osm_modes[element.osm_id] = modes
    linked: dict[str, set[str]] = defaultdict(set)
    for link in links:
        linked[link.sloid].update(osm_modes.get(link.osm_id, ()))
    atlas_modes: dict[str, set[str]] = {}
    for sloid in atlas_sloids:
        modes = {route.mode for route in timetable_routes.get(sloid, ()) if route.mode} or linked.get(sloid, set())
        if modes:
            atlas_modes[sloid] = set(modes)
    return atlas_modes, osm_modes
