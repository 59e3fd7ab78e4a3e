"""The OpenAPI 3.1 document of API v1, written as data next to the code it describes.

Each endpoint's query parameters come from the same tuples the views pass to
``reject_unknown``, so the document cannot list a parameter the view refuses or miss one it
accepts; ``tests/api/test_openapi.py`` checks that every ``/api/v1/`` route is described.
"""

from __future__ import annotations

from typing import Any

from ... import __version__
from ...pipeline.cantons import CANTON_CODES
from ...pipeline.engine import UNMATCHED_REASONS
from ...pipeline.stop_routes import MODES
from .aggregates import (
    FACETS_PARAMETERS,
    MAX_ZOOM,
    OPERATORS_PARAMETERS,
    OVERVIEW_PARAMETERS,
    STATISTICS_PARAMETERS,
    STOPS_MIN_ZOOM,
)
from .filters import MAX_PRIORITY, MIN_PRIORITY
from .problems import PROBLEMS_MAX_LIMIT, PROBLEMS_PARAMETERS, SORTS, STATUSES
from .search import ROUTES_PARAMETERS, SEARCH_MAX_LIMIT, SEARCH_PARAMETERS
from .stops import (
    FORMATS,
    LARGEST_DISTANCES_MAX,
    LARGEST_DISTANCES_PARAMETERS,
    LAYERS,
    RANDOM_PARAMETERS,
    STOPS_PARAMETERS,
)
from .tiles import TILE_LIMIT, TILE_MAX_ZOOM, TILE_MIN_ZOOM, TILE_PARAMETERS

JSON = "application/json"
GEOJSON = "application/geo+json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _csv(description: str) -> dict[str, Any]:
    return {"description": description + " Comma-separated; values are ORed.",
            "schema": {"type": "string", "pattern": "^[^,]+(,[^,]+)*$"}}


BBOX = {"type": "string", "pattern": r"^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$",
        "example": "9.06,47.03,9.08,47.05"}

# Every query parameter of the API: its schema and what it means.
PARAMETERS: dict[str, dict[str, Any]] = {
    "bbox": {"description": "minLon,minLat,maxLon,maxLat in WGS84 (RFC 7946 order).", "schema": BBOX},
    "limit": {"description": "Items per page (per layer for /stops); larger values are refused.",
              "schema": {"type": "integer", "minimum": 1}},
    "layers": {"description": "Which layers to return.", "schema": {"type": "string", "example": ",".join(LAYERS)}},
    "cursor": {"description": "Opaque cursor from a previous page's next_cursor (same query, same snapshot).",
               "schema": {"type": "string"}},
    "format": {"description": "geojson (default) or json; overrides the Accept header.",
               "schema": {"type": "string", "enum": list(FORMATS)}},
    "method": _csv("Link methods, e.g. exact_reference,ref_sloid."),
    "matched": {"description": "Only linked (true) or unlinked (false) stops.", "schema": {"type": "boolean"}},
    "operator": _csv("ATLAS operator abbreviations (OSM elements qualify through their links)."),
    "kind": _csv("OSM element kinds: platform, stop_position, station (ATLAS platforms qualify through links)."),
    "problem_type": _csv("Problem types naming the stop (see /help/problems)."),
    "priority": _csv(f"Problem priorities, {MIN_PRIORITY} (critical) to {MAX_PRIORITY} (minor)."),
    "type": _csv("Problem types."),
    "unmatched_reason": _csv(f"Why an ATLAS platform is unmatched: {', '.join(UNMATCHED_REASONS)} (OSM elements and "
                             "links never qualify: an unmatched platform has no links)."),
    "osm_operator": _csv("OSM operator tags (ATLAS platforms qualify through their links)."),
    "mode": _csv(f"Transport modes: {', '.join(MODES)} (each stop by its own modes; a link by either end's)."),
    "canton": _csv("Canton abbreviations (ZH, BE, ...; each stop by its own position, a link by its ATLAS end)."),
    "duplicates": {"description": "Only members of a duplicate group (duplicate_atlas / duplicate_osm problems) "
                                  "(true) or only non-members (false); a link qualifies through either end.",
                   "schema": {"type": "boolean"}},
    "route": _csv("Route ids (osm:relation/123, gtfs:<route id>): the stops the route serves and the stops linked "
                  "to them."),
    "status": _csv(f"Problem lifecycle states: {', '.join(STATUSES)}."),
    "updated_since": {"description": "Only problems whose state changed at or after this ISO 8601 time.",
                      "schema": {"type": "string", "format": "date-time"}},
    "sort": {"description": "priority (default), type, or distance (largest first).",
             "schema": {"type": "string", "enum": list(SORTS)}},
    "zoom": {"description": f"Web-map zoom; clusters below {STOPS_MIN_ZOOM}, stops from it on.",
             "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ZOOM}},
    "q": {"description": "A SLOID, UIC number, node/123 (or n123), bare OSM id, a name (prefix, accents and "
                         "case ignored, fuzzy fallback), or a route ref (31, S12, IC 5, Bus 31).",
          "schema": {"type": "string", "minLength": 1, "maxLength": 200}},
}
REQUIRED = {"/stops": {"bbox"}, "/overview": {"bbox", "zoom"}, "/search": {"q"}}
LIMIT_MAXIMUM = {"/problems": PROBLEMS_MAX_LIMIT, "/search": SEARCH_MAX_LIMIT,
                 "/largest-distances": LARGEST_DISTANCES_MAX}


def _query_parameters(path: str, names: tuple[str, ...]) -> list[dict[str, Any]]:
    parameters = []
    for name in names:
        spec = dict(PARAMETERS[name])
        if name == "limit" and path in LIMIT_MAXIMUM:
            spec["schema"] = {**spec["schema"], "maximum": LIMIT_MAXIMUM[path]}
        parameters.append({"name": name, "in": "query", "required": name in REQUIRED.get(path, set()), **spec})
    return parameters


def _responses(ok: dict[str, Any], *errors: int) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": ok}
    descriptions = {400: "A bad parameter; details.parameter names it.", 404: "Nothing found."}
    for status in errors:
        responses[str(status)] = {"description": descriptions[status],
                                  "content": {JSON: {"schema": _ref("Error")}}}
    return responses


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref(schema)}}}


