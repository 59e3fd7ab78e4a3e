"""Opaque paging cursors.

A cursor is base64url-encoded JSON holding the last key seen (per layer), the snapshot it was
made for and a fingerprint of the query. A cursor from another query or from a previous
publication is refused with a 400 instead of silently skipping or repeating items.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Iterable
from typing import Any

from ...errors import BadRequestError

MAX_CURSOR_LENGTH = 2048


def query_fingerprint(items: Iterable[tuple[str, Any]]) -> str:
    """A short digest of the normalised query (without the cursor itself)."""
    text = json.dumps(sorted((key, value) for key, value in items if key != "cursor"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_cursor(run_id: str, fingerprint: str, position: dict[str, Any]) -> str:
    payload = json.dumps({"r": run_id, "q": fingerprint, "p": position}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(raw: str | None, run_id: str, fingerprint: str) -> dict[str, Any] | None:
    """The position a cursor holds, or ``None`` for the first page."""
    if raw is None:
        return None
    if not raw or len(raw) > MAX_CURSOR_LENGTH:
        raise BadRequestError("cursor is malformed", parameter="cursor")
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequestError("cursor is malformed", parameter="cursor") from None
    if not isinstance(data, dict) or not isinstance(data.get("p"), dict):
        raise BadRequestError("cursor is malformed", parameter="cursor")
    if data.get("r") != run_id:
        raise BadRequestError("cursor belongs to an earlier snapshot; start again", parameter="cursor")
    if data.get("q") != fingerprint:
        raise BadRequestError("cursor belongs to a different query", parameter="cursor")
    if not _safe(data["p"]):
        raise BadRequestError("cursor is malformed", parameter="cursor")
    position: dict[str, Any] = data["p"]
    return position


def _safe(value: Any) -> bool:
    """Only values every database accepts as bind parameters: no NUL in strings, 64-bit
    integers, finite floats."""
    if isinstance(value, dict):
        return all(isinstance(key, str) and _safe(key) and _safe(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_safe(item) for item in value)
    if isinstance(value, str):
        return "\x00" not in value and len(value) <= 256
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, float):
        return math.isfinite(value)
    return False


def cursor_value(position: dict[str, Any], key: str, kind: type, length: int | None = None) -> Any:
    """One typed entry of a decoded position (a tuple when ``length`` is given)."""
    value = position.get(key)
    if value is None:
        return None
    if length is not None:
        if not isinstance(value, list) or len(value) != length or not all(isinstance(v, kind) for v in value):
            raise BadRequestError("cursor is malformed", parameter="cursor")
        return tuple(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BadRequestError("cursor is malformed", parameter="cursor")
    return value
