"""Database models: the replaceable data snapshot and the durable review tables.

Publication replaces every snapshot table at once; it never touches the ``review_*`` tables.
"""

from .review import AuditLogEntry, Decision, Note, ProblemState, User
from .snapshot import (
    SNAPSHOT_TABLES,
    AtlasPlatformRow,
    MatchRow,
    OsmElementRow,
    OsmStopUnitRow,
    PipelineRun,
    ProblemRow,
    SnapshotMeta,
)

__all__ = [
    "SNAPSHOT_TABLES",
    "AtlasPlatformRow",
    "AuditLogEntry",
    "Decision",
    "MatchRow",
    "Note",
    "OsmElementRow",
    "OsmStopUnitRow",
    "PipelineRun",
    "ProblemRow",
    "ProblemState",
    "SnapshotMeta",
    "User",
]