def _operation(path: str, names: tuple[str, ...], summary: str, ok: dict[str, Any], *errors: int) -> dict[str, Any]:
    return {"get": {"summary": summary, "operationId": path.strip("/").replace("-", "_").replace("/", "_") or "root",
                    "parameters": _query_parameters(path, names), "responses": _responses(ok, 400, *errors)}}


_nullable_number = {"type": ["number", "null"]}
_point_item: dict[str, Any] = {
    "type": "object",
    "required": ["layer", "id", "name", "matched", "lon", "lat"],
    "properties": {"layer": {"type": "string", "enum": ["atlas", "osm"]}, "id": {"type": "string"},
                   "name": {"type": "string"}, "matched": {"type": "boolean"},
                   "lon": {"type": "number"}, "lat": {"type": "number"}},
}
SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error", "message"],
              "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                             "details": {"type": "object", "properties": {"parameter": {"type": "string"}}}}},
    "AtlasItem": {**_point_item, "properties": {**_point_item["properties"], "number": {"type": "string"},
                                                "designation": {"type": "string"}, "operator": {"type": "string"}}},
    "OsmItem": {**_point_item, "required": [*_point_item["required"], "unit_key"],
                "properties": {**_point_item["properties"], "kind": {"type": "string"},
                               "uic_ref": {"type": "string"}, "local_ref": {"type": "string"},
                               "unit_key": {"type": "string", "maxLength": 128,
                                            "description": "The pair or trio of OSM elements this one belongs "
                                                           "to, <kind>:<osm_id>+<osm_id>[+...] (e.g. "
                                                           "pair:node/1+node/2); empty for a single."}}},
    "LinkItem": {"type": "object", "required": ["sloid", "osm_id", "method", "distance_m"],
                 "properties": {"layer": {"const": "link"}, "sloid": {"type": "string"},
                                "osm_id": {"type": "string"}, "method": {"type": "string"},
                                "distance_m": {"type": "number"}, "atlas_lon": {"type": "number"},
                                "atlas_lat": {"type": "number"}, "osm_lon": {"type": "number"},
                                "osm_lat": {"type": "number"}}},
    "Paging": {"type": "object", "required": ["limit", "truncated", "next_cursor"],
               "properties": {"bbox": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
                              "limit": {"type": "integer"}, "truncated": {"type": "boolean"},
                              "next_cursor": {"type": ["string", "null"]}}},
    "FeatureCollection": {"allOf": [_ref("Paging"), {
        "type": "object", "required": ["type", "features"],
        "properties": {"type": {"const": "FeatureCollection"},
                       "features": {"type": "array", "items": {
                           "type": "object", "required": ["type", "geometry", "properties"],
                           "properties": {"type": {"const": "Feature"},
                                          "geometry": {"type": "object"}, "properties": {"type": "object"}}}}}}]},
    "StopsJson": {"allOf": [_ref("Paging"), {
        "type": "object", "required": ["atlas", "osm", "links"],
        "properties": {"atlas": {"type": "array", "items": _ref("AtlasItem")},
                       "osm": {"type": "array", "items": _ref("OsmItem")},
                       "links": {"type": "array", "items": _ref("LinkItem")}}}]},
    "Problem": {"type": "object", "required": ["key", "type", "priority", "status"],
                "properties": {"key": {"type": "string"}, "type": {"type": "string"}, "title": {"type": "string"},
                               "priority": {"type": "integer"}, "status": {"type": "string"},
                               "sloid": {"type": ["string", "null"]}, "osm_id": {"type": ["string", "null"]},
                               "side": {"type": "string"}, "side_reason": {"type": "string"},
                               "evidence": {"type": "object"}, "fingerprint": {"type": "string"},
                               "distance_m": _nullable_number, "updated_at": {"type": ["string", "null"]},
                               "lon": _nullable_number, "lat": _nullable_number, "canton": {"type": "string"}}},
    "ProblemsPage": {"type": "object", "required": ["problems", "next_cursor", "limit", "sort"],
                     "properties": {"problems": {"type": "array", "items": _ref("Problem")},
                                    "next_cursor": {"type": ["string", "null"]}, "limit": {"type": "integer"},
                                    "sort": {"type": "string"}}},
    "StopDetails": {"type": "object",
                    "required": ["id", "layer", "atlas", "osm", "links", "units", "problems", "decisions", "notes"],
                    "properties": {"id": {"type": "string"}, "layer": {"type": "string"},
                                   "run_id": {"type": "string"},
                                   "atlas": {"type": "array", "items": _ref("AtlasItem")},
                                   "osm": {"type": "array", "items": _ref("OsmItem")},
                                   "links": {"type": "array", "items": _ref("LinkItem")},
                                   "units": {"type": "array", "items": {"type": "object"}},
                                   "problems": {"type": "array", "items": _ref("Problem")},
                                   "routes": {"type": "array", "items": _ref("StopRoute")},
                                   "decisions": {"type": "array", "items": {"type": "object"}},
                                   "notes": {"type": "array", "items": {"type": "object"}}}},
    "SearchResults": {"type": "object", "required": ["q", "kind", "results"],
                      "properties": {"q": {"type": "string"},
                                     "kind": {"type": "string",
                                              "enum": ["sloid", "osm_id", "number", "name", "fuzzy", "route"]},
                                     "limit": {"type": "integer"},
                                     "results": {"type": "array", "items": {
                                         "type": "object", "required": ["layer", "id", "name", "match"],
                                         "properties": {"layer": {"type": "string"}, "id": {"type": "string"},
                                                        "name": {"type": "string"}, "match": {"type": "string"},
                                                        "details": {"type": "string"}}}}}},
    "SideTotals": {"type": "object", "properties": {"total": {"type": "integer"}, "matched": {"type": "integer"},
                                                    "unmatched": {"type": "integer"}}},
    "Statistics": {"type": "object", "required": ["atlas", "osm", "match_rate", "links", "problems"],
                   "properties": {"atlas": _ref("SideTotals"), "osm": _ref("SideTotals"),
                                  "match_rate": {"type": "object"}, "links": {"type": "object"},
                                  "problems": {"type": "object"}, "filters": {"type": "object"},
                                  "run_id": {"type": "string"}}},
    "Operators": {"type": "object", "required": ["operators"],
                  "properties": {"run_id": {"type": "string"}, "operators": {"type": "array", "items": {
                      "type": "object", "properties": {"operator": {"type": "string"},
                                                       "platforms": {"type": "integer"},
                                                       "matched": {"type": "integer"},
                                                       "unmatched": {"type": "integer"},
                                                       "links": {"type": "integer"},
                                                       "problems": {"type": "integer"}}}}}},
    "Overview": {"type": "object", "required": ["zoom", "mode", "clusters", "total", "cell_size"],
                 "properties": {"zoom": {"type": "integer"}, "mode": {"type": "string", "enum": ["clusters", "stops"]},
                                "cell_size": {"type": "number"}, "total": {"type": "integer"},
                                "stops_min_zoom": {"type": "integer"},
                                "clusters": {"type": "array", "items": {
                                    "type": "object", "required": ["cell", "count", "lon", "lat", "states"],
                                    "properties": {"cell": {"type": "array", "items": {"type": "integer"}},
                                                   "count": {"type": "integer"}, "lon": {"type": "number"},
                                                   "lat": {"type": "number"},
                                                   "bbox": {"type": "array", "items": {"type": "number"}},
                                                   "states": {"type": "object"}}}}}},
    "LargestDistances": {"type": "object", "required": ["links"],
                         "properties": {"limit": {"type": "integer"},
                                        "links": {"type": "array", "items": _ref("LinkItem")}}},
    "Status": {"type": "object", "required": ["state"],
               "properties": {"state": {"type": "string", "enum": ["idle", "running", "failed"]},
                              "run": {"type": ["object", "null"]}, "published": {"type": ["object", "null"]},
                              "next_run": {"type": ["string", "null"]}}},
    "RandomStop": {"allOf": [_point_item, {"type": "object", "properties": {"details": {"type": "string"}}}]},
    "Route": {"type": "object", "required": ["id", "source", "ref", "name", "mode", "operator"],
              "properties": {"layer": {"const": "route"}, "kind": {"const": "route"}, "id": {"type": "string"},
                             "source": {"type": "string", "enum": ["osm", "gtfs"]}, "ref": {"type": "string"},
                             "name": {"type": "string"}, "mode": {"type": "string"},
                             "operator": {"type": "string"}, "details": {"type": "string"},
                             "stops": {"type": "integer"}, "match": {"type": "string"},
                             "bbox": {"type": ["array", "null"], "items": {"type": "number"}}}},
    "StopRoute": {"allOf": [_ref("Route"), {"type": "object", "properties": {
        "directions": {"type": "string"}, "stops": {"type": "array", "items": {"type": "string"}}}}]},
    "RouteDetails": {"allOf": [_ref("Route"), {
        "type": "object", "required": ["stops", "count", "bbox"],
        "properties": {"run_id": {"type": "string"}, "count": {"type": "integer"},
                       "stops": {"type": "array", "items": {
                           "type": "object", "required": ["layer", "id", "name"],
                           "properties": {"layer": {"type": "string"}, "id": {"type": "string"},
                                          "name": {"type": "string"}, "matched": {"type": "boolean"},
                                          "directions": {"type": "string"}, "lon": _nullable_number,
                                          "lat": _nullable_number, "details": {"type": "string"}}}}}}]},
    "Facets": {"type": "object",
               "required": ["cantons", "modes", "unmatched_reasons", "osm_operators", "duplicates"],
               "properties": {"run_id": {"type": "string"},
                              "cantons": {"type": "array", "items": _ref("SideFacet"),
                                          "description": f"Every canton: {', '.join(CANTON_CODES)}."},
                              "modes": {"type": "array", "items": _ref("SideFacet")},
                              "unmatched_reasons": {"type": "array", "items": _ref("Facet")},
                              "osm_operators": {"type": "array", "items": _ref("Facet")},
                              "duplicates": {"type": "object", "properties": {"atlas": {"type": "integer"},
                                                                              "osm": {"type": "integer"}}},
                              "outside_cantons": {"type": "object"}}},
    "Facet": {"type": "object", "required": ["value", "count"],
              "properties": {"value": {"type": "string"}, "count": {"type": "integer"}}},
    "SideFacet": {"type": "object", "required": ["value", "atlas", "osm", "count"],
                  "properties": {"value": {"type": "string"}, "atlas": {"type": "integer"},
                                 "osm": {"type": "integer"}, "count": {"type": "integer"}}},
    "TileMember": {"type": "object", "required": ["tile"], "properties": {"tile": {
        "type": "object", "required": ["z", "x", "y"],
        "properties": {"z": {"type": "integer"}, "x": {"type": "integer"}, "y": {"type": "integer"}}}}},
}


