"""The public JSON API, version 1."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify, request

from ...db.dialect import bbox_clause
from ...extensions import db
from ...models import AtlasPlatformRow, MatchRow, OsmElementRow
from .params import parse_bbox, parse_choices, parse_limit, reject_unknown

bp = Blueprint("api", __name__, url_prefix="/api/v1")

LAYERS = ("atlas", "osm", "link")


@bp.get("/stops")
def stops() -> Response:
    """Stops in a bounding box as an RFC 7946 FeatureCollection: ATLAS platforms, OSM elements
    and the link lines between them. ``truncated`` says that a layer hit ``limit``."""
    reject_unknown(request.args, ("bbox", "limit", "layers"))
    bbox = parse_bbox(request.args.get("bbox"))
    limit = parse_limit(
        request.args.get("limit"),
        current_app.config["API_DEFAULT_LIMIT"],
        current_app.config["API_MAX_LIMIT"],
    )
    layers = parse_choices(request.args.get("layers"), LAYERS, "layers")
    features: list[dict[str, Any]] = []
    truncated = False
    if "atlas" in layers:
        part, cut = _atlas_features(bbox, limit)
        features += part
        truncated |= cut
    if "osm" in layers:
        part, cut = _osm_features(bbox, limit)
        features += part
        truncated |= cut
    if "link" in layers:
        part, cut = _link_features(bbox, limit)
        features += part
        truncated |= cut
    response = jsonify(
        type="FeatureCollection", features=features, bbox=list(bbox), limit=limit, truncated=truncated
    )
    response.mimetype = "application/geo+json"
    return response


def _point(lon: float, lat: float, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
        "properties": properties,
    }


def _limited(query: sa.Select[Any], limit: int) -> tuple[list[Any], bool]:
    rows = list(db.session.execute(query.limit(limit + 1)).all())
    return rows[:limit], len(rows) > limit


def _atlas_features(bbox: tuple[float, float, float, float], limit: int) -> tuple[list[dict[str, Any]], bool]:
    table = AtlasPlatformRow.__table__
    query = sa.select(table).where(bbox_clause(db.engine, table, bbox)).order_by(table.c.sloid)
    rows, truncated = _limited(query, limit)
    return [
        _point(row.lon, row.lat, {
            "layer": "atlas", "id": row.sloid, "number": row.number,
            "designation": row.designation, "name": row.name, "operator": row.operator,
            "matched": row.matched,
        })
        for row in rows
    ], truncated


def _osm_features(bbox: tuple[float, float, float, float], limit: int) -> tuple[list[dict[str, Any]], bool]:
    table = OsmElementRow.__table__
    columns = [table.c[name] for name in ("osm_id", "kind", "name", "uic_ref", "local_ref",
                                          "lat", "lon", "matched")]
    query = sa.select(*columns).where(bbox_clause(db.engine, table, bbox)).order_by(table.c.osm_id)
    rows, truncated = _limited(query, limit)
    return [
        _point(row.lon, row.lat, {
            "layer": "osm", "id": row.osm_id, "kind": row.kind, "name": row.name,
            "uic_ref": row.uic_ref, "local_ref": row.local_ref, "matched": row.matched,
        })
        for row in rows
    ], truncated


def _link_features(bbox: tuple[float, float, float, float], limit: int) -> tuple[list[dict[str, Any]], bool]:
    atlas = AtlasPlatformRow.__table__
    osm = OsmElementRow.__table__
    links = MatchRow.__table__
    query = (
        sa.select(
            links.c.sloid, links.c.osm_id, links.c.method, links.c.distance_m,
            atlas.c.lat.label("a_lat"), atlas.c.lon.label("a_lon"),
            osm.c.lat.label("o_lat"), osm.c.lon.label("o_lon"),
        )
        .join(atlas, atlas.c.sloid == links.c.sloid)
        .join(osm, osm.c.osm_id == links.c.osm_id)
        # A link is shown when its ATLAS end is in view; links are short, so this suffices.
        .where(bbox_clause(db.engine, atlas, bbox))
        .order_by(links.c.sloid, links.c.osm_id)
    )
    rows, truncated = _limited(query, limit)
    return [
        {
            "type": "Feature",
            "geometry": {
                "type": "LineString",
                "coordinates": [[round(row.a_lon, 7), round(row.a_lat, 7)],
                                [round(row.o_lon, 7), round(row.o_lat, 7)]],
            },
            "properties": {"layer": "link", "sloid": row.sloid, "osm_id": row.osm_id,
                           "method": row.method, "distance_m": row.distance_m},
        }
        for row in rows
    ], truncated
