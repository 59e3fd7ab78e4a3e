"""Aggregated reads: statistics, operators and the clustered overview for low zooms.

These are the hot reads of the map (every pan and every filter change asks for them), so each
answer is cached per snapshot and normalised query (see :mod:`.cache`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from flask import request

from ...db.dialect import grid_cell_columns
from ...errors import BadRequestError
from ...extensions import db
from ...pipeline.cantons import CANTON_CODES
from ...pipeline.engine import UNMATCHED_REASONS
from ...pipeline.stop_routes import MODES
from . import bp
from .cache import cached, current_run_id
from .filters import ATLAS, LINKS, OSM, PROBLEMS, STOP_FILTER_PARAMETERS, STOP_MODES, StopFilters
from .params import BBox, parse_bbox, parse_int, reject_unknown
from .serialize import json_response
from .stops import layer_query

STATISTICS_PARAMETERS = ("bbox", *STOP_FILTER_PARAMETERS)
OPERATORS_PARAMETERS: tuple[str, ...] = ()
FACETS_PARAMETERS: tuple[str, ...] = ()
OVERVIEW_PARAMETERS = ("bbox", "zoom", *STOP_FILTER_PARAMETERS)
MAX_ZOOM = 22
# Zoom policy: below this zoom the map shows clusters; from it on, the stops themselves.
STOPS_MIN_ZOOM = 14
# Grid cells per 256-pixel tile width: cells of 64 pixels.
CELLS_PER_TILE = 4
# More cells than any screen shows: refuse such requests instead of answering with every stop.
MAX_CELLS = 40_000


def _matched_sum(table: sa.FromClause) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(sa.func.sum(sa.case((table.c.matched.is_(True), 1), else_=0)), 0)


def _side_totals(layer: str, filters: StopFilters, bbox: BBox | None) -> dict[str, int]:
    scoped = layer_query(layer, filters, bbox).order_by(None).subquery()
    total, matched = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((scoped.c.matched.is_(True), 1),
                                                                        else_=0)), 0))
    ).one()
    return {"total": int(total), "matched": int(matched), "unmatched": int(total) - int(matched)}


def _statistics(filters: StopFilters, bbox: BBox | None) -> dict[str, Any]:
    atlas = _side_totals("atlas", filters, bbox)
    osm = _side_totals("osm", filters, bbox)
    links = layer_query("link", filters, bbox).order_by(None).subquery()
    per_method = {method: int(count) for method, count in db.session.execute(
        sa.select(links.c.method, sa.func.count()).group_by(links.c.method).order_by(links.c.method))}

    problems = PROBLEMS.alias("scoped_problems")
    query = sa.select(problems.c.type, problems.c.priority, sa.func.count()).group_by(
        problems.c.type, problems.c.priority)
    if filters.problem_type is not None:
        query = query.where(problems.c.type.in_(filters.problem_type))
    if filters.priority is not None:
        query = query.where(problems.c.priority.in_(filters.priority))
    if bbox is not None or filters.picks_stops:
        # Problems of the stops in scope (either side).
        sloids = layer_query("atlas", filters, bbox).order_by(None).with_only_columns(ATLAS.c.sloid)
        osm_ids = layer_query("osm", filters, bbox).order_by(None).with_only_columns(OSM.c.osm_id)
        query = query.where(sa.or_(problems.c.sloid.in_(sloids), problems.c.osm_id.in_(osm_ids)))
    per_type: dict[str, int] = defaultdict(int)
    per_priority: dict[str, int] = defaultdict(int)
    per_type_priority: dict[str, dict[str, int]] = defaultdict(dict)
    for problem_type, priority, count in db.session.execute(query):
        per_type[problem_type] += int(count)
        per_priority[str(priority)] += int(count)
        per_type_priority[problem_type][str(priority)] = int(count)
    return {
        "run_id": current_run_id(),
        "atlas": atlas,
        "osm": osm,
        "match_rate": {
            "atlas": round(atlas["matched"] / atlas["total"], 4) if atlas["total"] else None,
            "osm": round(osm["matched"] / osm["total"], 4) if osm["total"] else None,
        },
        "links": {"total": sum(per_method.values()), "per_method": per_method},
        "problems": {"total": sum(per_type.values()), "per_type": dict(sorted(per_type.items())),
                     "per_priority": dict(sorted(per_priority.items())),
                     "per_type_priority": {k: dict(sorted(v.items())) for k, v in sorted(per_type_priority.items())}},
    }


@bp.get("/statistics")
def statistics() -> Any:
    """Totals, match rates, links per method and problems per type and priority, all scoped by
    the same filters as ``/stops`` (``bbox`` optional)."""
    args = request.args
    reject_unknown(args, STATISTICS_PARAMETERS)
    bbox = parse_bbox(args.get("bbox")) if "bbox" in args else None
    filters = StopFilters.from_args(args)
    body = cached("statistics", [("bbox", list(bbox) if bbox else None), *filters.normalised()],
                  lambda: _statistics(filters, bbox))
    return json_response({**body, "bbox": list(bbox) if bbox else None, "filters": dict(filters.normalised())})


def _operators() -> list[dict[str, Any]]:
    platforms = db.session.execute(
        sa.select(ATLAS.c.operator, sa.func.count(), _matched_sum(ATLAS)).group_by(ATLAS.c.operator)
    ).all()
    problems = {operator: int(count) for operator, count in db.session.execute(
        sa.select(ATLAS.c.operator, sa.func.count())
        .select_from(PROBLEMS.join(ATLAS, ATLAS.c.sloid == PROBLEMS.c.sloid))
        .group_by(ATLAS.c.operator)
    )}
    links = {operator: int(count) for operator, count in db.session.execute(
        sa.select(ATLAS.c.operator, sa.func.count())
        .select_from(LINKS.join(ATLAS, ATLAS.c.sloid == LINKS.c.sloid))
        .group_by(ATLAS.c.operator)
    )}
    rows = [{"operator": operator, "platforms": int(total), "matched": int(matched),
             "unmatched": int(total) - int(matched), "links": int(links.get(operator, 0)),
             "problems": int(problems.get(operator, 0))}
            for operator, total, matched in platforms]
    return sorted(rows, key=lambda row: (-row["platforms"], row["operator"]))


@bp.get("/operators")
def operators() -> Any:
    """ATLAS operators with their platform, link and problem counts, largest first."""
    reject_unknown(request.args, OPERATORS_PARAMETERS)
    rows = cached("operators", [], _operators)
    return json_response({"run_id": current_run_id(), "operators": rows})


def _counts(query: sa.Select[Any]) -> dict[str, int]:
    return {str(value): int(count) for value, count in db.session.execute(query)}


def _facets() -> dict[str, Any]:
    """The values the map's filter menus offer, each with how many stops carry it."""
    atlas_cantons = _counts(sa.select(ATLAS.c.canton, sa.func.count()).group_by(ATLAS.c.canton))
    osm_cantons = _counts(sa.select(OSM.c.canton, sa.func.count()).group_by(OSM.c.canton))
    atlas_modes = _counts(sa.select(STOP_MODES.c.mode, sa.func.count()).where(STOP_MODES.c.sloid.is_not(None))
                          .group_by(STOP_MODES.c.mode))
    osm_modes = _counts(sa.select(STOP_MODES.c.mode, sa.func.count()).where(STOP_MODES.c.osm_id.is_not(None))
                        .group_by(STOP_MODES.c.mode))
    reasons = _counts(sa.select(ATLAS.c.unmatched_reason, sa.func.count()).where(ATLAS.c.unmatched_reason != "")
                      .group_by(ATLAS.c.unmatched_reason))
    operators = _counts(sa.select(OSM.c.operator, sa.func.count()).where(OSM.c.operator != "")
                        .group_by(OSM.c.operator))
    duplicates = {side: int(db.session.execute(sa.select(sa.func.count()).where(table.c.duplicate_key != ""))
                            .scalar_one()) for side, table in (("atlas", ATLAS), ("osm", OSM))}

    def both_sides(values: tuple[str, ...], atlas: dict[str, int], osm: dict[str, int]) -> list[dict[str, Any]]:
        return [{"value": value, "atlas": atlas.get(value, 0), "osm": osm.get(value, 0),
                 "count": atlas.get(value, 0) + osm.get(value, 0)} for value in values]

    return {
        "cantons": both_sides(CANTON_CODES, atlas_cantons, osm_cantons),
        "modes": both_sides(MODES, atlas_modes, osm_modes),
        "unmatched_reasons": [{"value": reason, "count": reasons.get(reason, 0)}
                              for reason in (*UNMATCHED_REASONS, *sorted(set(reasons) - set(UNMATCHED_REASONS)))],
        "osm_operators": [{"value": value, "count": count}
                          for value, count in sorted(operators.items(), key=lambda item: (-item[1], item[0]))],
        "duplicates": duplicates,
        "outside_cantons": {"atlas": atlas_cantons.get("", 0), "osm": osm_cantons.get("", 0)},
    }


