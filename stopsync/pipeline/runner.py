"""Runs the pipeline for an application in one of three modes (full, match-import, import).

Each run holds the run lock (one run at a time across processes and hosts), gets an id, a row
in ``pipeline_runs`` with its trigger, phase plan and per-phase timings (committed on its own, so
a failed run is recorded even though the snapshot stays untouched), a status that pages and the
API read, and a log context.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import pickle
import secrets
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from .. import __version__
from ..errors import PluginError, StopsyncError
from ..extensions import db
from ..logging_setup import run_context
from ..models import PipelineRun
from ..plugins.base import DataSource, SourceResult
from ..plugins.manager import EXTENSION_KEY, Plugins
from .acquire import Acquired, HttpSettings, acquire_location, inspect_location, is_url
from .artifacts import ArtifactCache, ArtifactRecord, dump_pickle, load_pickle
from .gc_pause import collector_paused
from .lifecycle import manual_links
from .problems import ProblemThresholds
from .progress import Progress, ProgressCallback
from .region import Region
from .regions import choose_region, overpass_region_settings
from .runlock import RunLock, run_lock_for
from .status import PhaseCallback

log = logging.getLogger(__name__)

# What a download may be, per kind of source: an HTML error page is none of these.
EXPECT_TYPES: dict[str, tuple[str, ...]] = {
    "atlas": ("text/csv", "application/csv", "text/plain", "application/zip", "application/x-zip-compressed",
              "application/octet-stream", "application/vnd.ms-excel"),
    "osm": ("application/xml", "text/xml", "application/osm3s+xml", "application/x-osm+xml",
            "application/x-bzip2", "application/gzip", "application/x-gzip", "application/octet-stream",
            "text/plain"),
    "border": ("application/geo+json", "application/vnd.geo+json", "application/json", "text/json",
               "text/plain", "application/octet-stream"),
    "gtfs": ("application/zip", "application/x-zip-compressed", "application/octet-stream"),
}

# Modules whose code shapes the parsed records of each kind (besides the plugin's own module).
PARSER_MODULES: dict[str, tuple[str, ...]] = {
    "atlas": ("stopsync.pipeline.atlas", "stopsync.pipeline.records", "stopsync.pipeline.region"),
    "osm": ("stopsync.pipeline.osm", "stopsync.pipeline.records"),
}

# Settings that change the parsed records of each kind.
RECORD_CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "atlas": ("TODAY", "ATLAS_MAX_BAD_SHARE", "BORDER_TOPOJSON_OBJECT", "REGION_NAME", "BBOX"),
    "osm": (),
}


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def notify(plugins: Plugins, hook_name: str, **kwargs: Any) -> None:
    """Call a lifecycle hook; a failing plugin is logged, never allowed to break the run."""
    try:
        getattr(plugins.hook, hook_name)(**kwargs)
    except Exception:
        log.exception("plugin hook failed", extra={"hook": hook_name})


def stage_notifier(plugins: Plugins, run_id: str) -> Callable[[str, dict[str, Any]], None]:
    def on_stage(stage: str, stats: dict[str, Any]) -> None:
        log.info("stage finished", extra={"stage": stage, "stats": stats})
        notify(plugins, "stopsync_stage_finished", run_id=run_id, stage=stage, stats=stats)

    return on_stage


def source_plugin_name(config: Mapping[str, Any], kind: str) -> str:
    configured = config.get(f"{kind.upper()}_SOURCE_PLUGIN")
    if configured:
        return str(configured)
    if kind == "osm":
        return "overpass" if config.get("OSM_SOURCE") == "overpass" else "osm-file"
    raise StopsyncError(f"no source plugin configured for {kind}")


@dataclass(frozen=True)
class ConfiguredSource:
    kind: str
    location: str
    plugin: str


def configured_sources(config: Mapping[str, Any]) -> list[ConfiguredSource]:
    """Every source the configuration names, in the order a run acquires them (GTFS last)."""
    found = []
    for kind in ("border", "atlas", "osm", "gtfs"):
        location = config.get(f"{kind.upper()}_SOURCE")
        if location:
            if kind == "gtfs":
                from .routes import gtfs_location

                location = gtfs_location(str(location))
            found.append(ConfiguredSource(kind, str(location), source_plugin_name(config, kind)))
    return found


def sources_dir(config: Mapping[str, Any]) -> Path:
    return Path(str(config["DATA_DIR"])) / "sources"


def artifacts_dir(config: Mapping[str, Any]) -> Path:
    return Path(str(config["DATA_DIR"])) / "artifacts"


def http_settings(config: Mapping[str, Any]) -> HttpSettings:
    return HttpSettings(user_agent=str(config["HTTP_USER_AGENT"]), timeout_s=float(config["HTTP_TIMEOUT_S"]))


def expect_types(source: DataSource) -> tuple[str, ...]:
    """Content types a download for ``source`` may have; a plugin may declare its own."""
    declared = getattr(source, "expect_types", None)
    return tuple(declared) if declared else EXPECT_TYPES.get(source.kind, ())


def acquire(
    source: DataSource,
    location: str,
    config: Mapping[str, Any],
    *,
    force: bool = False,
    offline: bool = False,
    on_progress: ProgressCallback | None = None,
) -> Acquired:
    """A local file for ``location``: the plugin's own fetch, a download, or the path itself,
    with the decision whether the source changed since the last run."""
    cache_dir = sources_dir(config)
    return acquire_location(
        source.name, location, cache_dir, http_settings(config), force=force, offline=offline,
        expect_types=expect_types(source), fetch=lambda: source.fetch(location, cache_dir),
        on_progress=on_progress,
    )


def parser_version(source: DataSource) -> str:
    """Fingerprint of the code that turns the source's file into records: any edit re-parses."""
    digest = hashlib.sha256(__version__.encode())
    for module_name in (type(source).__module__, *PARSER_MODULES.get(source.kind, ())):
        module = sys.modules.get(module_name) or importlib.import_module(module_name)
        module_file = getattr(module, "__file__", None)
        if module_file:
            digest.update(Path(module_file).read_bytes())
    return f"{type(source).__module__}.{type(source).__qualname__}@{digest.hexdigest()[:16]}"


