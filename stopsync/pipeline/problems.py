"""Problem detection: small predicates over one match result, thresholds from the profile.

Every problem has a stable key (a hash of its type and the entity keys, independent of
database ids and run order), a priority (1 critical, 2 significant, 3 minor), the evidence it
was raised on, a fingerprint of the *material* part of that evidence (what a reviewer's
decision depends on), and the side that is probably wrong with the reason. DOMAIN.md §4 is
the baseline these rules follow.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigurationError, InputError
from .geo import to_metric
from .records import AtlasPlatform, Link, OsmElement

PROBLEM_TYPES = ("distance", "attributes", "unmatched_atlas", "unmatched_osm", "duplicate_atlas",
                 "duplicate_osm", "route_contradiction")
SIDES = ("atlas", "osm", "both", "unknown")
OPERATOR_ALIASES_FILE = Path(__file__).resolve().parent.parent / "data" / "operator_aliases.csv"
CANDIDATE_KINDS = ("platform", "stop_position")


@dataclass(frozen=True)
class ProblemThresholds:
    """Every number the predicates use; a deployment overrides them in its profile."""

    distance_minor_m: float = 15.0  # above: P3
    distance_significant_m: float = 25.0  # above: P2
    distance_critical_m: float = 80.0  # above: P1
    long_platform_operators: tuple[str, ...] = ("SBB",)  # above distance_minor_m: always P3
    unmatched_near_m: float = 50.0
    unmatched_far_m: float = 80.0
    # Material change: a distance moving by less than this keeps a decision valid.
    distance_fingerprint_step_m: float = 5.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> ProblemThresholds:
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigurationError(
                f"unknown problem threshold {unknown[0]!r}; known: {', '.join(sorted(known))}"
            )
        if "long_platform_operators" in values:
            values["long_platform_operators"] = tuple(values["long_platform_operators"])
        return cls(**values)


@dataclass(frozen=True)
class Problem:
    key: str
    type: str
    priority: int
    sloid: str | None
    osm_id: str | None
    side: str
    side_reason: str
    evidence: dict[str, Any] = field(hash=False, compare=False)
    fingerprint: str = ""


def _digest(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def problem_key(problem_type: str, *entity_keys: str) -> str:
    """Stable across runs: depends only on the type and the entities' own keys."""
    return _digest(problem_type, *entity_keys)


def _problem(problem_type: str, priority: int, entity_keys: Sequence[str], *, sloid: str | None,
             osm_id: str | None, side: str, side_reason: str, evidence: dict[str, Any],
             material: Any) -> Problem:
    return Problem(
        key=problem_key(problem_type, *entity_keys), type=problem_type, priority=priority,
        sloid=sloid, osm_id=osm_id, side=side, side_reason=side_reason, evidence=evidence,
        fingerprint=_digest(problem_type, material),
    )


# --- operator aliases --------------------------------------------------------------------------

@lru_cache(maxsize=65_536)  # operators and platform codes repeat: ~330,000 calls, few values
def _fold(value: str) -> str:
    value = unicodedata.normalize("NFKC", value).casefold()
    return re.sub(r"\s+", " ", value).strip()


@lru_cache(maxsize=4)
def load_operator_aliases(path: Path = OPERATOR_ALIASES_FILE) -> dict[str, str]:
    """alias (folded) -> canonical (folded), from the editable ``alias;canonical`` file."""
    aliases: dict[str, str] = {}
    try:
        with path.open(encoding="utf-8") as handle:
            rows = [line for line in handle if line.strip() and not line.lstrip().startswith("#")]
    except OSError as exc:
        raise InputError(f"cannot read operator aliases: {exc}", path=str(path)) from exc
    reader = csv.DictReader(rows, delimiter=";")
    if reader.fieldnames is None or not {"alias", "canonical"} <= set(reader.fieldnames):
        raise InputError("operator aliases need the columns alias;canonical", path=str(path), line=1)
    for number, row in enumerate(reader, start=2):
        if not row.get("alias") or not row.get("canonical"):
            raise InputError("empty alias or canonical value", path=str(path), line=number)
        aliases[_fold(row["alias"])] = _fold(row["canonical"])
    return aliases


