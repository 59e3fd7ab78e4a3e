"""Production mode on real Redis: the cache and the rate limiter are shared by replicas."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from flask import Flask
from flask_migrate import upgrade

from stopsync import create_app
from stopsync.extensions import cache

from ..conftest import base_config, redis_url

pytestmark = pytest.mark.redis


@pytest.fixture
def shared_redis() -> str:
    url = redis_url()
    redis.Redis.from_url(url).flushdb()
    return url


def _replica(tmp_path: Path, name: str, url: str) -> Flask:
    """One web replica; all replicas share one database and one Redis."""
    app = create_app(base_config(
        tmp_path / name, REDIS_URL=url, RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="3 per minute",
        DATABASE_URL="sqlite:///" + str(tmp_path / "shared.db"),
    ))
    with app.app_context():
        upgrade()
    return app


def test_cache_lives_in_redis(tmp_path: Path, shared_redis: str) -> None:
    app = _replica(tmp_path, "a", shared_redis)
    with app.app_context():
        cache.set("probe", {"value": 42})
        assert cache.get("probe") == {"value": 42}
    keys = [k.decode() for k in redis.Redis.from_url(shared_redis).keys("*probe*")]
    assert keys, "the cached value is not in Redis"


def test_rate_limit_is_shared_across_replicas(tmp_path: Path, shared_redis: str) -> None:
    first = _replica(tmp_path, "a", shared_redis).test_client()
    second = _replica(tmp_path, "b", shared_redis).test_client()
    statuses = [client.get("/api/v1/stops?bbox=0,0,1,1").status_code for client in (first, second, first)]
    assert statuses == [200, 200, 200]
    # The fourth request, whichever replica answers it, exceeds the shared 3 per minute.
    response = second.get("/api/v1/stops?bbox=0,0,1,1")
    assert response.status_code == 429
    assert response.json["error"] == "too_many_requests"
    counters = redis.Redis.from_url(shared_redis).keys("LIMITS*")
    assert counters, "the rate-limit counter is not stored in Redis"


def test_health_probes_are_not_rate_limited(tmp_path: Path, shared_redis: str) -> None:
    client = _replica(tmp_path, "a", shared_redis).test_client()
    assert all(client.get("/healthz").status_code == 200 for _ in range(6))
