"""Security headers (Talisman with a strict CSP) and rate-limit defaults."""

from __future__ import annotations

from flask import Flask

from .extensions import limiter, talisman

# No inline script anywhere; tiles are the only third-party resource the map loads.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": ["'self'", "data:", "https://tile.openstreetmap.org"],
    "connect-src": ["'self'", "http://127.0.0.1:8111"],  # JOSM remote control
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
}


def init_security(app: Flask) -> None:
    production = app.config["ENVIRONMENT"] == "production"
    talisman.init_app(
        app,
        content_security_policy=CONTENT_SECURITY_POLICY,
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
