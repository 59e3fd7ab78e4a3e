"""The matching engine: holds both sides, the stop units and the links that strategies commit.

Strategies never mutate state directly; they call :meth:`MatchEngine.link`, the one place that
enforces the cardinality rules:

- stations are never linked;
- with ``exclusive=True`` (the distance stages) an ATLAS platform gets one link and an OSM
  representative is used once: the link is refused when either side is already taken;
- a link to an OSM element carries its unit siblings along (a pair's other member, a trio
  side's middle stop_position), method unchanged, evidence ``propagated_from``;
- a link of an ATLAS platform is copied to its duplicates (same ``number`` + ``designation``);
- a sibling lying much nearer another ATLAS platform is not carried along (the
  ``nearer_other_platform`` gate): it is most likely that platform's element;
- a link whose two sides are served by the same route in opposite directions only (GTFS tokens
  of the SLOID vs the OSM route relations of the element, see :meth:`MatchEngine.routes_contradict`)
  is refused, and so is the propagation to such a sibling: the two belong to the two
  directions of a stop. Explicit links (``manual_links``, ``ref_sloid``) and links whose
  platform codes agree are exempt.

Spatial queries run on KD-trees over 3-D cartesian metres (see ``grouping.py``), so radius
gates are exact great-circle distances. The engine knows nothing about Flask or databases.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from .geo import haversine_m
from .grouping import ELIGIBLE_KINDS, StopUnits, chord_to_arc_m, group_units, to_xyz
from .profile import Profile, load_profile
from .records import AtlasPlatform, Link, OsmElement

# Methods that state a link outright: route directions never veto them.
EXPLICIT_METHODS = frozenset({"manual_links", "ref_sloid"})
UNMATCHED_REASONS = ("no_osm_within_50m", "no_candidate", "contradicting_platform_code", "ambiguous")
# Rebuild the tree of free representatives once this share of its points has been taken.
_STALE_SHARE = 0.2


@dataclass(frozen=True)
class CandidatePairs:
    """Parallel arrays of (ATLAS index, OSM index, metres), sorted by ATLAS then distance."""

    atlas: NDArray[np.int64]
    osm: NDArray[np.int64]
    distance: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.atlas)

    def where(self, mask: NDArray[np.bool_]) -> CandidatePairs:
        return CandidatePairs(self.atlas[mask], self.osm[mask], self.distance[mask])


@dataclass(frozen=True)
class UnmatchedReason:
    reason: str  # one of UNMATCHED_REASONS
    candidates: tuple[str, ...] = ()  # OSM ids that were in reach but not linked


def platform_code(value: str) -> str:
    return value.strip().casefold()


class MatchEngine:
    """State of one matching run over one ATLAS and one OSM record set."""

    def __init__(
        self,
        atlas: Sequence[AtlasPlatform],
        osm: Sequence[OsmElement],
        profile: Profile | Mapping[str, Any] | None = None,
        *,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        self.atlas = list(atlas)
        self.osm = list(osm)
        self.profile: Profile = load_profile(profile)
        self.context: dict[str, Any] = dict(context or {})
        self.links: list[Link] = []
        self.stage_stats: dict[str, dict[str, Any]] = {}
        # Derived tables strategies share (e.g. normalised names), built by whoever needs them first.
        self.cache: dict[str, Any] = {}
        self.refused: dict[str, int] = defaultdict(int)
        self._atlas_linked = np.zeros(len(self.atlas), dtype=bool)
        self._osm_linked = np.zeros(len(self.osm), dtype=bool)
        self._pairs: set[tuple[int, int]] = set()

        self.atlas_xyz = to_xyz(np.array([p.lat for p in self.atlas], dtype=float),
                                np.array([p.lon for p in self.atlas], dtype=float)).reshape(-1, 3)
        self.osm_xyz = to_xyz(np.array([e.lat for e in self.osm], dtype=float),
                              np.array([e.lon for e in self.osm], dtype=float)).reshape(-1, 3)
        self.units: StopUnits = group_units(self.osm, self.atlas, self.osm_xyz, self.profile, self.atlas_xyz)
        eligible = np.array([e.kind in ELIGIBLE_KINDS for e in self.osm], dtype=bool)
        self.osm_eligible = eligible
        # Distance stages see only representatives of platform/stop_position kind.
        self.osm_candidate = eligible & self.units.is_representative
        n_slots = int(self.units.slot_of.max()) + 1 if len(self.osm) else 0
        self._slot_taken = np.zeros(max(n_slots, 0), dtype=bool)

        self._duplicates: dict[int, tuple[int, ...]] = {}
        self._atlas_primary = np.ones(len(self.atlas), dtype=bool)
        by_key: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, platform in enumerate(self.atlas):
            # An empty platform code is not an identity: two unlettered platforms of a stop differ.
            if platform.number.strip() and platform_code(platform.designation):
                by_key[(platform.number.strip(), platform_code(platform.designation))].append(i)
        for group in by_key.values():
            if len(group) > 1:
                for i in group:
                    self._duplicates[i] = tuple(k for k in group if k != i)
                self._atlas_primary[group[1:]] = False

        # One id per duplicate group (the lowest member's index), for "another platform" tests.
        self._duplicate_group = np.arange(len(self.atlas), dtype=np.int64)
        for i, others in self._duplicates.items():
            self._duplicate_group[i] = min(i, *others)
        self._atlas_tree: Any = None
        self._nearest_atlas_table: tuple[NDArray[np.float64], NDArray[np.int64]] | None = None

        # Platform codes as small integers (0 = none) so gates compare whole arrays at once.
        vocabulary: dict[str, int] = {"": 0}
        self.atlas_code = np.array([vocabulary.setdefault(platform_code(p.designation), len(vocabulary))
                                    for p in self.atlas], dtype=np.int64)
        self.osm_code = np.array([vocabulary.setdefault(platform_code(e.local_ref), len(vocabulary))
                                  for e in self.osm], dtype=np.int64)
        numbers: dict[str, int] = {"": 0}
        self.atlas_uic = np.array([numbers.setdefault(p.number.strip(), len(numbers)) for p in self.atlas],
                                  dtype=np.int64)
        self.osm_uic = np.array([numbers.setdefault(e.uic_ref, len(numbers)) for e in self.osm], dtype=np.int64)

        self._tree: Any = None
        self._tree_index: NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._tree_stale = 0
        self._eligible_tree: Any = None
        self._eligible_index: NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._atlas_directions = _directions_by_index(
            (p.sloid for p in self.atlas), self.context.get("atlas_route_tokens") or {})
        self._osm_directions = _directions_by_index(
            (e.osm_id for e in self.osm), self.context.get("osm_route_tokens") or {})
        self._claims: dict[tuple[int, bool], frozenset[int]] = {}
        # (ATLAS, OSM) pairs a stage found undecidable by distance; later stages skip them.
        self._ambiguous: set[tuple[int, int]] = set()

    # -- state ---------------------------------------------------------------------------

    def unmatched_atlas(self) -> list[int]:
        """Indices of ATLAS platforms that no strategy has linked yet."""
        return np.flatnonzero(~self._atlas_linked).tolist()

    def unmatched_osm(self) -> list[int]:
        """Indices of OSM elements that no strategy has linked yet."""
        return np.flatnonzero(~self._osm_linked).tolist()

    def pending_atlas(self) -> NDArray[np.int64]:
        """Unmatched ATLAS platforms, one per duplicate group (the others follow by propagation)."""
        return np.flatnonzero(~self._atlas_linked & self._atlas_primary).astype(np.int64)

    def is_atlas_linked(self, atlas_index: int) -> bool:
        return bool(self._atlas_linked[atlas_index])

    def is_osm_linked(self, osm_index: int) -> bool:
        return bool(self._osm_linked[osm_index])

    def free_candidates(self) -> NDArray[np.bool_]:
        """Mask of OSM representatives a distance stage may still use."""
        slots = self.units.slot_of
        free = self.osm_candidate.copy()
        free[free] = ~self._slot_taken[slots[free]]
        return free

    def codes_contradict(self, atlas_indices: NDArray[np.int64], osm_indices: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Per pair: both platform codes present and different."""
        a, o = self.atlas_code[atlas_indices], self.osm_code[osm_indices]
        return np.asarray((a > 0) & (o > 0) & (a != o))

    def uic_contradict(self, atlas_indices: NDArray[np.int64], osm_indices: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Per pair: ATLAS ``number`` and OSM ``uic_ref`` both present and different."""
        a, o = self.atlas_uic[atlas_indices], self.osm_uic[osm_indices]
        return np.asarray((a > 0) & (o > 0) & (a != o))

    def codes_agree(self, atlas_indices: NDArray[np.int64], osm_indices: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Per pair: both platform codes present and equal (case-insensitive)."""
        a, o = self.atlas_code[atlas_indices], self.osm_code[osm_indices]
        return np.asarray((a > 0) & (a == o))

    def routes_contradict(self, atlas_index: int, osm_index: int, *, pooled: bool = True) -> bool:
        """The routes say the element is not this platform's:

        - both sides have routes with a known direction, share a route and share no
          (route, direction): the platform of one direction and the element of the other; or
        - the platform shares no (route, direction) with the element, while another ATLAS
          platform within ``ROUTE_CLAIM_MAX_M`` of the element does: the element is that
          platform's (the routes calling there are the ones its relations list).

        With ``pooled`` an element without route tokens of its own is judged by its unit
        siblings' (route relations often list only the platform or only the stop_position)."""
        osm_side = self._osm_side(osm_index, pooled)
        if not osm_side:
            return False
        atlas_side = self._atlas_directions.get(atlas_index, {})
        common = False
        for route, directions in atlas_side.items():
            other = osm_side.get(route)
            if other is None:
                continue
            if directions & other:
                return False
            common = True
        if common:
            return True
        claimants = self._claimants(osm_index, pooled)
        return bool(claimants) and int(self._duplicate_group[atlas_index]) not in claimants

    def _osm_side(self, osm_index: int, pooled: bool) -> dict[str, frozenset[str]]:
        own = self._osm_directions.get(osm_index)
        if own or not pooled:
            return own or {}
        merged: dict[str, frozenset[str]] = {}
        for sibling in self.units.propagate_to.get(osm_index, ()):
            for route, directions in self._osm_directions.get(sibling, {}).items():
                merged[route] = merged.get(route, frozenset()) | directions
        return merged

    def _claimants(self, osm_index: int, pooled: bool) -> frozenset[int]:
        """Duplicate-group ids of the ATLAS platforms near the element that share one of its
        (route, direction) tokens."""
        key = (osm_index, pooled)
        found = self._claims.get(key)
        if found is not None:
            return found
        osm_side = self._osm_side(osm_index, pooled)
        if self._atlas_tree is None:
            self._atlas_tree = cKDTree(self.atlas_xyz)
        near = self._atlas_tree.query_ball_point(self.osm_xyz[osm_index], self.profile.route_claim_max_m)
        claimants = set()
        for k in near:
            atlas_side = self._atlas_directions.get(int(k))
            if atlas_side and any(directions & osm_side.get(route, frozenset())
                                  for route, directions in atlas_side.items()):
                claimants.add(int(self._duplicate_group[int(k)]))
        result = frozenset(claimants)
        self._claims[key] = result
        return result

    def routes_contradict_pairs(self, pairs: CandidatePairs) -> NDArray[np.bool_]:
        """:meth:`routes_contradict` per candidate pair (dictionary lookups; the claimants of
        an element are computed once)."""
        result = np.zeros(len(pairs), dtype=bool)
        if not self._atlas_directions or not self._osm_directions:
            return result
        for k in range(len(pairs)):
            result[k] = self.routes_contradict(int(pairs.atlas[k]), int(pairs.osm[k]))
        return result

    def atlas_duplicates(self, atlas_index: int) -> tuple[int, ...]:
        return self._duplicates.get(atlas_index, ())

    def distance_m(self, atlas_index: int, osm_index: int) -> float:
        a, o = self.atlas[atlas_index], self.osm[osm_index]
        return haversine_m(a.lat, a.lon, o.lat, o.lon)

    def record_stage(self, name: str, stats: Mapping[str, Any]) -> None:
        """Strategies report their own figures here; the match summary shows them."""
        self.stage_stats[name] = dict(stats)

    # -- linking -------------------------------------------------------------------------

    def link(
        self,
        atlas_index: int,
        osm_index: int,
        method: str,
        *,
        score: float = 1.0,
        evidence: Mapping[str, Any] | None = None,
        exclusive: bool = False,
    ) -> Link | None:
        """Commit one link and its propagations; returns the primary link, or ``None`` when
        the pair is already linked or a cardinality rule refuses it (counted in ``refused``)."""
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"score must lie in [0, 1], got {score!r}")
        if self.osm[osm_index].kind == "station":
            self.refused["station"] += 1
            return None
        if exclusive:
            slot = int(self.units.slot_of[osm_index])
            if self._atlas_linked[atlas_index]:
                self.refused["atlas_taken"] += 1
                return None
            if not self.osm_candidate[osm_index] or self._slot_taken[slot]:
                self.refused["osm_taken"] += 1
                return None
        if (atlas_index, osm_index) in self._pairs:
            return None
        checked = method not in EXPLICIT_METHODS
        if checked and self._vetoed_by_routes(atlas_index, osm_index, pooled=True):
            self.refused["route_direction"] += 1
            return None
        evidence = dict(evidence or {})
        primary = self._add(atlas_index, osm_index, method, score, evidence)
        atlas_side = (atlas_index, *self.atlas_duplicates(atlas_index))
        osm_side = (osm_index, *self.units.propagate_to.get(osm_index, ()))
        for i in atlas_side:
            for j in osm_side:
                if (i, j) in self._pairs:
                    continue
                # A sibling is inferred, never stated: even an explicit link's sibling is checked.
                if j != osm_index and self._vetoed_by_routes(i, j, pooled=False):
                    self.refused["route_direction_sibling"] += 1
                    continue
                if j != osm_index and self._sibling_elsewhere(i, j):
                    self.refused["sibling_nearer_other_platform"] += 1
                    continue
                via = [] if i == atlas_index else ["atlas_duplicate"]
                via += [] if j == osm_index else ["unit_sibling"]
                self._add(i, j, method, score, {
                    **evidence,
                    "propagated_from": {"sloid": self.atlas[atlas_index].sloid,
                                        "osm_id": self.osm[osm_index].osm_id},
                    "propagation": "+".join(via),
                })
        return primary

    def _sibling_elsewhere(self, i: int, j: int) -> bool:
        """A unit sibling lying much nearer another ATLAS platform than ``i`` (the
        ``nearer_other_platform`` gate): most likely that platform's element, grouped with
        ``i``'s across the road. Agreeing platform codes overrule the geometry."""
        if self.atlas_code[i] > 0 and self.atlas_code[i] == self.osm_code[j]:
            return False
        pair = CandidatePairs(np.array([i], dtype=np.int64), np.array([j], dtype=np.int64),
                              np.array([self.distance_m(i, j)]))
        return bool(self.nearer_other_platform(pair)[0])

    def _vetoed_by_routes(self, i: int, j: int, *, pooled: bool) -> bool:
        if self.atlas_code[i] > 0 and self.atlas_code[i] == self.osm_code[j]:
            return False  # the platform codes agree: that outweighs a relation's mistake
        return self.routes_contradict(i, j, pooled=pooled)

    def _add(self, i: int, j: int, method: str, score: float, evidence: dict[str, Any]) -> Link:
        self._pairs.add((i, j))
        link = Link(sloid=self.atlas[i].sloid, osm_id=self.osm[j].osm_id, method=method,
                    distance_m=round(self.distance_m(i, j), 2), score=score, evidence=evidence)
        self.links.append(link)
        self._atlas_linked[i] = True
        self._osm_linked[j] = True
        slot = int(self.units.slot_of[j])
        if slot >= 0 and not self._slot_taken[slot]:
            self._slot_taken[slot] = True
            self._tree_stale += 1
        return link

    def counts_per_method(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for link in self.links:
            counts[link.method] = counts.get(link.method, 0) + 1
        return dict(sorted(counts.items()))

    # -- spatial queries -----------------------------------------------------------------

    def _free_tree(self, *, fresh: bool = False) -> tuple[Any, NDArray[np.int64]]:
        """KD-tree over free representatives, rebuilt lazily: results are always filtered by
        the current free mask, so a tree with a few taken points is still correct."""
        stale = self._tree is None or self._tree_stale > _STALE_SHARE * max(len(self._tree_index), 1)
        if stale or (fresh and self._tree_stale):
            self._tree_index = np.flatnonzero(self.free_candidates()).astype(np.int64)
            self._tree = cKDTree(self.osm_xyz[self._tree_index].reshape(-1, 3))
            self._tree_stale = 0
        return self._tree, self._tree_index

    def candidate_pairs(self, atlas_indices: Sequence[int] | NDArray[np.int64], radius_m: float) -> CandidatePairs:
        """Every (ATLAS, free OSM representative) pair within ``radius_m``, vectorised."""
        atlas_indices = np.asarray(atlas_indices, dtype=np.int64)
        tree, index = self._free_tree()
        if len(atlas_indices) == 0 or len(index) == 0:
            empty = np.empty(0, dtype=np.int64)
            return CandidatePairs(empty, empty.copy(), np.empty(0))
        atlas_tree = cKDTree(self.atlas_xyz[atlas_indices])
        found = atlas_tree.sparse_distance_matrix(tree, radius_m, output_type="ndarray")
        a = atlas_indices[found["i"]]
        o = index[found["j"]]
        d = chord_to_arc_m(found["v"])
        keep = self.free_candidates()[o] & (d <= radius_m)
        a, o, d = a[keep], o[keep], d[keep]
        order = np.lexsort((o, d, a))
        return CandidatePairs(a[order], o[order], d[order])

    def candidates_within(self, atlas_index: int, radius_m: float) -> list[tuple[int, float]]:
        """Free OSM representatives within ``radius_m`` of one ATLAS platform, nearest first."""
        pairs = self.candidate_pairs([atlas_index], radius_m)
        return [(int(j), float(d)) for j, d in zip(pairs.osm, pairs.distance, strict=True)]

    def nearest_two(
        self, atlas_indices: NDArray[np.int64], upper_bound_m: float
    ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        """Nearest free representative (-1 if none within the bound), its distance and the
        second-nearest distance (inf beyond ``upper_bound_m``)."""
        tree, index = self._free_tree(fresh=True)
        n = len(atlas_indices)
        if n == 0 or len(index) == 0:
            return np.full(n, -1, dtype=np.int64), np.full(n, np.inf), np.full(n, np.inf)
        distances, found = tree.query(self.atlas_xyz[atlas_indices], k=2, distance_upper_bound=upper_bound_m)
        nearest = np.where(found[:, 0] < len(index), index[np.minimum(found[:, 0], len(index) - 1)], -1)
        first = np.where(nearest >= 0, chord_to_arc_m(np.where(np.isinf(distances[:, 0]), 0, distances[:, 0])),
                         np.inf)
        second = np.where(found[:, 1] < len(index),
                          chord_to_arc_m(np.where(np.isinf(distances[:, 1]), 0, distances[:, 1])), np.inf)
        return nearest.astype(np.int64), first, second

    def nearer_other_platform(self, pairs: CandidatePairs) -> NDArray[np.bool_]:
        """Per pair: the OSM element lies much nearer another ATLAS platform (not a duplicate of
        the pair's): pair distance > ``OTHER_PLATFORM_FACTOR`` x that distance +
        ``OTHER_PLATFORM_SLACK_M``. Distance alone then points to the other platform; an
        element about as near to both (shared by two directions) passes."""
        n = len(pairs)
        if n == 0 or len(self.atlas) < 2:
            return np.zeros(n, dtype=bool)
        distances, found = self._nearest_atlas()
        distances, found = distances[pairs.osm], found[pairs.osm]
        own = self._duplicate_group[found] == self._duplicate_group[pairs.atlas][:, None]
        other = np.where(own, np.inf, distances).min(axis=1)
        profile = self.profile
        return np.asarray(pairs.distance > profile.other_platform_factor * other + profile.other_platform_slack_m)

    def _nearest_atlas(self) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Per OSM element, its nearest ATLAS platforms (enough to get past a duplicate group)
        in arc metres and their indices, computed once for all elements."""
        if self._nearest_atlas_table is None:
            if self._atlas_tree is None:
                self._atlas_tree = cKDTree(self.atlas_xyz)
            k = min(len(self.atlas), 2 + max((len(g) for g in self._duplicates.values()), default=0))
            distances, found = self._atlas_tree.query(self.osm_xyz, k=k)
            distances = np.asarray(distances, dtype=np.float64).reshape(len(self.osm), k)
            found = np.asarray(found, dtype=np.int64).reshape(len(self.osm), k)
            self._nearest_atlas_table = (chord_to_arc_m(distances), found)
        return self._nearest_atlas_table

    def mark_ambiguous(self, atlas_indices: NDArray[np.int64], osm_indices: NDArray[np.int64]) -> None:
        """Record pairs that distance cannot decide (two platforms about as near one element):
        later distance stages leave them alone, and the platforms stay unmatched as
        ``ambiguous`` with their candidates unless better evidence links them."""
        self._ambiguous.update(zip(atlas_indices.tolist(), osm_indices.tolist(), strict=True))

    def is_ambiguous(self, pairs: CandidatePairs) -> NDArray[np.bool_]:
        if not self._ambiguous:
            return np.zeros(len(pairs), dtype=bool)
        return np.fromiter(((int(a), int(o)) in self._ambiguous for a, o in zip(pairs.atlas, pairs.osm, strict=True)),
                           dtype=bool, count=len(pairs))

    def eligible_tree(self) -> tuple[Any, NDArray[np.int64]]:
        """KD-tree over every platform/stop_position element (linked or not) and its indices."""
        if self._eligible_tree is None:
            self._eligible_index = np.flatnonzero(self.osm_eligible).astype(np.int64)
            self._eligible_tree = cKDTree(self.osm_xyz[self._eligible_index].reshape(-1, 3))
        return self._eligible_tree, self._eligible_index

    def nearer_element_exists(self, atlas_index: int, osm_index: int) -> bool:
        """Whether a platform/stop_position element outside ``osm_index``'s stop unit lies
        strictly nearer the ATLAS platform than ``osm_index`` does (linked or not)."""
        tree, index = self.eligible_tree()
        if len(index) == 0:
            return False
        radius = float(np.linalg.norm(self.atlas_xyz[atlas_index] - self.osm_xyz[osm_index]))
        found = tree.query_ball_point(self.atlas_xyz[atlas_index], radius * (1 - 1e-9))
        unit = self.units.unit_of[osm_index]
        return any(self.units.unit_of[index[k]] != unit for k in found)

    # -- reasons -------------------------------------------------------------------------

    def unmatched_reasons(self) -> dict[int, UnmatchedReason]:
        """Why each still-unmatched ATLAS platform is unmatched, by ATLAS index."""
        radius = self.profile.unmatched_radius_m
        unmatched = np.flatnonzero(~self._atlas_linked)
        if len(unmatched) == 0:
            return {}
        tree, eligible_index = self.eligible_tree()
        has_any = np.zeros(len(unmatched), dtype=bool)
        if len(eligible_index):
            counts = tree.query_ball_point(self.atlas_xyz[unmatched], radius, return_length=True)
            has_any = np.asarray(counts) > 0
        pairs = self.candidate_pairs(unmatched, radius)
        by_atlas: dict[int, list[int]] = defaultdict(list)
        for i, j in zip(pairs.atlas.tolist(), pairs.osm.tolist(), strict=True):
            by_atlas[i].append(j)
        reasons: dict[int, UnmatchedReason] = {}
        for i, any_near in zip(unmatched.tolist(), has_any.tolist(), strict=True):
            if not any_near:
                reasons[i] = UnmatchedReason("no_osm_within_50m")
                continue
            candidates = by_atlas.get(i, [])
            if not candidates:
                reasons[i] = UnmatchedReason("no_candidate")
                continue
            code = platform_code(self.atlas[i].designation)
            compatible = [j for j in candidates
                          if not (code and platform_code(self.osm[j].local_ref)
                                  and platform_code(self.osm[j].local_ref) != code)]
            ids = tuple(self.osm[j].osm_id for j in (compatible or candidates))
            reasons[i] = UnmatchedReason("ambiguous" if compatible else "contradicting_platform_code", ids)
        return reasons


def _directions_by_index(
    keys: Any, tokens: Mapping[str, Any]
) -> dict[int, dict[str, frozenset[str]]]:
    """Per index (of ``keys``) with tokens: route -> the directions known for it. Tokens are
    ``"<route>:<direction>"``; those without a direction say nothing about sides and are
    left out. Token sets repeat (every stop of a line has its line's), so each distinct set is
    parsed once."""
    result: dict[int, dict[str, frozenset[str]]] = {}
    if not tokens:
        return result
    parsed: dict[frozenset[str], dict[str, frozenset[str]]] = {}
    for index, key in enumerate(keys):
        found = tokens.get(key)
        if not found:
            continue
        token_set = frozenset(found)
        routes = parsed.get(token_set)
        if routes is None:
            collected: dict[str, set[str]] = defaultdict(set)
            for token in token_set:
                route, _, direction = str(token).rpartition(":")
                if route and direction:
                    collected[route].add(direction)
            routes = parsed[token_set] = {route: frozenset(values) for route, values in collected.items()}
        if routes:
            result[index] = routes
    return result
