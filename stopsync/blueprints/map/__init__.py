"""The map page: ATLAS platforms, OSM stop elements and the links between them.

The page itself is static HTML; ``static/js/map.js`` loads the data for the visible area
from the JSON API and reads its settings (and its translated strings) from ``data-*``
attributes on ``#map`` (the CSP forbids inline scripts).
"""

from __future__ import annotations

import json

from flask import Blueprint, current_app, render_template

from ...i18n import current_bcp47
from .strings import map_strings

bp = Blueprint("map", __name__)

# The public API contract, not an internal route name: the page works whichever blueprint
# serves it.
API_BASE = "/api/v1"
STOPS_API_PATH = f"{API_BASE}/stops"

# Initial view: the whole of Switzerland, as minLon,minLat,maxLon,maxLat (RFC 7946 order).
SWITZERLAND_BBOX = (5.95, 45.81, 10.50, 47.81)


@bp.get("/")
def index() -> str:
    """Render the map page."""
    return render_template(
        "map.html",
        api_base=API_BASE,
        stops_url=STOPS_API_PATH,
        stops_limit=current_app.config["API_DEFAULT_LIMIT"],
        initial_bbox=",".join(f"{value:.2f}" for value in SWITZERLAND_BBOX),
        i18n_json=json.dumps(map_strings(), ensure_ascii=False, sort_keys=True),
        number_locale=current_bcp47(),
    )
