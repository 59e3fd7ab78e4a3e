"""Built-in data sources: the ATLAS CSV export, an OSM XML file and a border polygon file."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from ...errors import InputError
from ...pipeline.atlas import read_atlas
from ...pipeline.osm import read_osm
from ...pipeline.region import Region, load_region
from ..base import DataSource, SourceResult
from ..hookspecs import hookimpl


def _config_date(value: Any) -> date | None:
    """``TODAY`` may be a date (tests, replays) or an ISO string (configuration files)."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise InputError(f"TODAY must be an ISO date (YYYY-MM-DD), got {value!r}") from exc


class AtlasCsvSource(DataSource):
    name = "atlas-csv"
    kind = "atlas"
    description = "ATLAS traffic points: a ZIP with one CSV or the CSV itself"

    def read(self, path: Path) -> SourceResult:
        region = self.config.get("REGION")
        if region is not None and not isinstance(region, Region):
            raise InputError(f"REGION must be a Region, got {type(region).__name__}")
        max_bad_share = self.config.get("ATLAS_MAX_BAD_SHARE")
        return read_atlas(
            path,
            region=region,
            today=_config_date(self.config.get("TODAY")),
            max_bad_share=0.01 if max_bad_share is None else float(max_bad_share),
        )


class OsmFileSource(DataSource):
    name = "osm-file"
    kind = "osm"
    description = "OpenStreetMap stops from an OSM file (.osm, .osm.bz2, .gz, .osm.pbf)"

    def read(self, path: Path) -> SourceResult:
        return read_osm(path)


class BorderFileSource(DataSource):
    name = "border-file"
    kind = "border"
    description = "Region border from a GeoJSON or TopoJSON file"

    def read(self, path: Path) -> SourceResult:
        object_name = self.config.get("BORDER_TOPOJSON_OBJECT")
        region = load_region(path, topojson_object=str(object_name) if object_name else None)
        stats = {"name": region.name, "bounds": list(region.bounds)}
        return SourceResult(records=region, stats=stats)


@hookimpl
def stopsync_register_data_sources() -> list[type[DataSource]]:
    return [AtlasCsvSource, OsmFileSource, BorderFileSource]
