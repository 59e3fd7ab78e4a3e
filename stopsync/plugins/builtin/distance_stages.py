"""Distance stages (DOMAIN.md §3 steps 5-6): group proximity, platform code within a radius,
the single candidate, and the ratio test.

All of them look only at free OSM representatives (a stop unit counts once) and link through
``engine.link(..., exclusive=True)``, so one representative serves one ATLAS platform. Pairs
whose platform codes contradict (``designation`` vs ``local_ref``, both present) never link.
"""

from __future__ import annotations

import abc
from collections import defaultdict
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from ...pipeline.engine import CandidatePairs, MatchEngine
from ..base import MatchingStrategy
from ..hookspecs import hookimpl
from .name_stages import name_table
from .selection import count_per, distance_score, link_selected, mutual_best, rank_in_atlas

GROUP_KINDS = ("uic", "uic_name", "name")
_MAX_ROUNDS = 10


def _keys(engine: MatchEngine, kind: str) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Group keys of both sides as integers (0 = no key) for one kind of group."""
    cached = engine.cache.get(f"group_keys:{kind}")
    if cached is not None:
        return tuple(cached)  # type: ignore[return-value]
    if kind == "uic":
        ids: dict[str, int] = {"": 0}
        atlas = np.array([ids.setdefault(p.number.strip(), len(ids)) for p in engine.atlas], dtype=np.int64)
        osm = np.array([ids.setdefault(e.uic_ref, len(ids)) for e in engine.osm], dtype=np.int64)
        engine.cache["group_keys:uic"] = (atlas, osm)
        return atlas, osm
    table = name_table(engine)
    # ATLAS official names are compared with uic_name whole, and by their stop part with name.
    if kind == "uic_name":
        return table.atlas_full, table.osm_uic_name
    return table.atlas_stop, table.osm_name


def assign(pairs: CandidatePairs, radius: float) -> NDArray[np.bool_]:
    """Maximum-cardinality, then minimum-total-distance assignment over the pairs (edges).

    Forbidden cells cost more than any all-real assignment (``(m + 1) * radius``), so the
    solver first maximises the number of real edges, then minimises their total length.
    """
    selected = np.zeros(len(pairs), dtype=bool)
    if len(pairs) == 0:
        return selected
    rows, row_of = np.unique(pairs.atlas, return_inverse=True)
    cols, col_of = np.unique(pairs.osm, return_inverse=True)
    size = min(len(rows), len(cols))
    forbidden = (size + 1) * max(radius, 1.0)
    cost = np.full((len(rows), len(cols)), forbidden)
    cost[row_of, col_of] = pairs.distance
    edge = np.full((len(rows), len(cols)), -1, dtype=np.int64)
    edge[row_of, col_of] = np.arange(len(pairs))
    chosen_rows, chosen_cols = linear_sum_assignment(cost)
    chosen = edge[chosen_rows, chosen_cols]
    selected[chosen[chosen >= 0]] = True
    return selected


def _ambiguous(edges: CandidatePairs, selected: NDArray[np.bool_], margin_m: float, share: float) -> NDArray[np.bool_]:
    """Selected edges the distances cannot really decide: another platform wants the same
    element and giving it to that one instead costs less than ``margin_m + share x d`` more
    in total (the other platform left out, or the two swapping their elements). Such a
    choice is a coin toss between two directions or two platforms of one stop; the platform
    is better left unmatched with a reason than linked to the wrong element."""
    result = np.zeros(len(edges), dtype=bool)
    distance = {(int(a), int(o)): float(d) for a, o, d in zip(edges.atlas, edges.osm, edges.distance, strict=True)}
    assigned = {int(edges.atlas[k]): int(edges.osm[k]) for k in np.flatnonzero(selected)}
    wanting: dict[int, list[int]] = defaultdict(list)
    for a, o in distance:
        wanting[o].append(a)
    for k in np.flatnonzero(selected).tolist():
        i, j = int(edges.atlas[k]), int(edges.osm[k])
        d = distance[(i, j)]
        margin = margin_m + share * d
        for other in wanting[j]:
            if other == i:
                continue
            mine = assigned.get(other)
            if mine is None:
                extra = distance[(other, j)] - d
            elif (i, mine) in distance:
                extra = distance[(other, j)] + distance[(i, mine)] - d - distance[(other, mine)]
            else:
                continue
            if extra <= margin:
                result[k] = True
                break
    return result


class GroupProximityStrategy(MatchingStrategy):
    name = "group_proximity"
    description = "per UIC / uic_name / name group: optimal assignment within 50 m, then one-to-one within 150 m"
    order = 500

    def run(self, engine: MatchEngine) -> None:
        stats: dict[str, Any] = {"linked": 0, "assignments_solved": 0, "per_pass": {}}
        for radius in engine.profile.group_radii_m:
            for kind in GROUP_KINDS:
                if kind == "name" and radius > engine.profile.group_name_max_m:
                    continue  # a bare stop name ("Post", "Schule") recurs in every town
                linked = self._pass(engine, kind, radius, stats)
                stats["per_pass"][f"{kind}@{radius:g}m"] = linked
                stats["linked"] += linked
        engine.record_stage(self.name, stats)

    def _pass(self, engine: MatchEngine, kind: str, radius: float, stats: dict[str, Any]) -> int:
        atlas_key, osm_key = _keys(engine, kind)
        pairs = engine.candidate_pairs(engine.pending_atlas(), radius)
        same = (atlas_key[pairs.atlas] > 0) & (atlas_key[pairs.atlas] == osm_key[pairs.osm])
        uic_atlas, uic_osm = _keys(engine, "uic")
        uic_a, uic_o = uic_atlas[pairs.atlas], uic_osm[pairs.osm]
        uic_conflict = (uic_a > 0) & (uic_o > 0) & (uic_a != uic_o)
        edges = pairs.where(same & ~uic_conflict & ~engine.codes_contradict(pairs.atlas, pairs.osm))
        edges = edges.where(~engine.nearer_other_platform(edges))
        edges = edges.where(~engine.routes_contradict_pairs(edges))
        if len(edges) == 0:
            return 0
        group_sizes: dict[int, int] = {}
        # One edge on both ends needs no solver; the rest is solved per group key.
        selected = (count_per(edges.atlas) == 1) & (count_per(edges.osm) == 1)
        keys = atlas_key[edges.atlas]
        by_key: dict[int, list[int]] = defaultdict(list)
        for k in np.flatnonzero(~selected).tolist():
            by_key[int(keys[k])].append(k)
        # Beyond the first radius distance says little: only one-to-one groups link there.
        far = radius > engine.profile.group_radii_m[0]
        for members in by_key.values() if not far else ():
            index = np.array(members, dtype=np.int64)
            sub = CandidatePairs(edges.atlas[index], edges.osm[index], edges.distance[index])
            selected[index[assign(sub, radius)]] = True
            stats["assignments_solved"] += 1
        ambiguous = _ambiguous(edges, selected, engine.profile.group_swap_margin_m, engine.profile.group_swap_share)
        stats["ambiguous"] = stats.get("ambiguous", 0) + int(ambiguous.sum())
        if ambiguous.any():
            contested = np.isin(edges.osm, edges.osm[ambiguous])
            engine.mark_ambiguous(edges.atlas[contested], edges.osm[contested])
        selected &= ~ambiguous
        for k in np.flatnonzero(selected).tolist():
            key = int(keys[k])
            group_sizes[key] = group_sizes.get(key, 0) + 1

        def score(k: int) -> float:
            return distance_score(float(edges.distance[k]), radius, 0.85)

        def evidence(k: int) -> dict[str, Any]:
            return {"group": kind, "radius_m": radius, "assigned_in_group": group_sizes[int(keys[k])]}

        return link_selected(engine, edges, selected, self.name, score, evidence)


class _RoundsStrategy(MatchingStrategy):
    """A stage that repeats: a link can leave a neighbour with a clearer choice."""

    def run(self, engine: MatchEngine) -> None:
        total = 0
        for _ in range(_MAX_ROUNDS):
            linked = self.round(engine)
            total += linked
            if not linked:
                break
        engine.record_stage(self.name, {"linked": total, **self.settings(engine)})

    def settings(self, engine: MatchEngine) -> dict[str, Any]:
        return {}

    @abc.abstractmethod
    def round(self, engine: MatchEngine) -> int:
        """Link what is clear now; return the number of links made."""


class PlatformCodeDistanceStrategy(_RoundsStrategy):
    name = "platform_code_distance"
    description = "local_ref equals designation within 50 m; nearest on both sides"
    order = 600

    def settings(self, engine: MatchEngine) -> dict[str, Any]:
        return {"radius_m": engine.profile.platform_code_max_m}

    def round(self, engine: MatchEngine) -> int:
        radius = engine.profile.platform_code_max_m
        pairs = engine.candidate_pairs(engine.pending_atlas(), radius)
        pairs = pairs.where(engine.codes_agree(pairs.atlas, pairs.osm))
        ranks = rank_in_atlas(pairs)

        def score(k: int) -> float:
            return distance_score(float(pairs.distance[k]), radius, 0.8)

        def evidence(k: int) -> dict[str, Any]:
            return {"local_ref": engine.osm[int(pairs.osm[k])].local_ref, "radius_m": radius,
                    "rank_among_same_code": int(ranks[k])}

        return link_selected(engine, pairs, mutual_best(pairs, pairs.distance), self.name, score, evidence)


class SingleCandidateStrategy(_RoundsStrategy):
    name = "single_candidate"
    description = "the only free OSM representative within 50 m, unless platform codes contradict"
    order = 650

    def settings(self, engine: MatchEngine) -> dict[str, Any]:
        return {"radius_m": engine.profile.single_candidate_max_m}

    def round(self, engine: MatchEngine) -> int:
        radius = engine.profile.single_candidate_max_m
        pairs = engine.candidate_pairs(engine.pending_atlas(), radius)
        only = pairs.where(count_per(pairs.atlas) == 1)
        only = only.where(~engine.nearer_other_platform(only))
        only = only.where(~engine.codes_contradict(only.atlas, only.osm))
        only = only.where(~engine.routes_contradict_pairs(only) & ~engine.is_ambiguous(only))
        # Two platforms whose only candidate is the same element: neither may take it.
        selected = count_per(only.osm) == 1

        def score(k: int) -> float:
            return distance_score(float(only.distance[k]), radius, 0.7)

        def evidence(k: int) -> dict[str, Any]:
            return {"candidates_within_m": radius, "candidates": 1, "rank": 1}

        return link_selected(engine, only, selected, self.name, score, evidence)


class RatioTestStrategy(_RoundsStrategy):
    name = "ratio_test"
    description = "nearest within 50 m when the second-nearest is >= 10 m and >= 4x as far"
    order = 700

    def settings(self, engine: MatchEngine) -> dict[str, Any]:
        profile = engine.profile
        return {"max_m": profile.ratio_max_m, "min_second_m": profile.ratio_min_second_m,
                "factor": profile.ratio_factor}

    def round(self, engine: MatchEngine) -> int:
        profile = engine.profile
        # Beyond this bound the second-nearest passes both gates whatever its distance.
        bound = max(profile.ratio_factor * profile.ratio_max_m, profile.ratio_min_second_m) + 1.0
        pending = engine.pending_atlas()
        nearest, first, second = engine.nearest_two(pending, bound)
        ok = ((nearest >= 0) & (first <= profile.ratio_max_m) & (second >= profile.ratio_min_second_m)
              & (second >= profile.ratio_factor * first))
        pairs = CandidatePairs(pending[ok], nearest[ok], first[ok])
        seconds = second[ok]
        compatible = (~engine.codes_contradict(pairs.atlas, pairs.osm) & ~engine.nearer_other_platform(pairs)
                      & ~engine.routes_contradict_pairs(pairs) & ~engine.is_ambiguous(pairs))
        pairs, seconds = pairs.where(compatible), seconds[compatible]
        # Two platforms passing with the same nearest element: only the closer one takes it.
        selected = mutual_best(pairs, pairs.distance)

        def score(k: int) -> float:
            return distance_score(float(pairs.distance[k]), profile.ratio_max_m, 0.65)

        def evidence(k: int) -> dict[str, Any]:
            d1, d2 = float(pairs.distance[k]), float(seconds[k])
            return {"second_nearest_m": None if np.isinf(d2) else round(d2, 2),
                    "ratio": None if d1 == 0 or np.isinf(d2) else round(d2 / d1, 2), "rank": 1}

        return link_selected(engine, pairs, selected, self.name, score, evidence)


@hookimpl
def stopsync_register_matching_strategies() -> list[type[MatchingStrategy]]:
    return [GroupProximityStrategy, PlatformCodeDistanceStrategy, SingleCandidateStrategy, RatioTestStrategy]
