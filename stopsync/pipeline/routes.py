"""Route evidence shared by matching and problem detection: OSM route relations as the same
(route, direction) tokens that :func:`stopsync.pipeline.gtfs.route_tokens` builds from GTFS,
and where the national GTFS feed of the current timetable year is published."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta

from .gtfs import normalise_route_id, route_token
from .records import OsmRoute

GTFS_PERMALINK = "https://data.opentransportdata.swiss/dataset/timetable-{year}-gtfs2020/permalink"
TIMETABLE_KEYWORD = "timetable"
# A trip id ends in ".H" (outbound, direction 0) or ".R" (return, direction 1).
_TRIP_DIRECTION = re.compile(r"\.([HR])\s*$")


def timetable_year(today: date) -> int:
    """The Swiss timetable year runs from the second Saturday of December (the change takes
    effect on the Sunday after it) to the next one; ``today`` in late December belongs to the
    next year's timetable."""
    first = date(today.year, 12, 1)
    first_saturday = first + timedelta(days=(5 - first.weekday()) % 7)
    change = first_saturday + timedelta(days=8)  # the Sunday after the second Saturday
    return today.year + 1 if today >= change else today.year


def gtfs_location(configured: str, today: date | None = None) -> str:
    """``timetable`` means the national feed of the current timetable year; anything else
    (a URL or a path) is used as it is."""
    if configured.strip().lower() != TIMETABLE_KEYWORD:
        return configured
    return GTFS_PERMALINK.format(year=timetable_year(today or date.today()))


def route_direction(route: OsmRoute) -> int | None:
    """0 or 1 from the route's ``ref_trips`` (or ``gtfs:trip_id:sample``) suffix, else None."""
    for key in ("ref_trips", "gtfs:trip_id:sample"):
        for trip in route.tags.get(key, "").split(";"):
            match = _TRIP_DIRECTION.search(trip)
            if match:
                return 0 if match.group(1) == "H" else 1
    return None


def osm_route_tokens(routes: Iterable[OsmRoute]) -> dict[str, set[str]]:
    """Per member element (``node/123``), the tokens of the OSM routes that contain it."""
    tokens: dict[str, set[str]] = defaultdict(set)
    for route in routes:
        if route.kind != "route" or not route.gtfs_route_id:
            continue
        token = route_token(normalise_route_id(route.gtfs_route_id), route_direction(route))
        for member in route.members:
            if member.type in ("node", "way"):
                tokens[member.osm_id].add(token)
    return dict(tokens)
