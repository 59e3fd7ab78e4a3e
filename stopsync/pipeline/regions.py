"""Named regions and the one rule that picks the region of a run.

The built-in borders come from the npm package ``swiss-maps`` (BSD-3-Clause), vendored by
``scripts/sync_vendor.py`` into ``stopsync/static/vendor/swiss-maps/``; nothing is fetched at run
time. Precedence: a border file beats a bbox, which beats the named region.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from .region import Region, load_region, region_from_bbox, topojson_polygons

SWISS_MAPS_TOPOJSON = (
    Path(__file__).resolve().parent.parent / "static" / "vendor" / "swiss-maps" / "2025" / "ch-combined.json"
)
NO_REGION = "none"


@dataclass(frozen=True)
class RegionChoice:
    """The region of a run: the polygon that filters ATLAS and what Overpass is asked for."""

    name: str
    region: Region | None
    overpass_area: str | None = None  # an area key=value; None: query by the polygon or bbox
    bbox: tuple[float, float, float, float] | None = None


def _check_vendored() -> None:
    if not SWISS_MAPS_TOPOJSON.is_file():
        raise ConfigurationError(
            f"the built-in border {SWISS_MAPS_TOPOJSON} is missing; run `make vendor` "
            "(scripts/sync_vendor.py) or set BORDER_SOURCE to a GeoJSON file"
        )


@lru_cache(maxsize=1)
def _switzerland() -> Region:
    _check_vendored()
    # The country object holds Switzerland (the largest part, with its enclave holes) and
    # Liechtenstein; the baseline funnel uses Switzerland alone.
    parts = topojson_polygons(SWISS_MAPS_TOPOJSON, "country")
    return Region(max(parts, key=lambda part: part.area), name="switzerland")


@lru_cache(maxsize=1)
def _switzerland_liechtenstein() -> Region:
    _check_vendored()
    region = load_region(SWISS_MAPS_TOPOJSON, topojson_object="country")
    return Region(region.geometry, name="switzerland-liechtenstein")


NAMED_REGIONS = {
    "switzerland": ("ISO3166-1=CH", _switzerland),
    "switzerland-liechtenstein": (None, _switzerland_liechtenstein),
}


def parse_bbox_text(text: str) -> tuple[float, float, float, float]:
    parts = [part.strip() for part in str(text).split(",")]
    try:
        min_lon, min_lat, max_lon, max_lat = (float(part) for part in parts)
    except ValueError:
        raise ConfigurationError(
            f"bbox {text!r} must be minLon,minLat,maxLon,maxLat (four numbers)"
        ) from None
    if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
        raise ConfigurationError(f"bbox {text!r} is not a valid minLon,minLat,maxLon,maxLat box")
    return min_lon, min_lat, max_lon, max_lat


def choose_region(
    name: str | None = "switzerland", *, bbox: str | None = None, border: Path | None = None
) -> RegionChoice:
    """The region of a run, from a border file, a bbox or a region name (in that order)."""
    if border is not None:
        region = load_region(border)
        return RegionChoice(name=region.name, region=region)
    if bbox:
        box = parse_bbox_text(bbox)
        return RegionChoice(name=f"bbox {bbox}", region=region_from_bbox(*box), bbox=box)
    key = (name or NO_REGION).strip().lower()
    if key == NO_REGION:
        return RegionChoice(name=NO_REGION, region=None)
    if key not in NAMED_REGIONS:
        known = ", ".join([*NAMED_REGIONS, NO_REGION])
        raise ConfigurationError(f"unknown region {name!r}; known regions: {known}")
    area, build = NAMED_REGIONS[key]
    return RegionChoice(name=key, region=build(), overpass_area=area)


def overpass_region_settings(choice: RegionChoice) -> dict[str, Any]:
    """How the Overpass source should select the region: an area, else a bbox, else the
    polygon itself (passed as ``REGION``)."""
    if choice.overpass_area:
        return {"OVERPASS_AREA": choice.overpass_area, "OVERPASS_BBOX": None}
    if choice.bbox:
        return {"OVERPASS_AREA": None, "OVERPASS_BBOX": ",".join(str(v) for v in choice.bbox)}
    return {"OVERPASS_AREA": None, "OVERPASS_BBOX": None}
