"""Publication: the rows of a new snapshot, handed to the backend's publisher
(:func:`stopsync.db.dialect.snapshot_publisher`), which swaps them in atomically and applies the
decision lifecycle in the same transaction as the swap.

Readers see either the old snapshot or the new one, never a mix or an empty table. The review
tables are touched only by the lifecycle; a failure anywhere leaves both as they were.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from ..db.dialect import snapshot_publisher
from ..db.publication import StepCallback
from ..models import AtlasPlatformRow, MatchRow, OsmElementRow, OsmStopUnitRow, ProblemRow, SnapshotMeta
from ..models.snapshot import OverviewCellRow, StopModeRow, StopRouteRow
from .cantons import assign_cantons
from .lifecycle import LifecycleResult, apply_lifecycle
from .match import MatchResult
from .overview import overview_cell_rows
from .problems import Problem
from .stop_routes import StopRoute, osm_stop_routes, stop_modes

log = logging.getLogger(__name__)

SNAPSHOT_MODEL_TABLES = {
    "atlas_platforms": AtlasPlatformRow.__table__,
    "osm_elements": OsmElementRow.__table__,
    "osm_stop_units": OsmStopUnitRow.__table__,
    "matches": MatchRow.__table__,
    "problems": ProblemRow.__table__,
    "snapshot_meta": SnapshotMeta.__table__,
    "stop_modes": StopModeRow.__table__,
    "stop_routes": StopRouteRow.__table__,
    "overview_cells": OverviewCellRow.__table__,
}
DUPLICATE_TYPES = {"duplicate_atlas": "sloids", "duplicate_osm": "osm_ids"}


def _duplicate_keys(problems: Sequence[Problem]) -> dict[str, str]:
    """Each member of a duplicate group (SLOID or OSM id) -> the key of its duplicate problem."""
    keys: dict[str, str] = {}
    for problem in problems:
        members_field = DUPLICATE_TYPES.get(problem.type)
        if members_field is None:
            continue
        members = problem.evidence.get(members_field) or [problem.sloid or problem.osm_id]
        for member in members:
            if member:
                keys.setdefault(str(member), problem.key)
    return keys


def _unit_keys(units: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Each member of a pair or trio (OSM id) -> the key of its unit (what match's ``unit_of``
    holds, derived from the published unit rows); singles are left out."""
    keys: dict[str, str] = {}
    for unit in units:
        members = unit.get("members") or []
        if len(members) > 1:
            keys.update((str(member), str(unit["unit_key"])) for member in members)
    return keys


def snapshot_rows(result: MatchResult, problems: Sequence[Problem] | None = None) -> dict[str, list[dict[str, Any]]]:
    """The rows of every snapshot table but problems and snapshot_meta, derived from one match
    result (``problems`` marks the duplicates; default: the result's own)."""
    problems = result.problems if problems is None else problems
    linked_sloids = {link.sloid for link in result.links}
    linked_osm = {link.osm_id for link in result.links}
    reasons = result.unmatched_reasons
    duplicates = _duplicate_keys(problems)
    units = list(result.units)
    unit_of = _unit_keys(units)
    platforms: dict[str, Any] = {}
    for p in result.atlas:
        # ATLAS should not repeat a SLOID; if it does, the first row wins (the key is unique).
        platforms.setdefault(p.sloid, p)
    atlas = list(platforms.values())
    atlas_cantons = assign_cantons([p.lat for p in atlas], [p.lon for p in atlas])
    osm_cantons = assign_cantons([e.lat for e in result.osm], [e.lon for e in result.osm])
    atlas_rows = [
        {"sloid": p.sloid, "number": p.number, "designation": p.designation, "name": p.name,
         "operator": p.operator, "valid_to": p.valid_to, "parent_sloid": p.parent_sloid,
         "lat": p.lat, "lon": p.lon, "matched": p.sloid in linked_sloids, "canton": canton,
         "unmatched_reason": "" if p.sloid in linked_sloids or p.sloid not in reasons else reasons[p.sloid].reason,
         "duplicate_key": duplicates.get(p.sloid, "")}
        for p, canton in zip(atlas, atlas_cantons, strict=True)
    ]
    osm_rows = [
        {
            "osm_id": e.osm_id, "osm_type": e.osm_type, "osm_numeric_id": e.osm_numeric_id,
            "kind": e.kind, "name": e.name, "uic_ref": e.uic_ref, "local_ref": e.local_ref,
            "lat": e.lat, "lon": e.lon, "tags": e.tags, "matched": e.osm_id in linked_osm,
            "operator": e.tags.get("operator", "").strip()[:128], "canton": canton,
            "duplicate_key": duplicates.get(e.osm_id, ""), "unit_key": unit_of.get(e.osm_id, ""),
        }
        for e, canton in zip(result.osm, osm_cantons, strict=True)
    ]
    match_rows = [
        {"sloid": link.sloid, "osm_id": link.osm_id, "method": link.method,
         "distance_m": link.distance_m, "score": link.score, "evidence": link.evidence}
        for link in result.links
    ]
    # A stored match of an older version has no timetable routes.
    timetable_routes = getattr(result, "timetable_routes", None) or {}
    osm_routes = osm_stop_routes(result.routes)
    atlas_modes, osm_modes = stop_modes(platforms, result.osm, result.links, osm_routes, timetable_routes)
    osm_ids = {e.osm_id for e in result.osm}
    mode_rows = [{"sloid": sloid, "osm_id": None, "mode": mode}
                 for sloid, modes in sorted(atlas_modes.items()) for mode in sorted(modes)]
    mode_rows += [{"sloid": None, "osm_id": osm_id, "mode": mode}
                  for osm_id, modes in sorted(osm_modes.items()) for mode in sorted(modes)]
    route_rows = [_route_row(route, sloid=sloid) for sloid, routes in sorted(timetable_routes.items())
                  if sloid in platforms for route in routes]
    route_rows += [_route_row(route, osm_id=osm_id) for osm_id, routes in sorted(osm_routes.items())
                   if osm_id in osm_ids for route in routes]
    return {"atlas_platforms": atlas_rows, "osm_elements": osm_rows, "osm_stop_units": units,
            "matches": match_rows, "stop_modes": mode_rows, "stop_routes": route_rows,
            # The unfiltered /overview grid of exactly these stops, swapped in with them.
            "overview_cells": overview_cell_rows(atlas_rows, osm_rows)}