def _tile_operation() -> dict[str, Any]:
    ok = {"description": f"What /stops answers for the tile's bbox, complete (no cursor; at most {TILE_LIMIT} items "
                         "per layer, truncated says when a layer had more), plus the tile. GeoJSON by default; plain "
                         "JSON with format=json, a .json suffix on y, or Accept: application/json. Cacheable: ETag "
                         "and Cache-Control; If-None-Match answers 304.",
          "content": {GEOJSON: {"schema": {"allOf": [_ref("FeatureCollection"), _ref("TileMember")]}},
                      JSON: {"schema": {"allOf": [_ref("StopsJson"), _ref("TileMember")]}}}}
    operation = _operation("/tiles/{z}/{x}/{y}", TILE_PARAMETERS,
                           f"Stops and links of one XYZ web-mercator tile (zoom {TILE_MIN_ZOOM}-{TILE_MAX_ZOOM})", ok)
    operation["get"]["operationId"] = "tile"
    operation["get"]["responses"]["304"] = {"description": "Not modified (If-None-Match matched the ETag)."}
    path = [
        {"name": "z", "in": "path", "required": True, "description": f"Zoom, {TILE_MIN_ZOOM} to {TILE_MAX_ZOOM}.",
         "schema": {"type": "integer", "minimum": TILE_MIN_ZOOM, "maximum": TILE_MAX_ZOOM}},
        {"name": "x", "in": "path", "required": True, "description": "Column, 0 to 2^z - 1, eastwards from 180° W.",
         "schema": {"type": "integer", "minimum": 0}},
        {"name": "y", "in": "path", "required": True,
         "description": "Row, 0 to 2^z - 1, southwards from 85.05° N; a .json or .geojson suffix picks the "
                        "representation.",
         "schema": {"type": "string", "pattern": "^[0-9]{1,7}(\\.(json|geojson))?$"}},
    ]
    operation["get"]["parameters"] = path + operation["get"]["parameters"]
    return operation