def record_inputs(
    source: DataSource, acquired: Acquired, config: Mapping[str, Any], extra_sources: Mapping[str, str]
) -> dict[str, str]:
    """What the parsed records of ``source`` depend on: its file, the parser, the settings."""
    inputs = {f"source:{source.kind}": acquired.sha256, "parser": parser_version(source)}
    inputs.update({f"source:{kind}": digest for kind, digest in extra_sources.items()})
    for key in RECORD_CONFIG_KEYS.get(source.kind, ()):
        value = config.get(key)
        if key == "TODAY":
            value = value or date.today().isoformat()  # the validity filter moves with the date
        inputs[f"config:{key}"] = json.dumps(value, default=str, sort_keys=True)
    return inputs


class CachedRead(DataSource):
    """Reads through the artifact cache: an unchanged input is unpickled instead of re-parsed."""

    name = "artifact-cache"
    kind = "any"

    def __init__(
        self,
        inner: DataSource,
        cache: ArtifactCache,
        artifact: str,
        inputs: Mapping[str, str],
        *,
        force: bool,
        records: dict[str, ArtifactRecord],
    ) -> None:
        super().__init__(inner.config)
        self.inner = inner
        self.cache = cache
        self.artifact = artifact
        self.inputs = dict(inputs)
        self.force = force
        self.records = records

    def read(self, path: Path) -> SourceResult:
        self.inner.config = self.config  # run_match adds the region here
        parsed: list[SourceResult] = []

        def build(target: Path) -> None:
            parsed.append(self.inner.read(path))
            dump_pickle(parsed[0], target)

        try:
            record = self.cache.get_or_build(self.artifact, self.inputs, build, force=self.force)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            if not parsed:
                raise  # the parser failed, not the cache
            log.warning("records cannot be cached", extra={"artifact": self.artifact, "error": repr(exc)})
            return parsed[0]
        self.records[self.artifact] = record
        if parsed:
            return parsed[0]
        try:
            cached = load_pickle(record.path)
            if not isinstance(cached, SourceResult):
                raise TypeError(f"holds a {type(cached).__name__}, not a SourceResult")
            return cached
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError) as exc:
            log.warning("cached records unreadable; parsing again",
                        extra={"artifact": self.artifact, "error": repr(exc)})
            self.cache.invalidate(self.artifact)
            self.records[self.artifact] = self.cache.get_or_build(self.artifact, self.inputs, build)
            return parsed[0]


