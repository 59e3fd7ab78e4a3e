"""Row -> JSON shapes shared by the endpoints (one shape per kind of thing)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, jsonify

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
        "fingerprint": row.fingerprint,
    }


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


def json_response(body: dict[str, Any], mimetype: str = "application/json") -> Response:
    response = jsonify(body)
    response.mimetype = mimetype
    return response


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 with an offset (SQLite hands back the stored UTC time without one)."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
