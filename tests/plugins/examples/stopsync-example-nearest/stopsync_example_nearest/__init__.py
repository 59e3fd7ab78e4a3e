"""Example stopsync plugin, discovered through the ``stopsync`` entry-point group."""

from __future__ import annotations

from typing import Any

import click

from stopsync import hookimpl
from stopsync.pipeline.engine import MatchEngine
from stopsync.plugins.base import MatchingStrategy

# What the lifecycle hooks observed, in order (read by the example command and the tests).
SEEN: list[tuple[str, str]] = []


class NearestStrategy(MatchingStrategy):
    name = "example_nearest"
    description = "nearest unmatched OSM platform/stop position within a radius"
    order = 900
    # Profile keys this strategy reads; MATCHING_PROFILE rejects keys nobody declared.
    profile_keys = ("EXAMPLE_NEAREST_MAX_M",)

    def run(self, engine: MatchEngine) -> None:
        max_m = float(self.profile.get("EXAMPLE_NEAREST_MAX_M", 20.0))
        candidates = [j for j in engine.unmatched_osm()
                      if engine.osm[j].kind in ("platform", "stop_position")]
        taken: set[int] = set()
        for i in engine.unmatched_atlas():
            best, best_d = None, max_m
            for j in candidates:
                if j in taken:
                    continue
                d = engine.distance_m(i, j)
                if d <= best_d:
                    best, best_d = j, d
            if best is not None:
                taken.add(best)
                engine.link(i, best, self.name, score=round(1 - best_d / max_m / 2, 3),
                            evidence={"radius_m": max_m})


@hookimpl
def stopsync_register_matching_strategies() -> list[type[MatchingStrategy]]:
    return [NearestStrategy]


@click.command("example-nearest-stats")
def stats_command() -> None:
    """Print the pipeline events this plugin has seen in this process."""
    click.echo(f"events seen: {len(SEEN)}")
    for kind, name in SEEN:
        click.echo(f"{kind} {name}")


@hookimpl
def stopsync_register_cli_commands() -> list[click.Command]:
    return [stats_command]


@hookimpl
def stopsync_stage_finished(run_id: str, stage: str, stats: dict[str, Any]) -> None:
    SEEN.append(("stage", stage))


@hookimpl
def stopsync_snapshot_published(run_id: str, summary: dict[str, Any]) -> None:
    SEEN.append(("published", run_id))
