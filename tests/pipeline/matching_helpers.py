"""Builders for constructed matching cases: records placed at exact metre offsets.

Offsets are due north of a base point, where the great-circle distance is exactly
``EARTH_RADIUS_M * dlat``, so a case at 49.9 m really is 49.9 m (and 50.1 m really is not 50 m).
East offsets are approximate (within millimetres at these distances) and used only for layout.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from stopsync.pipeline.engine import MatchEngine
from stopsync.pipeline.geo import EARTH_RADIUS_M
from stopsync.pipeline.records import AtlasPlatform, OsmElement

BASE_LAT, BASE_LON = 47.0, 8.0
M_PER_DEG = EARTH_RADIUS_M * math.pi / 180


def at(north_m: float = 0.0, east_m: float = 0.0) -> tuple[float, float]:
    lat = BASE_LAT + north_m / M_PER_DEG
    return lat, BASE_LON + east_m / (M_PER_DEG * math.cos(math.radians(lat)))


def atlas(sloid: str, north_m: float = 0.0, east_m: float = 0.0, *, number: str = "8500001",
          designation: str = "", name: str = "Testdorf, Post") -> AtlasPlatform:
    lat, lon = at(north_m, east_m)
    return AtlasPlatform(sloid=sloid, number=number, designation=designation, name=name, lat=lat, lon=lon)


def osm(node: int, north_m: float = 0.0, east_m: float = 0.0, kind: str = "platform", **tags: str) -> OsmElement:
    lat, lon = at(north_m, east_m)
    return OsmElement(osm_type="node", osm_numeric_id=node, lat=lat, lon=lon,
                      tags={k.replace("__", ":"): v for k, v in tags.items()}, kind=kind)


def engine_for(atlas_records: list[AtlasPlatform], osm_records: list[OsmElement],
               profile: Mapping[str, Any] | None = None, context: Mapping[str, Any] | None = None) -> MatchEngine:
    return MatchEngine(atlas_records, osm_records, profile, context=context)


def pairs(engine: MatchEngine) -> set[tuple[str, str]]:
    return {(link.sloid, link.osm_id) for link in engine.links}


def methods(engine: MatchEngine) -> dict[tuple[str, str], str]:
    return {(link.sloid, link.osm_id): link.method for link in engine.links}
