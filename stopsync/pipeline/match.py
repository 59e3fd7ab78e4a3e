"""The database-free core of a run: parse both inputs, run the strategies, summarise.

Every stage is timed and reported through ``on_stage`` so that the caller (the runner, the
command line, a test) can log it or forward it to plugins.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..plugins.base import DataSource, MatchingStrategy
from .engine import UNMATCHED_REASONS, MatchEngine, UnmatchedReason
from .profile import load_profile
from .records import AtlasPlatform, Link, OsmElement
from .region import Region

StageCallback = Callable[[str, dict[str, Any]], None]


@dataclass
class MatchResult:
    atlas: list[AtlasPlatform]
    osm: list[OsmElement]
    links: list[Link]
    summary: dict[str, Any]
    # Why each unmatched ATLAS platform is unmatched, by SLOID.
    unmatched_reasons: dict[str, UnmatchedReason] = field(default_factory=dict)


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


class _Stages:
    """Times stages and reports each one, with its duration, to the callback."""

    def __init__(self, on_stage: StageCallback | None) -> None:
        self.on_stage = on_stage
        self.durations: dict[str, float] = {}

    def finish(self, stage: str, started: float, stats: Mapping[str, Any]) -> None:
        duration = round(time.perf_counter() - started, 3)
        self.durations[stage] = duration
        if self.on_stage is not None:
            self.on_stage(stage, {**stats, "duration_s": duration})


def _matching_summary(
    engine: MatchEngine, strategy_names: list[str], reasons: Mapping[str, UnmatchedReason]
) -> dict[str, Any]:
    linked_sloids = {link.sloid for link in engine.links}
    linked_osm = {link.osm_id for link in engine.links}
    platforms = len(engine.atlas)
    matched = sum(1 for p in engine.atlas if p.sloid in linked_sloids)
    eligible = [e for e in engine.osm if e.kind != "station"]
    osm_matched = sum(1 for e in eligible if e.osm_id in linked_osm)
    return {
        "strategies": strategy_names,
        "links": len(engine.links),
        "per_method": engine.counts_per_method(),
        "atlas_platforms": platforms,
        "atlas_matched": matched,
        "atlas_unmatched": platforms - matched,
        "match_rate": round(matched / platforms, 4) if platforms else 0.0,
        "osm_elements_eligible": len(eligible),
        "osm_stations_excluded": len(engine.osm) - len(eligible),
        "osm_matched": osm_matched,
        "osm_unmatched": len(eligible) - osm_matched,
        "unmatched_reasons": {
            reason: sum(1 for r in reasons.values() if r.reason == reason) for reason in UNMATCHED_REASONS
        },
        "stop_units": engine.units.counts(),
        "refused_links": dict(sorted(engine.refused.items())),
    }


def run_match(
    atlas_path: Path,
    osm_path: Path,
    *,
    atlas_source: DataSource,
    osm_source: DataSource,
    strategies: Sequence[MatchingStrategy],
    region: Region | None = None,
    profile: Mapping[str, Any] | None = None,
    on_stage: StageCallback | None = None,
    context: Mapping[str, Any] | None = None,
) -> MatchResult:
    """Parse ATLAS and OSM with the given sources, then run ``strategies`` in order.

    ``profile`` overrides the matching thresholds (unknown keys fail before any parsing,
    except keys a strategy declares in its ``profile_keys``); ``context`` carries run inputs
    the strategies read (``atlas_route_tokens``, ``osm_route_tokens``, ``manual_links``).
    """
    run_started = time.perf_counter()
    declared = frozenset(key for s in strategies for key in getattr(s, "profile_keys", ()))
    settings = load_profile(profile, extra_keys=declared)
    stages = _Stages(on_stage)
    if region is not None:
        # The source reads its filters from its configuration; the region travels there.
        atlas_source.config = {**atlas_source.config, "REGION": region}

    started = time.perf_counter()
    atlas_result = atlas_source.read(Path(atlas_path))
    atlas: list[AtlasPlatform] = list(atlas_result.records)
    stages.finish("parse_atlas", started, atlas_result.stats)

    started = time.perf_counter()
    osm_result = osm_source.read(Path(osm_path))
    osm: list[OsmElement] = list(osm_result.records)
    stages.finish("parse_osm", started, osm_result.stats)

    started = time.perf_counter()
    engine = MatchEngine(atlas, osm, settings, context=context)
    grouping_s = round(time.perf_counter() - started, 3)
    per_strategy: list[dict[str, Any]] = []
    for strategy in strategies:
        strategy_started = time.perf_counter()
        before = len(engine.links)
        strategy.run(engine)
        per_strategy.append({
            "name": strategy.name,
            "links": len(engine.links) - before,
            "duration_s": round(time.perf_counter() - strategy_started, 3),
            **({"stats": engine.stage_stats[strategy.name]} if strategy.name in engine.stage_stats else {}),
        })
    reasons = {engine.atlas[i].sloid: reason for i, reason in engine.unmatched_reasons().items()}
    stages.finish("match", started, {"links": len(engine.links), "grouping_s": grouping_s,
                                     "strategies": per_strategy})

    started = time.perf_counter()
    atlas_stats = atlas_result.stats
    osm_stats = osm_result.stats
    summary: dict[str, Any] = {
        "inputs": {
            "atlas_file": str(atlas_path),
            "atlas_rows": atlas_stats.get("rows", len(atlas)),
            "atlas_bad_rows": atlas_stats.get("bad_row_count", 0),
            "osm_file": str(osm_path),
            "osm_elements": osm_stats.get("elements", len(osm)),
            "osm_per_kind": dict(osm_stats.get("per_kind", {})),
        },
        "funnel": list(atlas_stats.get("funnel", [])),
        "matching": {
            **_matching_summary(engine, [s.name for s in strategies], reasons),
            "per_strategy": per_strategy,
        },
    }
    stages.finish("summary", started, summary["matching"])
    summary["stages"] = dict(stages.durations)
    summary["duration_s"] = round(time.perf_counter() - run_started, 3)
    summary["peak_rss_mb"] = peak_rss_mb()
    return MatchResult(atlas=atlas, osm=osm, links=list(engine.links), summary=summary,
                       unmatched_reasons=reasons)
