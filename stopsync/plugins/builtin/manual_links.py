"""Manual links: pairs people decided on, applied before any automatic stage (order 100).

They come from the profile key ``MANUAL_LINKS`` (a list of ``{"sloid", "osm_id"}``) and from
``engine.context["manual_links"]`` (same shape; the review database provides them). A link
whose SLOID or OSM id is not in this run's data is skipped and counted, never an error: the
data changes under decisions that outlive it.
"""

from __future__ import annotations

from ...pipeline.engine import MatchEngine
from ...pipeline.profile import parse_manual_links
from ..base import MatchingStrategy
from ..hookspecs import hookimpl

METHOD = "manual_links"


class ManualLinksStrategy(MatchingStrategy):
    name = METHOD
    description = "links recorded by people (MANUAL_LINKS and review decisions)"
    order = 100

    def run(self, engine: MatchEngine) -> None:
        manual = list(engine.profile.manual_links)
        manual += parse_manual_links(list(engine.context.get("manual_links") or []))
        atlas_index = {p.sloid: i for i, p in enumerate(engine.atlas)}
        osm_index = {e.osm_id: j for j, e in enumerate(engine.osm)}
        stats = {"given": len(manual), "linked": 0, "unknown_sloid": 0, "unknown_osm_id": 0, "refused": 0}
        for item in manual:
            i, j = atlas_index.get(item.sloid), osm_index.get(item.osm_id)
            if i is None:
                stats["unknown_sloid"] += 1
            if j is None:
                stats["unknown_osm_id"] += 1
            if i is None or j is None:
                continue
            if engine.link(i, j, METHOD, score=1.0, evidence={"manual": True}) is None:
                stats["refused"] += 1  # a station, or the same pair twice
            else:
                stats["linked"] += 1
        engine.record_stage(self.name, stats)


@hookimpl
def stopsync_register_matching_strategies() -> list[type[MatchingStrategy]]:
    return [ManualLinksStrategy]
