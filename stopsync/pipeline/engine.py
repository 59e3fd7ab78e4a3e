"""The matching engine: holds both sides and the links that strategies commit.

Strategies never mutate state directly; they call :meth:`MatchEngine.link`, which records the
method, distance, score and evidence of every link and keeps the "still unmatched" views
consistent. The engine knows nothing about Flask or databases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .geo import haversine_m
from .records import AtlasPlatform, Link, OsmElement


class MatchEngine:
    """State of one matching run over one ATLAS and one OSM record set."""

    def __init__(
        self,
        atlas: Sequence[AtlasPlatform],
        osm: Sequence[OsmElement],
        profile: Mapping[str, Any] | None = None,
    ) -> None:
        self.atlas = list(atlas)
        self.osm = list(osm)
        self.profile: Mapping[str, Any] = dict(profile or {})
        self.links: list[Link] = []
        self._atlas_linked = [False] * len(self.atlas)
        self._osm_linked = [False] * len(self.osm)
        self._pairs: set[tuple[int, int]] = set()

    def unmatched_atlas(self) -> list[int]:
        """Indices of ATLAS platforms that no strategy has linked yet."""
        return [i for i, linked in enumerate(self._atlas_linked) if not linked]

    def unmatched_osm(self) -> list[int]:
        """Indices of OSM elements that no strategy has linked yet."""
        return [j for j, linked in enumerate(self._osm_linked) if not linked]

    def is_atlas_linked(self, atlas_index: int) -> bool:
        return self._atlas_linked[atlas_index]

    def is_osm_linked(self, osm_index: int) -> bool:
        return self._osm_linked[osm_index]

    def distance_m(self, atlas_index: int, osm_index: int) -> float:
        a, o = self.atlas[atlas_index], self.osm[osm_index]
        return haversine_m(a.lat, a.lon, o.lat, o.lon)

    def link(
        self,
        atlas_index: int,
        osm_index: int,
        method: str,
        *,
        score: float = 1.0,
        evidence: Mapping[str, Any] | None = None,
    ) -> Link | None:
        """Commit one link; returns ``None`` when exactly this pair is already linked."""
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"score must lie in [0, 1], got {score!r}")
        pair = (atlas_index, osm_index)
        if pair in self._pairs:
            return None
        self._pairs.add(pair)
        link = Link(
            sloid=self.atlas[atlas_index].sloid,
            osm_id=self.osm[osm_index].osm_id,
            method=method,
            distance_m=round(self.distance_m(atlas_index, osm_index), 2),
            score=score,
            evidence=dict(evidence or {}),
        )
        self.links.append(link)
        self._atlas_linked[atlas_index] = True
        self._osm_linked[osm_index] = True
        return link

    def counts_per_method(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for link in self.links:
            counts[link.method] = counts.get(link.method, 0) + 1
        return dict(sorted(counts.items()))
