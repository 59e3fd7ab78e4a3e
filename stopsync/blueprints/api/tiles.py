"""Stops by web-map tile: ``/tiles/{z}/{x}/{y}`` is ``/stops?bbox=<the tile's bbox>``.

Tiles use the standard XYZ numbering of web-mercator maps (OpenStreetMap, Leaflet): at zoom
``z`` the world is ``2**z`` x ``2**z`` tiles, ``x`` counted eastwards from 180° W, ``y``
southwards from 85.0511° N. A tile answers exactly what ``/stops`` answers for its bbox (same
layers, filters and representations) but is complete: no cursor; each layer holds at most
:data:`TILE_LIMIT` items and ``truncated`` says when one had more. Because many map clients ask
for the same tiles, tiles are the cacheable form of ``/stops`` (see :mod:`.cache`).
"""

from __future__ import annotations

import math
import re
from typing import Any

from flask import request

from ...errors import BadRequestError
from . import bp
from .filters import STOP_FILTER_PARAMETERS, StopFilters
from .params import BBox, parse_choice, parse_choices, reject_unknown
from .stops import FORMATS, LAYERS, stops_in_bbox, stops_response, wants_plain_json

# City zooms: from a whole city (z12, about 10 km x 6.5 km in Switzerland) down to a street (z18).
# Below 12 a tile holds too many stops to be useful (ask /overview); beyond 18 tiles hold next to
# nothing.
TILE_MIN_ZOOM = 12
TILE_MAX_ZOOM = 18
# Items per layer a tile holds at most (the densest z12 tile of Switzerland holds far fewer).
TILE_LIMIT = 5000
TILE_PARAMETERS = ("layers", "format", *STOP_FILTER_PARAMETERS)
# Path segments are digits only: one spelling per tile (one cache entry, one ETag).
TILE_NUMBER = re.compile(r"[0-9]{1,7}")
# ``{y}.geojson`` and ``{y}.json`` name the representation in the URL itself.
SUFFIXES = {".geojson": "geojson", ".json": "json"}


def tile_bbox(z: int, x: int, y: int) -> BBox:
    """(west, south, east, north) in degrees of the XYZ tile ``z/x/y``."""
    n = 2**z

    def latitude(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360.0 - 180.0, latitude(y + 1), (x + 1) / n * 360.0 - 180.0, latitude(y)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The (x, y) of the zoom ``z`` tile that contains a point (inverse of :func:`tile_bbox`)."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def _tile_number(raw: str, name: str, maximum: int) -> int:
    if not TILE_NUMBER.fullmatch(raw):
        raise BadRequestError(f"{name} must be a non-negative integer (digits only)", parameter=name)
    value = int(raw)
    if value > maximum:
        raise BadRequestError(f"{name} must lie in [0, {maximum}]", parameter=name)
    return value


def _split_suffix(raw_y: str) -> tuple[str, str | None]:
    for suffix, representation in SUFFIXES.items():
        if raw_y.endswith(suffix):
            return raw_y.removesuffix(suffix), representation
    return raw_y, None


@bp.get("/tiles/<z>/<x>/<y>")
def tile(z: str, x: str, y: str) -> Any:
    """The stops of one web-map tile: what /stops answers for the tile's bbox, complete."""
    args = request.args
    reject_unknown(args, TILE_PARAMETERS)
    if not TILE_NUMBER.fullmatch(z) or not TILE_MIN_ZOOM <= int(z) <= TILE_MAX_ZOOM:
        raise BadRequestError(f"z must be an integer in [{TILE_MIN_ZOOM}, {TILE_MAX_ZOOM}]", parameter="z")
    zoom = int(z)
    column = _tile_number(x, "x", 2**zoom - 1)
    raw_row, suffix_format = _split_suffix(y)
    row = _tile_number(raw_row, "y", 2**zoom - 1)
    raw_format = args.get("format")
    if suffix_format is not None and raw_format is not None and \
            parse_choice(raw_format, FORMATS, "format", "geojson") != suffix_format:
        raise BadRequestError(f"format {raw_format!r} contradicts the path's .{suffix_format}", parameter="format")
    plain = wants_plain_json(raw_format if raw_format is not None else suffix_format)
    layers = parse_choices(args.get("layers"), LAYERS, "layers")
    filters = StopFilters.from_args(args)
    bbox = tile_bbox(zoom, column, row)
    items, truncated = stops_in_bbox(bbox, layers, filters, TILE_LIMIT)
    common = {"bbox": list(bbox), "limit": TILE_LIMIT, "truncated": bool(truncated), "next_cursor": None,
              "tile": {"z": zoom, "x": column, "y": row}}
    return stops_response(items, common, plain)
