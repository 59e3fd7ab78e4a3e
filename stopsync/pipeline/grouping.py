"""Group OSM stop elements into stop units: trios, pairs and singles (DOMAIN.md §3 step 1).

A physical stop is often mapped as a platform plus a stop_position a few metres apart (a
*pair*), or a stop_position between two side platforms (a *trio*). Matching looks at one
representative per unit (the platform) and links its siblings along with it.

Coordinates: points are placed on a sphere of the radius :data:`geo.EARTH_RADIUS_M` as 3-D
cartesian metres. A KD-tree over them measures chords, which equal the great-circle
(haversine) distance to better than 1e-9 relative below 1 km, so the thresholds (12 m, 50 m,
150 m) hold exactly, everywhere, without a projection. (A single equirectangular grid around
Switzerland's mean latitude would be off by up to 2 % east-west at the northern and southern
borders, which moves a 50 m gate by a metre.)
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from .geo import EARTH_RADIUS_M
from .profile import Profile
from .records import AtlasPlatform, OsmElement

UNIT_KINDS = ("single", "pair", "trio")
ELIGIBLE_KINDS = ("platform", "stop_position")  # "other" elements are singles; stations nothing


def to_xyz(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.float64]:
    """WGS84 degrees to 3-D cartesian metres on the sphere (n x 3)."""
    phi, lmb = np.radians(lat), np.radians(lon)
    cos_phi = np.cos(phi)
    return np.column_stack((cos_phi * np.cos(lmb), cos_phi * np.sin(lmb), np.sin(phi))) * EARTH_RADIUS_M


def chord_to_arc_m(chord: NDArray[np.float64]) -> NDArray[np.float64]:
    """Great-circle metres for chord metres (the difference matters only beyond kilometres)."""
    ratio = np.clip(chord / (2 * EARTH_RADIUS_M), 0.0, 1.0)
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(ratio), dtype=np.float64)


@dataclass
class StopUnits:
    """Per OSM element: its unit, the unit's kind, whether it represents the unit, its
    *slot* (the thing a distance stage may use once) and whom a link to it carries along."""

    unit_of: NDArray[np.int64]  # unit id per element; -1 for stations
    kind_of_unit: list[str]  # by unit id
    members: list[tuple[int, ...]]  # by unit id
    is_representative: NDArray[np.bool_]
    slot_of: NDArray[np.int64]  # -1 for stations
    propagate_to: dict[int, tuple[int, ...]] = field(default_factory=dict)

    def kind(self, osm_index: int) -> str:
        unit = int(self.unit_of[osm_index])
        return "station" if unit < 0 else self.kind_of_unit[unit]

    def counts(self) -> dict[str, int]:
        counter = Counter(self.kind_of_unit)
        return {kind: counter.get(kind, 0) for kind in UNIT_KINDS}


def _contradict(a: str, b: str) -> bool:
    return bool(a) and bool(b) and a.casefold() != b.casefold()


def _find_trios(
    osm: Sequence[OsmElement], xyz: NDArray[np.float64], atlas_per_uic: Counter[str], profile: Profile
) -> list[tuple[int, int, int]]:
    """(side, middle, side) index triples. The middle carries no ``local_ref``: serving both
    sides, it has no single platform code."""
    by_uic: dict[str, list[int]] = defaultdict(list)
    for j, element in enumerate(osm):
        if element.kind in ELIGIBLE_KINDS and element.uic_ref:
            by_uic[element.uic_ref].append(j)
    trios = []
    for uic, members in by_uic.items():
        if len(members) != 3 or atlas_per_uic.get(uic, 0) != 2:
            continue
        middles = [j for j in members if osm[j].kind == "stop_position"]
        if len(middles) != 1:
            continue
        middle = middles[0]
        if osm[middle].local_ref.strip():
            continue  # a platform code ties the stop_position to one side: it is not shared
        left, right = (j for j in members if j != middle)
        to_left, to_right = xyz[left] - xyz[middle], xyz[right] - xyz[middle]
        within = max(np.linalg.norm(to_left), np.linalg.norm(to_right)) <= profile.trio_side_max_m
        # "In the middle": the sides lie on opposite sides of it (an obtuse angle at the middle),
        # near their midpoint. A stop_position close to one side is that side's own.
        off_centre = float(np.linalg.norm((to_left + to_right) / 2))
        separation = float(np.linalg.norm(xyz[left] - xyz[right]))
        centred = off_centre <= profile.trio_middle_share * separation + profile.trio_middle_slack_m
        if within and centred and float(np.dot(to_left, to_right)) < 0:
            trios.append((left, middle, right))
    return trios


def _nearest_two(
    tree_points: NDArray[np.float64], queries: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Index of the nearest tree point, its distance and the second-nearest distance (inf)."""
    if len(tree_points) == 0 or len(queries) == 0:
        empty = np.full(len(queries), np.inf)
        return np.full(len(queries), -1, dtype=np.int64), empty, empty.copy()
    distances, indices = cKDTree(tree_points).query(queries, k=2)
    second = np.where(indices[:, 1] >= len(tree_points), np.inf, distances[:, 1])
    return indices[:, 0].astype(np.int64), distances[:, 0], second


