"""Which GTFS route and direction an OSM route relation stands for, when its tags do not say.

An OSM route relation yields a (route, direction) token only when it carries ``gtfs:route_id``
and a direction suffix in ``ref_trips``/``gtfs:trip_id:sample`` (see :mod:`.routes`). Many
relations carry neither, yet they list their stops in travel order, and so do the GTFS stop
patterns. With the timetable at hand, a relation's route and direction follow from comparing
the two sequences:

- the relation's stops become a sequence of UIC numbers (an element's ``uic_ref`` when ATLAS
  knows it, else the number of the nearest ATLAS platform within ``SNAP_M``);
- candidate routes are the one its ``gtfs:route_id`` names, else those whose
  ``route_short_name`` equals its ``ref``;
- per candidate pattern: the stops both share, and how many consecutive shared stops (in the
  relation's order) come in the pattern's order too (*order agreement*, 0..1);
- the relation takes the (route, direction) of the best pattern that shares at least
  ``MIN_SHARED`` stops (or all of a short relation's) with an order agreement of at least
  ``MIN_ORDER``, when no pattern of another route or of the opposite direction does as well.

A loop line or a relation listing the stops of both directions agrees with neither direction
clearly and gets no direction; a relation naming a route its stops do not fit keeps only its
explicit token. Everything is dictionary work per relation: a few thousand relations and their
candidate patterns nationally.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from .grouping import to_xyz
from .gtfs import GtfsFeed, StopResolution, normalise_route_id, route_token
from .records import AtlasPlatform, OsmElement, OsmRoute
from .routes import route_direction

SNAP_M = 30.0
MIN_SHARED = 3
MIN_ORDER = 0.8
MAX_CANDIDATE_ROUTES = 40


@dataclass(frozen=True)
class _Pattern:
    route: str  # normalised route id
    direction: int
    stops: tuple[str, ...]  # UIC numbers, consecutive repeats removed
    position: Mapping[str, int]  # UIC -> first index in ``stops``


def _dedupe(sequence: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for item in sequence:
        if item and (not out or out[-1] != item):
            out.append(item)
    return tuple(out)


def _patterns(feed: GtfsFeed, resolutions: Mapping[str, StopResolution],
              number_of: Mapping[str, str]) -> dict[str, list[_Pattern]]:
    normalised = {route.route_id: route.route_id_normalised for route in feed.routes}
    by_route: dict[str, list[_Pattern]] = defaultdict(list)
    seen: set[tuple[str, int, tuple[str, ...]]] = set()
    for pattern in feed.patterns:
        if pattern.direction_id not in (0, 1):
            continue
        route = normalised.get(pattern.route_id, normalise_route_id(pattern.route_id))
        stops = _dedupe(number_of.get(resolutions[s].sloid, "") if s in resolutions else "" for s in pattern.stop_ids)
        key = (route, int(pattern.direction_id), stops)
        if len(stops) < 2 or key in seen:
            continue
        seen.add(key)
        position: dict[str, int] = {}
        for index, uic in enumerate(stops):
            position.setdefault(uic, index)
        by_route[route].append(_Pattern(route, int(pattern.direction_id), stops, position))
    return by_route


def _element_numbers(osm: Sequence[OsmElement], atlas: Sequence[AtlasPlatform]) -> dict[str, str]:
    """osm_id -> UIC number for every platform/stop_position element that has one."""
    numbers = {p.number.strip() for p in atlas if p.number.strip()}
    result: dict[str, str] = {}
    untagged: list[int] = []
    for j, element in enumerate(osm):
        if element.kind not in ("platform", "stop_position"):
            continue
        if element.uic_ref in numbers:
            result[element.osm_id] = element.uic_ref
        else:
            untagged.append(j)
    if untagged and atlas:
        atlas_xyz = to_xyz(np.array([p.lat for p in atlas]), np.array([p.lon for p in atlas])).reshape(-1, 3)
        query = to_xyz(np.array([osm[j].lat for j in untagged]), np.array([osm[j].lon for j in untagged]))
        distance, nearest = cKDTree(atlas_xyz).query(query.reshape(-1, 3), distance_upper_bound=SNAP_M)
        for j, d, k in zip(untagged, distance, nearest, strict=True):
            if np.isfinite(d):
                number = atlas[int(k)].number.strip()
                if number:
                    result[osm[j].osm_id] = number
    return result


def _order_agreement(relation: Sequence[str], pattern: _Pattern) -> tuple[int, float]:
    """(shared stops, share of consecutive shared stops that keep the pattern's order)."""
    positions = [pattern.position[uic] for uic in relation if uic in pattern.position]
    shared = len(set(relation) & pattern.position.keys())
    if len(positions) < 2:
        return shared, 0.0
    steps = np.diff(np.asarray(positions))
    steps = steps[steps != 0]
    if len(steps) == 0:
        return shared, 0.0
    return shared, float(np.count_nonzero(steps > 0)) / len(steps)


def _choose(relation: Sequence[str], candidates: Iterable[_Pattern]) -> tuple[str, int] | None:
    """The (route, direction) the relation's stop sequence fits clearly best, if any."""
    needed = min(MIN_SHARED, len(set(relation)))
    best: dict[tuple[str, int], int] = {}
    for pattern in candidates:
        shared, order = _order_agreement(relation, pattern)
        if shared >= max(needed, 2) and order >= MIN_ORDER:
            key = (pattern.route, pattern.direction)
            best[key] = max(best.get(key, 0), shared)
    if not best:
        return None
    ranked = sorted(best.items(), key=lambda item: -item[1])
    if len(ranked) > 1 and ranked[1][1] == ranked[0][1]:
        return None  # two routes or both directions fit equally: no evidence
    return ranked[0][0]


def infer_osm_route_tokens(
    routes: Iterable[OsmRoute], osm: Sequence[OsmElement], atlas: Sequence[AtlasPlatform],
    feed: GtfsFeed, resolutions: Mapping[str, StopResolution],
) -> tuple[dict[str, set[str]], dict[str, Any]]:
    """Per member element, the (route, direction) tokens of its route relations: the explicit
    ones where the tags give route and direction, the inferred ones otherwise (see the module
    docstring); plus counts of how each relation's token was obtained."""
    number_of = {p.sloid: p.number.strip() for p in atlas}
    patterns = _patterns(feed, resolutions, number_of)
    by_short_name: dict[str, set[str]] = defaultdict(set)
    for route in feed.routes:
        if route.short_name.strip() and route.route_id_normalised in patterns:
            by_short_name[route.short_name.strip().casefold()].add(route.route_id_normalised)
    element_number = _element_numbers(osm, atlas)

    tokens: dict[str, set[str]] = defaultdict(set)
    stats = {"explicit": 0, "inferred_direction": 0, "inferred_route": 0, "undecided": 0}
    for relation in routes:
        if relation.kind != "route":
            continue
        explicit_route = normalise_route_id(relation.gtfs_route_id) if relation.gtfs_route_id else ""
        direction = route_direction(relation) if explicit_route else None
        token = ""
        if explicit_route and direction is not None:
            token = route_token(explicit_route, direction)
            stats["explicit"] += 1
        else:
            sequence = _dedupe(element_number.get(m.osm_id, "") for m in relation.members
                               if m.type in ("node", "way"))
            if explicit_route:
                candidates = [explicit_route]
            else:
                candidates = sorted(by_short_name.get(relation.ref.casefold(), ()))[:MAX_CANDIDATE_ROUTES]
            chosen = _choose(sequence, (p for route in candidates for p in patterns.get(route, ())))
            if chosen is not None:
                token = route_token(*chosen)
                stats["inferred_direction" if explicit_route else "inferred_route"] += 1
            elif explicit_route:
                token = route_token(explicit_route, None)
                stats["undecided"] += 1
            else:
                stats["undecided"] += 1
        if token:
            for member in relation.members:
                if member.type in ("node", "way"):
                    tokens[member.osm_id].add(token)
    return dict(tokens), stats
