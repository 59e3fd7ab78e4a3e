"""The app factory: config layers, roles, secret-key policy, errors, logging, health."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from flask import Flask

from stopsync import create_app
from stopsync.errors import ConfigurationError, StopsyncError
from stopsync.logging_setup import JsonFormatter, run_context

from ..conftest import base_config


def test_config_layers_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "stopsync.cfg").write_text('API_MAX_LIMIT = 111\nAPI_DEFAULT_LIMIT = 11\nLOG_LEVEL = "DEBUG"\n')
    monkeypatch.setenv("STOPSYNC_API_DEFAULT_LIMIT", "22")  # env beats the instance file
    app = create_app(base_config(tmp_path, LOG_LEVEL="WARNING"))  # overrides beat env
    assert app.config["API_MAX_LIMIT"] == 111  # instance file beats defaults
    assert app.config["API_DEFAULT_LIMIT"] == 22
    assert app.config["LOG_LEVEL"] == "WARNING"


def test_embedded_defaults(tmp_path: Path) -> None:
    app = create_app(base_config(tmp_path))
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///" + str(tmp_path / "instance" / "stopsync.db")
    assert app.config["CACHE_TYPE"] == "SimpleCache"
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert app.config["ROLE"] == "web"


def test_redis_url_switches_cache_and_limiter(tmp_path: Path) -> None:
    app = create_app(base_config(tmp_path, REDIS_URL="redis://127.0.0.1:6379/3"))
    assert app.config["CACHE_TYPE"] == "RedisCache"
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"


def test_postgres_url_gets_a_driver(tmp_path: Path) -> None:
    app = create_app(base_config(tmp_path, DATABASE_URL="postgres://u:p@h/db"))
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg2://u:p@h/db"


@pytest.mark.parametrize("env_name", ["ROLE", "STOPSYNC_ROLE"])
def test_role_is_read_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env_name: str) -> None:
    monkeypatch.setenv(env_name, "scheduler")
    app = create_app(base_config(tmp_path))  # TESTING: the scheduler itself is not started
    assert app.config["ROLE"] == "scheduler"


def test_unknown_role_refuses_to_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLE", "worker")
    with pytest.raises(ConfigurationError, match="ROLE must be one of web, scheduler, all"):
        create_app(base_config(tmp_path))


@pytest.mark.parametrize("key", [None, "", "dev", "changeme", "short"])
def test_production_refuses_a_missing_or_weak_secret_key(tmp_path: Path, key: str | None) -> None:
    config = {"INSTANCE_PATH": str(tmp_path), "ENVIRONMENT": "production", "SECRET_KEY": key}
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app(config)


def test_production_accepts_a_strong_secret_key(tmp_path: Path) -> None:
    app = create_app({"INSTANCE_PATH": str(tmp_path), "ENVIRONMENT": "production",
                      "SECRET_KEY": "f" * 64})
    assert app.config["ENVIRONMENT"] == "production"


def test_setup_instance_creates_a_secret_once(tmp_path: Path) -> None:
    from stopsync.setup_instance import ensure_instance

    cfg = ensure_instance(tmp_path / "inst")
    first = cfg.read_text()
    ensure_instance(tmp_path / "inst")
    assert cfg.read_text() == first and "SECRET_KEY" in first
    assert oct(cfg.stat().st_mode & 0o777) == "0o600"
    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst"), "ENVIRONMENT": "production"})
    assert len(app.config["SECRET_KEY"]) == 64


def _app_with_error_routes(tmp_path: Path) -> Flask:
    app = create_app(base_config(tmp_path))

    @app.get("/api/v1/boom")
    def api_boom() -> str:
        raise StopsyncError("it broke")

    @app.get("/boom")
    def page_boom() -> str:
        raise RuntimeError("secret detail")

    return app


def test_errors_are_json_under_api_and_html_elsewhere(tmp_path: Path) -> None:
    client = _app_with_error_routes(tmp_path).test_client()
    response = client.get("/api/v1/boom")
    assert response.status_code == 500 and response.json == {"error": "internal_error", "message": "it broke"}
    response = client.get("/api/v1/nope")
    assert response.status_code == 404 and response.json["error"] == "not_found"
    response = client.get("/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert b"404" in response.data
    response = client.get("/boom")
    assert response.status_code == 500 and b"secret detail" not in response.data


def test_security_headers(tmp_path: Path) -> None:
    response = create_app(base_config(tmp_path)).test_client().get("/healthz")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_json_log_lines_carry_the_run_id() -> None:
    record = logging.LogRecord("stopsync.x", logging.INFO, __file__, 1, "stage finished", None, None)
    record.stage = "match"
    with run_context("run-42"):
        line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["event"] == "stage finished" and entry["run_id"] == "run-42"
    assert entry["stage"] == "match" and entry["level"] == "info"
    assert "run_id" not in json.loads(JsonFormatter().format(record))


def test_healthz(tmp_path: Path) -> None:
    response = create_app(base_config(tmp_path)).test_client().get("/healthz")
    assert response.status_code == 200 and response.json["status"] == "ok"


def test_each_event_is_logged_once_as_json(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    app = create_app(base_config(tmp_path, LOG_FORMAT="json"))
    app.logger.info("hello", extra={"answer": 42})
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1
    assert json.loads(lines[0])["answer"] == 42
