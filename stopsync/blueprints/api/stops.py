"""Stops in a bounding box, one stop's details, a random stop and the largest distances."""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from flask import Response, current_app, request

from ...db.dialect import bbox_clause
from ...errors import BadRequestError, NotFoundError
from ...extensions import db
from ...models import Decision, Note, OsmStopUnitRow
from ...pipeline.stop_routes import MODES
from . import bp
from .cache import current_run_id
from .cursor import cursor_value, decode_cursor, encode_cursor, query_fingerprint
from .filters import ATLAS, LINKS, OSM, PROBLEMS, STOP_FILTER_PARAMETERS, STOP_MODES, STOP_ROUTES, StopFilters
from .params import BBox, parse_bbox, parse_choice, parse_choices, parse_limit, reject_unknown
from .serialize import (
    atlas_features_json,
    atlas_item,
    atlas_items,
    editor_urls,
    iso_utc,
    json_response,
    link_feature,
    link_features_json,
    link_item,
    link_items,
    osm_features_json,
    osm_item,
    osm_items,
    point_feature,
    problem_item,
    route_item,
)

LAYERS = ("atlas", "osm", "link")
FORMATS = ("geojson", "json")
STOPS_PARAMETERS = ("bbox", "limit", "layers", "cursor", "format", *STOP_FILTER_PARAMETERS)
RANDOM_PARAMETERS = ("bbox", "layers", *STOP_FILTER_PARAMETERS)
LARGEST_DISTANCES_PARAMETERS = ("limit", "bbox", *STOP_FILTER_PARAMETERS)
LARGEST_DISTANCES_MAX = 1000

SLOID_PATTERN = re.compile(r"ch:\d{1,4}:sloid:\d{1,10}(?::[0-9A-Za-z]{0,20}){0,4}")
OSM_ID_PATTERN = re.compile(r"(node|way|relation)/([1-9]\d{0,18})")
MAX_OSM_ID = 2**63 - 1


# The columns of the three selects are the payload of a stop or link, in this order: the row
# builders of serialize.py (``atlas_items``, ``atlas_features_json``, ...) unpack them by position.
def atlas_select() -> sa.Select[Any]:
    return sa.select(ATLAS.c.sloid, ATLAS.c.number, ATLAS.c.designation, ATLAS.c.name, ATLAS.c.operator,
                     ATLAS.c.matched, ATLAS.c.lon, ATLAS.c.lat)


def osm_select() -> sa.Select[Any]:
    return sa.select(OSM.c.osm_id, OSM.c.kind, OSM.c.name, OSM.c.uic_ref, OSM.c.local_ref, OSM.c.matched,
                     OSM.c.unit_key, OSM.c.lon, OSM.c.lat)


def link_select() -> sa.Select[Any]:
    return (
        sa.select(LINKS.c.sloid, LINKS.c.osm_id, LINKS.c.method, LINKS.c.distance_m,
                  ATLAS.c.lat.label("a_lat"), ATLAS.c.lon.label("a_lon"),
                  OSM.c.lat.label("o_lat"), OSM.c.lon.label("o_lon"))
        .select_from(LINKS.join(ATLAS, ATLAS.c.sloid == LINKS.c.sloid).join(OSM, OSM.c.osm_id == LINKS.c.osm_id))
    )


def layer_query(layer: str, filters: StopFilters, bbox: BBox | None) -> sa.Select[Any]:
    """The filtered query of one layer, in its stable paging order. A link is in view when its
    ATLAS end is (links are short)."""
    return _layer_select(layer, filters, bbox, bound=False)


def _layer_select(layer: str, filters: StopFilters, bbox: Any, bound: bool) -> sa.Select[Any]:
    """:func:`layer_query` with the filter values (``bound``) and ``bbox`` either given or bound
    parameters."""
    if layer == "atlas":
        query = atlas_select().where(*filters.atlas_clauses(bound)).order_by(ATLAS.c.sloid)
        table = ATLAS
    elif layer == "osm":
        query = osm_select().where(*filters.osm_clauses(bound)).order_by(OSM.c.osm_id)
        table = OSM
    else:
        query = link_select().where(*filters.link_clauses(bound)).order_by(LINKS.c.sloid, LINKS.c.osm_id)
        table = ATLAS
    if bbox is not None:
        query = query.where(bbox_clause(db.engine, table, bbox))
    return query