def _straddles(
    platform_xyz: NDArray[np.float64], stop_xyz: NDArray[np.float64], atlas_xyz: NDArray[np.float64],
    margin: float, isolated: NDArray[np.bool_],
) -> NDArray[np.bool_]:
    """Per candidate pair: the platform lies clearly (by ``margin`` metres) nearer one ATLAS
    platform and the stop_position clearly nearer another one; for an ``isolated`` pair (no
    other stop element around it) any margin counts, since the second platform would
    otherwise have no element at all.

    That is the shape of a two-sided stop whose sides are mapped half each: the platform of
    one direction and the stop_position of the other, across the road. They are two stops'
    elements, not one stop unit.
    """
    straddle = np.zeros(len(platform_xyz), dtype=bool)
    if len(atlas_xyz) < 2 or len(platform_xyz) == 0:
        return straddle
    tree = cKDTree(atlas_xyz)
    d_p, a_p = tree.query(platform_xyz)
    d_s, a_s = tree.query(stop_xyz)
    differ = a_p != a_s
    # Distance of each member to the other member's nearest ATLAS platform.
    p_to_other = np.linalg.norm(platform_xyz - atlas_xyz[a_s], axis=1)
    s_to_other = np.linalg.norm(stop_xyz - atlas_xyz[a_p], axis=1)
    needed = np.where(isolated, 0.0, margin)
    straddle[differ] = ((p_to_other - d_p) > needed)[differ] & ((s_to_other - d_s) > needed)[differ]
    return straddle


