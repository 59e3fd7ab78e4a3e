"""Normalised records that flow between the pipeline stages.

They are plain dataclasses so that the engine runs and is tested without Flask or a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class AtlasPlatform:
    """One ATLAS traffic point (a boarding platform) after parsing."""

    sloid: str
    number: str  # 7-digit UIC number of the service point, e.g. "8507000"
    designation: str  # platform code, e.g. "1", "A"; "" when absent
    name: str  # designationOfficial, e.g. "Glarus, Stampf"
    lat: float
    lon: float
    element_type: str = "BOARDING_PLATFORM"
    country_code: str = "85"
    valid_from: str = ""
    valid_to: str = ""
    parent_sloid: str = ""  # parentSloidServicePoint
    operator: str = ""  # business organisation abbreviation (De)
    operator_name: str = ""  # business organisation description (De)
    line: int = 0  # line of the source file, for error messages


# The kinds an OSM element can have, derived from its tags.
OSM_KINDS = ("platform", "stop_position", "station", "other")


@dataclass(slots=True)
class OsmElement:
    """One OSM stop element; ways and areas are represented by a point."""

    osm_type: str  # "node", "way" or "relation"
    osm_numeric_id: int
    lat: float
    lon: float
    tags: dict[str, str] = field(default_factory=dict)
    kind: str = "other"

    @property
    def osm_id(self) -> str:
        """The typed id, as OSM tooling writes it: ``node/123``."""
        return f"{self.osm_type}/{self.osm_numeric_id}"

    @property
    def uic_ref(self) -> str:
        return self.tags.get("uic_ref", "").strip()

    @property
    def local_ref(self) -> str:
        return self.tags.get("local_ref", "").strip()

    @property
    def sloid(self) -> str:
        return self.tags.get("ref:sloid", "").strip()

    @property
    def name(self) -> str:
        return self.tags.get("name", "").strip()


@dataclass(frozen=True, slots=True)
class Link:
    """One linked pair: an ATLAS platform and an OSM element."""

    sloid: str
    osm_id: str
    method: str
    distance_m: float
    score: float = 1.0
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OsmMember:
    """One member of an OSM relation, as written in the relation (order matters for routes)."""

    type: str  # "node", "way" or "relation"
    ref: int
    role: str = ""

    @property
    def osm_id(self) -> str:
        return f"{self.type}/{self.ref}"


# The kinds of OSM route relation stopsync reads.
OSM_ROUTE_KINDS = ("route", "route_master")


@dataclass(slots=True)
class OsmRoute:
    """One public-transport route relation (``type=route``) or its ``type=route_master``."""

    osm_numeric_id: int
    tags: dict[str, str] = field(default_factory=dict)
    members: list[OsmMember] = field(default_factory=list)  # in the relation's own order
    kind: str = "route"

    @property
    def osm_id(self) -> str:
        return f"relation/{self.osm_numeric_id}"

    @property
    def ref(self) -> str:
        return self.tags.get("ref", "").strip()

    @property
    def name(self) -> str:
        return self.tags.get("name", "").strip()

    @property
    def route(self) -> str:
        """The mode (``bus``, ``train``, ...): ``route`` on a route, ``route_master`` on a master."""
        key = "route_master" if self.kind == "route_master" else "route"
        return self.tags.get(key, "").strip()

    @property
    def gtfs_route_id(self) -> str:
        return self.tags.get("gtfs:route_id", "").strip()
