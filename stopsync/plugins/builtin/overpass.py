"""The Overpass API as an OSM data source: builds the query from the region setting and
reads the answer with the OSM XML parser (which rejects Overpass error answers)."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from ...pipeline.acquire import download
from ...pipeline.osm import read_osm
from ..base import DataSource, SourceResult
from ..hookspecs import hookimpl


def build_query(area: str, timeout_s: int = 900) -> str:
    """Stops, platform ways/areas and stations of ``area`` (an ``ISO3166-1=CH``-style key=value)."""
    key, _, value = area.partition("=")
    return f"""[out:xml][timeout:{timeout_s}];
area["{key}"="{value}"][admin_level=2]->.region;
(
  node(area.region)[public_transport~"^(platform|stop_position|station)$"];
  node(area.region)[highway=bus_stop];
  node(area.region)[railway~"^(tram_stop|halt|station|stop|platform)$"];
  node(area.region)[amenity=ferry_terminal];
  node(area.region)[aerialway=station];
  way(area.region)[public_transport~"^(platform|station)$"];
  way(area.region)["uic_ref"];
  way(area.region)["ref:sloid"];
)->.stops;
(.stops; .stops >;);
out body;
"""


class OverpassSource(DataSource):
    name = "overpass"
    kind = "osm"
    description = "OpenStreetMap stops from an Overpass API endpoint"

    def fetch(self, location: str, cache_dir: Path) -> Path | None:
        if location != "overpass":
            return None  # a URL or a file: the generic downloader handles it
        query = build_query(str(self.config.get("OVERPASS_AREA", "ISO3166-1=CH")))
        return download(
            self.name,
            str(self.config["OVERPASS_URL"]),
            cache_dir / "overpass-stops.osm",
            user_agent=str(self.config["HTTP_USER_AGENT"]),
            timeout_s=float(self.config["HTTP_TIMEOUT_S"]),
            data=urllib.parse.urlencode({"data": query}).encode(),
            content_type="application/x-www-form-urlencoded",
        )

    def read(self, path: Path) -> SourceResult:
        return read_osm(path)


@hookimpl
def stopsync_register_data_sources() -> list[type[DataSource]]:
    return [OverpassSource]
