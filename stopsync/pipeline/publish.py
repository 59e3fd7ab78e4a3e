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

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from ..db.dialect import snapshot_publisher
from ..db.publication import StepCallback
from ..models import AtlasPlatformRow, MatchRow, OsmElementRow, OsmStopUnitRow, ProblemRow, SnapshotMeta
from .lifecycle import LifecycleResult, apply_lifecycle
from .match import MatchResult
from .problems import Problem

log = logging.getLogger(__name__)

SNAPSHOT_MODEL_TABLES = {
    "atlas_platforms": AtlasPlatformRow.__table__,
    "osm_elements": OsmElementRow.__table__,
    "osm_stop_units": OsmStopUnitRow.__table__,
    "matches": MatchRow.__table__,
    "problems": ProblemRow.__table__,
    "snapshot_meta": SnapshotMeta.__table__,
}


def snapshot_rows(result: MatchResult) -> dict[str, list[dict[str, Any]]]:
    """The rows of every snapshot table, derived from one match result."""
    linked_sloids = {link.sloid for link in result.links}
    linked_osm = {link.osm_id for link in result.links}
    atlas_rows: dict[str, dict[str, Any]] = {}
    for p in result.atlas:
        # ATLAS should not repeat a SLOID; if it does, the first row wins (the key is unique).
        atlas_rows.setdefault(p.sloid, {
            "sloid": p.sloid, "number": p.number, "designation": p.designation, "name": p.name,
            "operator": p.operator, "valid_to": p.valid_to, "parent_sloid": p.parent_sloid,
            "lat": p.lat, "lon": p.lon, "matched": p.sloid in linked_sloids,
        })
    osm_rows = [
        {
            "osm_id": e.osm_id, "osm_type": e.osm_type, "osm_numeric_id": e.osm_numeric_id,
            "kind": e.kind, "name": e.name, "uic_ref": e.uic_ref, "local_ref": e.local_ref,
            "lat": e.lat, "lon": e.lon, "tags": e.tags, "matched": e.osm_id in linked_osm,
        }
        for e in result.osm
    ]
    match_rows = [
        {"sloid": link.sloid, "osm_id": link.osm_id, "method": link.method,
         "distance_m": link.distance_m, "score": link.score, "evidence": link.evidence}
        for link in result.links
    ]
    return {"atlas_platforms": list(atlas_rows.values()), "osm_elements": osm_rows,
            "osm_stop_units": list(result.units), "matches": match_rows}


def problem_rows(problems: Sequence[Problem], status_of: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {"problem_key": p.key, "type": p.type, "priority": p.priority, "sloid": p.sloid,
         "osm_id": p.osm_id, "side": p.side, "side_reason": p.side_reason[:255],
         "evidence": p.evidence, "fingerprint": p.fingerprint, "status": status_of.get(p.key, "new")}
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
    rows: dict[str, list[dict[str, Any]]] = dict(snapshot_rows(result))
    rows["problems"] = problem_rows(problems, {})
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


def rollback_snapshot(engine: Engine, *, lock_timeout_s: float = 10.0) -> str:
    """Swap the previous snapshot back in (raises NothingToRollBackError); returns its run id."""
    return snapshot_publisher(engine, SNAPSHOT_MODEL_TABLES, lock_timeout_s=lock_timeout_s).rollback()


def recover_publication(engine: Engine) -> bool:
    """Clean up what a killed publication left (a staging schema); True when there was some."""
    return snapshot_publisher(engine, SNAPSHOT_MODEL_TABLES).recover()
