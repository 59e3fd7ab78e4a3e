"""Configuration in layers: defaults -> instance/stopsync.cfg -> STOPSYNC_* environment -> the
mapping given to ``create_app`` (tests). ``ROLE`` is read here, once.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from .errors import ConfigurationError

ROLES = ("web", "scheduler", "all")
ENVIRONMENTS = ("production", "development", "test")

# Values that must never serve as a production secret.
INSECURE_SECRET_KEYS = {"", "dev", "development", "secret", "changeme", "change-me", "test"}
MIN_SECRET_KEY_LENGTH = 16

DEFAULTS: dict[str, Any] = {
    "ENVIRONMENT": "production",
    "SECRET_KEY": None,
    "ROLE": "web",
    # None: an SQLite file in the instance folder (the embedded default).
    "DATABASE_URL": None,
    # None: in-process cache and limiter, file lock.
    "REDIS_URL": None,
    # Sources: a URL, a local path, or a keyword a source plugin understands.
    "ATLAS_SOURCE": (
        "https://data.opentransportdata.swiss/en/dataset/traffic-points-actual-date/permalink"
    ),
    "OSM_SOURCE": "overpass",
    "BORDER_SOURCE": None,  # a GeoJSON/TopoJSON file; beats BBOX and REGION_NAME
    # The region of a run (--region): "switzerland", "switzerland-liechtenstein" or "none";
    # BBOX (minLon,minLat,maxLon,maxLat) beats it. Filters ATLAS and shapes the Overpass query.
    "REGION_NAME": "switzerland",
    "BBOX": None,
    # Problem thresholds overriding stopsync.pipeline.problems.ProblemThresholds.
    "PROBLEM_THRESHOLDS": {},
    # "timetable": the national GTFS feed of the current timetable year; or a URL or a path;
    # None: no timetable (no route evidence). An unreachable timetable only warns.
    "GTFS_SOURCE": "timetable",
    "OVERPASS_URL": "https://overpass-api.de/api/interpreter",
    "OVERPASS_AREA": "ISO3166-1=CH",  # the runner sets it from the region
    "OVERPASS_BBOX": None,
    "OVERPASS_MAX_RETRIES": 4,
    "OVERPASS_BACKOFF_S": 5,
    "OVERPASS_TIMEOUT_S": 900,
    "HTTP_USER_AGENT": "stopsync/0.1 (public-transport stop sync; https://github.com/stopsync)",
    "HTTP_TIMEOUT_S": 300,
    # Which source plugin reads each kind of input.
    "ATLAS_SOURCE_PLUGIN": "atlas-csv",
    "OSM_SOURCE_PLUGIN": None,  # None: "overpass" for OSM_SOURCE=overpass, else "osm-file"
    "BORDER_SOURCE_PLUGIN": "border-file",
    "GTFS_SOURCE_PLUGIN": "gtfs-zip",
    # None: every registered strategy, ordered by its ``order`` then name.
    "MATCHING_STRATEGIES": None,
    "MATCHING_PROFILE": {},
    "DISABLED_PLUGINS": [],
    "PLUGINS": [],  # extra plugin modules to register by import path (besides entry points)
    "SAFE_MODE": False,  # skip third-party (entry-point) plugins
    "DATA_DIR": None,  # None: <instance>/data
    "LOG_LEVEL": "INFO",
    "LOG_FORMAT": "json",  # or "text"
    "SCHEDULE_CRON": "30 2 * * *",
    "SCHEDULE_TIMEZONE": "Europe/Zurich",
    # Redis run lock: expiry renewed by a heartbeat; a dead owner's lock is free after this.
    "RUN_LOCK_TTL_S": 60,
    # How long the publication swap waits for readers' locks before retrying (PostGIS).
    "PUBLISH_LOCK_TIMEOUT_S": 10,
    # Without Redis: how long each process reuses the status it read for the navbar.
    "STATUS_CACHE_S": 10,
    # The map's tile layers, in the layers control's order: base layers (the first is the
    # default) and overlays (``overlay: true``). Keys: id (URL state), name, url (Leaflet
    # template), attribution (text), attribution_url, overlay, max_zoom, subdomains (for {s}).
    # The CSP's img-src allows exactly these hosts (stopsync.security).
    "MAP_TILE_LAYERS": [
        {"id": "osm", "name": "OpenStreetMap", "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
         "attribution": "© OpenStreetMap contributors",
         "attribution_url": "https://www.openstreetmap.org/copyright", "max_zoom": 19},
        {"id": "opnv", "name": "ÖPNVKarte", "url": "https://tile.memomaps.de/tilegen/{z}/{x}/{y}.png",
         "attribution": "Map memomaps.de CC-BY-SA, map data © OpenStreetMap contributors",
         "attribution_url": "https://memomaps.de/", "max_zoom": 18},
        {"id": "railway", "name": "OpenRailwayMap",
         "url": "https://{s}.tiles.openrailwaymap.org/standard/{z}/{x}/{y}.png",
         "attribution": "OpenRailwayMap, CC-BY-SA", "attribution_url": "https://www.openrailwaymap.org/",
         "overlay": True, "max_zoom": 19, "subdomains": "abc"},
    ],
    # Requests each new gunicorn worker answers internally before taking traffic (stopsync.warmup),
    # bypassing the response cache; [] switches the warm-up off.
    "WARMUP_PATHS": [
        "/api/v1/status",
        "/api/v1/overview?bbox=5.9,45.8,10.5,47.9&zoom=8",
        "/api/v1/problems?limit=1",
        "/api/v1/stops?bbox=8.53,47.37,8.55,47.38&limit=1",
        "/api/v1/tiles/15/17161/11474",
        "/",
    ],
    "API_DEFAULT_LIMIT": 2000,
    "API_MAX_LIMIT": 10000,
    "RATELIMIT_DEFAULT": "600 per minute",
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    "SCHEDULER_API_ENABLED": False,
}


def load_config(app: Flask, overrides: dict[str, Any] | None) -> None:
    """Fill ``app.config`` from every layer, then derive and check the settings."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("stopsync.cfg", silent=True)
    app.config.from_prefixed_env("STOPSYNC")
    if overrides:
        app.config.from_mapping(overrides)
    app.config["ROLE"] = _read_role(app, overrides or {})
    _normalise(app)
    _derive(app)
    check_security(app)