def _find_pairs(
    osm: Sequence[OsmElement], xyz: NDArray[np.float64], taken: NDArray[np.bool_],
    atlas_per_uic: Counter[str], profile: Profile, atlas_xyz: NDArray[np.float64],
) -> list[tuple[int, int]]:
    """(platform, stop_position) index pairs: reciprocal nearest, within the gates, tags not
    contradicting, and not straddling two ATLAS platforms (see :func:`_straddles`)."""
    kinds = np.array([e.kind for e in osm], dtype=object)
    platforms = np.flatnonzero((kinds == "platform") & ~taken)
    stops = np.flatnonzero((kinds == "stop_position") & ~taken)
    near_s, d1_p, d2_p = _nearest_two(xyz[stops], xyz[platforms])
    near_p, d1_s, d2_s = _nearest_two(xyz[platforms], xyz[stops])
    if len(platforms) == 0 or len(stops) == 0:
        return []
    reciprocal = near_p[near_s] == np.arange(len(platforms))
    # Ties are never a pair: the second-nearest must be strictly further and far enough.
    ratio = profile.pair_ratio
    clear_p = (d2_p > d1_p) & (d2_p >= ratio * d1_p)
    clear_s = (d2_s[near_s] > d1_s[near_s]) & (d2_s[near_s] >= ratio * d1_s[near_s])
    strict = reciprocal & clear_p & clear_s & (d1_p <= profile.pair_max_m)
    relaxed = reciprocal & ~strict & (d1_p <= profile.pair_equal_counts_max_m)
    # Isolated: no other platform/stop_position element within the radius of the pair's middle.
    eligible = np.flatnonzero((kinds == "platform") | (kinds == "stop_position"))
    middle = (xyz[platforms] + xyz[stops[near_s]]) / 2
    around = cKDTree(xyz[eligible]).query_ball_point(middle, profile.pair_isolated_radius_m, return_length=True)
    isolated = np.asarray(around) <= 2  # the pair itself
    straddle = _straddles(xyz[platforms], xyz[stops[near_s]], atlas_xyz, profile.pair_straddle_margin_m, isolated)
    strict &= ~straddle
    relaxed &= ~straddle
    platforms_per_uic = Counter(e.uic_ref for e in osm if e.kind == "platform" and e.uic_ref)
    stops_per_uic = Counter(e.uic_ref for e in osm if e.kind == "stop_position" and e.uic_ref)
    pairs = []
    for k in np.flatnonzero(strict | relaxed):
        p, s = int(platforms[k]), int(stops[near_s[k]])
        a, b = osm[p], osm[s]
        if _contradict(a.uic_ref, b.uic_ref) or _contradict(a.local_ref, b.local_ref):
            continue
        if relaxed[k]:
            uic = a.uic_ref or b.uic_ref
            counts = (platforms_per_uic.get(uic, 0), stops_per_uic.get(uic, 0), atlas_per_uic.get(uic, 0))
            if not uic or len(set(counts)) != 1:
                continue
        pairs.append((p, s))
    return pairs


def group_units(
    osm: Sequence[OsmElement], atlas: Sequence[AtlasPlatform], xyz: NDArray[np.float64], profile: Profile,
    atlas_xyz: NDArray[np.float64] | None = None,
) -> StopUnits:
    """Trios first (they are the stricter pattern), then pairs among the rest, then singles."""
    n = len(osm)
    atlas_per_uic = Counter(p.number.strip() for p in atlas if p.number.strip())
    unit_of = np.full(n, -1, dtype=np.int64)
    slot_of = np.full(n, -1, dtype=np.int64)
    is_rep = np.zeros(n, dtype=bool)
    kinds: list[str] = []
    members: list[tuple[int, ...]] = []
    propagate: dict[int, tuple[int, ...]] = {}
    next_slot = 0

    def new_unit(kind: str, elements: tuple[int, ...]) -> int:
        kinds.append(kind)
        members.append(elements)
        unit_of[list(elements)] = len(kinds) - 1
        return len(kinds) - 1

    taken = np.array([e.kind == "station" for e in osm], dtype=bool)
    for left, middle, right in _find_trios(osm, xyz, atlas_per_uic, profile):
        new_unit("trio", (left, middle, right))
        # Each side is a platform of its own ATLAS row; both share the middle stop_position.
        for side in (left, right):
            is_rep[side] = True
            slot_of[side] = next_slot
            next_slot += 1
            propagate[side] = (middle,)
        slot_of[middle] = next_slot
        next_slot += 1
        taken[[left, middle, right]] = True
    if atlas_xyz is None:
        atlas_xyz = np.empty((0, 3))
    for platform, stop in _find_pairs(osm, xyz, taken, atlas_per_uic, profile, atlas_xyz):
        new_unit("pair", (platform, stop))
        is_rep[platform] = True
        slot_of[[platform, stop]] = next_slot
        next_slot += 1
        # Either member carries the other: tags may sit on the stop_position only.
        propagate[platform] = (stop,)
        propagate[stop] = (platform,)
        taken[[platform, stop]] = True
    for j in np.flatnonzero(~taken):
        new_unit("single", (int(j),))
        is_rep[j] = True
        slot_of[j] = next_slot
        next_slot += 1
    return StopUnits(unit_of=unit_of, kind_of_unit=kinds, members=members, is_representative=is_rep,
                     slot_of=slot_of, propagate_to=propagate)
