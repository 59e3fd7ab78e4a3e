"""Pipeline status: idle, running (phase, progress, ETA) or failed, plus the last success, the
next scheduled run and the published dataset timestamps of each source.

The database is the record (``pipeline_runs`` and ``snapshot_meta``); a running run keeps its
plan, current phase and progress in its row's ``phases``. With Redis the current document is
also kept under one key, so that every page reads it with one GET and progress is live without
database writes. Without Redis pages read a copy cached in the process for ``STATUS_CACHE_S``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session, scoped_session

from ..models import PipelineRun, SnapshotMeta
from .acquire import Acquired

log = logging.getLogger(__name__)

# Told when a phase starts: (phase, its number from 1, how many the plan has).
PhaseCallback = Callable[[str, int, int], None]
# A plain session or Flask-SQLAlchemy's scoped one.
SessionLike = Session | scoped_session[Any]

STATUS_KEY = "stopsync:status"
CACHE_KEY = "stopsync-status"
# Keys of ``pipeline_runs.phases`` that are not timings.
META_KEYS = frozenset({"plan", "current", "baseline", "sources", "artifacts", "stages"})


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def dataset_timestamp(item: Acquired) -> str:
    """When the source's data was made: the server's Last-Modified, else the file's mtime."""
    if item.validators.last_modified:
        try:
            return parsedate_to_datetime(item.validators.last_modified).astimezone(UTC).isoformat(timespec="seconds")
        except (TypeError, ValueError):
            pass
    try:
        return datetime.fromtimestamp(item.path.stat().st_mtime, UTC).isoformat(timespec="seconds")
    except OSError:
        return now_iso()


def timings(phases: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in phases.items() if k not in META_KEYS and isinstance(v, int | float)}


def estimate_eta(phases: Mapping[str, Any], now: datetime | None = None) -> float | None:
    """Seconds left: what the current phase took last time (or its own progress ETA), less the
    time spent in it, plus what the remaining phases took last time."""
    baseline = phases.get("baseline") or {}
    current = phases.get("current") or {}
    plan = list(phases.get("plan") or [])
    phase = current.get("phase")
    if not baseline or phase not in plan:
        return None
    now = now or datetime.now(UTC)
    started = current.get("started_at")
    elapsed = (now - datetime.fromisoformat(started)).total_seconds() if started else 0.0
    left = max(float(baseline.get(phase, 0.0)) - elapsed, 0.0)
    progress_eta = (current.get("progress") or {}).get("eta_s")
    if progress_eta is not None:
        left = float(progress_eta)
    later = plan[plan.index(phase) + 1:]
    return round(left + sum(float(baseline.get(name, 0.0)) for name in later), 1)


def next_run(config: Mapping[str, Any]) -> str | None:
    from ..scheduling import build_trigger

    try:
        trigger = build_trigger(str(config["SCHEDULE_CRON"]), str(config["SCHEDULE_TIMEZONE"]))
    except Exception:  # a broken schedule is reported by the scheduler itself
        return None
    fire = trigger.get_next_fire_time(None, datetime.now(trigger.timezone))
    return fire.isoformat(timespec="minutes") if fire else None


def _run_dict(run: PipelineRun) -> dict[str, Any]:
    phases = dict(run.phases or {})
    current = phases.get("current") or {}
    return {
        "run_id": run.run_id, "trigger": run.trigger, "mode": run.mode, "status": run.status,
        "started_at": run.started_at.isoformat(timespec="seconds") if run.started_at else None,
        "finished_at": run.finished_at.isoformat(timespec="seconds") if run.finished_at else None,
        "error": run.error, "plan": list(phases.get("plan") or []), "timings": timings(phases),
        "phase": current.get("phase") if run.status == "running" else None,
        "progress": current.get("progress") if run.status == "running" else None,
        "eta_s": estimate_eta(phases) if run.status == "running" else None,
    }


def build_status(session: SessionLike, config: Mapping[str, Any]) -> dict[str, Any]:
    """The status document from the database."""
    latest = session.scalars(sa.select(PipelineRun).order_by(PipelineRun.id.desc()).limit(1)).first()
    success = session.scalars(sa.select(PipelineRun).where(PipelineRun.status == "succeeded")
                              .order_by(PipelineRun.id.desc()).limit(1)).first()
    meta = session.scalars(sa.select(SnapshotMeta).order_by(SnapshotMeta.id.desc()).limit(1)).first()
    state = "idle"
    if latest is not None and latest.status in ("running", "failed"):
        state = latest.status
    published = None
    if meta is not None:
        published = {"run_id": meta.run_id, "published_at": meta.published_at.isoformat(timespec="seconds"),
                     "datasets": dict((meta.sources or {}).get("datasets") or {})}
    return {
        "state": state,
        "run": _run_dict(latest) if latest is not None else None,
        "last_success": ({"run_id": success.run_id,
                          "finished_at": success.finished_at.isoformat(timespec="seconds")
                          if success.finished_at else None} if success is not None else None),
        "published": published,
        "next_run": next_run(config),
        "updated_at": now_iso(),
    }