MODES = ("full", "match-import", "import")
TRIGGERS = ("manual", "scheduled")
# The phases each mode runs, in order; their timings end up in the run's ``phases``.
PHASE_PLANS: dict[str, tuple[str, ...]] = {
    "full": ("acquire", "match", "problems", "routes", "publish", "lifecycle", "statistics"),
    "match-import": ("acquire", "match", "problems", "routes", "publish", "lifecycle", "statistics"),
    "import": ("load", "publish", "lifecycle", "statistics"),
}
# The last successful match, kept for ``--mode import``.
MATCH_ARTIFACT = "last-match.pickle"
ROUTE_STAGES = ("parse_gtfs", "resolve_gtfs")


def match_artifact_path(config: Mapping[str, Any]) -> Path:
    return artifacts_dir(config) / MATCH_ARTIFACT


def _save_match(config: Mapping[str, Any], stored: dict[str, Any]) -> None:
    """Atomically: a killed run never leaves half a pickle where ``import`` looks."""
    path = match_artifact_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    dump_pickle(stored, partial)
    partial.replace(path)


def _load_match(config: Mapping[str, Any]) -> dict[str, Any]:
    from .match import MatchResult

    path = match_artifact_path(config)
    if not path.is_file():
        raise StopsyncError(f"nothing to import: no stored match result at {path}; run `--mode full` first")
    try:
        stored = load_pickle(path)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as exc:
        raise StopsyncError(f"the stored match result {path} is unreadable ({exc}); run `--mode full`") from exc
    if not isinstance(stored, dict) or not isinstance(stored.get("result"), MatchResult):
        raise StopsyncError(f"{path} holds no match result; run `--mode full`")
    return stored


def _baseline(mode: str) -> dict[str, float]:
    """Phase timings of the last successful run of the same mode: the ETA of this one."""
    from .status import timings

    last = db.session.scalars(
        sa.select(PipelineRun).where(PipelineRun.status == "succeeded", PipelineRun.mode == mode)
        .order_by(PipelineRun.id.desc()).limit(1)
    ).first()
    return timings(last.phases or {}) if last is not None else {}


def _abandon_dead_runs(run_id: str) -> int:
    """Runs still marked running whose process died: we hold the lock, so none is alive."""
    dead = db.session.scalars(sa.select(PipelineRun).where(PipelineRun.status == "running",
                                                           PipelineRun.run_id != run_id)).all()
    for run in dead:
        run.status = "failed"
        run.error = "abandoned: the process running it stopped before finishing"
        run.finished_at = datetime.now(UTC)
    db.session.commit()
    return len(dead)


def _mark_failed(run_id: str, phases: dict[str, Any], exc: BaseException) -> None:
    """Record the failure; if the database connection itself was dropped, on a fresh one."""
    for attempt in (1, 2):
        try:
            db.session.rollback()
            run = db.session.scalars(sa.select(PipelineRun).where(PipelineRun.run_id == run_id)).one()
            run.status = "failed"
            run.error = str(exc) or exc.__class__.__name__
            run.phases = phases
            run.finished_at = datetime.now(UTC)
            db.session.commit()
            return
        except sa.exc.DBAPIError:
            db.session.remove()
            if attempt == 2:
                log.exception("could not record the failed run")


def run_pipeline(
    app: Flask,
    *,
    trigger: str = "manual",
    mode: str = "full",
    force: bool = False,
    offline: bool = False,
    on_progress: ProgressCallback | None = None,
    on_phase: PhaseCallback | None = None,
) -> dict[str, Any]:
    """One run of ``mode`` from the configured sources into the configured database.

    ``full`` acquires, matches and publishes; ``match-import`` does the same from the cached
    sources only (no download); ``import`` publishes the stored result of the last successful
    match. ``force`` downloads and re-parses everything; ``offline`` uses only cached copies and
    local files. Only one run at a time: a second one raises ``RunLockedError`` (exit code 2).
    Why each source and artifact was fetched, rebuilt or reused ends up in the summary
    (``sources``, ``artifacts``) and in the run's phases.
    """
    if mode not in MODES:
        raise StopsyncError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    if trigger not in TRIGGERS:
        raise StopsyncError(f"unknown trigger {trigger!r}; use one of {', '.join(TRIGGERS)}")
    run_id = new_run_id()
    with run_context(run_id), app.app_context():
        lock = run_lock_for(app.config, db.engine, app.instance_path)
        lock.acquire(run_id)
        try:
            with collector_paused():  # matching and publication build ~10^6 long-lived objects
                return _locked_run(app, lock, run_id, trigger=trigger, mode=mode, force=force,
                                   offline=offline or mode == "match-import", on_progress=on_progress,
                                   on_phase=on_phase)
        finally:
            lock.release()
            db.session.remove()