def openapi_document() -> dict[str, Any]:
    stops_ok = {"description": "GeoJSON by default; plain JSON with format=json or Accept: application/json.",
                "content": {GEOJSON: {"schema": _ref("FeatureCollection")}, JSON: {"schema": _ref("StopsJson")}}}
    details = _operation("/stops/{id}", (), "One stop: both sides, links with evidence, problems, decisions, notes",
                         _json("The stop.", "StopDetails"), 404)
    details["get"]["parameters"] = [{
        "name": "id", "in": "path", "required": True,
        "description": "A SLOID (ch:1:sloid:80266:0:16213) or a typed OSM id (node/34674546, way/45, relation/1).",
        "schema": {"type": "string"}}]
    route = _operation("/routes/{id}", ROUTES_PARAMETERS, "One route: what it is, its bbox and every stop it serves",
                       _json("The route.", "RouteDetails"), 404)
    route["get"]["parameters"] = [{
        "name": "id", "in": "path", "required": True,
        "description": "A route id as search answers it: osm:relation/123 (a route_master or route relation) or "
                       "gtfs:<normalised GTFS route id>.", "schema": {"type": "string"}}]
    paths = {
        "/tiles/{z}/{x}/{y}": _tile_operation(),
        "/stops": _operation("/stops", STOPS_PARAMETERS, "Stops and links in a bbox, filtered and paged", stops_ok),
        "/stops/{id}": details,
        "/search": _operation("/search", SEARCH_PARAMETERS, "Search by SLOID, UIC number, OSM id, name or route ref",
                              _json("Matching routes and stops.", "SearchResults")),
        "/routes/{id}": route,
        "/facets": _operation("/facets", FACETS_PARAMETERS, "Filter menu values with counts",
                              _json("Cantons, modes, unmatched reasons, OSM operators, duplicates.", "Facets")),
        "/problems": _operation("/problems", PROBLEMS_PARAMETERS, "Problems, filtered, sorted and paged",
                                _json("One page of problems.", "ProblemsPage")),
        "/statistics": _operation("/statistics", STATISTICS_PARAMETERS, "Totals and rates under the stop filters",
                                  _json("Statistics.", "Statistics")),
        "/random": _operation("/random", RANDOM_PARAMETERS, "A random stop under the filters",
                              _json("A stop.", "RandomStop"), 404),
        "/largest-distances": _operation("/largest-distances", LARGEST_DISTANCES_PARAMETERS,
                                         "Links whose ends lie furthest apart",
                                         _json("Links, largest distance first.", "LargestDistances")),
        "/operators": _operation("/operators", OPERATORS_PARAMETERS, "ATLAS operators with counts",
                                 _json("Operators.", "Operators")),
        "/overview": _operation("/overview", OVERVIEW_PARAMETERS, "Stops clustered on a zoom-sized grid",
                                _json("Clusters.", "Overview")),
        # Served by the status blueprint (pipeline status); documented here with the rest of v1.
        "/status": {"get": {"summary": "Pipeline status: idle, running (phase, progress) or failed; the last "
                                       "success, the next run and the published datasets' timestamps",
                            "operationId": "status", "parameters": [],
                            "responses": _responses(_json("The status document.", "Status"), 400)}},
        "/openapi.json": {"get": {"summary": "This document", "operationId": "openapi", "parameters": [],
                                  "responses": {"200": {"description": "The OpenAPI document.",
                                                        "content": {JSON: {"schema": {"type": "object"}}}}}}},
        "/docs": {"get": {"summary": "This document as an HTML page", "operationId": "docs", "parameters": [],
                          "responses": {"200": {"description": "HTML.", "content": {"text/html": {}}}}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "stopsync API", "version": f"1 ({__version__})",
                 "description": "ATLAS platforms matched to OpenStreetMap stops: the published snapshot. "
                                "Every bad parameter answers 400 with a JSON error naming it."},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }
