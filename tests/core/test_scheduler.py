"""The scheduler role: cron job settings, the embedded lock, and the worker entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from stopsync import create_app
from stopsync.errors import ConfigurationError
from stopsync.extensions import scheduler
from stopsync.scheduling import JOB_ID, build_trigger, start_scheduler

from ..conftest import base_config


def test_default_schedule_is_nightly_in_zurich() -> None:
    trigger = build_trigger("30 2 * * *", "Europe/Zurich")
    assert str(trigger.timezone) == "Europe/Zurich"
    assert "hour='2'" in str(trigger) and "minute='30'" in str(trigger)


def test_invalid_schedule_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="SCHEDULE_CRON"):
        build_trigger("every night", "Europe/Zurich")


def test_scheduler_role_registers_one_coalescing_job(tmp_path: Path) -> None:
    app = create_app(base_config(tmp_path, ROLE="scheduler", SCHEDULE_CRON="0 4 * * *"))
    try:
        assert start_scheduler(app) is True
        job = scheduler.get_job(JOB_ID)
        assert job is not None
        assert job.max_instances == 1 and job.coalesce is True
        assert job.next_run_time is not None and job.next_run_time.hour == 4
    finally:
        scheduler.shutdown(wait=False)
