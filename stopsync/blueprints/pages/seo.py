"""What search engines read: ``/robots.txt`` and the canonical URL of every page.

A page's canonical URL is absolute and drops what does not change its content: the ``lang``
parameter (the language is negotiated; every language shares one URL) and tracking
parameters. The map's query string is only its view (centre, zoom, filters), so the map's
canonical URL is ``/``.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Response, request

from ...i18n import QUERY_PARAMETER
from . import bp

TRACKING_PARAMETERS = frozenset({"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "_ga", "ref"})
# Endpoints whose query string is view state only.
VIEW_STATE_ENDPOINTS = frozenset({"map.index"})

ROBOTS_TXT = """User-agent: *
Allow: /
Disallow: /api/
"""


def is_tracking(name: str) -> bool:
    return name.lower().startswith("utm_") or name.lower() in TRACKING_PARAMETERS


def page_arguments() -> list[tuple[str, str]]:
    """The query parameters that select what a page shows: all but ``lang`` and tracking."""
    return [(name, value) for name, value in request.args.items(multi=True)
            if name != QUERY_PARAMETER and not is_tracking(name)]


@bp.app_template_global()
def canonical_url() -> str:
    base = request.url_root.rstrip("/")
    if request.endpoint in VIEW_STATE_ENDPOINTS:
        return f"{base}{request.path}"
    arguments = page_arguments()
    return f"{base}{request.path}" + (f"?{urlencode(arguments)}" if arguments else "")


@bp.get("/robots.txt")
def robots_txt() -> Response:
    """Pages may be indexed; the API is data (it also answers ``X-Robots-Tag: noindex``)."""
    return Response(ROBOTS_TXT, mimetype="text/plain")
