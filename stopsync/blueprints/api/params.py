"""Strict query-parameter parsing: every error names the parameter it is about."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from ...errors import BadRequestError

BBox = tuple[float, float, float, float]


def reject_unknown(args: Mapping[str, str], allowed: Iterable[str]) -> None:
    allowed_set = set(allowed)
    unknown = sorted(set(args) - allowed_set)
    if unknown:
        raise BadRequestError(
            f"unknown parameter {unknown[0]!r}; allowed: {', '.join(sorted(allowed_set))}",
            parameter=unknown[0],
        )


def parse_bbox(raw: str | None, name: str = "bbox") -> BBox:
    """``minLon,minLat,maxLon,maxLat`` in WGS84, as RFC 7946 orders them."""
    if raw is None or not raw.strip():
        raise BadRequestError(f"{name} is required as minLon,minLat,maxLon,maxLat", parameter=name)
    parts = raw.split(",")
    if len(parts) != 4:
        raise BadRequestError(
            f"{name} needs exactly 4 comma-separated numbers (minLon,minLat,maxLon,maxLat)",
            parameter=name,
        )
    try:
        min_lon, min_lat, max_lon, max_lat = (float(part) for part in parts)
    except ValueError:
        raise BadRequestError(f"{name} must contain only numbers", parameter=name) from None
    values = (min_lon, min_lat, max_lon, max_lat)
    if not all(math.isfinite(v) for v in values):
        raise BadRequestError(f"{name} must contain finite numbers", parameter=name)
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
        raise BadRequestError(f"{name} longitudes must lie in [-180, 180]", parameter=name)
    if not (-90 <= min_lat <= 90 and -90 <= max_lat <= 90):
        raise BadRequestError(f"{name} latitudes must lie in [-90, 90]", parameter=name)
    if min_lon > max_lon or min_lat > max_lat:
        raise BadRequestError(f"{name} minimum exceeds maximum", parameter=name)
    return values


def parse_limit(raw: str | None, default: int, maximum: int, name: str = "limit") -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestError(f"{name} must be an integer", parameter=name) from None
    if value < 1:
        raise BadRequestError(f"{name} must be at least 1", parameter=name)
    if value > maximum:
        raise BadRequestError(f"{name} must be at most {maximum}", parameter=name)
    return value


def parse_choices(raw: str | None, choices: Iterable[str], name: str) -> list[str]:
    """A comma-separated subset of ``choices``; all of them when absent."""
    options = list(choices)
    if raw is None:
        return options
    picked = [part.strip() for part in raw.split(",") if part.strip()]
    if not picked:
        raise BadRequestError(f"{name} must name at least one of {', '.join(options)}", parameter=name)
    for value in picked:
        if value not in options:
            raise BadRequestError(
                f"{name} value {value!r} is not one of {', '.join(options)}", parameter=name
            )
    return picked
