"""Acquisition: turn a configured location (URL or local path) into a local file.

Downloads go to a temporary file in the cache and are moved into place only when complete, so
a failed or truncated download never replaces a good cached copy.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import SourceUnavailableError

log = logging.getLogger(__name__)

CHUNK = 1 << 20


def is_url(location: str) -> bool:
    return bool(re.match(r"^https?://", location, re.IGNORECASE))


def cache_name(source: str, location: str) -> str:
    """A stable cache file name for ``location`` of ``source``."""
    tail = location.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or "download"
    tail = re.sub(r"[^A-Za-z0-9._-]", "_", tail)[:80]
    return f"{source}-{tail}"


def download(
    source: str,
    url: str,
    target: Path,
    *,
    user_agent: str,
    timeout_s: float,
    data: bytes | None = None,
    content_type: str | None = None,
) -> Path:
    """Fetch ``url`` (POST when ``data`` is given) into ``target`` atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    headers = {"User-Agent": user_agent}
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(url, data=data, headers=headers)
    fd, tmp_name = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout_s) as response:
            expected = response.headers.get("Content-Length")
            received = 0
            while chunk := response.read(CHUNK):
                out.write(chunk)
                received += len(chunk)
        if expected is not None and received != int(expected):
            raise SourceUnavailableError(
                source, f"download truncated: got {received} of {expected} bytes from {url}"
            )
        if received == 0:
            raise SourceUnavailableError(source, f"{url} returned an empty body")
        os.replace(tmp_name, target)
    except urllib.error.HTTPError as exc:
        raise SourceUnavailableError(source, f"HTTP {exc.code} {exc.reason} from {url}") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        if isinstance(exc, SourceUnavailableError):
            raise
        reason = getattr(exc, "reason", exc)
        raise SourceUnavailableError(source, f"cannot reach {url}: {reason}") from exc
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    log.info("downloaded", extra={"source": source, "url": url, "bytes": received, "path": str(target)})
    return target


def local_file(source: str, location: str) -> Path:
    path = Path(location).expanduser()
    if not path.is_file():
        raise SourceUnavailableError(source, f"no such file: {path}")
    return path
