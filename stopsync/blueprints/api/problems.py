"""The problems list: filtered, sorted and paged with an opaque cursor."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from flask import request

from ...db.dialect import bbox_clause
from ...errors import BadRequestError
from ...extensions import db
from ...models import ProblemState
from ...pipeline.cantons import CANTON_CODES
from ...pipeline.stop_routes import MODES
from . import bp
from .cache import current_run_id
from .cursor import decode_cursor, encode_cursor, query_fingerprint
from .filters import ATLAS, LINKS, MAX_PRIORITY, MIN_PRIORITY, OSM, PROBLEMS, STOP_MODES, parse_known
from .params import (
    parse_bbox,
    parse_choice,
    parse_choices,
    parse_datetime,
    parse_int_values,
    parse_limit,
    parse_values,
    reject_unknown,
)
from .serialize import coordinate, iso_utc, json_response, problem_item

PROBLEMS_PARAMETERS = ("type", "priority", "status", "operator", "osm_operator", "canton", "mode", "bbox",
                       "updated_since", "sort", "limit", "cursor")
STATUSES = ("new", "persisting", "reopened", "decided")
SORTS = ("priority", "type", "distance")
PROBLEMS_DEFAULT_LIMIT = 100
PROBLEMS_MAX_LIMIT = 1000

STATES = ProblemState.__table__
# The link a problem is about (unmatched problems have none), for its distance.
PROBLEM_LINK = LINKS.alias("problem_link")


def _sort_keys(sort: str) -> list[sa.ColumnElement[Any]]:
    """Ascending keys ending in the row id, so that keyset paging is total and stable."""
    if sort == "type":
        return [PROBLEMS.c.type, PROBLEMS.c.priority, PROBLEMS.c.id]
    if sort == "distance":
        # Largest distance first; problems without a link (no distance) last.
        return [-sa.func.coalesce(PROBLEM_LINK.c.distance_m, -1.0), PROBLEMS.c.id]
    return [PROBLEMS.c.priority, PROBLEMS.c.type, PROBLEMS.c.id]


def _with_link(selectable: sa.FromClause) -> sa.FromClause:
    return selectable.outerjoin(PROBLEM_LINK, sa.and_(PROBLEM_LINK.c.sloid == PROBLEMS.c.sloid,
                                                      PROBLEM_LINK.c.osm_id == PROBLEMS.c.osm_id))


# The JSON types of each sort's key values, to validate a cursor before it reaches SQL.
KEY_TYPES: dict[str, tuple[tuple[type, ...], ...]] = {
    "priority": ((int,), (str,), (int,)),
    "type": ((str,), (int,), (int,)),
    "distance": ((int, float), (int,)),
}


def _cursor_keys(position: dict[str, Any], sort: str) -> list[Any]:
    keys = position.get("k")
    types = KEY_TYPES[sort]
    if (not isinstance(keys, list) or len(keys) != len(types)
            or not all(isinstance(v, t) and not isinstance(v, bool) for v, t in zip(keys, types, strict=True))):
        raise BadRequestError("cursor is malformed", parameter="cursor")
    return keys


def _operator_clause(operators: list[str]) -> sa.ColumnElement[bool]:
    """The problem's ATLAS platform, or an ATLAS platform linked to its OSM element, is run by
    one of ``operators``."""
    linked = ATLAS.alias("linked_atlas")
    return sa.or_(
        sa.exists().where(ATLAS.c.sloid == PROBLEMS.c.sloid, ATLAS.c.operator.in_(operators)),
        sa.exists().where(LINKS.c.osm_id == PROBLEMS.c.osm_id, LINKS.c.sloid == linked.c.sloid,
                          linked.c.operator.in_(operators)),
    )


def _osm_operator_clause(operators: list[str]) -> sa.ColumnElement[bool]:
    """The problem's OSM element, or an OSM element linked to its ATLAS platform, carries one of
    ``operators`` (its ``operator`` tag)."""
    linked = OSM.alias("linked_osm")
    return sa.or_(
        sa.exists().where(OSM.c.osm_id == PROBLEMS.c.osm_id, OSM.c.operator.in_(operators)),
        sa.exists().where(LINKS.c.sloid == PROBLEMS.c.sloid, LINKS.c.osm_id == linked.c.osm_id,
                          linked.c.operator.in_(operators)),
    )


def _mode_clause(modes: tuple[str, ...]) -> sa.ColumnElement[bool]:
    """A stop the problem names is served by one of ``modes``."""
    return sa.or_(
        sa.exists().where(STOP_MODES.c.sloid == PROBLEMS.c.sloid, STOP_MODES.c.mode.in_(modes)),
        sa.exists().where(STOP_MODES.c.osm_id == PROBLEMS.c.osm_id, STOP_MODES.c.mode.in_(modes)),
    )


def _bbox_clause(bbox: tuple[float, float, float, float]) -> sa.ColumnElement[bool]:
    """Where a problem is: at its ATLAS platform, else at its OSM element."""
    return sa.or_(
        sa.exists().where(ATLAS.c.sloid == PROBLEMS.c.sloid, bbox_clause(db.engine, ATLAS, bbox)),
        sa.and_(PROBLEMS.c.sloid.is_(None),
                sa.exists().where(OSM.c.osm_id == PROBLEMS.c.osm_id, bbox_clause(db.engine, OSM, bbox))),
    )


@bp.get("/problems")
def problems() -> Any:
    """Problems of the published snapshot, filtered, sorted and paged."""
    reject_unknown(request.args, PROBLEMS_PARAMETERS)
    return json_response(problems_page(request.args))


def problems_page(args: Mapping[str, str]) -> dict[str, Any]:
    """One page of problems for the ``PROBLEMS_PARAMETERS`` in ``args`` (the caller rejects any
    others): the JSON API's body, also rendered by the ``/problems`` page."""
    types = parse_values(args.get("type"), "type")
    priorities = parse_int_values(args.get("priority"), "priority", MIN_PRIORITY, MAX_PRIORITY)
    statuses = parse_choices(args.get("status"), STATUSES, "status") if "status" in args else None
    operators = parse_values(args.get("operator"), "operator")
    osm_operators = parse_values(args.get("osm_operator"), "osm_operator")
    cantons = parse_known(args.get("canton"), "canton", CANTON_CODES, fold=str.upper)
    modes = parse_known(args.get("mode"), "mode", MODES)
    bbox = parse_bbox(args.get("bbox")) if "bbox" in args else None
    updated_since = parse_datetime(args.get("updated_since"), "updated_since")
    sort = parse_choice(args.get("sort"), SORTS, "sort", "priority")
    limit = parse_limit(args.get("limit"), PROBLEMS_DEFAULT_LIMIT, PROBLEMS_MAX_LIMIT)

    normalised: list[tuple[str, Any]] = [
        ("type", sorted(types or [])), ("priority", sorted(priorities or [])), ("status", sorted(statuses or [])),
        ("operator", sorted(operators or [])), ("osm_operator", sorted(osm_operators or [])),
        ("canton", sorted(cantons or [])), ("mode", sorted(modes or [])), ("bbox", list(bbox) if bbox else None),
        ("updated_since", updated_since.isoformat() if updated_since else None), ("sort", sort),
    ]
    run_id = current_run_id()
    fingerprint = query_fingerprint(normalised)
    position = decode_cursor(args.get("cursor"), run_id, fingerprint)

    # Two steps: the page's ids from ``problems`` alone (sorting only what the keys need), then
    # the details of just those rows.
    keys = _sort_keys(sort)
    source = _with_link(PROBLEMS) if sort == "distance" else PROBLEMS
    page_query = sa.select(PROBLEMS.c.id, *(key.label(f"k{index}") for index, key in enumerate(keys)))
    page_query = page_query.select_from(source).order_by(*keys)
    if types is not None:
        page_query = page_query.where(PROBLEMS.c.type.in_(types))
    if priorities is not None:
        page_query = page_query.where(PROBLEMS.c.priority.in_(priorities))
    if statuses is not None:
        page_query = page_query.where(PROBLEMS.c.status.in_(statuses))
    if operators is not None:
        page_query = page_query.where(_operator_clause(operators))
    if osm_operators is not None:
        page_query = page_query.where(_osm_operator_clause(osm_operators))
    if cantons is not None:
        page_query = page_query.where(PROBLEMS.c.canton.in_(cantons))
    if modes is not None:
        page_query = page_query.where(_mode_clause(modes))
    if bbox is not None:
        page_query = page_query.where(_bbox_clause(bbox))
    if updated_since is not None:
        page_query = page_query.where(sa.exists().where(STATES.c.problem_key == PROBLEMS.c.problem_key,
                                                        STATES.c.updated_at >= updated_since.astimezone(UTC)))
    if position is not None:
        page_query = page_query.where(sa.tuple_(*keys) > sa.tuple_(*_cursor_keys(position, sort)))
    ids = page_query.limit(limit + 1).subquery("page")
    query = (
        sa.select(PROBLEMS, PROBLEM_LINK.c.distance_m, STATES.c.updated_at,
                  sa.func.coalesce(ATLAS.c.lon, OSM.c.lon).label("lon"),
                  sa.func.coalesce(ATLAS.c.lat, OSM.c.lat).label("lat"),
                  *(ids.c[f"k{index}"] for index in range(len(keys))))
        .select_from(
            _with_link(ids.join(PROBLEMS, PROBLEMS.c.id == ids.c.id))
            .outerjoin(STATES, STATES.c.problem_key == PROBLEMS.c.problem_key)
            .outerjoin(ATLAS, ATLAS.c.sloid == PROBLEMS.c.sloid)
            .outerjoin(OSM, OSM.c.osm_id == PROBLEMS.c.osm_id)
        )
        .order_by(*(ids.c[f"k{index}"] for index in range(len(keys))))
    )
    rows = list(db.session.execute(query).all())
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor(run_id, fingerprint, {"k": [getattr(last, f"k{i}") for i in range(len(keys))]})
    items = []
    for row in page:
        item = problem_item(row)
        item.update(
            distance_m=row.distance_m,
            updated_at=iso_utc(row.updated_at),
            lon=coordinate(row.lon) if row.lon is not None else None,
            lat=coordinate(row.lat) if row.lat is not None else None,
        )
        items.append(item)
    return {"sort": sort, "limit": limit, "next_cursor": next_cursor, "problems": items}

