"""The Overpass API as an OSM data source.

The query is built from the run's region: an explicit ``OVERPASS_BBOX`` wins, then the run's
border (``REGION``, sent as a simplified ``poly:`` filter), then the ``OVERPASS_AREA`` key=value
(``ISO3166-1=CH``). It asks for the stop nodes, stop ways as centre points, the route relations
that contain those stops, their route_master parents and the masters' other routes.

Overpass is often busy: 429/502/503/504 answers and connection resets are retried with
exponential backoff and jitter (``Retry-After`` wins when sent). It can also answer HTTP 200 with
an error report instead of data; such an answer fails the fetch and never replaces the cached
good copy.
"""

from __future__ import annotations

import email.utils
import http.client
import logging
import os
import random
import tempfile
import time
import urllib.error
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import Polygon, box

from ...errors import ConfigurationError, SourceUnavailableError
from ...pipeline.acquire import download
from ...pipeline.osm import NON_TRANSIT_ROUTES, PT_VALUES, RAILWAY_STOP_VALUES, overpass_error, read_osm
from ...pipeline.region import Region
from ...pipeline.regions import parse_bbox_text
from ..base import DataSource, SourceResult
from ..hookspecs import hookimpl

log = logging.getLogger(__name__)

SOURCE = "overpass"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_POLY_POINTS = 500
MAX_DELAY_S = 900.0  # never wait longer than this between two attempts, whatever the server says
DEFAULT_QUERY_TIMEOUT_S = 900
DEFAULT_MAX_RETRIES = 4
DEFAULT_BACKOFF_S = 5.0


@dataclass(frozen=True)
class OverpassScope:
    """Where the query looks.

    ``prelude`` runs first (an area lookup); ``spatial_filter`` goes on every stop statement
    (``(area.region)`` or a ``(south,west,north,east)`` box); ``polygons`` (Overpass ``poly:``
    strings), when given, clip the stops found in the box to the region's outline.
    """

    spatial_filter: str
    prelude: str = ""
    polygons: tuple[str, ...] = ()


def area_scope(area: str) -> OverpassScope:
    """An Overpass area from a ``key=value`` such as ``ISO3166-1=CH``."""
    key, _, value = (part.strip() for part in area.partition("="))
    if not key or not value or '"' in area:
        raise ConfigurationError(f"OVERPASS_AREA {area!r} must be key=value, e.g. ISO3166-1=CH")
    # Country codes also appear on other objects; the country itself is admin_level 2.
    level = "[admin_level=2]" if key.startswith("ISO3166-1") else ""
    return OverpassScope(spatial_filter="(area.region)", prelude=f'area["{key}"="{value}"]{level}->.region;')


