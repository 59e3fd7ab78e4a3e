"""The database-free core of a run: parse the inputs (ATLAS, OSM, optionally GTFS), run the
strategies, detect problems, summarise.

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
from .gc_pause import collector_paused
from .problems import DetectionInput, Problem, ProblemThresholds, detect_problems
from .profile import load_profile
from .records import AtlasPlatform, Link, OsmElement, OsmRoute
from .region import Region
from .routes import osm_route_tokens
from .stop_routes import StopRoute

StageCallback = Callable[[str, dict[str, Any]], None]


@dataclass
class MatchResult:
    atlas: list[AtlasPlatform]
    osm: list[OsmElement]
    links: list[Link]
    summary: dict[str, Any]
    # Why each unmatched ATLAS platform is unmatched, by SLOID.
    unmatched_reasons: dict[str, UnmatchedReason] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # OSM stop units: {"unit_key", "kind", "members": [osm ids], "lat", "lon"}.
    units: list[dict[str, Any]] = field(default_factory=list)
    routes: list[OsmRoute] = field(default_factory=list)
    # Per SLOID, the GTFS routes calling there (empty when the run had no timetable).
    timetable_routes: dict[str, list[StopRoute]] = field(default_factory=dict)


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
    gtfs_path: Path | None = None,
    gtfs_source: DataSource | None = None,
    problem_thresholds: ProblemThresholds | None = None,
) -> MatchResult:
    """Parse ATLAS and OSM with the given sources, then run ``strategies`` in order.

    ``profile`` overrides the matching thresholds (unknown keys fail before any parsing,
    except keys a strategy declares in its ``profile_keys``); ``context`` carries run inputs
    the strategies read (``manual_links``); the route tokens are built here from the OSM
    routes and, when ``gtfs_path`` is given, the timetable.
    """
    with collector_paused():
        return _run_match(atlas_path, osm_path, atlas_source=atlas_source, osm_source=osm_source,
                          strategies=strategies, region=region, profile=profile, on_stage=on_stage,
                          context=context, gtfs_path=gtfs_path, gtfs_source=gtfs_source,
                          problem_thresholds=problem_thresholds)


def _run_match(
    atlas_path: Path,
    osm_path: Path,
    *,
    atlas_source: DataSource,
    osm_source: DataSource,
    strategies: Sequence[MatchingStrategy],
    region: Region | None,
    profile: Mapping[str, Any] | None,
    on_stage: StageCallback | None,
    context: Mapping[str, Any] | None,
    gtfs_path: Path | None,
    gtfs_source: DataSource | None,
    problem_thresholds: ProblemThresholds | None,
) -> MatchResult:
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

    routes: list[OsmRoute] = list(osm_result.related.get("routes", []))
    run_context = dict(context or {})
    run_context["osm_route_tokens"] = osm_route_tokens(routes)
    gtfs_summary: dict[str, Any] = {}
    timetable_routes: dict[str, list[StopRoute]] = {}
    if gtfs_path is not None and gtfs_source is not None:
        run_context["atlas_route_tokens"], timetable_routes, gtfs_summary = _timetable_tokens(
            gtfs_path, gtfs_source, atlas, stages, osm=osm, routes=routes, run_context=run_context)

    started = time.perf_counter()
    engine = MatchEngine(atlas, osm, settings, context=run_context)
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
    units, unit_of = _stop_units(engine)
    problems = detect_problems(
        DetectionInput(atlas, osm, engine.links, unit_of=unit_of,
                       atlas_route_tokens=run_context.get("atlas_route_tokens") or {},
                       osm_route_tokens=run_context["osm_route_tokens"]),
        problem_thresholds,
    )
    stages.finish("problems", started, problem_counts(problems))

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
        "problems": problem_counts(problems),
        "routes": {"osm_routes": sum(1 for r in routes if r.kind == "route"),
                   "osm_elements_with_route_tokens": len(run_context["osm_route_tokens"]),
                   **gtfs_summary},
    }
    stages.finish("summary", started, summary["matching"])
    summary["stages"] = dict(stages.durations)
    summary["duration_s"] = round(time.perf_counter() - run_started, 3)
    summary["peak_rss_mb"] = peak_rss_mb()
    return MatchResult(atlas=atlas, osm=osm, links=list(engine.links), summary=summary,
                       unmatched_reasons=reasons, problems=problems, units=units, routes=routes,
                       timetable_routes=timetable_routes)


def problem_counts(problems: Sequence[Problem]) -> dict[str, Any]:
    """Totals per type and priority, e.g. ``{"total": 3, "per_type": {"distance": {"P2": 1}}}``."""
    per_type: dict[str, dict[str, int]] = {}
    for problem in problems:
        bucket = per_type.setdefault(problem.type, {})
        bucket[f"P{problem.priority}"] = bucket.get(f"P{problem.priority}", 0) + 1
    per_priority = {f"P{p}": sum(1 for x in problems if x.priority == p) for p in (1, 2, 3)}
    return {"total": len(problems), "per_priority": per_priority, "per_type": dict(sorted(per_type.items()))}


def _stop_units(engine: MatchEngine) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The units as snapshot rows, and osm_id -> unit key for members of pairs and trios."""
    rows: list[dict[str, Any]] = []
    unit_of: dict[str, str] = {}
    for unit, members in enumerate(engine.units.members):
        ids = sorted(engine.osm[j].osm_id for j in members)
        kind = engine.units.kind_of_unit[unit]
        key = f"{kind}:{'+'.join(ids)}"
        anchor = next((j for j in members if engine.units.is_representative[j]), members[0])
        rows.append({"unit_key": key[:128], "kind": kind, "members": ids,
                     "lat": engine.osm[anchor].lat, "lon": engine.osm[anchor].lon})
        if len(members) > 1:
            unit_of.update({osm_id: key for osm_id in ids})
    return rows, unit_of


def _timetable_tokens(
    gtfs_path: Path, gtfs_source: DataSource, atlas: Sequence[AtlasPlatform], stages: _Stages, *,
    osm: Sequence[OsmElement], routes: Sequence[OsmRoute], run_context: dict[str, Any],
) -> tuple[dict[str, set[str]], dict[str, list[StopRoute]], dict[str, Any]]:
    """Per SLOID, the GTFS (route, direction) tokens and the routes calling there, and what
    resolving the stops achieved. With the timetable at hand, the OSM route relations that do
    not name their route and direction get them from their stop sequence
    (:mod:`.route_inference`): ``run_context["osm_route_tokens"]`` is replaced."""
    from .gtfs import resolution_stats, resolve_stop_ids, route_tokens
    from .route_inference import infer_osm_route_tokens
    from .stop_routes import gtfs_stop_routes

    started = time.perf_counter()
    gtfs_result = gtfs_source.read(Path(gtfs_path))
    stages.finish("parse_gtfs", started, gtfs_result.stats)
    started = time.perf_counter()
    feed = gtfs_result.records
    resolutions = resolve_stop_ids(feed, atlas)
    stats = resolution_stats(feed, resolutions)
    tokens = route_tokens(feed, resolutions)
    served = gtfs_stop_routes(feed, resolutions)
    stages.finish("resolve_gtfs", started, stats)
    started = time.perf_counter()
    run_context["osm_route_tokens"], inference = infer_osm_route_tokens(routes, osm, atlas, feed, resolutions)
    stages.finish("route_inference", started, inference)
    return tokens, served, {"gtfs_patterns": len(feed.patterns), "gtfs_resolution": stats,
                            "atlas_platforms_with_route_tokens": len(tokens), "osm_route_relations": inference}
