"""Security headers (Talisman with a strict CSP) and rate-limit defaults."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

from .extensions import limiter, talisman

# No inline script anywhere; tiles are the only third-party resource the map loads, and img-src
# allows exactly the hosts of the configured tile layers (MAP_TILE_LAYERS).
IMG_SOURCES = ["'self'", "data:"]
CONTENT_SECURITY_POLICY: dict[str, str | list[str]] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": IMG_SOURCES,
    "connect-src": ["'self'", "http://127.0.0.1:8111"],  # JOSM remote control
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
}


def tile_sources(layers: Iterable[Mapping[str, Any]]) -> list[str]:
    """CSP sources for the tile layers: scheme and host of each URL, a ``{s}`` host expanded
    into one source per subdomain (stricter than a ``*.`` wildcard)."""
    sources: list[str] = []
    for layer in layers:
        parts = urlsplit(str(layer["url"]))
        hosts = [parts.netloc]
        if "{s}" in parts.netloc:
            hosts = [parts.netloc.replace("{s}", sub) for sub in str(layer.get("subdomains") or "abc")]
        for host in hosts:
            source = f"{parts.scheme}://{host}"
            if source not in sources:
                sources.append(source)
    return sources


def content_security_policy(config: Mapping[str, Any]) -> dict[str, str | list[str]]:
    """The policy of one app: the fixed directives plus its tile hosts in img-src."""
    return {**CONTENT_SECURITY_POLICY,
            "img-src": [*IMG_SOURCES, *tile_sources(config.get("MAP_TILE_LAYERS") or [])]}


def init_security(app: Flask) -> None:
    production = app.config["ENVIRONMENT"] == "production"
    talisman.init_app(
        app,
        content_security_policy=content_security_policy(app.config),
        # TLS is terminated by the load balancer; redirecting here would loop behind it.
        force_https=False,
        session_cookie_secure=production,
        strict_transport_security=production,
    )
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    # The limiter keeps default limits from its first init_app; clear them so that each app
    # (one per process in production, many in tests) gets its own RATELIMIT_DEFAULT.
    limiter.limit_manager.set_default_limits([])
    # Reads RATELIMIT_DEFAULT and RATELIMIT_STORAGE_URI (Redis when configured).
    limiter.init_app(app)
