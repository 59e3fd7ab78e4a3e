"""Runs the pipeline for an application: acquire the configured sources, match, publish.

Each run gets an id, a row in ``pipeline_runs`` (committed on its own, so a failed run is
recorded even though the snapshot stays untouched) and a log context.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask

from ..errors import PluginError, StopsyncError
from ..extensions import db
from ..logging_setup import run_context
from ..models import PipelineRun
from ..plugins.base import DataSource
from ..plugins.manager import EXTENSION_KEY, Plugins
from .acquire import cache_name, download, is_url, local_file
from .region import Region

log = logging.getLogger(__name__)


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


def acquire(source: DataSource, location: str, config: Mapping[str, Any]) -> Path:
    """A local file for ``location``: the plugin's own fetch, a download, or the path itself."""
    cache_dir = Path(str(config["DATA_DIR"])) / "sources"
    cache_dir.mkdir(parents=True, exist_ok=True)
    fetched = source.fetch(location, cache_dir)
    if fetched is not None:
        return fetched
    if is_url(location):
        return download(
            source.name,
            location,
            cache_dir / cache_name(source.name, location),
            user_agent=str(config["HTTP_USER_AGENT"]),
            timeout_s=float(config["HTTP_TIMEOUT_S"]),
        )
    return local_file(source.name, location)


def run_pipeline(app: Flask, *, trigger: str = "manual", mode: str = "full") -> dict[str, Any]:
    """One full run from the configured sources into the configured database."""
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
        log.info("pipeline run started", extra={"trigger": trigger, "mode": mode})
        started = time.perf_counter()
        phases: dict[str, float] = {}
        try:
            region = None
            border_location = config.get("BORDER_SOURCE")
            sources_meta: dict[str, Any] = {}
            if border_location:
                border_source = plugins.source(source_plugin_name(config, "border"), config, "border")
                border_path = acquire(border_source, str(border_location), config)
                region_result = border_source.read(border_path)
                region = region_result.records
                if not isinstance(region, Region):
                    raise PluginError(f"border source {border_source.name!r} returned no Region")
                sources_meta["border"] = str(border_location)
            source_config = {**config, "REGION": region}
            t0 = time.perf_counter()
            atlas_source = plugins.source(source_plugin_name(config, "atlas"), source_config, "atlas")
            atlas_path = acquire(atlas_source, str(config["ATLAS_SOURCE"]), config)
            osm_source = plugins.source(source_plugin_name(config, "osm"), source_config, "osm")
            osm_path = acquire(osm_source, str(config["OSM_SOURCE"]), config)
            phases["acquire"] = round(time.perf_counter() - t0, 3)
            sources_meta.update(atlas=str(config["ATLAS_SOURCE"]), osm=str(config["OSM_SOURCE"]))
            strategies = plugins.strategies_for(
                config.get("MATCHING_STRATEGIES"), config.get("MATCHING_PROFILE") or {}
            )
            t0 = time.perf_counter()
            result = run_match(
                atlas_path, osm_path, atlas_source=atlas_source, osm_source=osm_source,
                strategies=strategies, region=region,
                profile=config.get("MATCHING_PROFILE") or {},
                on_stage=stage_notifier(plugins, run_id),
            )
            phases["match"] = round(time.perf_counter() - t0, 3)
            t0 = time.perf_counter()
            counts = publish_snapshot(db.engine, result, run_id, sources_meta)
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
        summary = dict(result.summary, published=counts, run_id=run_id)
        run.status = "succeeded"
        run.phases = phases
        run.summary = summary
        run.finished_at = datetime.now(UTC)
        db.session.commit()
        log.info("pipeline run succeeded", extra={"duration_s": round(time.perf_counter() - started, 3)})
        notify(plugins, "stopsync_snapshot_published", run_id=run_id, summary=summary)
        return summary