def _locked_run(
    app: Flask,
    lock: RunLock,
    run_id: str,
    *,
    trigger: str,
    mode: str,
    force: bool,
    offline: bool,
    on_progress: ProgressCallback | None,
    on_phase: PhaseCallback | None,
) -> dict[str, Any]:
    from ..blueprints.api.cache import announce_published_run
    from .publish import publish_snapshot, recover_publication
    from .status import RunStatus, dataset_timestamp

    plugins: Plugins = app.extensions[EXTENSION_KEY]
    config = app.config
    abandoned = _abandon_dead_runs(run_id)
    if recover_publication(db.engine):
        log.warning("recovered from a killed publication: dropped its staging data")
    plan = list(PHASE_PLANS[mode])
    baseline = _baseline(mode)
    run = PipelineRun(run_id=run_id, trigger=trigger, mode=mode, status="running",
                      started_at=datetime.now(UTC), phases={"plan": plan}, summary={})
    db.session.add(run)
    db.session.commit()
    status = RunStatus(app, db.session, run, plan, baseline, on_phase=on_phase)
    log.info("pipeline run started", extra={"trigger": trigger, "mode": mode, "force": force,
                                            "offline": offline, "plan": plan, "lock": lock.kind,
                                            "abandoned_runs": abandoned})
    started = time.perf_counter()
    acquired: dict[str, Acquired] = {}
    warnings: list[str] = []
    artifacts: dict[str, ArtifactRecord] = {}

    def progress(state: dict[str, Any]) -> None:
        status.progress(state)
        if on_progress is not None:
            on_progress(state)

    try:
        if mode == "import":
            status.start_phase("load")
            stored = _load_match(config)
            result, sources_meta = stored["result"], dict(stored["sources_meta"])
            warnings.append(f"imported the match of run {stored['run_id']} from {stored['saved_at']}")
            status.finish_phase("load")
        else:
            result, sources_meta = _acquire_and_match(
                app, plugins, status, run_id, force=force, offline=offline, on_progress=progress,
                acquired=acquired, artifacts=artifacts, warnings=warnings,
            )
            sources_meta["datasets"] = {kind: {"timestamp": dataset_timestamp(item), "location": item.location}
                                        for kind, item in acquired.items() if kind in ("atlas", "osm", "gtfs")}
            _save_match(config, {"result": result, "run_id": run_id, "sources_meta": sources_meta,
                                 "saved_at": datetime.now(UTC).isoformat(timespec="seconds")})
        db.session.commit()  # no transaction of ours stays open across the publication
        status.start_phase("publish")
        status.hold_database_writes(True)  # SQLite has one writer: the publication
        total_rows = len(result.atlas) + len(result.osm) + len(result.units) + len(result.links) + len(result.problems)
        with Progress("publish", "snapshot", total=total_rows, unit="rows", on_update=progress) as bar:
            def on_step(step: str, done: int, _total: int) -> None:
                if step == "load" and done > bar.done:
                    bar.advance(done - bar.done)
                log.debug("publication step", extra={"step": step, "done": done})

            counts, lifecycle = publish_snapshot(
                db.engine, result, run_id, sources_meta, on_step=on_step,
                lock_timeout_s=float(config.get("PUBLISH_LOCK_TIMEOUT_S") or 10), before_swap=lock.check,
            )
            # At once after the swap committed: web processes answer from the new snapshot's cache.
            announce_published_run(app, run_id)
            bar.advance(max(total_rows - bar.done, 0))
        status.hold_database_writes(False)
        publish_s = status.finish_phase("publish")
        status.finish_phase("lifecycle", lifecycle.duration_s)
        status.phases["publish"] = round(max(publish_s - lifecycle.duration_s, 0.0), 3)
        status.start_phase("statistics")
        statistics = _statistics(result, counts)
        status.finish_phase("statistics")
    except BaseException as exc:
        status.hold_database_writes(False)
        _mark_failed(run_id, status.final(), exc)
        log.error("pipeline run failed", extra={"error": str(exc), "phase": (status.phases.get("current") or {})
                                                 .get("phase")})
        try:
            status.publish_final()
        except Exception:
            log.warning("status not refreshed after the failure", exc_info=True)
        raise
    summary = dict(
        result.summary, published=counts, run_id=run_id, mode=mode, trigger=trigger, changes=lifecycle.changes,
        warnings=warnings, statistics=statistics,
        sources={kind: item.to_dict() for kind, item in acquired.items()},
        artifacts={name: record.to_dict() for name, record in artifacts.items()},
    )
    db.session.expire_all()  # the lifecycle changed review rows through another connection
    run = db.session.get(PipelineRun, run.id) or run
    run.status = "succeeded"
    run.changes = lifecycle.changes
    run.phases = status.final()
    run.summary = summary
    run.finished_at = datetime.now(UTC)
    db.session.commit()
    status.publish_final()
    log.info("pipeline run succeeded", extra={"duration_s": round(time.perf_counter() - started, 3)})
    notify(plugins, "stopsync_snapshot_published", run_id=run_id, summary=summary)
    return summary


