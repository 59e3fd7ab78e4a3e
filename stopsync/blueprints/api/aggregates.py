"""Aggregated reads: statistics, operators and the clustered overview for low zooms.

These are the hot reads of the map (every pan and every filter change asks for them), so each
answer is cached per snapshot and normalised query (see :mod:`.cache`).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from flask import current_app, request

from ...db.dialect import (
    FIXED_POINT_HIGH,
    FIXED_POINT_LOW,
    FIXED_POINT_OFFSETS,
    bbox_strips_clause,
    fixed_point_columns,
    grid_cell_columns,
)
from ...errors import BadRequestError
from ...extensions import db
from ...models.snapshot import OverviewCellRow
from ...pipeline.cantons import CANTON_CODES
from ...pipeline.engine import UNMATCHED_REASONS
from ...pipeline.overview import (
    CELL_VALUES,
    FINEST_PRECOMPUTED_ZOOM,
    PRECOMPUTED_ZOOMS,
    STOPS_MIN_ZOOM,
    add_to_cell,
    cell_size,
)
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
# STOPS_MIN_ZOOM (the zoom policy: clusters below it, the stops themselves from it on) and
# CELLS_PER_TILE (cells of 64 pixels) live in pipeline/overview.py, which publication shares.
# More cells than any screen shows: refuse such requests instead of answering with every stop.
MAX_CELLS = 40_000

log = logging.getLogger(__name__)


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


# -- the overview -----------------------------------------------------------------------------------
#
# The clusters of a cell are the stops in the bbox whose ``grid_cell_columns`` at the zoom's cell
# size is that cell: their count per side and state, and their mean position. Means come from
# integer sums (``fixed_point_columns``: each coordinate exactly, as integers), so that they do not
# depend on the order in which the database adds rows up, sums of parts equal the sum of the whole,
# and the mean is the exact mean of the stored coordinates, rounded to 7 decimals.
#
# Without filters and at a precomputed zoom, most of a bbox is answered from ``overview_cells``
# (written by publication, swapped with the snapshot) and only a thin border is aggregated live:
#
# - At each zoom L from the requested one to the finest precomputed (13), the "inner" cells are
#   those whose edges lie at least EDGE_MARGIN inside the bbox. Every stop assigned to such a cell
#   lies inside the bbox (a computed cell differs from the exact one by ~1e-13 degrees at most),
#   under SQLite's exact comparisons and PostGIS's outward-rounded ``&&`` alike, so the stored row
#   counts exactly the stops the live query would count there. The inner cells of zoom L, split
#   in half, lie inside those of zoom L + 1 (cell edges are exact binary numbers, compared with the
#   same thresholds), so the precomputed part is the inner cells of the coarsest zoom plus, at each
#   finer zoom, the ring of inner cells around the coarser ones (one cell wide per side).
# - A stop's cell at zoom L, halved (L - z) times, is its cell at the requested zoom z (see
#   pipeline/overview.py), so each precomputed row adds to exactly one requested cell.
# - The rest of the bbox (the stops that the live bbox predicate selects and that are not in an
#   inner cell of the finest zoom: a border about 0.011 degrees wide) is aggregated live with the
#   live path's own predicate and grid columns, in disjoint parts (by the stop's finest cell: left
#   or right of the inner cells, below them, above them), each scanning only strips along the
#   edges (wide enough for PostGIS's fuzz).
#
# Every stop the live query would count is so counted exactly once, in the same requested cell,
# with the same matched state and the same integer coordinates: counts, states, sums, hence
# clusters, means and cell boxes, are identical (tests/api/test_overview_precomputed.py).

OVERVIEW_CELLS = OverviewCellRow.__table__
# How far inside the bbox the edges of an inner cell must lie (degrees): far more than the rounding
# of a computed cell (~1e-13 degrees), far less than any meaningful coordinate difference.
EDGE_MARGIN = 1e-9
# How far beyond a box PostGIS's ``&&`` may still select points (degrees): it compares boxes rounded
# outward to single precision, two units in the last place (3e-5 degrees at 180 degrees) at most.
BOX_FUZZ = 1e-4
# The extension key of the per-run answer to "are the precomputed cells those of the snapshot?".
CELLS_READY = "stopsync_overview_cells_ready"

# cell -> [atlas, atlas matched, osm, osm matched, lon hi, lon lo, lat hi, lat lo] (pipeline/overview.py)
Cells = dict[tuple[int, int], list[int]]
Rect = tuple[int, int, int, int]  # inclusive cell ranges: x0, x1, y0, y1


def _live_select(layer: str, query: sa.Select[Any], size: float | sa.ColumnElement[float]) -> sa.Select[Any]:
    """The stops of ``query`` (a ``layer_query`` of ``layer``, maybe narrowed) per grid cell: side
    (0 ATLAS, 2 OSM), cell, count, matched count and coordinate sums."""
    scoped = query.order_by(None).subquery()
    gx, gy = grid_cell_columns(db.engine, scoped, size)
    sums = [sa.func.sum(column) for column in fixed_point_columns(db.engine, scoped)]
    side = sa.literal(0 if layer == "atlas" else 2, sa.Integer)
    return sa.select(side, gx, gy, sa.func.count(), _matched_sum(scoped), *sums).group_by(gx, gy)


def _aggregate_live(cells: Cells, statement: sa.Executable, params: dict[str, Any] | None = None) -> None:
    """Add the rows of ``_live_select`` statements (one, or several in a UNION ALL) to ``cells``."""
    for side, x, y, count, matched, *coordinates in db.session.execute(statement, params):
        values = [0, 0, 0, 0, *(int(value) for value in coordinates)]
        values[side], values[side + 1] = int(count), int(matched)
        add_to_cell(cells, (int(x), int(y)), values)


def _inner(bbox: BBox, zoom: int) -> Rect:
    """The cells of ``zoom`` lying entirely (with EDGE_MARGIN) inside ``bbox``; empty when x0 > x1
    or y0 > y1. Cell edges (``c * size - 180``) are exact in binary."""
    size = cell_size(zoom)

    def first(low: float, offset: float) -> int:
        cell = math.ceil((low + offset) / size)
        while cell * size - offset < low:
            cell += 1
        while (cell - 1) * size - offset >= low:
            cell -= 1
        return cell

    def last(high: float, offset: float) -> int:
        cell = math.floor((high + offset) / size) - 1
        while (cell + 1) * size - offset > high:
            cell -= 1
        while (cell + 2) * size - offset <= high:
            cell += 1
        return cell

    min_lon, min_lat, max_lon, max_lat = bbox
    return (first(min_lon + EDGE_MARGIN, 180.0), last(max_lon - EDGE_MARGIN, 180.0),
            first(min_lat + EDGE_MARGIN, 90.0), last(max_lat - EDGE_MARGIN, 90.0))


def _empty(rect: Rect) -> bool:
    return rect[0] > rect[1] or rect[2] > rect[3]


def _precomputed_rects(bbox: BBox, zoom: int) -> tuple[list[tuple[int, Rect]], Rect] | None:
    """The (zoom, rect) pieces of overview_cells that tile the inner cells of the finest zoom, and
    those inner cells (in finest-zoom units); None when no cell of any zoom is inner."""
    pieces: list[tuple[int, Rect]] = []
    covered: Rect | None = None  # the inner cells so far, in units of the current zoom
    for level in range(zoom, FINEST_PRECOMPUTED_ZOOM + 1):
        if covered is not None:
            covered = (2 * covered[0], 2 * covered[1] + 1, 2 * covered[2], 2 * covered[3] + 1)
        inner = _inner(bbox, level)
        if _empty(inner):
            if covered is not None:
                return None  # cannot happen (see above); the caller then aggregates live
            continue
        if covered is None:
            pieces.append((level, inner))
        else:
            x0, x1, y0, y1 = inner
            cx0, cx1, cy0, cy1 = covered
            if not (x0 <= cx0 and cx1 <= x1 and y0 <= cy0 and cy1 <= y1):
                return None  # cannot happen either
            ring = [(x0, cx0 - 1, y0, y1), (cx1 + 1, x1, y0, y1), (cx0, cx1, y0, cy0 - 1), (cx0, cx1, cy1 + 1, y1)]
            pieces += [(level, rect) for rect in ring if not _empty(rect)]
        covered = inner
    return (pieces, covered) if covered is not None else None


def _rect_clause(level: int, rect: Rect) -> sa.ColumnElement[bool]:
    x0, x1, y0, y1 = rect
    table = OVERVIEW_CELLS
    # Equality where the range is one cell: the index on (zoom, gy, gx) then serves a row of cells.
    gx = table.c.gx == x0 if x0 == x1 else table.c.gx.between(x0, x1)
    gy = table.c.gy == y0 if y0 == y1 else table.c.gy.between(y0, y1)
    return sa.and_(table.c.zoom == level, gx, gy)


def _precomputed_ready() -> bool:
    """Whether overview_cells holds the grid of the published stops (publication and the migration
    write it; a snapshot loaded by other means has none): per run, its totals at zoom 0 against the
    stop tables."""
    ready: dict[str, bool] = current_app.extensions.setdefault(CELLS_READY, {})
    run_id = current_run_id()
    if run_id not in ready:
        zoom_0 = OVERVIEW_CELLS.c.zoom == PRECOMPUTED_ZOOMS[0]
        counts = db.session.execute(sa.select(
            sa.select(sa.func.count()).select_from(ATLAS).scalar_subquery(),
            sa.select(sa.func.count()).select_from(OSM).scalar_subquery(),
            sa.select(sa.func.coalesce(sa.func.sum(OVERVIEW_CELLS.c.atlas_count), 0)).where(zoom_0).scalar_subquery(),
            sa.select(sa.func.coalesce(sa.func.sum(OVERVIEW_CELLS.c.osm_count), 0)).where(zoom_0).scalar_subquery(),
        )).one()
        if len(ready) > 16:
            ready.clear()
        ready[run_id] = int(counts[0]) == int(counts[2]) and int(counts[1]) == int(counts[3])
        if not ready[run_id]:
            log.warning("overview_cells do not match the published stops; the overview aggregates live",
                        extra={"run": run_id})
    return ready[run_id]


# The parts of the live border, by where their stops' finest cells lie around the inner cells, and
# the strips (see _border_params) that hold their stops.
BORDER_PARTS = {"sides": ("left", "right"), "bottom": ("bottom",), "top": ("top",)}
BOX_KEYS = ("min_lon", "min_lat", "max_lon", "max_lat")
# Per dialect: the live aggregation of the border, built once (bound parameters; see _border_params).
_border_statements: dict[str, sa.CompoundSelect] = {}


def _border_statement() -> sa.CompoundSelect:
    """Per side (ATLAS, OSM) and part, the stops that the live bbox predicate selects and whose
    finest-zoom cell lies left or right of, below or above the inner cells ``fx0..fx1 x fy0..fy1``,
    per cell of size ``size``; each part scans only its strips (which hold all of its stops)."""
    name = db.engine.dialect.name
    statement = _border_statements.get(name)
    if statement is not None:
        return statement

    def box(prefix: str) -> tuple[Any, Any, Any, Any]:
        west, south, east, north = (sa.bindparam(prefix + key, type_=sa.Float) for key in BOX_KEYS)
        return west, south, east, north

    bbox = box("")
    fx0, fx1, fy0, fy1 = (sa.bindparam(key, type_=sa.Integer) for key in ("fx0", "fx1", "fy0", "fy1"))
    size = sa.bindparam("size", type_=sa.Float)
    selects = []
    for layer, stops in (("atlas", ATLAS), ("osm", OSM)):
        x, y = grid_cell_columns(db.engine, stops, cell_size(FINEST_PRECOMPUTED_ZOOM))
        cells = {"sides": sa.or_(x < fx0, x > fx1), "bottom": sa.and_(x.between(fx0, fx1), y < fy0),
                 "top": sa.and_(x.between(fx0, fx1), y > fy1)}
        for part, strips in BORDER_PARTS.items():
            query = layer_query(layer, StopFilters(), None).where(
                bbox_strips_clause(db.engine, stops, bbox, [box(f"{strip}_") for strip in strips]), cells[part])
            selects.append(_live_select(layer, query, size))
    statement = _border_statements[name] = sa.union_all(*selects)
    return statement


def _border_params(bbox: BBox, zoom: int, inner: Rect) -> dict[str, Any]:
    """The parameters of _border_statement: the strips hold the stops of their part (a stop of a
    finest cell left of fx0 lies left of the cell's west edge, give or take 1e-13 degrees; a stop
    the live predicate selects lies in the bbox, give or take BOX_FUZZ)."""
    fx0, fx1, fy0, fy1 = inner
    finest = cell_size(FINEST_PRECOMPUTED_ZOOM)
    west, east = fx0 * finest - 180.0 - BOX_FUZZ, (fx1 + 1) * finest - 180.0 + BOX_FUZZ
    south, north = fy0 * finest - 90.0 - BOX_FUZZ, (fy1 + 1) * finest - 90.0 + BOX_FUZZ
    min_lon, min_lat, max_lon, max_lat = (bbox[0] - BOX_FUZZ, bbox[1] - BOX_FUZZ, bbox[2] + BOX_FUZZ,
                                          bbox[3] + BOX_FUZZ)
    strips = {"left": (min_lon, min_lat, west + 2 * BOX_FUZZ, max_lat),
              "right": (east - 2 * BOX_FUZZ, min_lat, max_lon, max_lat),
              "bottom": (west, min_lat, east, south + 2 * BOX_FUZZ),
              "top": (west, north - 2 * BOX_FUZZ, east, max_lat)}
    params: dict[str, Any] = dict(zip(BOX_KEYS, bbox, strict=True))
    params.update(fx0=fx0, fx1=fx1, fy0=fy0, fy1=fy1, size=cell_size(zoom))
    for part, strip in strips.items():
        params.update(zip((f"{part}_{key}" for key in BOX_KEYS), strip, strict=True))
    return params


def _precomputed_overview(bbox: BBox, zoom: int) -> Cells | None:
    """The unfiltered overview's cells from overview_cells plus a live border; None when the bbox
    has no inner cell (the live query is then as cheap)."""
    plan = _precomputed_rects(bbox, zoom)
    if plan is None:
        return None
    pieces, inner = plan
    cells: Cells = {}
    table = OVERVIEW_CELLS
    rows = db.session.execute(
        sa.select(table.c.zoom, table.c.gx, table.c.gy, *(table.c[name] for name in CELL_VALUES))
        .where(sa.or_(*(_rect_clause(level, rect) for level, rect in pieces)))
    )
    for level, x, y, *values in rows:
        shift = level - zoom
        add_to_cell(cells, (x >> shift, y >> shift), [int(value) for value in values])
    _aggregate_live(cells, _border_statement(), _border_params(bbox, zoom, inner))
    return cells


def _mean(high: int, low: int, count: int, offset: float) -> float:
    """The mean of ``count`` coordinates whose fixed-point parts sum to ``high`` and ``low``, minus
    the offset the fixed point added, rounded to 7 decimals (exactly; ties to even)."""
    low_units, high_units = int(FIXED_POINT_LOW), int(FIXED_POINT_HIGH)
    # The mean in units of 1e-7 degrees is numerator / denominator.
    numerator = (high * low_units + low) * 10**7
    denominator = count * high_units * low_units
    quotient, remainder = divmod(numerator, denominator)
    if 2 * remainder > denominator or (2 * remainder == denominator and quotient % 2):
        quotient += 1
    return (quotient - int(offset) * 10**7) / 10**7


def _overview(filters: StopFilters, bbox: BBox, zoom: int, *, precomputed: bool = True) -> dict[str, Any]:
    """The clusters of ``bbox`` at ``zoom``: from overview_cells when unfiltered at a precomputed
    zoom, else (or with ``precomputed`` False) aggregated live; the same answer either way."""
    size = cell_size(zoom)
    cells: Cells | None = None
    if precomputed and not filters.active and zoom in PRECOMPUTED_ZOOMS and _precomputed_ready():
        cells = _precomputed_overview(bbox, zoom)
    if cells is None:
        cells = {}
        # One statement per layer: as one UNION ALL, PostgreSQL plans a parallel append whose
        # worker start-up doubled the time of a filtered country overview on two cores.
        for layer in ("atlas", "osm"):
            _aggregate_live(cells, _live_select(layer, layer_query(layer, filters, bbox), size))
    clusters = []
    for (x, y), (atlas, atlas_matched, osm, osm_matched, *sums) in sorted(cells.items()):
        west, south = x * size - 180.0, y * size - 90.0
        count = atlas + osm
        clusters.append({
            "cell": [x, y], "count": count,
            "lon": _mean(sums[0], sums[1], count, FIXED_POINT_OFFSETS[0]),
            "lat": _mean(sums[2], sums[3], count, FIXED_POINT_OFFSETS[1]),
            "bbox": [round(west, 7), round(south, 7), round(west + size, 7), round(south + size, 7)],
            "states": {"atlas_matched": atlas_matched, "atlas_unmatched": atlas - atlas_matched,
                       "osm_matched": osm_matched, "osm_unmatched": osm - osm_matched},
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
