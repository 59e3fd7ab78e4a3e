"""Exact reference matching: ATLAS ``number`` equals OSM ``uic_ref`` (DOMAIN.md §3 step 2).

Within one UIC number, one OSM element and several ATLAS platforms link all to it, one ATLAS
platform and several OSM elements link it to all, and several on both sides pair by
``designation == local_ref``. Where both platform codes are present and differ, the pair is
never linked: that is a contradiction, not evidence. Stations are never candidates.

An ATLAS platform an earlier stage already linked (say by ``ref:sloid`` to its platform node)
still counts in its UIC group, and may gain further links, but only to still-unmatched
elements whose ``local_ref`` equals its ``designation`` (its own stop_position, typically).
Links carry over to unit siblings and ATLAS duplicates through ``engine.link``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ...pipeline.engine import MatchEngine
from ..base import MatchingStrategy
from ..hookspecs import hookimpl

METHOD = "exact_reference"
ELIGIBLE_KINDS = ("platform", "stop_position")
SCORE_BOTH = 1.0
SCORE_UIC_ONLY = 0.9


def platform_code(value: str) -> str:
    return value.strip().casefold()


class ExactReferenceStrategy(MatchingStrategy):
    name = "exact_reference"
    description = "UIC number equals uic_ref; several per side paired by platform code"
    order = 200

    def run(self, engine: MatchEngine) -> None:
        self._open_atlas = set(engine.unmatched_atlas())
        atlas_by_uic: dict[str, list[int]] = defaultdict(list)
        for i, platform in enumerate(engine.atlas):
            number = platform.number.strip()
            if number:
                atlas_by_uic[number].append(i)
        osm_by_uic: dict[str, list[int]] = defaultdict(list)
        for j in engine.unmatched_osm():
            element = engine.osm[j]
            if element.kind in ELIGIBLE_KINDS and element.uic_ref:
                osm_by_uic[element.uic_ref].append(j)
        for uic in sorted(atlas_by_uic.keys() & osm_by_uic.keys()):
            self._link_group(engine, uic, atlas_by_uic[uic], osm_by_uic[uic])

    def _link_group(self, engine: MatchEngine, uic: str, atlas: list[int], osm: list[int]) -> None:
        def code_a(i: int) -> str:
            return platform_code(engine.atlas[i].designation)

        def code_o(j: int) -> str:
            return platform_code(engine.osm[j].local_ref)

        def agree(i: int, j: int) -> bool:
            return bool(code_a(i)) and code_a(i) == code_o(j)

        def contradict(i: int, j: int) -> bool:
            return bool(code_a(i)) and bool(code_o(j)) and code_a(i) != code_o(j)

        pairs: list[tuple[int, int, str]] = []
        if len(osm) == 1:
            pairs = [(i, osm[0], "one_osm") for i in atlas if not contradict(i, osm[0])]
        elif len(atlas) == 1:
            only = atlas[0]
            same_code = [j for j in osm if agree(only, j)]
            if same_code:
                # The platform code singles out its own elements among the stop's others.
                pairs = [(only, j, "one_atlas_local_ref") for j in same_code]
            else:
                pairs = [(only, j, "one_atlas") for j in osm if not contradict(only, j)]
        else:
            pairs = [(i, j, "n_to_m_local_ref") for i in atlas for j in osm if agree(i, j)]
        for i, j, rule in pairs:
            if i not in self._open_atlas and not agree(i, j):
                continue  # linked before: only its own platform code adds links
            engine.link(i, j, METHOD, score=SCORE_BOTH if agree(i, j) else SCORE_UIC_ONLY,
                        evidence=self._evidence(engine, uic, i, j, rule, len(atlas), len(osm)))

    @staticmethod
    def _evidence(
        engine: MatchEngine, uic: str, i: int, j: int, rule: str, n_atlas: int, n_osm: int
    ) -> dict[str, Any]:
        evidence: dict[str, Any] = {"uic_ref": uic, "rule": rule, "group": f"{n_atlas}:{n_osm}"}
        if engine.osm[j].local_ref:
            evidence["local_ref"] = engine.osm[j].local_ref
        if engine.atlas[i].designation:
            evidence["designation"] = engine.atlas[i].designation
        return evidence


@hookimpl
def stopsync_register_matching_strategies() -> list[type[MatchingStrategy]]:
    return [ExactReferenceStrategy]