# -- the bbox pages of /stops and /tiles ------------------------------------------------------------
#
# These answers are never cached and hold hundreds of rows, so their per-request Python counts.
# Their statements are built once per (backend, layer, filter shape, first page or not) with every
# value a bound parameter, and reused: SQLAlchemy memoizes a statement's cache key on the object,
# so executing the same object finds its compiled form in the engine's compiled cache at once.

BBOX_PARAMETERS = ("bbox_min_lon", "bbox_min_lat", "bbox_max_lon", "bbox_max_lat")
LIMIT_PARAMETER = "page_limit"
AFTER_PARAMETERS = {"atlas": ("after_sloid",), "osm": ("after_osm_id",), "link": ("after_sloid", "after_osm_id")}
# Filter shapes are few in practice; the bound only keeps odd clients from growing it forever.
PAGE_STATEMENTS_MAX = 512
_page_statements: dict[tuple[Any, ...], sa.Select[Any]] = {}
_page_statements_lock = threading.Lock()


def page_statement(layer: str, filters: StopFilters, after: bool) -> sa.Select[Any]:
    """The statement of one page of ``layer`` in a bbox under filters of the shape of
    ``filters`` (after a cursor position when ``after``); its parameters are those of
    :func:`page_parameters`."""
    key = (db.engine.dialect.name, layer, filters.shape(), after)
    statement = _page_statements.get(key)
    if statement is None:
        statement = _build_page_statement(layer, filters, after)
        with _page_statements_lock:
            while len(_page_statements) >= PAGE_STATEMENTS_MAX:
                del _page_statements[next(iter(_page_statements))]
            _page_statements[key] = statement
    return statement


def _build_page_statement(layer: str, filters: StopFilters, after: bool) -> sa.Select[Any]:
    bbox = tuple(sa.bindparam(name, type_=sa.Float) for name in BBOX_PARAMETERS)
    query = _layer_select(layer, filters, bbox, bound=True)
    if after:
        if layer == "atlas":
            query = query.where(ATLAS.c.sloid > sa.bindparam("after_sloid", type_=ATLAS.c.sloid.type))
        elif layer == "osm":
            query = query.where(OSM.c.osm_id > sa.bindparam("after_osm_id", type_=OSM.c.osm_id.type))
        else:
            query = query.where(sa.tuple_(LINKS.c.sloid, LINKS.c.osm_id) > sa.tuple_(
                sa.bindparam("after_sloid", type_=LINKS.c.sloid.type),
                sa.bindparam("after_osm_id", type_=LINKS.c.osm_id.type)))
    return query.limit(sa.bindparam(LIMIT_PARAMETER, type_=sa.Integer))


def page_parameters(layer: str, filters: StopFilters, bbox: BBox, limit: int,
                    position: dict[str, Any] | None) -> dict[str, Any]:
    """The bound values of :func:`page_statement`: one row more than ``limit`` tells whether the
    layer has more."""
    parameters: dict[str, Any] = {**filters.parameters(), **dict(zip(BBOX_PARAMETERS, bbox, strict=True)),
                                  LIMIT_PARAMETER: limit + 1}
    if position is not None:
        if layer == "link":
            last = cursor_value(position, "link", str, length=2)
            if last is None:
                raise BadRequestError("cursor is malformed", parameter="cursor")
            parameters.update(zip(AFTER_PARAMETERS["link"], last, strict=True))
        else:
            # A null position selects nothing (``key > NULL``), as it always has.
            parameters[AFTER_PARAMETERS[layer][0]] = cursor_value(position, layer, str)
    return parameters


ITEM = {"atlas": atlas_item, "osm": osm_item, "link": link_item}


def wants_plain_json(raw_format: str | None) -> bool:
    """``format=json`` or an ``Accept`` header preferring plain JSON; GeoJSON otherwise."""
    if raw_format is not None:
        return parse_choice(raw_format, FORMATS, "format", "geojson") == "json"
    best = request.accept_mimetypes.best_match(["application/geo+json", "application/json"])
    return best == "application/json"