def _read_role(app: Flask, overrides: dict[str, Any]) -> str:
    # ROLE is the documented container variable; STOPSYNC_ROLE and overrides win over it.
    role = str(
        overrides.get("ROLE")
        or os.environ.get("STOPSYNC_ROLE")
        or os.environ.get("ROLE")
        or app.config.get("ROLE")
        or "web"
    ).strip().lower()
    if role not in ROLES:
        raise ConfigurationError(f"ROLE must be one of {', '.join(ROLES)}; got {role!r}")
    return role


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(part).strip() for part in value]


def _normalise(app: Flask) -> None:
    cfg = app.config
    cfg["DISABLED_PLUGINS"] = _as_list(cfg.get("DISABLED_PLUGINS"))
    cfg["PLUGINS"] = _as_list(cfg.get("PLUGINS"))
    cfg["WARMUP_PATHS"] = _as_list(cfg.get("WARMUP_PATHS"))
    if cfg.get("MATCHING_STRATEGIES") is not None:
        cfg["MATCHING_STRATEGIES"] = _as_list(cfg["MATCHING_STRATEGIES"])
    cfg["MAP_TILE_LAYERS"] = tile_layers(cfg.get("MAP_TILE_LAYERS"))
    if cfg.get("TESTING") and "ENVIRONMENT" not in os.environ and cfg["ENVIRONMENT"] == "production":
        cfg["ENVIRONMENT"] = "test"
    if cfg["ENVIRONMENT"] not in ENVIRONMENTS:
        raise ConfigurationError(
            f"ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}; got {cfg['ENVIRONMENT']!r}"
        )


TILE_LAYER_KEYS = {"id", "name", "url", "attribution", "attribution_url", "overlay", "max_zoom", "subdomains"}
TILE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
TILE_URL = re.compile(r"https?://[^/?#\s]+/\S*")


