"""The map page: ATLAS platforms, OSM stop elements and the links between them.

The page itself is static HTML; ``static/js/map.js`` loads the data for the visible area
from the JSON API and reads its settings from ``data-*`` attributes on ``#map`` (the CSP
forbids inline scripts).
"""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("map", __name__)

# The public API contract, not an internal route name: the page works whichever blueprint
# serves it.
STOPS_API_PATH = "/api/v1/stops"

# Initial view: the whole of Switzerland, as minLon,minLat,maxLon,maxLat (RFC 7946 order).
SWITZERLAND_BBOX = (5.95, 45.81, 10.50, 47.81)


@bp.get("/")
def index() -> str:
    """Render the map page."""
    return render_template(
        "map.html",
        stops_url=STOPS_API_PATH,
        initial_bbox=",".join(f"{value:.2f}" for value in SWITZERLAND_BBOX),
    )