def _redis(config: Mapping[str, Any]) -> Any:
    import redis

    return redis.Redis.from_url(str(config["REDIS_URL"]), socket_timeout=2)


def store_status(config: Mapping[str, Any], document: Mapping[str, Any]) -> None:
    """Push the document to Redis when configured (the database is written by the runner)."""
    if not config.get("REDIS_URL"):
        return
    try:
        _redis(config).set(STATUS_KEY, json.dumps(document, default=str))
    except Exception:  # status is informative; a Redis hiccup must not fail a run
        log.warning("status not stored in Redis", exc_info=True)


def read_status(app: Flask, session: SessionLike) -> dict[str, Any]:
    """The current status: Redis's copy when there is one, else the database."""
    if app.config.get("REDIS_URL"):
        try:
            raw = _redis(app.config).get(STATUS_KEY)
        except Exception:
            raw = None
            log.warning("status not readable from Redis", exc_info=True)
        if raw:
            document = dict(json.loads(raw))
            document["next_run"] = next_run(app.config)
            return document
    document = build_status(session, app.config)
    store_status(app.config, document)
    return document


def cached_status(app: Flask, session: SessionLike) -> dict[str, Any]:
    """For every page: one Redis GET, or the database at most every ``STATUS_CACHE_S``."""
    if app.config.get("REDIS_URL"):
        return read_status(app, session)
    from ..extensions import cache

    document = cache.get(CACHE_KEY)
    if document is None:
        document = build_status(session, app.config)
        cache.set(CACHE_KEY, document, timeout=int(app.config.get("STATUS_CACHE_S", 10)))
    return dict(document)


def forget_cached_status(app: Flask) -> None:
    from ..extensions import cache

    cache.delete(CACHE_KEY)


class RunStatus:
    """The runner's view: plan, current phase and progress of one run, written to the run's
    row at phase boundaries (and at most every ``db_interval_s`` for progress) and to Redis on
    every (throttled) update."""

    def __init__(self, app: Flask, session: SessionLike, run: PipelineRun, plan: list[str],
                 baseline: Mapping[str, float], *, db_interval_s: float = 2.0, redis_interval_s: float = 0.5,
                 database_writes: bool = True, on_phase: PhaseCallback | None = None) -> None:
        self.app = app
        self.on_phase = on_phase
        self.session = session
        self.run = run
        self.phases: dict[str, Any] = {"plan": plan, "baseline": dict(baseline), "current": {}}
        self.db_interval_s = db_interval_s
        self.redis_interval_s = redis_interval_s
        self.database_writes = database_writes
        self._last_db = 0.0
        self._last_redis = 0.0
        self._document: dict[str, Any] | None = None
        self._phase_started = time.perf_counter()

    def start_phase(self, phase: str) -> None:
        self.phases["current"] = {"phase": phase, "started_at": now_iso(), "progress": None}
        self._phase_started = time.perf_counter()
        self._write(force=True)
        plan = list(self.phases.get("plan") or [])
        if self.on_phase is not None and phase in plan:
            self.on_phase(phase, plan.index(phase) + 1, len(plan))

    def finish_phase(self, phase: str, seconds: float | None = None) -> float:
        elapsed = round(time.perf_counter() - self._phase_started if seconds is None else seconds, 3)
        self.phases[phase] = elapsed
        return elapsed

    def progress(self, state: Mapping[str, Any]) -> None:
        current = self.phases.get("current") or {}
        current["progress"] = {k: state.get(k) for k in ("source", "done", "total", "unit", "eta_s")}
        self.phases["current"] = current
        self._write(force=False)

    def set(self, key: str, value: Any) -> None:
        self.phases[key] = value

    def hold_database_writes(self, hold: bool) -> None:
        """SQLite allows one writer: no progress rows while the publication transaction is open."""
        self.database_writes = not hold

    def _write(self, *, force: bool) -> None:
        now = time.perf_counter()
        if self.database_writes and (force or now - self._last_db >= self.db_interval_s):
            self._last_db = now
            self.run.phases = dict(self.phases)
            self.session.commit()
            self._document = None
        if self.app.config.get("REDIS_URL") and (force or now - self._last_redis >= self.redis_interval_s):
            self._last_redis = now
            if self._document is None:
                self._document = self._fresh_document()
            run = self._document.get("run") or {}
            if run.get("run_id") == self.run.run_id:
                current = self.phases.get("current") or {}
                run.update(phase=current.get("phase"), progress=current.get("progress"),
                           timings=timings(self.phases), eta_s=estimate_eta(self.phases))
            store_status(self.app.config, self._document)

    def _fresh_document(self) -> dict[str, Any]:
        # A session of its own, closed at once: the run's session must not keep a transaction
        # (and its read locks on snapshot_meta) open across the publication.
        with Session(bind=self.session.get_bind()) as session:
            return build_status(session, self.app.config)

    def final(self) -> dict[str, Any]:
        """What the finished run's row keeps."""
        phases = dict(self.phases)
        phases.pop("current", None)
        return phases

    def publish_final(self) -> None:
        forget_cached_status(self.app)
        if self.app.config.get("REDIS_URL"):
            store_status(self.app.config, self._fresh_document())
