"""Exact reference matching: ATLAS ``number`` equals OSM ``uic_ref`` (DOMAIN.md §3 step 2).

Within one UIC number, one OSM element and several ATLAS platforms link to it when they are
plausibly all served by it (see ``_near_enough``): the nearest platform at once, the others
only at order 900 (``shared_reference``) if no stage found an element of their own by then.
One ATLAS platform and several OSM elements link it to all, and several on both sides pair by
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
SCORE_SHARED = 0.75
DEFERRED_KEY = "exact_reference:deferred"


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

        # Beyond REFERENCE_MAX_M the shared number is a tagging error, not evidence.
        limit = engine.profile.reference_max_m
        osm = [j for j in osm if any(engine.distance_m(i, j) <= limit for i in atlas)]
        pairs: list[tuple[int, int, str]] = []
        if not osm:
            return
        if len(osm) == 1:
            near = [i for i in self._near_enough(engine, atlas, osm[0]) if not contradict(i, osm[0])]
            now, later = self._split_shared(engine, near, osm[0])
            pairs = [(i, osm[0], "one_osm") for i in now]
            deferred = engine.cache.setdefault(DEFERRED_KEY, [])
            deferred += [(i, osm[0], self._evidence(engine, uic, i, osm[0], "one_osm_shared", len(atlas), 1))
                         for i in later]
        elif len(atlas) == 1:
            only = atlas[0]
            same_code = [j for j in osm if agree(only, j)]
            if same_code:
                # The platform code singles out its own elements among the stop's others.
                pairs = [(only, j, "one_atlas_local_ref") for j in same_code]
            else:
                # Several elements for one platform (often both directions of a stop that ATLAS
                # has as one platform): they lie together; one further than EXACT_ONE_ATLAS_SPREAD_M
                # beyond the nearest is another stop's, stale or misplaced, and waits.
                fitting = [j for j in osm if not contradict(only, j)]
                if len(fitting) > 1:
                    distances = {j: engine.distance_m(only, j) for j in fitting}
                    bound = min(distances.values()) + engine.profile.exact_one_atlas_spread_m
                    fitting = [j for j in fitting if distances[j] <= bound]
                pairs = [(only, j, "one_atlas") for j in fitting]
        else:
            pairs = [(i, j, "n_to_m_local_ref") for i in atlas for j in osm if agree(i, j)]
        for i, j, rule in pairs:
            if engine.distance_m(i, j) > limit:
                continue
            if i not in self._open_atlas and not agree(i, j):
                continue  # linked before: only its own platform code adds links
            engine.link(i, j, METHOD, score=SCORE_BOTH if agree(i, j) else SCORE_UIC_ONLY,
                        evidence=self._evidence(engine, uic, i, j, rule, len(atlas), len(osm)))

    @staticmethod
    def _split_shared(engine: MatchEngine, near: list[int], j: int) -> tuple[list[int], list[int]]:
        """The platforms to link now (the nearest, and those about as near) and those that wait
        for ``shared_reference``: their own element, without ``uic_ref``, may yet turn up."""
        if len(near) < 2:
            return near, []
        distances = {i: engine.distance_m(i, j) for i in near}
        bound = min(distances.values()) + engine.profile.exact_one_osm_defer_m
        return [i for i in near if distances[i] <= bound], [i for i in near if distances[i] > bound]

    @staticmethod
    def _near_enough(engine: MatchEngine, atlas: list[int], j: int) -> list[int]:
        """The ATLAS platforms of a 1:N group that the one element may stand for.

        One element for N platforms is either shared by them (it lies about as far from
        each) or the element of one of them whose siblings are unmapped or lack ``uic_ref``
        (it lies near that one, and clearly further from the others). A platform more than
        ``EXACT_ONE_OSM_FACTOR`` x the nearest platform's distance + ``EXACT_ONE_OSM_SLACK_M``
        away is the second case's sibling and is left to the later stages; so is one beyond
        the ``*_SOFT_*`` bound (1.5 x + 2 m) that has another stop element nearer than this one.
        """
        profile = engine.profile
        atlas = [i for i in atlas if engine.distance_m(i, j) <= profile.reference_max_m]
        if len(atlas) < 2:
            return atlas
        distances = [engine.distance_m(i, j) for i in atlas]
        nearest = min(distances)
        bound = profile.exact_one_osm_factor * nearest + profile.exact_one_osm_slack_m
        # Closer to the bound, a stop element nearer the platform than this one is likely its own.
        soft = profile.exact_one_osm_soft_factor * nearest + profile.exact_one_osm_soft_slack_m
        return [i for i, d in zip(atlas, distances, strict=True)
                if d <= bound and (d <= soft or not engine.nearer_element_exists(i, j))]

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


class SharedReferenceStrategy(MatchingStrategy):
    """The deferred part of the 1:N rule: platforms of a UIC group that one element stands
    for, but which lie further from it than the group's nearest platform. Those that no other
    stage linked to an element of their own share the element now (a stop mapped with one
    element for both directions)."""

    name = "shared_reference"
    description = "one uic_ref element for several platforms: the further ones, if still unmatched"
    order = 900

    def run(self, engine: MatchEngine) -> None:
        deferred: list[tuple[int, int, dict[str, Any]]] = engine.cache.get(DEFERRED_KEY, [])
        linked = 0
        for i, j, evidence in deferred:
            if engine.is_atlas_linked(i):
                continue
            if engine.link(i, j, self.name, score=SCORE_SHARED, evidence=evidence) is not None:
                linked += 1
        engine.record_stage(self.name, {"deferred": len(deferred), "linked": linked})


@hookimpl
def stopsync_register_matching_strategies() -> list[type[MatchingStrategy]]:
    return [ExactReferenceStrategy, SharedReferenceStrategy]