@bp.get("/facets")
def facets() -> Any:
    """Filter menu values with counts: cantons and modes (per side), unmatched reasons, OSM
    operators, and how many stops are duplicates."""
    reject_unknown(request.args, FACETS_PARAMETERS)
    body = cached("facets", [], _facets)
    return json_response({"run_id": current_run_id(), **body})


def cell_size(zoom: int) -> float:
    """Grid cell edge in degrees at ``zoom``: a quarter of a web-map tile's width."""
    return 360.0 / (2**zoom * CELLS_PER_TILE)


def _overview(filters: StopFilters, bbox: BBox, zoom: int) -> dict[str, Any]:
    size = cell_size(zoom)
    cells: dict[tuple[int, int], dict[str, Any]] = {}
    for layer in ("atlas", "osm"):
        scoped = layer_query(layer, filters, bbox).order_by(None).subquery()
        gx, gy = grid_cell_columns(db.engine, scoped, size)
        query = (sa.select(gx.label("gx"), gy.label("gy"), sa.func.count(), _matched_sum(scoped),
                           sa.func.sum(scoped.c.lon), sa.func.sum(scoped.c.lat))
                 .group_by(gx, gy))
        for x, y, count, matched, lon_sum, lat_sum in db.session.execute(query):
            cell = cells.setdefault((int(x), int(y)), {
                "count": 0, "lon_sum": 0.0, "lat_sum": 0.0,
                "states": {"atlas_matched": 0, "atlas_unmatched": 0, "osm_matched": 0, "osm_unmatched": 0},
            })
            cell["count"] += int(count)
            cell["lon_sum"] += float(lon_sum)
            cell["lat_sum"] += float(lat_sum)
            cell["states"][f"{layer}_matched"] += int(matched)
            cell["states"][f"{layer}_unmatched"] += int(count) - int(matched)
    clusters = []
    for (x, y), cell in sorted(cells.items()):
        west, south = x * size - 180.0, y * size - 90.0
        clusters.append({
            "cell": [x, y], "count": cell["count"],
            "lon": round(cell["lon_sum"] / cell["count"], 7), "lat": round(cell["lat_sum"] / cell["count"], 7),
            "bbox": [round(west, 7), round(south, 7), round(west + size, 7), round(south + size, 7)],
            "states": cell["states"],
        })
    return {"clusters": clusters, "total": sum(cluster["count"] for cluster in clusters)}


