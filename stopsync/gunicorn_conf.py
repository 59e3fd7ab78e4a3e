"""gunicorn settings, overridable through the environment (GUNICORN_*)."""

import os
from typing import Any

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:5001")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
accesslog = "-"
errorlog = "-"
# Fail fast on a bad config instead of a crash loop per worker.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") == "1"


def post_worker_init(worker: Any) -> None:
    """Each new worker drops the master's database pool and answers the hot reads once
    (stopsync.warmup) before it takes traffic."""
    from stopsync.warmup import prepare_worker

    prepare_worker(worker.wsgi)
