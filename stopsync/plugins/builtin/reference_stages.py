"""``ref:sloid``: an OSM element that names the SLOID itself (order 150, the strongest evidence).

OSM allows several values separated by ``;`` (an element serving two platforms). Stations are
never linked, even when tagged.
"""

from __future__ import annotations

from ...pipeline.engine import MatchEngine
from ..base import MatchingStrategy
from ..hookspecs import hookimpl

METHOD = "ref_sloid"


class RefSloidStrategy(MatchingStrategy):
    name = METHOD
    description = "OSM ref:sloid equals the ATLAS SLOID"
    order = 150

    def run(self, engine: MatchEngine) -> None:
        atlas_index = {p.sloid: i for i, p in enumerate(engine.atlas)}
        # Only ATLAS platforms that earlier stages left open; several elements may carry one SLOID.
        open_atlas = set(engine.unmatched_atlas())
        stats = {"tagged": 0, "linked": 0, "unknown_sloid": 0}
        for j in engine.unmatched_osm():
            element = engine.osm[j]
            if not element.sloid or element.kind == "station":
                continue
            stats["tagged"] += 1
            for value in (v.strip() for v in element.sloid.split(";")):
                i = atlas_index.get(value)
                if i is None:
                    stats["unknown_sloid"] += 1
                elif i in open_atlas and engine.link(
                        i, j, METHOD, score=1.0, evidence={"ref:sloid": value}) is not None:
                    stats["linked"] += 1
        engine.record_stage(self.name, stats)


@hookimpl
def stopsync_register_matching_strategies() -> list[type[MatchingStrategy]]:
    return [RefSloidStrategy]
