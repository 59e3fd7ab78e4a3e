"""The matching profile: every distance and ratio the grouping and the strategies use.

Defaults are the Swiss baseline of DOMAIN.md §3. ``MATCHING_PROFILE`` (a mapping with the
upper-case keys below) overrides them; :func:`load_profile` rejects unknown keys, wrong types
and negative distances, so a typo never silently falls back to a default.

Choices that are ours, not the baseline's:

- ``FUZZY_MAX_M = 50``: fuzzy names are weaker evidence than exact names (150 m); beyond the
  distance stages' 50 m a merely similar name was more often a neighbouring or stale stop
  than the same one (61.9 % precision at 100 m on the generated national instance, all of
  its correct links within 50 m).
- ``EXACT_ONE_OSM_FACTOR = 1.5``: one element for two platforms is shared only when it lies
  about as near both; at 2.0 an element of one direction was given to the other direction's
  unmapped platform too often.
- ``GROUP_SWAP_MARGIN_M = 3``, ``GROUP_SWAP_SHARE = 0.2``: an assignment that another platform
  could take for less than 3 m + 20 % of its distance more is a coin toss, and left unmatched
  as ``ambiguous`` (later distance stages respect that).
- ``FUZZY_MIN_SIMILARITY = 0.85``: rapidfuzz ``token_sort_ratio`` on normalised names (accents
  folded, abbreviations expanded, municipality prefix handled by variants, see ``names.py``).
  At 0.85 a 12-letter name tolerates one or two edits ("Vaselin"/"Vasselin" = 0.93) while two
  different stops of one town ("Kirche"/"Kreuz" = 0.55, "Post"/"Poststrasse" = 0.53) fail.
- ``EXACT_NAME_MAX_M = 150``: the outer radius of group proximity; an identical name further
  away is more often a namesake stop than the same one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigurationError

# The built-in strategies by name, in the order they run (their ``order`` attributes).
DEFAULT_STRATEGY_ORDER: tuple[str, ...] = (
    "manual_links",  # 100
    "ref_sloid",  # 150
    "exact_reference",  # 200
    "exact_name",  # 300
    "route_evidence",  # 400
    "group_proximity",  # 500
    "platform_code_distance",  # 600
    "single_candidate",  # 650
    "ratio_test",  # 700
    "fuzzy_name",  # 800
    "shared_reference",  # 900
)


@dataclass(frozen=True)
class ManualLink:
    sloid: str
    osm_id: str  # typed, e.g. "node/123"


@dataclass(frozen=True)
class Profile:
    """Thresholds in metres (``*_M``), ratios and similarities; keys are the upper-case names."""

    # Grouping OSM elements into stop units (DOMAIN.md §3 step 1).
    pair_max_m: float = 12.0
    pair_ratio: float = 1.5  # second-nearest / nearest, on both sides of the pair
    pair_equal_counts_max_m: float = 15.0  # when platform, stop_position and ATLAS counts agree
    trio_side_max_m: float = 15.0
    # The trio's stop_position lies within share x the side-to-side distance + slack of their midpoint.
    trio_middle_share: float = 0.15
    trio_middle_slack_m: float = 1.0
    # A platform + stop_position pair is refused when each member is nearer a different ATLAS
    # platform by more than this (the two directions of a stop, mapped half each).
    pair_straddle_margin_m: float = 2.0
    pair_isolated_radius_m: float = 20.0  # no other stop element this near: any margin refuses
    # Exact reference, one OSM element for N ATLAS platforms: only those within
    # factor x the nearest one's distance + slack (see ``exact_reference.py``).
    exact_one_osm_factor: float = 1.5
    exact_one_osm_slack_m: float = 5.0
    exact_one_osm_soft_factor: float = 1.5  # beyond this bound, only without a nearer stop element
    exact_one_osm_soft_slack_m: float = 2.0
    # ... and those further than the nearest + this wait for the other stages (shared_reference).
    exact_one_osm_defer_m: float = 0.0
    # One ATLAS platform, several elements with its number: only those within this of the nearest.
    exact_one_atlas_spread_m: float = 150.0
    # A uic_ref agreeing with an ATLAS number further than this is a tagging error (a stop's
    # number copied to another stop), not evidence: such pairs are left to the other stages.
    reference_max_m: float = 2000.0
    # Name and route stages.
    exact_name_max_m: float = 150.0
    route_max_m: float = 50.0
    route_min_shared_tokens: int = 1
    # An element whose routes (with direction) call at an ATLAS platform within this radius
    # is not linked to a platform those routes do not serve (see ``MatchEngine.routes_contradict``).
    route_claim_max_m: float = 150.0
    # Group proximity: assignment radii, tried in this order.
    group_radii_m: tuple[float, ...] = (50.0, 150.0)
    # The "name" group (OSM name vs the stop part of the official name) only up to this radius.
    group_name_max_m: float = 50.0
    # An assignment another platform could take for less than margin + share x distance more
    # (in total) is ambiguous and not linked.
    group_swap_margin_m: float = 3.0
    group_swap_share: float = 0.2
    # Distance stages.
    # Group proximity, single candidate and ratio test skip an element that lies much nearer
    # another ATLAS platform: distance > factor x that distance + slack; a link does not carry
    # along a unit sibling that lies so (see ``MatchEngine.link``).
    other_platform_factor: float = 2.0
    other_platform_slack_m: float = 3.0
    platform_code_max_m: float = 50.0
    single_candidate_max_m: float = 50.0
    ratio_max_m: float = 50.0  # the nearest candidate must lie within this
    ratio_min_second_m: float = 10.0
    ratio_factor: float = 4.0
    # Fuzzy names.
    fuzzy_max_m: float = 50.0
    fuzzy_min_similarity: float = 0.85
    # Unmatched reasons: "no_osm_within_50m" uses this radius.
    unmatched_radius_m: float = 50.0
    # Links decided by people: (sloid, osm_id) pairs, applied first.
    manual_links: tuple[ManualLink, ...] = ()
    # Keys declared by third-party strategies (``profile_keys``), passed through unchecked.
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def strategy_order(self) -> tuple[str, ...]:
        return DEFAULT_STRATEGY_ORDER

    def as_dict(self) -> dict[str, Any]:
        """The profile as ``MATCHING_PROFILE`` would spell it (for summaries and logs)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if f.name == "manual_links":
                value = [{"sloid": m.sloid, "osm_id": m.osm_id} for m in value]
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name.upper()] = value
        out.update(self.extra)
        return out