def tile_layers(value: Any) -> list[dict[str, Any]]:
    """``MAP_TILE_LAYERS`` checked and completed; a mistake fails at start-up, naming the layer."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise ConfigurationError(f"MAP_TILE_LAYERS is not valid JSON: {error}") from error
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise ConfigurationError("MAP_TILE_LAYERS must be a list of layers")
    layers: list[dict[str, Any]] = []
    for position, raw in enumerate(value):
        if not isinstance(raw, Mapping):
            raise ConfigurationError(f"MAP_TILE_LAYERS[{position}] must be a mapping")
        unknown = set(raw) - TILE_LAYER_KEYS
        if unknown:
            raise ConfigurationError(f"MAP_TILE_LAYERS[{position}]: unknown keys {sorted(unknown)}")
        name = str(raw.get("name") or "").strip()
        url = str(raw.get("url") or "").strip()
        layer_id = str(raw.get("id") or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")).strip()
        if not name or not TILE_ID.fullmatch(layer_id):
            raise ConfigurationError(f"MAP_TILE_LAYERS[{position}] needs a name and an id of a-z, 0-9, _ or -")
        if not TILE_URL.fullmatch(url) or not all(part in url for part in ("{z}", "{x}", "{y}")):
            raise ConfigurationError(
                f"MAP_TILE_LAYERS[{position}] ({layer_id}): url must be http(s) with {{z}}, {{x}} and {{y}}"
            )
        max_zoom = raw.get("max_zoom", 19)
        if not isinstance(max_zoom, int) or isinstance(max_zoom, bool) or not 1 <= max_zoom <= 22:
            raise ConfigurationError(f"MAP_TILE_LAYERS[{position}] ({layer_id}): max_zoom must be 1 to 22")
        subdomains = str(raw.get("subdomains") or "abc")
        if not re.fullmatch(r"[a-z0-9]{1,10}", subdomains):
            raise ConfigurationError(f"MAP_TILE_LAYERS[{position}] ({layer_id}): subdomains must be letters")
        attribution_url = str(raw.get("attribution_url") or "").strip()
        if attribution_url and not re.fullmatch(r"https?://\S+", attribution_url):
            raise ConfigurationError(f"MAP_TILE_LAYERS[{position}] ({layer_id}): attribution_url must be http(s)")
        if any(layer["id"] == layer_id for layer in layers):
            raise ConfigurationError(f"MAP_TILE_LAYERS: the id {layer_id!r} is used twice")
        layers.append({
            "id": layer_id, "name": name, "url": url, "attribution": str(raw.get("attribution") or ""),
            "attribution_url": attribution_url, "overlay": bool(raw.get("overlay", False)),
            "max_zoom": max_zoom, "subdomains": subdomains,
        })
    return layers


def database_url(app: Flask) -> str:
    url = app.config.get("SQLALCHEMY_DATABASE_URI") or app.config.get("DATABASE_URL")
    if not url:
        return "sqlite:///" + str(Path(app.instance_path) / "stopsync.db")
    url = str(url)
    # Heroku-style URLs name no driver; SQLAlchemy 2 no longer accepts "postgres://".
    if url.startswith("postgres://"):
        url = "postgresql+psycopg2://" + url[len("postgres://"):]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def _derive(app: Flask) -> None:
    cfg = app.config
    cfg["SQLALCHEMY_DATABASE_URI"] = database_url(app)
    cfg["DATA_DIR"] = str(cfg.get("DATA_DIR") or Path(app.instance_path) / "data")
    redis_url = cfg.get("REDIS_URL")
    if redis_url:
        cfg.setdefault("CACHE_TYPE", "RedisCache")
        cfg.setdefault("CACHE_REDIS_URL", redis_url)
        cfg.setdefault("RATELIMIT_STORAGE_URI", redis_url)
    else:
        cfg.setdefault("CACHE_TYPE", "SimpleCache")
        cfg.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    cfg.setdefault("CACHE_DEFAULT_TIMEOUT", 300)
    cfg.setdefault("RATELIMIT_ENABLED", not cfg.get("TESTING", False))
    cfg["RATELIMIT_DEFAULT"] = cfg.get("RATELIMIT_DEFAULT")


def check_security(app: Flask) -> None:
    """In production a missing or well-known SECRET_KEY refuses to start."""
    if app.config["ENVIRONMENT"] != "production":
        if not app.config.get("SECRET_KEY"):
            app.config["SECRET_KEY"] = os.urandom(32).hex()
        return
    key = app.config.get("SECRET_KEY")
    if key is None or str(key).strip().lower() in INSECURE_SECRET_KEYS:
        raise ConfigurationError(
            "SECRET_KEY is missing or a well-known default. Set STOPSYNC_SECRET_KEY to a long "
            "random value (python -c 'import secrets; print(secrets.token_hex(32))') or put "
            "SECRET_KEY in instance/stopsync.cfg; `make run` creates one for you."
        )
    if len(str(key)) < MIN_SECRET_KEY_LENGTH:
        raise ConfigurationError(
            f"SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters; use a long random value."
        )
