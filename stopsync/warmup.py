"""Getting a web worker ready before it takes traffic (gunicorn's ``post_worker_init``).

1. The database pool the worker inherited from the master (gunicorn preloads the app; with
   ``ROLE=all`` the master also runs the scheduler) is dropped without closing its connections:
   they stay the master's, and the worker opens its own.
2. The hot reads are answered once, internally: ``WARMUP_PATHS`` through the app's test client,
   with the response cache bypassed (``WARMUP_ENVIRON_KEY``, a WSGI environ key no HTTP request
   can set), so that the worker's first users do not pay for first imports, template and SQL
   compilation and connection set-up (about 100 ms on a fresh process, against 5-10 ms after).
   A failing path (no database yet, nothing published) is logged and never stops the worker.
3. What is alive then (modules, the app, compiled statements: ~170,000 objects) is moved out of
   the collector's reach (``gc.freeze``): full collections during requests walked all of it and
   paused a worker for 90-200 ms (the API's worst latencies); they now see only what requests
   allocate and take under 25 ms.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

from flask import Flask, has_request_context, request

from .extensions import db

log = logging.getLogger(__name__)

# Not an HTTP_* key: clients cannot send it, so they cannot make the app skip its cache.
WARMUP_ENVIRON_KEY = "stopsync.warmup"


def warming() -> bool:
    """True inside a warm-up request (which computes its answer instead of reading the cache)."""
    return has_request_context() and bool(request.environ.get(WARMUP_ENVIRON_KEY))


def warm(app: Flask) -> dict[str, int]:
    """Answer each of ``WARMUP_PATHS`` once; the status code per path (0: it raised)."""
    client = app.test_client()
    statuses: dict[str, int] = {}
    started = time.perf_counter()
    for path in app.config.get("WARMUP_PATHS") or ():
        try:
            statuses[path] = client.get(path, environ_overrides={WARMUP_ENVIRON_KEY: True}).status_code
        except Exception:
            log.warning("warm-up request failed", extra={"path": path}, exc_info=True)
            statuses[path] = 0
    if statuses:
        log.info("worker warmed", extra={"statuses": statuses,
                                         "duration_s": round(time.perf_counter() - started, 3)})
    return statuses


def prepare_worker(app: Any) -> dict[str, int]:
    """What gunicorn's ``post_worker_init`` runs in each new worker (see the module docstring)."""
    if not isinstance(app, Flask):
        log.warning("not a Flask app; worker not warmed", extra={"app": type(app).__name__})
        return {}
    with app.app_context():
        db.engine.dispose(close=False)
    statuses = warm(app)
    gc.collect()
    gc.freeze()
    # A worker forked while the master ran a pipeline (ROLE=all) inherited its paused collector.
    gc.enable()
    return statuses

