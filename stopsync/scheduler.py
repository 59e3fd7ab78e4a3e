"""``python -m stopsync.scheduler``: the pipeline worker (ROLE=scheduler); the only place,
with ``wsgi`` for ROLE=all, that starts the scheduler. Blocks until
SIGTERM or SIGINT, then shuts the scheduler down cleanly."""

from __future__ import annotations

import signal
import threading
from types import FrameType

from . import create_app
from .app import start_role
from .extensions import scheduler


def main() -> None:
    app = create_app({"ROLE": "scheduler"})
    start_role(app)
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stop.wait()
    if scheduler.running:
        scheduler.shutdown(wait=False)


if __name__ == "__main__":
    main()
