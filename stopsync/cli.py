"""Command groups: ``flask pipeline ...`` and ``flask plugins ...``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from flask import current_app
from flask.cli import with_appcontext

from .errors import StopsyncError
from .plugins.manager import EXTENSION_KEY, Plugins


def _plugins() -> Plugins:
    return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def _fail(error: StopsyncError) -> None:
    click.echo(f"error: {error.message}", err=True)
    sys.exit(error.exit_code)


def _print_summary(summary: dict[str, Any]) -> None:
    matching = summary.get("matching", {})
    click.echo("funnel: " + " -> ".join(
        f"{step['step']} {step['count']}" for step in summary.get("funnel", [])
    ))
    click.echo(
        f"links: {matching.get('links', 0)}; ATLAS matched {matching.get('atlas_matched', 0)}"
        f"/{matching.get('atlas_platforms', 0)} ({matching.get('match_rate', 0) * 100:.1f} %)"
    )
    for method, count in (matching.get("per_method") or {}).items():
        click.echo(f"  {method}: {count}")
    problems = summary.get("problems") or {}
    if problems:
        click.echo(f"problems: {problems.get('total', 0)} "
                   + " ".join(f"{p}={n}" for p, n in (problems.get("per_priority") or {}).items()))
    click.echo(f"duration {summary.get('duration_s', 0):.2f} s, peak RSS {summary.get('peak_rss_mb', 0)} MB")


@click.group("pipeline")
def pipeline_cli() -> None:
    """Acquire, match and publish stop data."""


F = TypeVar("F", bound=Callable[..., Any])


def region_options(command: F) -> F:
    """--region, --bbox and --border: a border file beats a bbox, which beats the region name."""
    command = click.option("--border", "border_path", type=click.Path(path_type=Path), default=None,
                           help="Region polygon (GeoJSON or TopoJSON); ATLAS platforms outside are dropped.")(command)
    command = click.option("--bbox", default=None, metavar="MINLON,MINLAT,MAXLON,MAXLAT",
                           help="Only this box (e.g. one city), instead of the region.")(command)
    return click.option("--region", "region_name", default=None, metavar="NAME",
                        help="switzerland (default), switzerland-liechtenstein or none.")(command)


@pipeline_cli.command("match")
@click.option("--atlas", "atlas_path", type=click.Path(path_type=Path), required=True,
              help="ATLAS traffic-point export (CSV or ZIP).")
@click.option("--osm", "osm_path", type=click.Path(path_type=Path), required=True,
              help="OSM XML file (.osm, .xml, .osm.bz2, .osm.pbf).")
@click.option("--gtfs", "gtfs_path", type=click.Path(path_type=Path), default=None,
              help="GTFS feed (ZIP) for route evidence and route contradictions.")
@region_options
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Directory for matches.csv, unmatched_*.csv, problems.csv and summary.json.")
@with_appcontext
def match_command(atlas_path: Path, osm_path: Path, gtfs_path: Path | None, region_name: str | None,
                  bbox: str | None, border_path: Path | None, out_dir: Path) -> None:
    """Match an ATLAS file with an OSM file and write the results; needs no database."""
    from .pipeline.gc_pause import collector_paused
    from .pipeline.match import run_match
    from .pipeline.output import write_outputs
    from .pipeline.runner import new_run_id, stage_notifier

    plugins = _plugins()
    config = current_app.config
    try:
        for label, path in (("--atlas", atlas_path), ("--osm", osm_path), ("--border", border_path),
                            ("--gtfs", gtfs_path)):
            if path is not None and not path.is_file():
                raise StopsyncError(f"{label}: no such file: {path}")
        from .pipeline.regions import choose_region

        region = choose_region(region_name or config.get("REGION_NAME"), bbox=bbox or config.get("BBOX"),
                               border=border_path).region
        source_config = {**config, "REGION": region}
        atlas_source = plugins.source("atlas-csv", source_config, "atlas")
        osm_source = plugins.source("osm-file", source_config, "osm")
        strategies = plugins.strategies_for(
            config.get("MATCHING_STRATEGIES"), config.get("MATCHING_PROFILE") or {}
        )
        from .pipeline.problems import ProblemThresholds

        with collector_paused():  # the outputs too: they hold one row object per record
            result = run_match(
                atlas_path, osm_path, atlas_source=atlas_source, osm_source=osm_source,
                strategies=strategies, region=region, profile=config.get("MATCHING_PROFILE") or {},
                on_stage=stage_notifier(plugins, new_run_id()),
                gtfs_path=gtfs_path,
                gtfs_source=plugins.source(str(config["GTFS_SOURCE_PLUGIN"]), config, "gtfs") if gtfs_path else None,
                problem_thresholds=ProblemThresholds.from_mapping(config.get("PROBLEM_THRESHOLDS")),
            )
            written = write_outputs(result, out_dir)
    except StopsyncError as error:
        _fail(error)
        return
    _print_summary(result.summary)
    for path in written.values():
        click.echo(f"wrote {path}")


def _print_decisions(summary: dict[str, Any]) -> None:
    for kind, item in (summary.get("sources") or {}).items():
        click.echo(f"source {kind}: {item['decision']} ({item['reason']}) {item['path']}")
    for name, record in (summary.get("artifacts") or {}).items():
        click.echo(f"artifact {name}: {record['decision']} ({record['reason']})")


def _show_phase(phase: str, number: int, total: int) -> None:
    click.echo(f"[{number}/{total}] {phase}", err=True)


@pipeline_cli.command("run")
@click.option("--mode", type=click.Choice(["full", "match-import", "import"]), default="full", show_default=True,
              help="full: acquire, match, publish; match-import: the same from cached sources only; "
                   "import: publish the stored result of the last successful match.")
@click.option("--force", is_flag=True, help="Download every source again and rebuild every artifact.")
@click.option("--offline", is_flag=True, help="Use only cached copies and local files; never download.")
@region_options
@with_appcontext
def run_command(mode: str, force: bool, offline: bool, region_name: str | None, bbox: str | None,
                border_path: Path | None) -> None:
    """Run the pipeline from the configured sources and publish into the database.

    Only one run at a time: while another is active this exits with code 2."""
    from .pipeline.runner import run_pipeline

    overrides = {"REGION_NAME": region_name, "BBOX": bbox,
                 "BORDER_SOURCE": str(border_path) if border_path else None}
    current_app.config.update({key: value for key, value in overrides.items() if value})
    try:
        summary = run_pipeline(
            current_app._get_current_object(),  # type: ignore[attr-defined]
            trigger="manual", mode=mode, force=force, offline=offline, on_phase=_show_phase,
        )
    except StopsyncError as error:
        _fail(error)
        return
    _print_decisions(summary)
    for warning in summary.get("warnings") or []:
        click.echo(f"warning: {warning}", err=True)
    _print_summary(summary)
    click.echo("published: " + json.dumps(summary.get("published", {}), sort_keys=True))


@pipeline_cli.command("rollback")
@with_appcontext
def rollback_command() -> None:
    """Swap the previous snapshot back in (the one the last publication replaced).

    Running it again swaps forward. Takes the run lock: refused (exit code 2) during a run."""
    from .extensions import db
    from .pipeline.publish import rollback_snapshot
    from .pipeline.runlock import run_lock_for
    from .pipeline.runner import new_run_id
    from .pipeline.status import build_status, forget_cached_status, store_status

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    lock = run_lock_for(app.config, db.engine, app.instance_path)
    try:
        lock.acquire(f"rollback-{new_run_id()}")
        try:
            timeout_s = float(app.config.get("PUBLISH_LOCK_TIMEOUT_S") or 10)
            restored = rollback_snapshot(db.engine, lock_timeout_s=timeout_s)
        finally:
            lock.release()
    except StopsyncError as error:
        _fail(error)
        return
    from .blueprints.api.cache import announce_published_run

    announce_published_run(app, restored)  # web processes switch now, not when the announcement expires
    forget_cached_status(app)
    store_status(app.config, build_status(db.session, app.config))
    click.echo(f"rolled back: the published snapshot is again the one of run {restored}")


def _describe_validators(validators: dict[str, Any] | None) -> str:
    if not validators or not any(value is not None for value in validators.values()):
        return "none"
    return ", ".join(f"{name}={value}" for name, value in validators.items() if value is not None)


@pipeline_cli.command("sources")
@click.option("--probe/--no-probe", "probe_server", default=True,
              help="Ask the servers (a one-byte ranged GET) whether their files changed.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_appcontext
def sources_command(probe_server: bool, as_json: bool) -> None:
    """Each configured source, its cached copy and what a run would decide now."""
    from .pipeline.runner import describe_sources

    try:
        reports = describe_sources(current_app.config, _plugins(), probe_server=probe_server)
    except StopsyncError as error:
        _fail(error)
        return
    if as_json:
        click.echo(json.dumps(reports, indent=2, sort_keys=True))
        return
    for report in reports:
        registered = "" if report["plugin_registered"] else " (plugin not installed)"
        click.echo(f"{report['kind']}: {report['location']} [{report['location_type']}, "
                   f"plugin {report['plugin']}{registered}]")
        cache = report["cache"]
        if cache is None:
            click.echo("  cache: none")
        else:
            gone = "" if cache["present"] else " (missing on disk)"
            sha = (cache["sha256"] or "")[:12]
            click.echo(f"  cache: {cache['path']}{gone}, {cache['size']} bytes, sha256 {sha}, "
                       f"fetched {cache['fetched_at']}")
        click.echo(f"  validators: {_describe_validators(report['validators'])}")
        if report["remote_validators"] is not None:
            click.echo(f"  server now: {_describe_validators(report['remote_validators'])}")
        click.echo(f"  a run now: {report['decision']} ({report['reason']})")


@click.group("plugins")
def plugins_cli() -> None:
    """Inspect the installed plugins."""


@plugins_cli.command("list")
@with_appcontext
def list_command() -> None:
    """Each plugin with its version and the hooks it implements."""
    plugins = _plugins()
    for info in plugins.infos():
        origin = "builtin" if info.builtin else info.distribution
        click.echo(f"{info.name} {info.version} ({origin})")
        for hook in info.hooks:
            click.echo(f"    {hook}")
    click.echo(f"data sources: {', '.join(sorted(plugins.data_sources)) or 'none'}")
    order = [cls.name for cls in plugins.strategy_order(current_app.config.get("MATCHING_STRATEGIES"))]
    click.echo(f"matching strategies (run order): {', '.join(order) or 'none'}")
