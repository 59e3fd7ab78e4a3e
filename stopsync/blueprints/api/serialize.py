"""Row -> JSON shapes shared by the endpoints (one shape per kind of thing)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from flask import Response, current_app

from ...problem_help import HELP

ATLAS_PAGE = "https://atlas.app.sbb.ch/service-point-directory/service-points/{number}/traffic-point-elements"
OSM_PAGE = "https://www.openstreetmap.org/{osm_id}"


def coordinate(value: float) -> float:
    """``round(value, 7)``, the same float, about three times faster for a coordinate (bbox answers
    round thousands of them).

    For a finite float below 1000 in magnitude, ``value * 1e7`` is within 1e-6 of the exact
    product (1e7 is exact; one rounding at most half an ulp of a number below 2**34), so when the
    product lies further than that from a half-integer its nearest integer ``whole`` is the exact
    product's, and ``whole / 1e7`` (both exact, one correctly rounded division) is the float
    nearest to the decimal ``round`` rounds to, which is what ``round`` returns. Anything else
    (near a tie, zero with its sign, NaN, infinities, huge values, ints) is left to ``round``.
    tests/api/test_stops_payload.py compares both on a large sample of floats."""
    if value.__class__ is float and -1000.0 < value < 1000.0:
        scaled = value * 1e7
        whole = round(scaled)
        if whole and -0.49 < scaled - whole < 0.49:
            return whole / 1e7
    return round(value, 7)


def atlas_item(row: Any) -> dict[str, Any]:
    return {
        "layer": "atlas", "id": row.sloid, "number": row.number, "designation": row.designation,
        "name": row.name, "operator": row.operator, "matched": bool(row.matched),
        "lon": coordinate(row.lon), "lat": coordinate(row.lat),
    }


def osm_item(row: Any) -> dict[str, Any]:
    return {
        "layer": "osm", "id": row.osm_id, "kind": row.kind, "name": row.name, "uic_ref": row.uic_ref,
        "local_ref": row.local_ref, "matched": bool(row.matched),
        # The pair or trio it belongs to ("pair:node/1+node/2"); "" for a single.
        "unit_key": row.unit_key or "",
        "lon": coordinate(row.lon), "lat": coordinate(row.lat),
    }


def link_item(row: Any) -> dict[str, Any]:
    return {
        "layer": "link", "sloid": row.sloid, "osm_id": row.osm_id, "method": row.method,
        "distance_m": row.distance_m,
        "atlas_lon": coordinate(row.a_lon), "atlas_lat": coordinate(row.a_lat),
        "osm_lon": coordinate(row.o_lon), "osm_lat": coordinate(row.o_lat),
    }


def point_feature(item: dict[str, Any]) -> dict[str, Any]:
    """An RFC 7946 point feature (lon, lat) with the item's other fields as properties."""
    properties = {key: value for key, value in item.items() if key not in ("lon", "lat")}
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [item["lon"], item["lat"]]},
            "properties": properties}


def link_feature(item: dict[str, Any]) -> dict[str, Any]:
    properties = {key: value for key, value in item.items() if not key.endswith(("_lon", "_lat"))}
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[item["atlas_lon"], item["atlas_lat"]],
                                                           [item["osm_lon"], item["osm_lat"]]]},
        "properties": properties,
    }


# The same shapes built straight from the rows of a bbox page (``stops_in_bbox``): the columns of
# ``atlas_select``, ``osm_select`` and ``link_select`` by position. A city answer holds hundreds of
# items, so these spell each item out in one comprehension instead of calling the functions above
# per row; tests/api/test_stops_payload.py pins that both give the same bytes.