@bp.get("/stops")
def stops() -> Any:
    """Stops in a bounding box: ATLAS platforms, OSM elements and the links between them.
    ``truncated`` says that a layer hit ``limit``; ``next_cursor`` continues every truncated
    layer (and only those)."""
    args = request.args
    reject_unknown(args, STOPS_PARAMETERS)
    bbox = parse_bbox(args.get("bbox"))
    limit = parse_limit(args.get("limit"), current_app.config["API_DEFAULT_LIMIT"],
                        current_app.config["API_MAX_LIMIT"])
    layers = parse_choices(args.get("layers"), LAYERS, "layers")
    plain = wants_plain_json(args.get("format"))
    filters = StopFilters.from_args(args)
    run_id = current_run_id()
    fingerprint = query_fingerprint([("bbox", list(bbox)), ("layers", sorted(layers)), *filters.normalised()])
    position = decode_cursor(args.get("cursor"), run_id, fingerprint)
    if position is not None:
        unknown = set(position) - set(layers)
        if unknown or not position:
            raise BadRequestError("cursor does not fit the requested layers", parameter="cursor")
        layers = [layer for layer in layers if layer in position]

    rows, next_position = stops_in_bbox(bbox, layers, filters, limit, position)
    next_cursor = encode_cursor(run_id, fingerprint, next_position) if next_position else None
    common = {"bbox": list(bbox), "limit": limit, "truncated": bool(next_position), "next_cursor": next_cursor}
    return stops_response(rows, common, plain)


def stops_in_bbox(bbox: BBox, layers: list[str], filters: StopFilters, limit: int,
                  position: dict[str, Any] | None = None) -> tuple[dict[str, Sequence[Any]], dict[str, Any]]:
    """The rows of each layer in ``bbox`` (at most ``limit`` per layer, after ``position``) in
    the column order of :func:`atlas_select`, :func:`osm_select` and :func:`link_select` and, for
    each layer that had more, the key of its last row. Shared by /stops and /tiles; turned into
    the answer by :func:`stops_response`."""
    rows: dict[str, Sequence[Any]] = {}
    next_position: dict[str, Any] = {}
    connection = db.session.connection()
    for layer in layers:
        parameters = page_parameters(layer, filters, bbox, limit, position)
        statement = page_statement(layer, filters, position is not None)
        found = connection.execute(statement, parameters).all()
        if len(found) > limit:
            found = found[:limit]
            last = found[-1]
            next_position[layer] = [last[0], last[1]] if layer == "link" else last[0]
        rows[layer] = found
    return rows, next_position


def stops_response(rows: dict[str, Sequence[Any]], common: dict[str, Any], plain: bool) -> Response:
    """The /stops answer (plain JSON or a GeoJSON FeatureCollection) of the ``rows`` of
    :func:`stops_in_bbox` with the members in ``common`` (bbox, limit, truncated, next_cursor, ...)."""
    atlas, osm, links = rows.get("atlas", ()), rows.get("osm", ()), rows.get("link", ())
    if plain:
        return json_response({"atlas": atlas_items(atlas), "osm": osm_items(osm), "links": link_items(links),
                              **common})
    features: Any
    try:
        parts = atlas_features_json(atlas) + osm_features_json(osm) + link_features_json(links)
        features = orjson.Fragment(b"[" + b",".join(parts) + b"]")
    except orjson.JSONEncodeError:
        # A value orjson refuses (none comes out of these columns today): the features as dicts,
        # so that json_bytes falls back to Flask's serializer for the whole body, as it always has.
        features = ([point_feature(atlas_item(row)) for row in atlas] + [point_feature(osm_item(row)) for row in osm]
                    + [link_feature(link_item(row)) for row in links])
    return json_response({"type": "FeatureCollection", "features": features, **common}, "application/geo+json")


def parse_stop_id(raw: str) -> tuple[str, str]:
    """(layer, key) of a SLOID or a typed OSM id; a 400 naming ``id`` otherwise."""
    if SLOID_PATTERN.fullmatch(raw):
        return "atlas", raw
    match = OSM_ID_PATTERN.fullmatch(raw)
    if match and int(match.group(2)) <= MAX_OSM_ID:
        return "osm", raw
    raise BadRequestError(
        f"id {raw[:80]!r} is neither a SLOID (ch:1:sloid:...) nor an OSM id (node/123, way/45, relation/1)",
        parameter="id",
    )