def bbox_scope(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> OverpassScope:
    """A box given as ``minLon,minLat,maxLon,maxLat`` (the GeoJSON order), written in Overpass's
    ``(south,west,north,east)`` order."""
    return OverpassScope(spatial_filter=f"({min_lat:.6f},{min_lon:.6f},{max_lat:.6f},{max_lon:.6f})")


def poly_strings(region: Region, max_points: int = MAX_POLY_POINTS) -> tuple[str, ...]:
    """One Overpass ``poly:`` string (``"lat lon lat lon ..."``) per part of ``region``: the
    exterior ring, grown then simplified by the same tolerance so that it still covers the
    region, with at most ``max_points`` points over all parts. Holes are ignored."""
    parts = [p for p in getattr(region.geometry, "geoms", [region.geometry]) if isinstance(p, Polygon)]
    tolerance = 0.0005  # degrees, about 50 m
    while True:
        rings = []
        for part in parts:
            outline = Polygon(part.exterior).buffer(tolerance, join_style="mitre")
            simplified = shapely.simplify(outline, tolerance, preserve_topology=True)
            rings.append(list(simplified.exterior.coords)[:-1])  # Overpass closes the ring itself
        if sum(len(ring) for ring in rings) <= max_points or tolerance > 1.0:
            break
        tolerance *= 2
    return tuple(" ".join(f"{lat:.5f} {lon:.5f}" for lon, lat in ring) for ring in rings)


def polygon_scope(region: Region, max_points: int = MAX_POLY_POINTS) -> OverpassScope:
    """The region's bounding box as the index filter, clipped to its simplified outline."""
    if region.geometry.equals(box(*region.bounds)):
        return bbox_scope(*region.bounds)  # a rectangle needs no polygon
    return OverpassScope(spatial_filter=bbox_scope(*region.bounds).spatial_filter,
                         polygons=poly_strings(region, max_points))


def scope_from_config(config: Mapping[str, Any]) -> OverpassScope:
    """``OVERPASS_BBOX``, else ``OVERPASS_AREA``, else the run's ``REGION`` polygon. The runner
    clears the area when the region is a bbox or a border file, and keeps it for named regions
    that have one (an area query is cheaper for Overpass than a long polygon)."""
    bbox = config.get("OVERPASS_BBOX")
    if bbox:
        text = bbox if isinstance(bbox, str) else ",".join(str(v) for v in bbox)
        return bbox_scope(*parse_bbox_text(text))
    area = config.get("OVERPASS_AREA")
    if area:
        return area_scope(str(area))
    region = config.get("REGION")
    if isinstance(region, Region):
        return polygon_scope(region)
    raise ConfigurationError("the Overpass source needs a region: set OVERPASS_BBOX, OVERPASS_AREA or a border")


def _alternatives(values: Any) -> str:
    return "^(" + "|".join(sorted(values)) + ")$"


def _any_of_list(values: Any) -> str:
    """Matches a ``;``-separated tag value when any of its parts is one of ``values``."""
    return "(^|;) *(" + "|".join(sorted(values)) + ") *(;|$)"


def build_query(scope: OverpassScope, timeout_s: int = DEFAULT_QUERY_TIMEOUT_S) -> str:
    """Stop nodes, stop ways (as centre points) and the public-transport routes through them,
    with their route_masters and the masters' other routes; members in order."""
    where = scope.spatial_filter
    not_transit = _any_of_list(NON_TRANSIT_ROUTES)
    candidates = "stops" if not scope.polygons else "candidates"
    clip = ""
    if scope.polygons:
        clipped = "".join(f'  node.candidates(poly:"{poly}");\n  way.candidates(poly:"{poly}");\n'
                          for poly in scope.polygons)
        clip = f"(\n{clipped})->.stops;\n"
    prelude = f"{scope.prelude}\n" if scope.prelude else ""
    return f"""[out:xml][timeout:{timeout_s}];
{prelude}(
  node{where}[public_transport~"{_alternatives(PT_VALUES)}"];
  node{where}[highway=bus_stop];
  node{where}[railway~"{_alternatives(RAILWAY_STOP_VALUES)}"];
  node{where}[amenity=ferry_terminal];
  node{where}[aerialway=station];
  way{where}[public_transport~"^(platform|station)$"];
  way{where}[railway~"^(halt|platform|station)$"];
  way{where}[highway=bus_stop];
  way{where}[amenity=ferry_terminal];
  way{where}[aerialway=station];
  way{where}["uic_ref"];
  way{where}["ref:sloid"];
)->.{candidates};
{clip}(rel(bn.stops)[type=route]; rel(bw.stops)[type=route];)->.serving;
rel.serving[route!~"{not_transit}"]->.routes;
rel(br.routes)[type=route_master][route_master!~"{not_transit}"]->.masters;
rel(r.masters)[type=route][route!~"{not_transit}"]->.siblings;
node.stops;
out body;
way.stops;
out tags center;
(.routes; .masters; .siblings;);
out body;
"""


# --- fetching with retries ------------------------------------------------------------------


def _retry_after_s(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def retry_delay(exc: BaseException, attempt: int, backoff_s: float) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or ``None`` when ``exc`` is not worth a
    retry. ``attempt`` counts from 0."""
    cause = exc.__cause__ if isinstance(exc, SourceUnavailableError) else exc
    if isinstance(cause, urllib.error.HTTPError):
        if cause.code not in RETRY_STATUSES:
            return None
        retry_after = _retry_after_s(cause.headers.get("Retry-After") if cause.headers else None)
        if retry_after is not None:
            return min(retry_after, MAX_DELAY_S)
    else:
        reason = cause.reason if isinstance(cause, urllib.error.URLError) else cause
        # RemoteDisconnected is a ConnectionResetError; IncompleteRead is a body cut short.
        if not isinstance(reason, ConnectionResetError | ConnectionAbortedError | http.client.IncompleteRead):
            return None
    # Exponential backoff with jitter, so that clients turned away together come back apart.
    return min(backoff_s * 2**attempt, MAX_DELAY_S) * random.uniform(0.5, 1.5)


def fetch_overpass(
    query: str,
    target: Path,
    *,
    url: str,
    user_agent: str,
    timeout_s: float,
    max_retries: int = DEFAULT_MAX_RETRIES,
    backoff_s: float = DEFAULT_BACKOFF_S,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """POST ``query`` to ``url`` and move the answer to ``target`` once it proved to be data.

    Raises ``SourceUnavailableError`` naming Overpass and the last HTTP status or network
    error after ``max_retries`` retries, or at once on an answer that is an error report.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, staging_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".unchecked", dir=target.parent)
    os.close(fd)
    staging = Path(staging_name)
    body = urllib.parse.urlencode({"data": query}).encode()
    try:
        for attempt in range(max_retries + 1):
            try:
                download(SOURCE, url, staging, user_agent=user_agent, timeout_s=timeout_s, data=body,
                         content_type="application/x-www-form-urlencoded")
                break
            except (SourceUnavailableError, http.client.IncompleteRead) as exc:
                delay = retry_delay(exc, attempt, backoff_s)
                reason = exc.reason if isinstance(exc, SourceUnavailableError) else f"incomplete answer: {exc}"
                if delay is None or attempt >= max_retries:
                    raise SourceUnavailableError(
                        SOURCE, f"Overpass request failed after {attempt + 1} attempt(s): {reason}"
                    ) from exc
                log.warning("overpass retry", extra={"attempt": attempt + 1, "delay_s": round(delay, 2),
                                                     "reason": reason})
                sleep(delay)
        error = overpass_error(staging)
        if error is not None:
            raise SourceUnavailableError(SOURCE, f"Overpass answered with an error: {error}")
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return target


class OverpassSource(DataSource):
    name = "overpass"
    kind = "osm"
    description = "OpenStreetMap stops and routes from an Overpass API endpoint"

    def fetch(self, location: str, cache_dir: Path) -> Path | None:
        if location != "overpass":
            return None  # a URL or a file: the generic downloader handles it
        query_timeout_s = int(self.config.get("OVERPASS_TIMEOUT_S", DEFAULT_QUERY_TIMEOUT_S))
        query = build_query(scope_from_config(self.config), query_timeout_s)
        return fetch_overpass(
            query,
            cache_dir / "overpass-stops.osm",
            url=str(self.config["OVERPASS_URL"]),
            user_agent=str(self.config["HTTP_USER_AGENT"]),
            # Overpass sends nothing until the query is done: wait at least as long as it may run.
            timeout_s=max(float(self.config.get("HTTP_TIMEOUT_S", 300)), query_timeout_s + 60.0),
            max_retries=int(self.config.get("OVERPASS_MAX_RETRIES", DEFAULT_MAX_RETRIES)),
            backoff_s=float(self.config.get("OVERPASS_BACKOFF_S", DEFAULT_BACKOFF_S)),
        )

    def read(self, path: Path) -> SourceResult:
        return read_osm(path)


@hookimpl
def stopsync_register_data_sources() -> list[type[DataSource]]:
    return [OverpassSource]
