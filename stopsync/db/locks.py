"""Run locks without Redis (chosen by :func:`stopsync.db.dialect.database_run_lock`)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection
from sqlalchemy.pool import NullPool

from ..errors import RunLockedError
from ..pipeline.runlock import RunLock, describe_holder, owner_info

log = logging.getLogger(__name__)

# One 64-bit advisory lock key for "the pipeline run" in this database.
ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"stopsync:pipeline-run").digest()[:8], "big", signed=True)
APPLICATION_PREFIX = "stopsync-run-lock"


class DatabaseRunLock(RunLock):
    pass


class AdvisoryRunLock(DatabaseRunLock):
    """``pg_try_advisory_lock`` on a dedicated connection: held while the connection lives, so a
    killed owner's lock disappears with its session."""

    kind = "postgres-advisory"

    def __init__(self, url: URL) -> None:
        self.engine = sa.create_engine(url, poolclass=NullPool)
        self.connection: Connection | None = None

    def acquire(self, run_id: str) -> None:
        connection = self.engine.connect()
        info = owner_info(run_id)
        # The holder's identity is visible to the others through pg_stat_activity.
        label = f"{APPLICATION_PREFIX} {info['run_id']} {info['host']}:{info['pid']}"[:63]
        connection.execute(sa.text("SELECT set_config('application_name', :label, false)"), {"label": label})
        got = connection.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}).scalar()
        connection.commit()
        if not got:
            holder = self.holder(connection)
            connection.close()
            raise RunLockedError(f"{describe_holder(holder)}; refusing to start a second run", holder=holder)
        self.connection = connection

    def holder(self, connection: Connection | None = None) -> dict[str, Any] | None:
        def read(conn: Connection) -> dict[str, Any] | None:
            row = conn.execute(sa.text(
                "SELECT a.application_name, a.pid, a.backend_start FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                "AND l.classid = ((:key >> 32) & 4294967295)::oid AND l.objid = (:key & 4294967295)::oid "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ), {"key": ADVISORY_KEY}).first()
            conn.rollback()
            if row is None:
                return None
            parts = str(row.application_name).split(" ")
            holder: dict[str, Any] = {"backend_pid": row.pid, "since": row.backend_start.isoformat(timespec="seconds")}
            if len(parts) >= 3 and parts[0] == APPLICATION_PREFIX:
                host, _, pid = parts[2].rpartition(":")
                holder.update(run_id=parts[1], host=host, pid=pid)
            return holder

        if connection is not None:
            return read(connection)
        with self.engine.connect() as conn:
            return read(conn)

    def check(self) -> None:
        if self.connection is None:
            raise RunLockedError("the run lock is not held")
        try:
            held = self.connection.execute(sa.text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()"
            )).scalar()
            self.connection.rollback()
        except sa.exc.DBAPIError as exc:
            raise RunLockedError(f"the run lock was lost with its database connection: {exc.orig}") from exc
        if not held:
            raise RunLockedError("the run lock was lost while running; stopping")

    def release(self) -> None:
        if self.connection is None:
            return
        try:
            self.connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
            self.connection.commit()
        except sa.exc.DBAPIError:
            log.warning("advisory unlock failed; the lock ends with the connection", exc_info=True)
        finally:
            self.connection.close()
            self.connection = None
            self.engine.dispose()


class FileRunLock(DatabaseRunLock):
    """``flock`` on a file in the instance folder; the kernel releases it when the process dies."""

    kind = "file"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: IO[str] | None = None

    def acquire(self, run_id: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held open while the run lives
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            holder = self.holder()
            raise RunLockedError(f"{describe_holder(holder)}; refusing to start a second run",
                                 holder=holder) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(owner_info(run_id)))
        handle.flush()
        self.handle = handle

    def holder(self) -> dict[str, Any] | None:
        try:
            text = self.path.read_text()
        except OSError:
            return None
        try:
            return dict(json.loads(text)) if text.strip() else None
        except ValueError:
            return None

    def check(self) -> None:
        if self.handle is None:
            raise RunLockedError("the run lock is not held")

    def release(self) -> None:
        if self.handle is None:
            return
        self.handle.seek(0)
        self.handle.truncate()
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
        self.handle = None
