"""Strict query-parameter parsing: every error names the parameter it is about."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from ...errors import BadRequestError

BBox = tuple[float, float, float, float]


def reject_unknown(args: Mapping[str, str], allowed: Iterable[str]) -> None:
    allowed_set = set(allowed)
    unknown = sorted(set(args) - allowed_set)
    if unknown:
        raise BadRequestError(
            f"unknown parameter {unknown[0]!r}; allowed: {', '.join(sorted(allowed_set))}",
            # An empty name (``?=x``) still gets named, so that the error always says which.
            parameter=unknown[0] or "<empty>",
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


def parse_values(raw: str | None, name: str, max_items: int = 50, max_length: int = 128) -> list[str] | None:
    """A comma-separated list of free values (OR within the list); ``None`` when absent."""
    if raw is None:
        return None
    values = list(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not values:
        raise BadRequestError(f"{name} must name at least one value", parameter=name)
    if len(values) > max_items:
        raise BadRequestError(f"{name} accepts at most {max_items} values", parameter=name)
    if any(len(value) > max_length for value in values):
        raise BadRequestError(f"{name} values must be at most {max_length} characters", parameter=name)
    return values


def parse_int_values(raw: str | None, name: str, minimum: int, maximum: int) -> list[int] | None:
    """A comma-separated list of integers within [minimum, maximum]; ``None`` when absent."""
    values = parse_values(raw, name)
    if values is None:
        return None
    try:
        numbers = [int(value) for value in values]
    except ValueError:
        raise BadRequestError(f"{name} must be comma-separated integers", parameter=name) from None
    if any(not minimum <= number <= maximum for number in numbers):
        raise BadRequestError(f"{name} values must lie in [{minimum}, {maximum}]", parameter=name)
    return numbers


def parse_bool(raw: str | None, name: str) -> bool | None:
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise BadRequestError(f"{name} must be true or false", parameter=name)


def parse_int(raw: str | None, name: str, minimum: int, maximum: int) -> int:
    if raw is None or not raw.strip():
        raise BadRequestError(f"{name} is required", parameter=name)
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestError(f"{name} must be an integer", parameter=name) from None
    if not minimum <= value <= maximum:
        raise BadRequestError(f"{name} must lie in [{minimum}, {maximum}]", parameter=name)
    return value


def parse_choice(raw: str | None, choices: Iterable[str], name: str, default: str) -> str:
    """Exactly one of ``choices``; ``default`` when absent."""
    options = list(choices)
    if raw is None:
        return default
    if raw not in options:
        raise BadRequestError(f"{name} must be one of {', '.join(options)}", parameter=name)
    return raw


def parse_datetime(raw: str | None, name: str) -> datetime | None:
    """An ISO 8601 date or date-time; a naive value is read as UTC."""
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise BadRequestError(
            f"{name} must be an ISO 8601 date or date-time (e.g. 2025-01-31T12:00:00Z)", parameter=name
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_text(raw: str | None, name: str, max_length: int = 200) -> str:
    value = (raw or "").strip()
    if not value:
        raise BadRequestError(f"{name} is required and must not be blank", parameter=name)
    if len(value) > max_length:
        raise BadRequestError(f"{name} must be at most {max_length} characters", parameter=name)
    return value
