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


# XYZ data tiles (same answer as /stops for the tile's bbox); the page loads them at city zoom
# when the API serves them, and one bbox request per view otherwise.
TILES_API_PATH = f"{API_BASE}/tiles"
# The values of the filter menus; without it the page asks /operators and keeps built-in lists.
FACETS_API_PATH = f"{API_BASE}/facets"


def _tile_layers_for_script() -> list[dict[str, object]]:
    return [{key: layer[key] for key in ("id", "name", "url", "attribution", "attribution_url", "overlay",
                                         "max_zoom", "subdomains")}
            for layer in current_app.config.get("MAP_TILE_LAYERS") or []]


def _serves(path: str) -> bool:
    """Whether this app has a route at ``path`` or under it: the page only asks for optional
    endpoints that exist (a 404 would show as an error in the browser console)."""
    return any(rule.rule == path or rule.rule.startswith(path + "/") for rule in current_app.url_map.iter_rules())


@bp.get("/")
def index() -> str:
    """Render the map page."""
    return render_template(
        "map.html",
        api_base=API_BASE,
        stops_url=STOPS_API_PATH,
        tiles_url=TILES_API_PATH if _serves(TILES_API_PATH) else "",
        facets_url=FACETS_API_PATH if _serves(FACETS_API_PATH) else "",
        stops_limit=current_app.config["API_DEFAULT_LIMIT"],
        initial_bbox=",".join(f"{value:.2f}" for value in SWITZERLAND_BBOX),
        tile_layers_json=json.dumps(_tile_layers_for_script(), ensure_ascii=False),
        i18n_json=json.dumps(map_strings(), ensure_ascii=False, sort_keys=True),
        number_locale=current_bcp47(),
    )