def _statistics(result: Any, counts: Mapping[str, int]) -> dict[str, Any]:
    """What the run produced, as the status page and the run history show it."""
    matching = result.summary.get("matching") or {}
    problems = result.summary.get("problems") or {}
    return {
        "published_rows": dict(counts),
        "links": len(result.links),
        "match_rate": matching.get("match_rate"),
        "problems_total": problems.get("total", len(result.problems)),
        "problems_per_priority": problems.get("per_priority") or {},
    }


def _acquire_and_match(
    app: Flask,
    plugins: Plugins,
    status: Any,
    run_id: str,
    *,
    force: bool,
    offline: bool,
    on_progress: ProgressCallback,
    acquired: dict[str, Acquired],
    artifacts: dict[str, ArtifactRecord],
    warnings: list[str],
) -> tuple[Any, dict[str, Any]]:
    """Phases acquire, match, problems and routes: the configured sources into a MatchResult."""
    from .match import run_match

    config = app.config

    def get(source: DataSource, kind: str) -> Acquired:
        acquired[kind] = acquire(source, str(config[f"{kind.upper()}_SOURCE"]), config, force=force,
                                 offline=offline, on_progress=on_progress)
        status.set("sources", {name: item.decision for name, item in acquired.items()})
        return acquired[kind]

    status.start_phase("acquire")
    region = None
    sources_meta: dict[str, Any] = {}
    # A border file is queried by its polygon, not by the default Overpass area.
    region_settings: dict[str, Any] = {"OVERPASS_AREA": None, "OVERPASS_BBOX": None}
    if config.get("BORDER_SOURCE"):
        border_source = plugins.source(source_plugin_name(config, "border"), config, "border")
        region_result = border_source.read(get(border_source, "border").path)
        region = region_result.records
        if not isinstance(region, Region):
            raise PluginError(f"border source {border_source.name!r} returned no Region")
        sources_meta["border"] = str(config["BORDER_SOURCE"])
    else:
        choice = choose_region(config.get("REGION_NAME"), bbox=config.get("BBOX"))
        region = choice.region
        region_settings = overpass_region_settings(choice)
        sources_meta["region"] = choice.name
    source_config = {**config, **region_settings, "REGION": region}
    atlas_source = plugins.source(source_plugin_name(config, "atlas"), source_config, "atlas")
    atlas = get(atlas_source, "atlas")
    osm_source = plugins.source(source_plugin_name(config, "osm"), source_config, "osm")
    osm = get(osm_source, "osm")
    sources_meta.update(atlas=str(config["ATLAS_SOURCE"]), osm=str(config["OSM_SOURCE"]))
    cache = ArtifactCache(artifacts_dir(config))
    border_inputs = {"border": acquired["border"].sha256} if "border" in acquired else {}
    cached_atlas = CachedRead(atlas_source, cache, "atlas-records.pickle",
                              record_inputs(atlas_source, atlas, config, border_inputs),
                              force=force, records=artifacts)
    cached_osm = CachedRead(osm_source, cache, "osm-records.pickle",
                            record_inputs(osm_source, osm, config, {}), force=force, records=artifacts)
    gtfs_path, cached_gtfs = None, None
    if config.get("GTFS_SOURCE"):
        gtfs_path, cached_gtfs = _optional_gtfs(
            plugins, config, cache, force=force, offline=offline, on_progress=on_progress,
            acquired=acquired, artifacts=artifacts, warnings=warnings,
        )
    status.finish_phase("acquire")
    strategies = plugins.strategies_for(config.get("MATCHING_STRATEGIES"), config.get("MATCHING_PROFILE") or {})
    status.start_phase("match")
    notify_stage = stage_notifier(plugins, run_id)
    stage_seconds: dict[str, float] = {}

    def on_stage(stage: str, stats: dict[str, Any]) -> None:
        stage_seconds[stage] = float(stats.get("duration_s") or 0.0)
        notify_stage(stage, stats)
        status.progress({"source": stage, "done": len(stage_seconds), "total": None, "unit": "stages"})
        if stage == "match":
            status.finish_phase("match")
            status.start_phase("problems")

    result = run_match(
        atlas.path, osm.path, atlas_source=cached_atlas, osm_source=cached_osm,
        strategies=strategies, region=region,
        profile=config.get("MATCHING_PROFILE") or {},
        on_stage=on_stage,
        # Reviewers' manual links feed the first matching stage.
        context={"manual_links": manual_links(db.session())},
        gtfs_path=gtfs_path, gtfs_source=cached_gtfs,
        problem_thresholds=ProblemThresholds.from_mapping(config.get("PROBLEM_THRESHOLDS")),
    )
    status.finish_phase("problems")
    # Route evidence (the timetable) is read while matching; its stages are its timing.
    routes_s = round(sum(stage_seconds.get(stage, 0.0) for stage in ROUTE_STAGES), 3)
    status.finish_phase("routes", routes_s)
    status.phases["match"] = round(max(float(status.phases.get("match", 0.0)) - routes_s, 0.0), 3)
    status.set("artifacts", {name: record.decision for name, record in artifacts.items()})
    return result, sources_meta