def operators_agree(atlas: AtlasPlatform, osm_operator: str, aliases: Mapping[str, str]) -> bool:
    """True when the OSM operator names the ATLAS operator (abbreviation or description)."""
    def canonical(value: str) -> str:
        folded = _fold(value)
        return aliases.get(folded, folded)

    atlas_names = {canonical(atlas.operator), canonical(atlas.operator_name)} - {""}
    # OSM may list several operators separated by ';'.
    return any(canonical(part) in atlas_names for part in osm_operator.split(";") if part.strip())


# --- predicates --------------------------------------------------------------------------------

def distance_priority(distance_m: float, operator: str, t: ProblemThresholds) -> int | None:
    if distance_m <= t.distance_minor_m:
        return None
    if operator in t.long_platform_operators:
        return 3  # long rail platforms: a platform-level point can lie far from the OSM node
    if distance_m > t.distance_critical_m:
        return 1
    if distance_m > t.distance_significant_m:
        return 2
    return 3


def _same(a: str, b: str) -> bool:
    return _fold(a) == _fold(b)


def attribute_differences(
    atlas: AtlasPlatform, osm: OsmElement, aliases: Mapping[str, str]
) -> list[tuple[str, int, str, str]]:
    """(attribute, priority, ATLAS value, OSM value) for each attribute both sides have and
    that differs."""
    out = []
    uic = osm.uic_ref
    if atlas.number and uic and atlas.number != uic:
        out.append(("uic", 1, atlas.number, uic))
    uic_name = osm.tags.get("uic_name", "").strip()
    if atlas.name and uic_name and not _same(atlas.name, uic_name):
        out.append(("name", 1, atlas.name, uic_name))
    if atlas.designation and osm.local_ref and not _same(atlas.designation, osm.local_ref):
        out.append(("platform_code", 2, atlas.designation, osm.local_ref))
    operator = osm.tags.get("operator", "").strip()
    if (atlas.operator or atlas.operator_name) and operator and not operators_agree(atlas, operator, aliases):
        out.append(("operator", 3, atlas.operator or atlas.operator_name, operator))
    return out


@dataclass
class DetectionInput:
    atlas: Sequence[AtlasPlatform]
    osm: Sequence[OsmElement]
    links: Sequence[Link]
    # osm_id -> unit key for elements grouped into pairs/trios (their duplicates are expected).
    unit_of: Mapping[str, str] = field(default_factory=dict)
    atlas_route_tokens: Mapping[str, set[str]] = field(default_factory=dict)
    osm_route_tokens: Mapping[str, set[str]] = field(default_factory=dict)