def read_stop(layer: str, key: str) -> dict[str, Any]:
    """One stop of the published snapshot as ``/stops/<id>`` and the HTML stop pages show it:
    both sides' items (``atlas``, ``osm``), its ``links`` with evidence and the ``problems``
    naming either end, plus the ``sloids`` and ``osm_ids`` involved. ``NotFoundError`` when the
    stop is not published."""
    link_rows = db.session.execute(
        sa.select(LINKS.c.sloid, LINKS.c.osm_id, LINKS.c.method, LINKS.c.distance_m, LINKS.c.score,
                  LINKS.c.evidence)
        .where((LINKS.c.sloid if layer == "atlas" else LINKS.c.osm_id) == key)
        .order_by(LINKS.c.sloid, LINKS.c.osm_id)
    ).all()
    sloids = {key} if layer == "atlas" else {row.sloid for row in link_rows}
    osm_ids = {key} if layer == "osm" else {row.osm_id for row in link_rows}
    atlas_rows = db.session.execute(atlas_select().add_columns(ATLAS.c.parent_sloid, ATLAS.c.valid_to,
                                                               ATLAS.c.canton, ATLAS.c.unmatched_reason,
                                                               ATLAS.c.duplicate_key)
                                    .where(ATLAS.c.sloid.in_(sloids)).order_by(ATLAS.c.sloid)).all()
    osm_rows = db.session.execute(osm_select().add_columns(OSM.c.tags, OSM.c.operator, OSM.c.canton,
                                                           OSM.c.duplicate_key)
                                  .where(OSM.c.osm_id.in_(osm_ids)).order_by(OSM.c.osm_id)).all()
    own = atlas_rows if layer == "atlas" else osm_rows
    if not any((row.sloid if layer == "atlas" else row.osm_id) == key for row in own):
        raise NotFoundError(f"no stop {key!r} in the published snapshot", parameter="id")

    modes = _modes(sloids, osm_ids)
    atlas = [{**atlas_item(row), "parent_sloid": row.parent_sloid, "valid_to": row.valid_to,
              "canton": row.canton, "unmatched_reason": row.unmatched_reason, "duplicate_key": row.duplicate_key,
              "modes": modes.get(row.sloid, []), "urls": editor_urls("atlas", row.sloid, row.number)}
             for row in atlas_rows]
    osm = [{**osm_item(row), "tags": row.tags or {}, "operator": row.operator, "canton": row.canton,
            "duplicate_key": row.duplicate_key, "modes": modes.get(row.osm_id, []),
            "urls": editor_urls("osm", row.osm_id)} for row in osm_rows]
    links = [{"sloid": row.sloid, "osm_id": row.osm_id, "method": row.method, "distance_m": row.distance_m,
              "score": row.score, "evidence": row.evidence or {}} for row in link_rows]
    problems = [problem_item(row) for row in db.session.execute(
        sa.select(PROBLEMS).where(sa.or_(PROBLEMS.c.sloid.in_(sloids), PROBLEMS.c.osm_id.in_(osm_ids)))
        .order_by(PROBLEMS.c.priority, PROBLEMS.c.type, PROBLEMS.c.problem_key)
    ).all()]
    return {"atlas": atlas, "osm": osm, "links": links, "problems": problems, "sloids": sloids, "osm_ids": osm_ids}


@bp.get("/stops/<path:id>")
def stop_details(id: str) -> Any:
    """One stop with both sides, every link and its evidence, problems, decisions and notes."""
    reject_unknown(request.args, ())
    layer, key = parse_stop_id(id)
    record = read_stop(layer, key)
    sloids, osm_ids, problems = record["sloids"], record["osm_ids"], record["problems"]
    return json_response({
        "id": key, "layer": layer, "run_id": current_run_id(),
        "atlas": record["atlas"], "osm": record["osm"], "links": record["links"], "units": _units(osm_ids),
        "problems": problems,
        "routes": _routes(sloids, osm_ids),
        "decisions": _decisions(sloids, osm_ids, {p["key"] for p in problems}),
        "notes": _notes(sloids | osm_ids),
    })


def _modes(sloids: set[str], osm_ids: set[str]) -> dict[str, list[str]]:
    """The transport modes of each stop, in the order of MODES."""
    found: dict[str, set[str]] = {}
    for row in db.session.execute(sa.select(STOP_MODES).where(
            sa.or_(STOP_MODES.c.sloid.in_(sloids), STOP_MODES.c.osm_id.in_(osm_ids)))):
        found.setdefault(row.sloid or row.osm_id, set()).add(row.mode)
    return {key: [mode for mode in (*MODES, *sorted(values - set(MODES))) if mode in values]
            for key, values in found.items()}


def _routes(sloids: set[str], osm_ids: set[str]) -> list[dict[str, Any]]:
    """The routes serving the stop and the stops linked to it, one entry per route: which of
    these stops it serves (``stops``) and in which directions."""
    routes: dict[str, dict[str, Any]] = {}
    for row in db.session.execute(sa.select(STOP_ROUTES).where(
            sa.or_(STOP_ROUTES.c.sloid.in_(sloids), STOP_ROUTES.c.osm_id.in_(osm_ids)))
            .order_by(STOP_ROUTES.c.route_id, STOP_ROUTES.c.id)):
        route = routes.setdefault(row.route_id, {**route_item(row), "directions": set(), "stops": []})
        route["directions"].update(d for d in row.directions.split(",") if d)
        route["stops"].append(row.sloid or row.osm_id)
    items = [{**route, "directions": ",".join(sorted(route["directions"]))} for route in routes.values()]
    return sorted(items, key=route_sort_key)


