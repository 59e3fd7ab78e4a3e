#!/bin/sh
# Entrypoint of every stopsync container (web, scheduler, migrator, test).
# With a PostgreSQL STOPSYNC_DATABASE_URL it first waits until the database accepts
# connections (at most STOPSYNC_DB_WAIT_SECONDS, default 60), then runs the command.
set -eu

if [ "$#" -eq 0 ]; then
    echo "entrypoint: no command given (the image's CMD names the role's command)" >&2
    exit 2
fi

wait_for_database() {
    # The URL and the timeout travel in the environment, never on a command line.
    python - <<'PY'
import os
import re
import sys
import time
from urllib.parse import urlsplit

try:
    import psycopg2
except ImportError:
    sys.exit("entrypoint: psycopg2 is not installed; cannot wait for the database")

raw_wait = os.environ.get("STOPSYNC_DB_WAIT_SECONDS", "60").strip() or "60"
if not raw_wait.isdigit():
    sys.exit(
        f"entrypoint: STOPSYNC_DB_WAIT_SECONDS must be a whole number of seconds; got {raw_wait!r}"
    )
wait_seconds = int(raw_wait)

# SQLAlchemy names the driver ("postgresql+psycopg2://"); libpq only knows "postgresql://".
dsn = re.sub(r"^postgres(?:ql)?(?:\+\w+)?://", "postgresql://", os.environ["STOPSYNC_DATABASE_URL"])
parts = urlsplit(dsn)
# Never print the password: name only host, port and database.
where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"

deadline = time.monotonic() + wait_seconds
announced = False
while True:
    try:
        # libpq treats timeouts under 2s as 2s; stay close to the deadline otherwise.
        remaining = deadline - time.monotonic()
        psycopg2.connect(dsn, connect_timeout=max(2, min(5, int(remaining) + 1))).close()
    except psycopg2.OperationalError as exc:
        last_error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if time.monotonic() >= deadline:
            sys.exit(
                f"entrypoint: database at {where} did not accept connections within "
                f"{wait_seconds}s (STOPSYNC_DB_WAIT_SECONDS); last error: {last_error}"
            )
        if not announced:
            print(
                f"entrypoint: waiting up to {wait_seconds}s for the database at {where}",
                file=sys.stderr,
                flush=True,
            )
            announced = True
        time.sleep(1)
    else:
        if announced:
            print(f"entrypoint: database at {where} is ready", file=sys.stderr, flush=True)
        break
PY
}

case "${STOPSYNC_DATABASE_URL:-}" in
    postgres://* | postgresql://* | postgresql+*://*)
        wait_for_database
        ;;
esac

exec "$@"
