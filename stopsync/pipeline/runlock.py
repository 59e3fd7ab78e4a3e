"""One pipeline run at a time, across processes and hosts.

With Redis: ``SET key value NX PX ttl`` where the value carries a random token; a heartbeat
thread extends the expiry (compare-and-extend in Lua) while the run lives, release deletes the
key only if it still holds our token (compare-and-delete), and a lock whose owner died expires
after ``RUN_LOCK_TTL_S`` so the next trigger takes over. Without Redis the database provides
the lock (see :func:`stopsync.db.dialect.database_run_lock`): a PostgreSQL advisory lock held on
a dedicated connection, or a file lock beside an SQLite database; both vanish with their process.
"""

from __future__ import annotations

import abc
import json
import logging
import os
import secrets
import socket
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from ..errors import RunLockedError

log = logging.getLogger(__name__)

REDIS_LOCK_KEY = "stopsync:pipeline-run-lock"

# KEYS[1] = lock key, ARGV[1] = our value, ARGV[2] = new ttl in ms.
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def owner_info(run_id: str) -> dict[str, Any]:
    return {"run_id": run_id, "host": socket.gethostname(), "pid": os.getpid(),
            "since": datetime.now(UTC).isoformat(timespec="seconds")}


def describe_holder(holder: Mapping[str, Any] | None) -> str:
    if not holder:
        return "another pipeline run is active"
    parts = [f"run {holder.get('run_id', '?')}"]
    if holder.get("host") or holder.get("pid"):
        parts.append(f"on {holder.get('host', '?')} (pid {holder.get('pid', '?')})")
    if holder.get("since"):
        parts.append(f"since {holder['since']}")
    return "another pipeline run is active: " + " ".join(parts)


class RunLock(abc.ABC):
    """Acquire with :meth:`acquire` (raises :class:`RunLockedError`), give back with
    :meth:`release`; :meth:`check` raises when the lock was lost while running."""

    kind = "none"

    @abc.abstractmethod
    def acquire(self, run_id: str) -> None:
        """Take the lock for ``run_id`` or raise RunLockedError naming the holder."""

    @abc.abstractmethod
    def release(self) -> None:
        """Give the lock back if this process still holds it."""

    @abc.abstractmethod
    def holder(self) -> dict[str, Any] | None:
        """Who holds the lock (run id, host, pid, since), or None when it is free."""

    def check(self) -> None:  # noqa: B027 - a deliberate default, not an abstract hook
        """Raise RunLockedError if this process no longer holds the lock. The default suits
        locks held on a connection or a file, which cannot be lost while the process lives."""

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.release()


class RedisRunLock(RunLock):
    kind = "redis"

    def __init__(self, client: Any, *, ttl_s: float = 60.0, key: str = REDIS_LOCK_KEY) -> None:
        self.client = client
        self.ttl_ms = max(int(ttl_s * 1000), 1000)
        self.key = key
        self.value: str | None = None
        self.lost = False
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._extend = client.register_script(_EXTEND)
        self._release = client.register_script(_RELEASE)

    def acquire(self, run_id: str) -> None:
        value = json.dumps({**owner_info(run_id), "token": secrets.token_hex(16)}, sort_keys=True)
        if not self.client.set(self.key, value, nx=True, px=self.ttl_ms):
            holder = self.holder()
            raise RunLockedError(
                f"{describe_holder(holder)}; refusing to start a second run (if that process died, "
                f"its lock expires within {self.ttl_ms / 1000:.0f} s)", holder=holder)
        self.value = value
        self.lost = False
        self._stop.clear()
        self._heartbeat = threading.Thread(target=self._beat, name="run-lock-heartbeat", daemon=True)
        self._heartbeat.start()

    def _beat(self) -> None:
        interval = self.ttl_ms / 3000
        while not self._stop.wait(interval):
            try:
                extended = self._extend(keys=[self.key], args=[self.value, self.ttl_ms])
            except Exception:  # Redis briefly unreachable: the next beat tries again before expiry
                log.warning("run lock heartbeat failed", exc_info=True)
                continue
            if not extended:
                self.lost = True
                log.error("run lock lost: another process took it over")
                return

    def check(self) -> None:
        if self.value is None or self.lost or self.client.get(self.key) != self.value.encode():
            raise RunLockedError("the run lock was lost while running (expired or taken over); stopping")

    def release(self) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
            self._heartbeat = None
        if self.value is not None:
            try:
                self._release(keys=[self.key], args=[self.value])
            except Exception:
                log.warning("run lock release failed; it expires by itself", exc_info=True)
            self.value = None

    def holder(self) -> dict[str, Any] | None:
        raw = self.client.get(self.key)
        if raw is None:
            return None
        try:
            info = json.loads(raw)
        except ValueError:
            return {"run_id": "unknown"}
        info.pop("token", None)
        return dict(info)


def run_lock_for(config: Mapping[str, Any], engine: Any, instance_path: str) -> RunLock:
    """Redis when configured, else what the database backend offers."""
    ttl_s = float(config.get("RUN_LOCK_TTL_S") or 60)
    if config.get("REDIS_URL"):
        import redis

        return RedisRunLock(redis.Redis.from_url(str(config["REDIS_URL"])), ttl_s=ttl_s)
    from ..db.dialect import database_run_lock

    return database_run_lock(engine, instance_path)