@bp.get("/overview")
def overview() -> Any:
    """Stops of a bbox clustered on a grid sized by ``zoom`` (the low-zoom map layer)."""
    args = request.args
    reject_unknown(args, OVERVIEW_PARAMETERS)
    bbox = parse_bbox(args.get("bbox"))
    zoom = parse_int(args.get("zoom"), "zoom", 0, MAX_ZOOM)
    filters = StopFilters.from_args(args)
    size = cell_size(zoom)
    cells = ((bbox[2] - bbox[0]) / size + 1) * ((bbox[3] - bbox[1]) / size + 1)
    if cells > MAX_CELLS:
        raise BadRequestError(
            f"bbox spans about {int(cells)} grid cells at zoom {zoom} (at most {MAX_CELLS}); zoom out or "
            f"narrow the bbox", parameter="zoom")
    body = cached("overview", [("bbox", list(bbox)), ("zoom", zoom), *filters.normalised()],
                  lambda: _overview(filters, bbox, zoom))
    return json_response({
        "bbox": list(bbox), "zoom": zoom, "cell_size": size,
        # The zoom policy: clusters below STOPS_MIN_ZOOM, individual stops (/stops) from it on.
        "mode": "clusters" if zoom < STOPS_MIN_ZOOM else "stops",
        "stops_min_zoom": STOPS_MIN_ZOOM, "run_id": current_run_id(), **body,
    })
