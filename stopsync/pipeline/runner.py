"""Runs the pipeline for an application: acquire the configured sources, match, publish.

Each run gets an id, a row in ``pipeline_runs`` (committed on its own, so a failed run is
recorded even though the snapshot stays untouched) and a log context.
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
from .lifecycle import manual_links
from .problems import ProblemThresholds
from .progress import ProgressCallback
from .region import Region
from .regions import choose_region, overpass_region_settings

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


def run_pipeline(
    app: Flask,
    *,
    trigger: str = "manual",
    mode: str = "full",
    force: bool = False,
    offline: bool = False,
    on_progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """One full run from the configured sources into the configured database.

    ``force`` downloads and re-parses everything; ``offline`` uses only cached copies and local
    files. Why each source and artifact was fetched, rebuilt or reused ends up in the summary
    (``sources``, ``artifacts``) and in the run's phases.
    """
    from .match import run_match
    from .publish import publish_snapshot

    plugins: Plugins = app.extensions[EXTENSION_KEY]
    config = app.config
    run_id = new_run_id()
    with run_context(run_id), app.app_context():
        run = PipelineRun(run_id=run_id, trigger=trigger, mode=mode, status="running",
                          started_at=datetime.now(UTC), phases={}, summary={})
        db.session.add(run)
        db.session.commit()
        log.info("pipeline run started", extra={"trigger": trigger, "mode": mode, "force": force,
                                                "offline": offline})
        started = time.perf_counter()
        phases: dict[str, Any] = {}
        acquired: dict[str, Acquired] = {}
        warnings: list[str] = []
        artifacts: dict[str, ArtifactRecord] = {}

        def get(source: DataSource, kind: str) -> Acquired:
            acquired[kind] = acquire(source, str(config[f"{kind.upper()}_SOURCE"]), config, force=force,
                                     offline=offline, on_progress=on_progress)
            phases["sources"] = {name: item.decision for name, item in acquired.items()}
            return acquired[kind]

        try:
            region = None
            sources_meta: dict[str, Any] = {}
            t0 = time.perf_counter()
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
            phases["acquire"] = round(time.perf_counter() - t0, 3)
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
            strategies = plugins.strategies_for(
                config.get("MATCHING_STRATEGIES"), config.get("MATCHING_PROFILE") or {}
            )
            t0 = time.perf_counter()
            result = run_match(
                atlas.path, osm.path, atlas_source=cached_atlas, osm_source=cached_osm,
                strategies=strategies, region=region,
                profile=config.get("MATCHING_PROFILE") or {},
                on_stage=stage_notifier(plugins, run_id),
                # Reviewers' manual links feed the first matching stage.
                context={"manual_links": manual_links(db.session())},
                gtfs_path=gtfs_path, gtfs_source=cached_gtfs,
                problem_thresholds=ProblemThresholds.from_mapping(config.get("PROBLEM_THRESHOLDS")),
            )
            phases["match"] = round(time.perf_counter() - t0, 3)
            phases["artifacts"] = {name: record.decision for name, record in artifacts.items()}
            t0 = time.perf_counter()
            counts, lifecycle = publish_snapshot(db.engine, result, run_id, sources_meta)
            phases["publish"] = round(time.perf_counter() - t0, 3)
        except Exception as exc:
            db.session.rollback()
            run.status = "failed"
            run.error = str(exc)
            run.phases = phases
            run.finished_at = datetime.now(UTC)
            db.session.commit()
            log.error("pipeline run failed", extra={"error": str(exc)})
            raise
        summary = dict(
            result.summary, published=counts, run_id=run_id, changes=lifecycle.changes, warnings=warnings,
            sources={kind: item.to_dict() for kind, item in acquired.items()},
            artifacts={name: record.to_dict() for name, record in artifacts.items()},
        )
        db.session.expire_all()  # the lifecycle changed review rows through another connection
        run = db.session.get(PipelineRun, run.id) or run
        run.status = "succeeded"
        run.changes = lifecycle.changes
        run.phases = phases
        run.summary = summary
        run.finished_at = datetime.now(UTC)
        db.session.commit()
        log.info("pipeline run succeeded", extra={"duration_s": round(time.perf_counter() - started, 3)})
        notify(plugins, "stopsync_snapshot_published", run_id=run_id, summary=summary)
        return summary


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
