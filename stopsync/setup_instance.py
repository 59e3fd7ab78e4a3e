"""``python -m stopsync.setup_instance``: prepare the instance folder for the embedded mode.

Creates ``instance/stopsync.cfg`` with a fresh random SECRET_KEY once; never overwrites it.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path


def ensure_instance(instance: Path) -> Path:
    instance.mkdir(parents=True, exist_ok=True)
    cfg = instance / "stopsync.cfg"
    if not cfg.exists():
        fd = os.open(cfg, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(
                "# Created by `make run`; local settings for this machine. Keep it secret.\n"
                f'SECRET_KEY = "{secrets.token_hex(32)}"\n'
            )
    return cfg


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("instance")
    print(f"instance config: {ensure_instance(target)}")