def _route_row(route: StopRoute, *, sloid: str | None = None, osm_id: str | None = None) -> dict[str, Any]:
    return {"sloid": sloid, "osm_id": osm_id, "source": route.source, "route_id": route.route_id,
            "route_ref": route.ref, "ref_key": route.ref_key[:64], "route_name": route.name, "mode": route.mode,
            "operator": route.operator, "directions": route.directions}


def problem_rows(problems: Sequence[Problem], status_of: Mapping[str, str],
                 canton_of: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Problem rows; ``canton_of`` maps SLOIDs and OSM ids to cantons (a problem lies in the
    canton of its ATLAS platform, else of its OSM element)."""
    cantons = canton_of or {}
    return [
        {"problem_key": p.key, "type": p.type, "priority": p.priority, "sloid": p.sloid,
         "osm_id": p.osm_id, "side": p.side, "side_reason": p.side_reason[:255],
         "evidence": p.evidence, "fingerprint": p.fingerprint, "status": status_of.get(p.key, "new"),
         "canton": cantons.get(p.sloid or "") or cantons.get(p.osm_id or "") or ""}
        for p in problems
    ]


def publish_snapshot(
    engine: Engine,
    result: MatchResult,
    run_id: str,
    sources: Mapping[str, Any],
    problems: Sequence[Problem] | None = None,
    *,
    on_step: StepCallback | None = None,
    lock_timeout_s: float = 10.0,
    before_swap: Callable[[], None] | None = None,
) -> tuple[dict[str, int], LifecycleResult]:
    """Replace the published snapshot with ``result`` and its problems, and advance the
    decision lifecycle in the same transaction as the swap. Returns the row count per table and
    the lifecycle outcome. ``before_swap`` runs right before the swap transaction (the runner
    checks there that it still holds the run lock)."""
    problems = result.problems if problems is None else problems
    rows: dict[str, list[dict[str, Any]]] = dict(snapshot_rows(result, problems))
    canton_of = {row["sloid"]: row["canton"] for row in rows["atlas_platforms"]}
    canton_of.update((row["osm_id"], row["canton"]) for row in rows["osm_elements"])
    rows["problems"] = problem_rows(problems, {}, canton_of)
    rows["snapshot_meta"] = [{"run_id": run_id, "published_at": datetime.now(UTC), "sources": dict(sources),
                              "summary": result.summary}]
    atlas_sloids = {row["sloid"] for row in rows["atlas_platforms"]}
    osm_ids = {row["osm_id"] for row in rows["osm_elements"]}
    outcome: list[LifecycleResult] = []

    def lifecycle(connection: Connection, write: bool) -> Mapping[str, str]:
        # The lifecycle writes the durable review tables through the publisher's transaction;
        # a preview (write False) computes the statuses and discards its changes unflushed.
        session = Session(bind=connection, autoflush=False)
        applied = apply_lifecycle(session, problems, run_id, atlas_sloids=atlas_sloids, osm_ids=osm_ids)
        if write:
            session.flush()
            outcome[:] = [applied]
        else:
            session.expunge_all()
        session.close()
        return applied.status_of

    publisher = snapshot_publisher(engine, SNAPSHOT_MODEL_TABLES, lock_timeout_s=lock_timeout_s)
    if before_swap is not None:
        publisher.before_swap = before_swap
    counts = publisher.publish(rows, lifecycle, on_step) if on_step else publisher.publish(rows, lifecycle)
    counts.pop("snapshot_meta", None)
    log.info("snapshot published", extra={"tables": counts})
    return counts, outcome[-1]


def refresh_overview_cells(engine: Engine) -> int:
    """Recompute ``overview_cells`` from the published ``atlas_platforms`` and ``osm_elements``, for
    a snapshot loaded without :func:`publish_snapshot` (e.g. by a benchmark); returns the row count.
    Web processes notice it with the next run id (they check the cells once per run)."""
    cells = OverviewCellRow.__table__
    with engine.begin() as connection:
        atlas, osm = ([dict(row) for row in connection.execute(sa.select(table.c.lon, table.c.lat, table.c.matched))
                       .mappings()] for table in (AtlasPlatformRow.__table__, OsmElementRow.__table__))
        rows = overview_cell_rows(atlas, osm)
        connection.execute(sa.delete(cells))
        for start in range(0, len(rows), 5000):
            connection.execute(sa.insert(cells), rows[start:start + 5000])
    return len(rows)


def rollback_snapshot(engine: Engine, *, lock_timeout_s: float = 10.0) -> str:
    """Swap the previous snapshot back in (raises NothingToRollBackError); returns its run id."""
    return snapshot_publisher(engine, SNAPSHOT_MODEL_TABLES, lock_timeout_s=lock_timeout_s).rollback()


def recover_publication(engine: Engine) -> bool:
    """Clean up what a killed publication left (a staging schema); True when there was some."""
    return snapshot_publisher(engine, SNAPSHOT_MODEL_TABLES).recover()