def atlas_items(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """``atlas_item(row)`` of each row."""
    return [{"layer": "atlas", "id": sloid, "number": number, "designation": designation, "name": name,
             "operator": operator, "matched": bool(matched), "lon": coordinate(lon), "lat": coordinate(lat)}
            for sloid, number, designation, name, operator, matched, lon, lat in rows]


def osm_items(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """``osm_item(row)`` of each row."""
    return [{"layer": "osm", "id": osm_id, "kind": kind, "name": name, "uic_ref": uic_ref, "local_ref": local_ref,
             "matched": bool(matched), "unit_key": unit_key or "", "lon": coordinate(lon), "lat": coordinate(lat)}
            for osm_id, kind, name, uic_ref, local_ref, matched, unit_key, lon, lat in rows]


def link_items(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """``link_item(row)`` of each row."""
    return [{"layer": "link", "sloid": sloid, "osm_id": osm_id, "method": method, "distance_m": distance_m,
             "atlas_lon": coordinate(a_lon), "atlas_lat": coordinate(a_lat),
             "osm_lon": coordinate(o_lon), "osm_lat": coordinate(o_lat)}
            for sloid, osm_id, method, distance_m, a_lat, a_lon, o_lat, o_lon in rows]


# GeoJSON features are written one by one into the bytes orjson writes for the whole feature
# (compact, keys in order): nested dicts and lists for hundreds of features cost more to build,
# and far more in garbage collection while the list grows, than the flat items of the row
# builders above, their coordinates popped into these templates.
# The values are strings, floats, booleans and None, which orjson writes the same with or without
# json_bytes's options and ``default``; what it refuses raises orjson.JSONEncodeError.
POINT_FEATURE = b'{"type":"Feature","geometry":{"type":"Point","coordinates":%b},"properties":%b}'
LINE_FEATURE = b'{"type":"Feature","geometry":{"type":"LineString","coordinates":%b},"properties":%b}'


def _point_features_json(items: list[dict[str, Any]]) -> list[bytes]:
    """Each item (of ``atlas_items`` or ``osm_items``) as ``orjson.dumps(point_feature(item))``."""
    dumps = orjson.dumps
    return [POINT_FEATURE % (dumps((item.pop("lon"), item.pop("lat"))), dumps(item)) for item in items]


def atlas_features_json(rows: Iterable[Any]) -> list[bytes]:
    """``orjson.dumps(point_feature(atlas_item(row)))`` of each row; orjson.JSONEncodeError for
    what orjson refuses."""
    return _point_features_json(atlas_items(rows))


def osm_features_json(rows: Iterable[Any]) -> list[bytes]:
    """``orjson.dumps(point_feature(osm_item(row)))`` of each row."""
    return _point_features_json(osm_items(rows))


def link_features_json(rows: Iterable[Any]) -> list[bytes]:
    """``orjson.dumps(link_feature(link_item(row)))`` of each row."""
    dumps = orjson.dumps
    return [LINE_FEATURE % (dumps(((item.pop("atlas_lon"), item.pop("atlas_lat")),
                                   (item.pop("osm_lon"), item.pop("osm_lat")))), dumps(item))
            for item in link_items(rows)]


def problem_item(row: Any) -> dict[str, Any]:
    help_text = HELP.get(row.type)
    return {
        "key": row.problem_key, "type": row.type, "title": help_text.title if help_text else row.type,
        "priority": row.priority, "status": row.status, "sloid": row.sloid, "osm_id": row.osm_id,
        "side": row.side, "side_reason": row.side_reason, "evidence": row.evidence or {},
        "fingerprint": row.fingerprint, "canton": row.canton,
    }


def route_url(route_id: str) -> str:
    return f"/api/v1/routes/{route_id}"


def route_item(row: Any) -> dict[str, Any]:
    """One route (aggregated over the stop_routes rows of one route id)."""
    return {"layer": "route", "kind": "route", "id": row.route_id, "source": row.source, "ref": row.route_ref,
            "name": row.route_name, "mode": row.mode, "operator": row.operator, "details": route_url(row.route_id)}


def editor_urls(layer: str, key: str, number: str | None = None) -> dict[str, str]:
    """Where a person looks at or edits this stop (DOMAIN.md §6)."""
    if layer == "atlas":
        return {"atlas": ATLAS_PAGE.format(number=number)} if number else {}
    osm_type, numeric = key.split("/", 1)
    return {
        "osm": OSM_PAGE.format(osm_id=key),
        "id_editor": f"https://www.openstreetmap.org/edit?editor=id&{osm_type}={numeric}",
        "josm": f"http://127.0.0.1:8111/load_object?objects={osm_type[0]}{numeric}",
    }


# orjson writes what Flask's provider writes, but several times faster (a city tile or bbox
# answer is hundreds of kB); dates and other types orjson leaves to ``default`` get Flask's
# treatment, so that the wire format does not depend on which serializer ran.
ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def json_bytes(body: Any) -> bytes:
    """``body`` as compact UTF-8 JSON."""
    provider = current_app.json
    try:
        return orjson.dumps(body, default=getattr(provider, "default", None), option=ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        # What orjson refuses (integers beyond 64 bits, unknown types): Flask's own provider.
        return provider.dumps(body).encode()


def json_response(body: dict[str, Any], mimetype: str = "application/json") -> Response:
    return Response(json_bytes(body), mimetype=mimetype)


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 with an offset (SQLite hands back the stored UTC time without one)."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
