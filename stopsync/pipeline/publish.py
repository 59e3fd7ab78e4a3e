"""Publication: replace the data snapshot in the database within one transaction.

Readers see either the old snapshot or the new one, never a mix (SQLite in WAL mode keeps
readers on the old one until commit; PostgreSQL's MVCC does the same). The review tables are
never touched here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..models import AtlasPlatformRow, MatchRow, OsmElementRow, SnapshotMeta
from ..models.snapshot import SNAPSHOT_TABLES
from .match import MatchResult

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
            "matches": match_rows}


def publish_snapshot(
    engine: Engine, result: MatchResult, run_id: str, sources: Mapping[str, Any]
) -> dict[str, int]:
    """Replace the published snapshot with ``result``; returns the row count per table."""
    rows = snapshot_rows(result)
    tables = {
        "atlas_platforms": AtlasPlatformRow.__table__,
        "osm_elements": OsmElementRow.__table__,
        "matches": MatchRow.__table__,
    }
    counts: dict[str, int] = {}
    with engine.begin() as connection:
        for name in SNAPSHOT_TABLES:
            connection.execute(sa.text(f"DELETE FROM {name}"))  # fixed table names, no input
        for name in ("atlas_platforms", "osm_elements", "matches"):  # parents before children
            for batch in _batches(rows[name]):
                connection.execute(sa.insert(tables[name]), batch)
            counts[name] = len(rows[name])
        connection.execute(
            sa.insert(SnapshotMeta.__table__),
            [{"run_id": run_id, "published_at": datetime.now(UTC), "sources": dict(sources),
              "summary": result.summary}],
        )
    log.info("snapshot published", extra={"tables": counts})
    return counts
