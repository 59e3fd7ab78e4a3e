"""Row -> JSON shapes shared by the endpoints (one shape per kind of thing)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from flask import Response, current_app

from ...problem_help import HELP

ATLAS_PAGE = "https://atlas.app.sbb.ch/service-point-directory/service-points/{number}/traffic-point-elements"
OSM_PAGE = "https://www.openstreetmap.org/{osm_id}"


def coordinate(value: float) -> float:
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
