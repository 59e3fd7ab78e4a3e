"""The scheduler role: Flask-APScheduler runs the pipeline on a cron schedule.

The job runs ``run_pipeline``, which takes the same run lock as a manual run, so several
scheduler replicas (or a manual run meanwhile) never publish twice at once."""

from __future__ import annotations

import fcntl
import logging
from pathlib import Path
from typing import IO, Any

from apscheduler.triggers.cron import CronTrigger
from flask import Flask

from .errors import ConfigurationError, RunLockedError, StopsyncError
from .extensions import scheduler

log = logging.getLogger(__name__)

JOB_ID = "pipeline-run"
# Held for the life of the process that owns the in-process scheduler (ROLE=all).
_lock_handle: IO[Any] | None = None


def build_trigger(cron: str, timezone: str) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(cron, timezone=timezone)
    except (ValueError, KeyError) as exc:
        raise ConfigurationError(
            f"SCHEDULE_CRON {cron!r} / SCHEDULE_TIMEZONE {timezone!r} is invalid: {exc}"
        ) from exc


def _claim_embedded_scheduler(app: Flask) -> bool:
    """With ROLE=all several web workers may start; only the one holding the lock schedules."""
    global _lock_handle
    if _lock_handle is not None:
        return True
    handle = open(Path(app.instance_path) / "scheduler.lock", "a+")  # noqa: SIM115 - held open
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return False
    _lock_handle = handle
    return True


def scheduled_run(app: Flask) -> None:
    from .pipeline.runner import run_pipeline

    try:
        run_pipeline(app, trigger="scheduled")
    except RunLockedError as exc:
        # Another replica (or a manual run) holds the run lock: this trigger is skipped.
        log.warning("scheduled run skipped", extra={"reason": exc.message})
    except StopsyncError as exc:
        log.error("scheduled run failed", extra={"error": exc.message})
    except Exception:
        log.exception("scheduled run crashed")


def start_scheduler(app: Flask) -> bool:
    """Start the pipeline job; returns False when another process already schedules."""
    trigger = build_trigger(app.config["SCHEDULE_CRON"], app.config["SCHEDULE_TIMEZONE"])
    if app.config["ROLE"] == "all" and not _claim_embedded_scheduler(app):
        log.info("another process runs the embedded scheduler")
        return False
    app.config.setdefault("SCHEDULER_TIMEZONE", app.config["SCHEDULE_TIMEZONE"])
    scheduler.init_app(app)
    scheduler.add_job(
        id=JOB_ID, func=scheduled_run, args=[app], trigger=trigger,
        max_instances=1, coalesce=True, replace_existing=True,
    )
    scheduler.start()
    job = scheduler.get_job(JOB_ID)
    log.info("scheduler started", extra={"cron": app.config["SCHEDULE_CRON"],
                                         "next_run": str(job.next_run_time if job else None)})
    return True
