"""Built-in GTFS source: a local GTFS ZIP (or directory) reduced to stops, routes and patterns."""

from __future__ import annotations

from pathlib import Path

from ...pipeline.gtfs import read_gtfs
from ..base import DataSource, SourceResult
from ..hookspecs import hookimpl


class GtfsZipSource(DataSource):
    name = "gtfs-zip"
    kind = "gtfs"
    description = "GTFS timetable: stops, routes and distinct stop patterns from a ZIP or directory"

    def read(self, path: Path) -> SourceResult:
        work_dir = self.config.get("GTFS_WORK_DIR")
        memory_limit = self.config.get("GTFS_MEMORY_LIMIT")
        return read_gtfs(
            path,
            work_dir=Path(work_dir) if work_dir else None,
            memory_limit=str(memory_limit) if memory_limit else "1GB",
        )


@hookimpl
def stopsync_register_data_sources() -> list[type[DataSource]]:
    return [GtfsZipSource]