def route_sort_key(item: dict[str, Any]) -> tuple[Any, ...]:
    """By mode (rail first), then ref in natural order (2 before 10), then id."""
    mode = MODES.index(item["mode"]) if item["mode"] in MODES else len(MODES)
    parts = tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                  for part in re.findall(r"\d+|\D+", item["ref"].casefold()))
    return (mode, parts, item["id"])


def _units(osm_ids: set[str]) -> list[dict[str, Any]]:
    """The stop units (single, pair, trio) the OSM elements belong to."""
    if not osm_ids:
        return []
    units = OsmStopUnitRow.__table__
    candidates = db.session.execute(
        sa.select(units).where(sa.or_(*(units.c.unit_key.contains(osm_id, autoescape=True) for osm_id in osm_ids)))
        .order_by(units.c.unit_key)
    ).all()
    return [{"key": row.unit_key, "kind": row.kind, "members": list(row.members or []),
             "lon": round(row.lon, 7), "lat": round(row.lat, 7)}
            for row in candidates if osm_ids & set(row.members or [])]


def _decisions(sloids: set[str], osm_ids: set[str], problem_keys: set[str]) -> list[dict[str, Any]]:
    table = Decision.__table__
    rows = db.session.execute(
        sa.select(table).where(sa.or_(table.c.sloid.in_(sloids), table.c.osm_id.in_(osm_ids),
                                      table.c.problem_key.in_(problem_keys)))
        .order_by(table.c.created_at, table.c.id)
    ).all()
    return [{"id": row.id, "kind": row.kind, "problem_key": row.problem_key, "problem_type": row.problem_type,
             "sloid": row.sloid, "osm_id": row.osm_id, "value": row.value or {},
             "created_at": iso_utc(row.created_at), "superseded_at": iso_utc(row.superseded_at),
             "orphaned_at": iso_utc(row.orphaned_at), "current": row.superseded_at is None}
            for row in rows]


def _notes(keys: set[str]) -> list[dict[str, Any]]:
    table = Note.__table__
    rows = db.session.execute(
        sa.select(table).where(table.c.entity_key.in_(keys)).order_by(table.c.created_at, table.c.id)
    ).all()
    return [{"id": row.id, "entity_type": row.entity_type, "entity_key": row.entity_key, "body": row.body,
             "created_at": iso_utc(row.created_at)} for row in rows]


@bp.get("/random")
def random_stop() -> Any:
    """A random stop (ATLAS platform or OSM element) under the filters; 404 when none qualifies."""
    args = request.args
    reject_unknown(args, RANDOM_PARAMETERS)
    bbox = parse_bbox(args.get("bbox")) if "bbox" in args else None
    layers = [layer for layer in parse_choices(args.get("layers"), ("atlas", "osm"), "layers")]
    filters = StopFilters.from_args(args)
    counts = {layer: db.session.execute(sa.select(sa.func.count()).select_from(
        layer_query(layer, filters, bbox).order_by(None).subquery())).scalar_one() for layer in layers}
    total = sum(counts.values())
    if total == 0:
        raise NotFoundError("no stop matches the filters")
    pick = random.randrange(total)
    for layer in layers:
        if pick < counts[layer]:
            row = db.session.execute(layer_query(layer, filters, bbox).offset(pick).limit(1)).one()
            item = ITEM[layer](row)
            return json_response({**item, "details": f"{bp.url_prefix}/stops/{item['id']}"})
        pick -= counts[layer]
    raise AssertionError("unreachable: pick lies below the total")  # pragma: no cover


@bp.get("/largest-distances")
def largest_distances() -> Any:
    """The links whose two ends lie furthest apart, largest first."""
    args = request.args
    reject_unknown(args, LARGEST_DISTANCES_PARAMETERS)
    limit = parse_limit(args.get("limit"), 100, LARGEST_DISTANCES_MAX)
    bbox = parse_bbox(args.get("bbox")) if "bbox" in args else None
    filters = StopFilters.from_args(args)
    query = (layer_query("link", filters, bbox).order_by(None)
             .order_by(LINKS.c.distance_m.desc(), LINKS.c.sloid, LINKS.c.osm_id).limit(limit))
    items = [link_item(row) for row in db.session.execute(query).all()]
    return json_response({"limit": limit, "links": items})
