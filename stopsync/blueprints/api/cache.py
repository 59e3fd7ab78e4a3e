"""Cached hot reads, keyed by the published snapshot.

Every cached entry's key starts with the run id of the published snapshot
(``snapshot_meta.run_id``), so a new publication makes every older entry unreachable at once,
in every worker and replica sharing the cache, without anyone having to delete anything; the
old entries expire with ``CACHE_DEFAULT_TIMEOUT``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import g

from ...extensions import cache, db
from ...models import SnapshotMeta

T = TypeVar("T")
KEY_PREFIX = "stopsync:api:v1"
NO_SNAPSHOT = "none"


def current_run_id() -> str:
    """The run id of the published snapshot (``"none"`` before the first publication), read
    once per request."""
    if "stopsync_run_id" not in g:
        table = SnapshotMeta.__table__
        run_id = db.session.execute(
            sa.select(table.c.run_id).order_by(table.c.id.desc()).limit(1)
        ).scalar_one_or_none()
        g.stopsync_run_id = run_id or NO_SNAPSHOT
    return str(g.stopsync_run_id)


def cache_key(endpoint: str, normalised_query: Iterable[tuple[str, Any]]) -> str:
    query = json.dumps(sorted(normalised_query), default=str, separators=(",", ":"))
    digest = hashlib.sha256(query.encode()).hexdigest()[:24]
    return f"{KEY_PREFIX}:{current_run_id()}:{endpoint}:{digest}"


def cached(endpoint: str, normalised_query: Iterable[tuple[str, Any]], compute: Callable[[], T]) -> T:
    """``compute()``'s value for this snapshot and query, from the cache when present."""
    key = cache_key(endpoint, normalised_query)
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value)
    return value  # type: ignore[no-any-return]
