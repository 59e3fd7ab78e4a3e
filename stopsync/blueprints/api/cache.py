"""Cached hot reads, keyed by the published snapshot.

Two layers, both keyed by the run id of the published snapshot (``snapshot_meta.run_id``), so a
new publication makes every older entry unreachable at once, in every worker and replica sharing
the cache, without anyone having to delete anything; old entries expire with
``CACHE_DEFAULT_TIMEOUT``:

- :func:`cached` keeps computed Python values (used inside a few views);
- the **response cache** keeps the serialized bytes of whole answers of the endpoints in
  :data:`CACHED_ENDPOINTS` (in Redis when ``REDIS_URL`` is set, else in the app's Flask-Caching
  backend), keyed by (run id, endpoint, normalised query, representation). The
  blueprint consults it before any view runs (:func:`answer_from_cache`) and fills it after a
  view answered 200 (:func:`store_answer`); such answers carry an ``ETag`` and a short
  ``Cache-Control`` and a matching ``If-None-Match`` answers 304.

Which run id a request uses, and the one-snapshot guarantee:

- **With Redis** (``REDIS_URL``), the publisher announces the new run id right after the swap
  commits (:func:`announce_published_run`, called by the pipeline runner) under
  :data:`PUBLISHED_RUN_KEY`. A request reads it and the entry stored under it in one round trip
  (a small Lua script); on a hit it answers from the cached bytes without opening a database
  transaction. Entries live in Redis too, shared by every worker and replica. The announcement expires after
  :data:`ANNOUNCEMENT_TTL_S`; when it is absent, the request reads the run id from the database
  (inside its snapshot hold) and re-announces it with ``SET NX``, so a change of the published
  snapshot that nobody announced (``flask pipeline rollback``, a publisher killed between its
  commit and its announcement, a hand-edited database) shows within that many seconds; an
  announced publication shows at once (the announcement follows the commit by milliseconds).
  A process trusts the announcement only while it agrees with the run id that process last read
  from the database, so once one of its requests has answered from a new snapshot, no later
  request of that process answers from the old one's entries.
- **Without Redis** (embedded SQLite, several gunicorn workers with a SimpleCache each, the
  publisher in another process) nothing in a process can know about a publication, so every
  request reads the run id from the database, inside its read transaction (cheap on SQLite).
- A **miss** always computes under :func:`~stopsync.db.dialect.hold_snapshot_for_reading` and
  stores under the run id read *inside* that transaction, never under the announced one: the
  bytes under a key always come from exactly the snapshot the key names. A stale announcement
  can therefore only make an answer slightly old, never mixed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, request

from ...db.dialect import hold_snapshot_for_reading
from ...extensions import cache, db
from ...models import SnapshotMeta
from ...warmup import warming

log = logging.getLogger(__name__)

T = TypeVar("T")
KEY_PREFIX = "stopsync:api:v1"
NO_SNAPSHOT = "none"

# Where the publisher announces the published run id (a plain Redis string, not Flask-Caching's
# pickled values, so that any process can read and write it).
PUBLISHED_RUN_KEY = f"{KEY_PREFIX}:published-run"
# How long an announcement stands before the database is asked again: the staleness bound for
# changes of the published snapshot that nobody announced.
ANNOUNCEMENT_TTL_S = 10
# A request re-announces the run id it read only this soon after reading it (a publication that
# committed meanwhile has announced its own run id, which SET NX then leaves alone).
REANNOUNCE_WITHIN_S = 1.0
# Browsers and proxies may reuse a cached answer this long without asking again: the staleness
# bound a client sees after a publication (a revalidation with If-None-Match then answers 200).
CLIENT_MAX_AGE_S = 60

# The endpoints whose answers depend only on the published snapshot and the request, with
# whether the representation depends on the Accept header. Not here: /stops (an arbitrary bbox
# rarely repeats; /tiles is its cacheable form), /stops/{id} (shows review decisions and notes,
# which change between publications), /random (random).
CACHED_ENDPOINTS: dict[str, bool] = {
    "api.tile": True,
    "api.overview": False,
    "api.statistics": False,
    "api.operators": False,
    "api.problems": False,
    "api.largest_distances": False,
    "api.search": False,
    "api.facets": False,
    "api.route_details": False,
}
# Endpoints that read no snapshot table: no snapshot hold for them.
SNAPSHOT_FREE_ENDPOINTS = frozenset({"api.openapi_json", "api.docs"})
NEGOTIATED_TYPES = ("application/geo+json", "application/json")
# Per app and process: the run id a request of this process last read from the database.
LAST_READ_RUN = "stopsync_last_read_run"


# -- run ids ----------------------------------------------------------------------------------------

def current_run_id() -> str:
    """The run id of the published snapshot (``"none"`` before the first publication), read
    once per request, from the database (inside the request's snapshot hold)."""
    if "stopsync_run_id" not in g:
        hold_snapshot()
        table = SnapshotMeta.__table__
        g.stopsync_run_id_read_at = time.monotonic()
        run_id = db.session.execute(
            sa.select(table.c.run_id).order_by(table.c.id.desc()).limit(1)
        ).scalar_one_or_none()
        g.stopsync_run_id = run_id or NO_SNAPSHOT
        current_app.extensions[LAST_READ_RUN] = g.stopsync_run_id
    return str(g.stopsync_run_id)


def hold_snapshot() -> None:
    """Hold the published snapshot for the rest of the request (once; released at teardown)."""
    if not g.get("stopsync_snapshot_held"):
        g.stopsync_snapshot_held = True
        hold_snapshot_for_reading(db.session())


def _redis(app: Flask) -> Any:
    """The app's Redis client (one connection pool per app and process), or None."""
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    client = app.extensions.get("stopsync_redis")
    if client is None:
        import redis

        client = redis.Redis.from_url(str(url), socket_timeout=2)
        app.extensions["stopsync_redis"] = client
    return client


def announce_published_run(app: Flask, run_id: str) -> None:
    """Tell every web process that ``run_id`` is published (call right after the swap commits).
    Without Redis there is nobody to tell: web processes read the database."""
    client = _redis(app)
    if client is None:
        return
    try:
        client.set(PUBLISHED_RUN_KEY, run_id, ex=ANNOUNCEMENT_TTL_S)
    except Exception:  # the announcement only speeds reads up; its expiry bounds the staleness
        log.warning("published run id not announced", extra={"published_run": run_id}, exc_info=True)


def _reannounce(run_id: str) -> None:
    """Announce the run id this request read from the database, unless someone announced one
    meanwhile. On PostGIS the read happened under the snapshot hold, which a swap waits for, so
    no publication can have committed in between; on SQLite, the time guard keeps a slow request
    from re-announcing a run id read long ago."""
    client = _redis(current_app)
    read_at = g.get("stopsync_run_id_read_at")
    if client is None or read_at is None or time.monotonic() - read_at > REANNOUNCE_WITHIN_S:
        return
    try:
        client.set(PUBLISHED_RUN_KEY, run_id, ex=ANNOUNCEMENT_TTL_S, nx=True)
    except Exception:
        log.warning("published run id not re-announced", exc_info=True)


# -- computed values --------------------------------------------------------------------------------

def cache_key(endpoint: str, normalised_query: Iterable[tuple[str, Any]]) -> str:
    query = json.dumps(sorted(normalised_query), default=str, separators=(",", ":"))
    digest = hashlib.sha256(query.encode()).hexdigest()[:24]
    return f"{KEY_PREFIX}:{current_run_id()}:{endpoint}:{digest}"


def cached(endpoint: str, normalised_query: Iterable[tuple[str, Any]], compute: Callable[[], T]) -> T:
    """``compute()``'s value for this snapshot and query, from the cache when present."""
    key = cache_key(endpoint, normalised_query)
    value = None if warming() else cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value)
    return value  # type: ignore[no-any-return]