def profile_keys() -> tuple[str, ...]:
    return tuple(f.name.upper() for f in dataclasses.fields(Profile) if f.name != "extra")


def _number(key: str, value: Any, *, integer: bool = False) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"MATCHING_PROFILE {key} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ConfigurationError(f"MATCHING_PROFILE {key} must be finite and >= 0, got {value!r}")
    if integer:
        if int(value) != value:
            raise ConfigurationError(f"MATCHING_PROFILE {key} must be a whole number, got {value!r}")
        return int(value)
    return float(value)


def parse_manual_links(value: Any) -> tuple[ManualLink, ...]:
    if not isinstance(value, list | tuple):
        raise ConfigurationError("MATCHING_PROFILE MANUAL_LINKS must be a list of {sloid, osm_id}")
    links = []
    for position, item in enumerate(value):
        if isinstance(item, ManualLink):
            links.append(item)
            continue
        if not isinstance(item, Mapping) or set(item) != {"sloid", "osm_id"}:
            raise ConfigurationError(
                f"MATCHING_PROFILE MANUAL_LINKS[{position}] must be a mapping with exactly the keys "
                f"'sloid' and 'osm_id', got {item!r}"
            )
        sloid, osm_id = item["sloid"], item["osm_id"]
        if not isinstance(sloid, str) or not isinstance(osm_id, str) or "/" not in osm_id:
            raise ConfigurationError(
                f"MATCHING_PROFILE MANUAL_LINKS[{position}] needs a SLOID string and a typed OSM id "
                f"such as 'node/123', got {item!r}"
            )
        links.append(ManualLink(sloid.strip(), osm_id.strip()))
    return tuple(links)


def load_profile(overrides: Mapping[str, Any] | Profile | None = None, *,
                 extra_keys: tuple[str, ...] | frozenset[str] = ()) -> Profile:
    """The Swiss defaults with ``overrides`` applied.

    ``extra_keys`` are keys third-party strategies declared (their ``profile_keys``); they are
    kept in :attr:`Profile.extra`. Any other unknown key is an error naming the known ones.
    """
    if isinstance(overrides, Profile):
        return overrides
    overrides = dict(overrides or {})
    known = profile_keys()
    unknown = sorted(k for k in overrides if k not in known and k not in extra_keys)
    if unknown:
        raise ConfigurationError(
            f"MATCHING_PROFILE has unknown key(s) {', '.join(map(repr, unknown))}; known keys: "
            f"{', '.join(known)} (a third-party strategy declares its own keys in `profile_keys`)"
        )
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    types = {f.name: f.type for f in dataclasses.fields(Profile)}
    for key, value in overrides.items():
        if key not in known:
            extra[key] = value
            continue
        name = key.lower()
        if name == "manual_links":
            values[name] = parse_manual_links(value)
        elif name == "group_radii_m":
            if not isinstance(value, list | tuple) or not value:
                raise ConfigurationError("MATCHING_PROFILE GROUP_RADII_M must be a non-empty list of metres")
            values[name] = tuple(float(_number(key, v)) for v in value)
        else:
            values[name] = _number(key, value, integer=types[name] == "int")
    if "fuzzy_min_similarity" in values and values["fuzzy_min_similarity"] > 1:
        raise ConfigurationError("MATCHING_PROFILE FUZZY_MIN_SIMILARITY must lie in [0, 1]")
    if "pair_ratio" in values and values["pair_ratio"] < 1:
        raise ConfigurationError("MATCHING_PROFILE PAIR_RATIO must be >= 1")
    if "ratio_factor" in values and values["ratio_factor"] < 1:
        raise ConfigurationError("MATCHING_PROFILE RATIO_FACTOR must be >= 1")
    return Profile(**values, extra=extra)