def _nearest_distances(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    if len(points) == 0:
        return np.empty(0)
    if len(targets) == 0:
        return np.full(len(points), np.inf)
    from scipy.spatial import cKDTree

    distances, _ = cKDTree(targets).query(points, k=1)
    return np.asarray(distances, dtype=float)


def detect_problems(data: DetectionInput, thresholds: ProblemThresholds | None = None,
                    aliases: Mapping[str, str] | None = None) -> list[Problem]:
    """All problems of one match result, sorted by priority then key."""
    t = thresholds or ProblemThresholds()
    aliases = load_operator_aliases() if aliases is None else aliases
    atlas_by_sloid = {p.sloid: p for p in data.atlas}
    osm_by_id = {e.osm_id: e for e in data.osm}
    problems: list[Problem] = []
    problems += _linked_pair_problems(data, atlas_by_sloid, osm_by_id, t, aliases)
    problems += _unmatched_problems(data, t)
    problems += _duplicate_problems(data)
    return sorted(problems, key=lambda p: (p.priority, p.type, p.key))


def _shared_coordinates(atlas: Iterable[AtlasPlatform]) -> set[str]:
    """Service points whose platforms all sit on one coordinate: stop-level, not platform-level."""
    coords: dict[str, set[tuple[float, float]]] = defaultdict(set)
    counts: Counter[str] = Counter()
    for p in atlas:
        coords[p.number].add((round(p.lat, 6), round(p.lon, 6)))
        counts[p.number] += 1
    return {number for number, points in coords.items() if counts[number] > 1 and len(points) == 1}


def _linked_pair_problems(data: DetectionInput, atlas_by_sloid: Mapping[str, AtlasPlatform],
                          osm_by_id: Mapping[str, OsmElement], t: ProblemThresholds,
                          aliases: Mapping[str, str]) -> list[Problem]:
    problems = []
    stop_level = _shared_coordinates(data.atlas)
    for link in data.links:
        atlas, osm = atlas_by_sloid.get(link.sloid), osm_by_id.get(link.osm_id)
        if atlas is None or osm is None:
            continue
        keys = (link.sloid, link.osm_id)
        priority = distance_priority(link.distance_m, atlas.operator, t)
        if priority is not None:
            if atlas.number in stop_level:
                side, reason = "atlas", "all ATLAS platforms of this stop share one coordinate (stop-level position)"
            else:
                side, reason = "unknown", "positions disagree; check aerial imagery"
            problems.append(_problem(
                "distance", priority, keys, sloid=link.sloid, osm_id=link.osm_id, side=side,
                side_reason=reason,
                evidence={"distance_m": link.distance_m, "method": link.method, "operator": atlas.operator},
                material=(priority, round(link.distance_m / t.distance_fingerprint_step_m)),
            ))
        differences = attribute_differences(atlas, osm, aliases)
        if differences:
            worst = min(priority for _, priority, _, _ in differences)
            attrs = {name: {"atlas": a, "osm": o} for name, _, a, o in differences}
            side, reason = ("osm", "ATLAS is the official register for UIC, name and operator") \
                if all(name != "platform_code" for name, *_ in differences) else \
                ("unknown", "platform codes disagree; either side may be outdated")
            problems.append(_problem(
                "attributes", worst, keys, sloid=link.sloid, osm_id=link.osm_id, side=side,
                side_reason=reason, evidence={"differences": attrs}, material=sorted(attrs.items()),
            ))
        atlas_tokens = data.atlas_route_tokens.get(link.sloid) or set()
        osm_tokens = data.osm_route_tokens.get(link.osm_id) or set()
        if atlas_tokens and osm_tokens and not (atlas_tokens & osm_tokens):
            problems.append(_problem(
                "route_contradiction", 2, keys, sloid=link.sloid, osm_id=link.osm_id, side="unknown",
                side_reason="the timetable and the OSM routes serve different lines here",
                evidence={"atlas_routes": sorted(atlas_tokens), "osm_routes": sorted(osm_tokens)},
                material=(sorted(atlas_tokens), sorted(osm_tokens)),
            ))
    return problems


def _unmatched_problems(data: DetectionInput, t: ProblemThresholds) -> list[Problem]:
    linked_sloids = {link.sloid for link in data.links}
    linked_osm = {link.osm_id for link in data.links}
    candidates = [e for e in data.osm if e.kind in CANDIDATE_KINDS]
    ref_lat = float(np.mean([p.lat for p in data.atlas])) if data.atlas else 46.8
    atlas_xy = to_metric(np.array([p.lat for p in data.atlas]), np.array([p.lon for p in data.atlas]), ref_lat)
    osm_xy = to_metric(np.array([e.lat for e in candidates]), np.array([e.lon for e in candidates]), ref_lat)
    atlas_per_uic = Counter(p.number for p in data.atlas)
    osm_units_per_uic: dict[str, set[str]] = defaultdict(set)
    for e in candidates:
        if e.uic_ref:
            osm_units_per_uic[e.uic_ref].add(data.unit_of.get(e.osm_id, e.osm_id))
    problems = []
    unmatched_atlas = [i for i, p in enumerate(data.atlas) if p.sloid not in linked_sloids]
    nearest_osm = _nearest_distances(atlas_xy[unmatched_atlas], osm_xy)
    for i, nearest in zip(unmatched_atlas, nearest_osm, strict=True):
        p = data.atlas[i]
        osm_count = len(osm_units_per_uic.get(p.number, ()))
        if osm_count == 0 or nearest > t.unmatched_far_m:
            priority, side, reason = 1, "osm", "no OSM element carries this UIC or lies within reach"
        elif nearest > t.unmatched_near_m or osm_count != atlas_per_uic[p.number]:
            priority, side, reason = 2, "unknown", "platform counts or positions differ"
        else:
            priority, side, reason = 3, "unknown", "candidates exist nearby but none was linked"
        evidence: dict[str, Any] = {"nearest_osm_m": None if np.isinf(nearest) else round(float(nearest), 1),
                    "osm_units_with_uic": osm_count, "atlas_platforms_with_uic": atlas_per_uic[p.number]}
        problems.append(_problem("unmatched_atlas", priority, (p.sloid,), sloid=p.sloid, osm_id=None,
                                 side=side, side_reason=reason, evidence=evidence, material=priority))
    known_numbers = set(atlas_per_uic)
    unmatched_osm = [j for j, e in enumerate(candidates) if e.osm_id not in linked_osm]
    nearest_atlas = _nearest_distances(osm_xy[unmatched_osm], atlas_xy)
    for j, nearest in zip(unmatched_osm, nearest_atlas, strict=True):
        e = candidates[j]
        units = len(osm_units_per_uic.get(e.uic_ref, ()))
        if e.uic_ref and e.uic_ref not in known_numbers:
            priority, side, reason = 1, "osm", "its uic_ref is not a current ATLAS service point"
        elif nearest > t.unmatched_near_m or (e.uic_ref and units != atlas_per_uic[e.uic_ref]):
            priority, side, reason = 2, "unknown", "no ATLAS platform nearby or platform counts differ"
        else:
            priority, side, reason = 3, "unknown", "ATLAS platforms exist nearby but none was linked"
        evidence = {"nearest_atlas_m": None if np.isinf(nearest) else round(float(nearest), 1),
                    "uic_ref": e.uic_ref, "kind": e.kind}
        problems.append(_problem("unmatched_osm", priority, (e.osm_id,), sloid=None, osm_id=e.osm_id,
                                 side=side, side_reason=reason, evidence=evidence, material=priority))
    return problems


def _duplicate_problems(data: DetectionInput) -> list[Problem]:
    problems = []
    atlas_groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for p in data.atlas:
        atlas_groups[(p.number, _fold(p.designation))].append(p.sloid)
    for (number, designation), sloids in sorted(atlas_groups.items()):
        if len(sloids) > 1:
            members = sorted(sloids)
            problems.append(_problem(
                "duplicate_atlas", 2, (number, designation), sloid=members[0], osm_id=None, side="atlas",
                side_reason="several SLOIDs with the same number and platform code",
                evidence={"number": number, "designation": designation, "sloids": members},
                material=members,
            ))
    osm_groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    kind_of = {e.osm_id: e.kind for e in data.osm}
    for e in data.osm:
        # Elements of one pair/trio share uic_ref and local_ref by design; not duplicates.
        if e.kind in CANDIDATE_KINDS and e.uic_ref and e.osm_id not in data.unit_of:
            osm_groups[(e.uic_ref, _fold(e.local_ref))].append(e.osm_id)
    for (uic, local_ref), ids in sorted(osm_groups.items()):
        # A platform and a stop_position sharing refs is the normal mapping; two of one kind is not.
        kinds = Counter(kind_of[i] for i in ids)
        if max(kinds.values()) > 1:
            members = sorted(ids)
            problems.append(_problem(
                "duplicate_osm", 3, (uic, local_ref), sloid=None, osm_id=members[0], side="osm",
                side_reason="several OSM elements of the same kind with the same uic_ref and local_ref",
                evidence={"uic_ref": uic, "local_ref": local_ref, "osm_ids": members}, material=members,
            ))
    return problems
