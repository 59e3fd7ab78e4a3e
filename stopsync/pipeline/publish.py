"""Publication: replace the data snapshot in the database within one transaction.

Readers see either the old snapshot or the new one, never a mix (SQLite in WAL mode keeps
readers on the old one until commit; PostgreSQL's MVCC does the same). The review tables are
never touched here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ..models import AtlasPlatformRow, MatchRow, OsmElementRow, OsmStopUnitRow, ProblemRow, SnapshotMeta
from ..models.snapshot import SNAPSHOT_TABLES
from .lifecycle import LifecycleResult, apply_lifecycle
from .match import MatchResult
from .problems import Problem

log = logging.getLogger(__name__)

BATCH = 5000


def _batches(rows: Iterable[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


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
) -> tuple[dict[str, int], LifecycleResult]:
    """Replace the published snapshot with ``result`` and its problems, and advance the
    decision lifecycle, all in one transaction. Returns the row count per table and the
    lifecycle outcome."""
    problems = result.problems if problems is None else problems
    rows = snapshot_rows(result)
    tables = {
        "atlas_platforms": AtlasPlatformRow.__table__,
        "osm_elements": OsmElementRow.__table__,
        "osm_stop_units": OsmStopUnitRow.__table__,
        "matches": MatchRow.__table__,
        "problems": ProblemRow.__table__,
    }
    counts: dict[str, int] = {}
    with engine.begin() as connection:
        for name in SNAPSHOT_TABLES:
            connection.execute(sa.text(f"DELETE FROM {name}"))  # fixed table names, no input
        # The lifecycle writes the durable review tables through the same transaction, so a
        # failure anywhere leaves both the snapshot and the reviews as they were.
        session = Session(bind=connection)
        lifecycle = apply_lifecycle(
            session, problems, run_id,
            atlas_sloids={row["sloid"] for row in rows["atlas_platforms"]},
            osm_ids={row["osm_id"] for row in rows["osm_elements"]},
        )
        session.flush()
        session.close()
        rows["problems"] = problem_rows(problems, lifecycle.status_of)
        for name in ("atlas_platforms", "osm_elements", "osm_stop_units", "matches", "problems"):
            for batch in _batches(rows[name]):
                connection.execute(sa.insert(tables[name]), batch)
            counts[name] = len(rows[name])
        connection.execute(
            sa.insert(SnapshotMeta.__table__),
            [{"run_id": run_id, "published_at": datetime.now(UTC), "sources": dict(sources),
              "summary": result.summary}],
        )
    log.info("snapshot published", extra={"tables": counts})
    return counts, lifecycle