# -- whole answers ----------------------------------------------------------------------------------

def request_digest(endpoint: str) -> str:
    """The request as the response cache sees it: endpoint, path values, every query parameter
    (order-free) and, where it matters, the representation the Accept header asks for."""
    representation = (request.accept_mimetypes.best_match(NEGOTIATED_TYPES) or ""
                      if CACHED_ENDPOINTS[endpoint] else "")
    canonical = json.dumps([endpoint, sorted((request.view_args or {}).items()),
                            sorted(request.args.items(multi=True)), representation],
                           separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def response_key(run_id: str, endpoint: str, digest: str) -> str:
    return f"{KEY_PREFIX}:response:{run_id}:{endpoint}:{digest}"


def etag_of(run_id: str, digest: str) -> str:
    return f"{run_id}.{digest[:20]}"


Entry = tuple[str, bytes]  # (mimetype, body)

# A hit in one round trip: the announced run id and the entry stored under it (empty strings
# for "absent"). Builds the entry's key from the run id it read, so it needs one Redis server
# (not a cluster), as the rest of the app's Redis use does.
ANNOUNCED_ENTRY_SCRIPT = """
local run = redis.call('GET', KEYS[1])
if not run then return {'', ''} end
return {run, redis.call('GET', ARGV[1] .. run .. ARGV[2]) or ''}
"""


def _decode_entry(raw: bytes | None) -> Entry | None:
    """Entries in Redis are ``mimetype\\nbody`` (plain bytes: no pickling of hundreds of kB)."""
    if not raw:
        return None
    mimetype, _, body = raw.partition(b"\n")
    return mimetype.decode(), body


def _announced_with_entry(endpoint: str, digest: str) -> tuple[str | None, Entry | None]:
    """With Redis: the announced run id and this answer's entry under it, in one round trip."""
    client = _redis(current_app)
    if client is None:
        return None, None
    script = current_app.extensions.get("stopsync_redis_script")
    if script is None:
        script = current_app.extensions["stopsync_redis_script"] = client.register_script(ANNOUNCED_ENTRY_SCRIPT)
    prefix, suffix = response_key("|", endpoint, digest).split("|")
    try:
        run, raw = script(keys=[PUBLISHED_RUN_KEY], args=[prefix, suffix])
    except Exception:
        log.warning("announced run id not readable", exc_info=True)
        return None, None
    return (run.decode() or None), _decode_entry(raw)


def _read_entry(run_id: str, endpoint: str, digest: str) -> Entry | None:
    """The entry from Redis when configured (shared by every worker), else from the app's cache."""
    key = response_key(run_id, endpoint, digest)
    client = _redis(current_app)
    try:
        return _decode_entry(client.get(key)) if client is not None else cache.get(key)
    except Exception:
        log.warning("response cache not readable", exc_info=True)
        return None


def _write_entry(run_id: str, endpoint: str, digest: str, entry: Entry) -> None:
    key = response_key(run_id, endpoint, digest)
    client = _redis(current_app)
    try:
        if client is not None:
            timeout = int(current_app.config.get("CACHE_DEFAULT_TIMEOUT") or 300)
            client.set(key, entry[0].encode() + b"\n" + entry[1], ex=timeout)
        else:
            cache.set(key, entry)
    except Exception:
        log.warning("response cache not writable", exc_info=True)


def _cache_headers(response: Response, endpoint: str, run_id: str, digest: str) -> Response:
    response.set_etag(etag_of(run_id, digest))
    response.headers["Cache-Control"] = f"public, max-age={CLIENT_MAX_AGE_S}"
    if CACHED_ENDPOINTS[endpoint]:
        response.vary.add("Accept")
    return response


def _answer(endpoint: str, run_id: str, digest: str, entry: Callable[[], Entry | None]) -> Response | None:
    """304 when the client holds this answer, the cached bytes when we do, else None."""
    if request.if_none_match.contains_weak(etag_of(run_id, digest)):
        return _cache_headers(Response(status=304), endpoint, run_id, digest)
    found = entry()
    if found is None:
        return None
    g.stopsync_answered_from_cache = True
    return _cache_headers(Response(found[1], mimetype=found[0]), endpoint, run_id, digest)


def answer_from_cache() -> Response | None:
    """Before a view: a cached answer when there is one; otherwise hold the snapshot (lazily: a
    hit opens no transaction) so that the view reads one snapshot."""
    endpoint = request.endpoint or ""
    if endpoint in SNAPSHOT_FREE_ENDPOINTS:
        return None
    if endpoint not in CACHED_ENDPOINTS or request.method not in ("GET", "HEAD") or warming():
        hold_snapshot()  # a worker's warm-up computes its answers instead of reading them
        return None
    digest = request_digest(endpoint)
    g.stopsync_response_digest = digest
    announced, entry = _announced_with_entry(endpoint, digest)
    # Trusted only when it agrees with what this process last read from the database: once a
    # request here has seen a new snapshot, no later one answers from the old snapshot's
    # entries, even in the milliseconds before the publisher's announcement lands.
    last_read = current_app.extensions.get(LAST_READ_RUN)
    trusted = announced is not None and last_read in (None, announced)
    if trusted:
        hit = _answer(endpoint, str(announced), digest, lambda: entry)
        if hit is not None:
            return hit
    # A miss, or no announcement: from here on, one snapshot, and the run id read inside it.
    run_id = current_run_id()
    if trusted and run_id == announced:
        return None  # looked up already
    if announced is None:
        _reannounce(run_id)
    return _answer(endpoint, run_id, digest, lambda: _read_entry(run_id, endpoint, digest))


def store_answer(response: Response) -> Response:
    """After a view: keep a 200 answer of a cached endpoint under the run id it was computed
    from, and give it its validators (a matching If-None-Match turns it into a 304)."""
    endpoint = request.endpoint or ""
    digest = g.get("stopsync_response_digest")
    run_id = g.get("stopsync_run_id")
    if (digest is None or run_id is None or g.get("stopsync_answered_from_cache")
            or response.status_code != 200 or response.direct_passthrough):
        return response
    _write_entry(str(run_id), endpoint, digest, (response.mimetype or "application/json", response.get_data()))
    _cache_headers(response, endpoint, str(run_id), digest)
    if request.if_none_match.contains_weak(etag_of(str(run_id), digest)):
        return _cache_headers(Response(status=304), endpoint, str(run_id), digest)
    return response