def describe_sources(config: Mapping[str, Any], plugins: Plugins, *, probe_server: bool = True) -> list[dict[str, Any]]:
    """For each configured source: where it is, its cache state and what a run would decide now."""
    reports = []
    for configured in configured_sources(config):
        cls = plugins.data_sources.get(configured.plugin)
        fetched_by_plugin = (
            cls is not None and cls.fetch is not DataSource.fetch and not is_url(configured.location)
            and not Path(configured.location).expanduser().exists()
        )
        report = inspect_location(configured.plugin, configured.location, sources_dir(config), http_settings(config),
                                  probe_server=probe_server, fetched_by_plugin=fetched_by_plugin)
        reports.append({"kind": configured.kind, "plugin": configured.plugin,
                        "plugin_registered": cls is not None, **report})
    return reports


def _optional_gtfs(
    plugins: Plugins,
    config: Mapping[str, Any],
    cache: ArtifactCache,
    *,
    force: bool,
    offline: bool,
    on_progress: ProgressCallback | None,
    acquired: dict[str, Acquired],
    artifacts: dict[str, ArtifactRecord],
    warnings: list[str],
) -> tuple[Path | None, DataSource | None]:
    """The timetable enriches matching (route evidence) but is not required: when it cannot be
    had, the run goes on without it and says so in its warnings."""
    from .routes import gtfs_location

    location = gtfs_location(str(config["GTFS_SOURCE"]))
    try:
        source = plugins.source(source_plugin_name(config, "gtfs"), config, "gtfs")
        item = acquire(source, location, config, force=force, offline=offline, on_progress=on_progress)
    except StopsyncError as exc:
        warnings.append(f"timetable not used: {exc.message}")
        log.warning("timetable not used", extra={"error": exc.message})
        return None, None
    acquired["gtfs"] = item
    cached = CachedRead(source, cache, "gtfs-feed.pickle", record_inputs(source, item, config, {}),
                        force=force, records=artifacts)
    return item.path, cached
