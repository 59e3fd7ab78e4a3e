"""A second process for the tests: ``python -m tests.publication.child ACTION CONFIG_JSON MARKER``.

``hold-lock`` takes the run lock and waits to be killed; ``stall-in-copy`` publishes the stored
match (``--mode import``) and stops in the middle of the COPY of the first table, waiting to be
killed; ``run`` runs the pipeline and exits with the CLI's code.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def main() -> int:
    action, config_json, marker = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    from stopsync import create_app

    app = create_app(json.loads(config_json))
    if action == "hold-lock":
        from stopsync.extensions import db
        from stopsync.pipeline.runlock import run_lock_for

        with app.app_context():
            lock = run_lock_for(app.config, db.engine, app.instance_path)
            lock.acquire("child-holder")
            marker.write_text("locked")
            time.sleep(600)
        return 0
    if action == "stall-in-copy":
        from stopsync.db import publication

        original = publication.CopyBuffer.read

        def stalling_read(self: Any, size: int | None = -1) -> str:
            chunk = original(self, size)
            marker.write_text("copying")
            time.sleep(600)
            return chunk

        publication.CopyBuffer.read = stalling_read  # type: ignore[method-assign]
        from stopsync.pipeline.runner import run_pipeline

        run_pipeline(app, mode="import")
        return 0
    if action == "run":
        result = app.test_cli_runner().invoke(args=["pipeline", "run", *json.loads(marker.read_text())])
        sys.stdout.write(result.output)
        return int(result.exit_code)
    raise SystemExit(f"unknown action {action}")


if __name__ == "__main__":
    sys.exit(main())
