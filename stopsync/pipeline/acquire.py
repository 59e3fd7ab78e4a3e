"""Acquisition: turn a configured location (URL or local path) into a local file, and decide
whether the source changed since the last run.

Downloads go to a temporary file in the cache and are moved into place only when complete, so
a failed, truncated, empty or wrong-type download never replaces a good cached copy.

Per source, ``<cache_dir>/<source>.state.json`` keeps what the last run saw: the location, the
server's validators (ETag, Last-Modified, Content-Length), the cached file with its size and
SHA-256, when it was fetched and the decision taken. A cheap ranged probe (``Range: bytes=0-0``)
compares the validators; only a changed (or unknown) source is downloaded again.
"""

from __future__ import annotations

import fnmatch
import hashlib
import http.client
import json
import logging
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any

from ..errors import SourceUnavailableError
from .progress import Progress, ProgressCallback

log = logging.getLogger(__name__)

CHUNK = 1 << 20
# A probe reads at most this much of a body, even when the server ignores the Range header.
PROBE_READ_BYTES = 16

# Why a source was (or was not) fetched again.
HIT = "hit"
SOURCE_CHANGED = "source_changed"
MISSING = "missing"
FORCED = "forced"
OFFLINE = "offline"
DECISIONS = (HIT, SOURCE_CHANGED, MISSING, FORCED, OFFLINE)

_HTML_START = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body)", re.IGNORECASE)


def is_url(location: str) -> bool:
    return bool(re.match(r"^https?://", location, re.IGNORECASE))


def cache_name(source: str, location: str) -> str:
    """A stable cache file name for ``location`` of ``source``."""
    tail = location.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or "download"
    tail = re.sub(r"[^A-Za-z0-9._-]", "_", tail)[:80]
    return f"{source}-{tail}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Validators:
    """What an HTTP server says about the current version of a resource."""

    etag: str | None = None
    last_modified: str | None = None
    content_length: int | None = None

    @property
    def usable(self) -> bool:
        """Whether they can tell versions apart (a size alone cannot)."""
        return bool(self.etag or self.last_modified)

    def differences(self, other: Validators) -> list[str]:
        """The validators that both sides know and that differ."""
        changed = []
        for name in ("etag", "last_modified", "content_length"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine is not None and theirs is not None and mine != theirs:
                changed.append(name)
        return changed

    def shared(self, other: Validators) -> bool:
        """Whether at least one version-telling validator is known on both sides."""
        return bool((self.etag and other.etag) or (self.last_modified and other.last_modified))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Validators:
        data = data or {}
        length = data.get("content_length")
        return cls(etag=data.get("etag"), last_modified=data.get("last_modified"),
                   content_length=int(length) if length is not None else None)


def validators_from_headers(headers: Message, status: int) -> Validators:
    length: int | None = None
    if status == 206:
        # "bytes 0-0/12345": the full size is after the slash ("*" when unknown).
        match = re.search(r"/(\d+)\s*$", headers.get("Content-Range", ""))
        length = int(match.group(1)) if match else None
    elif headers.get("Content-Length", "").strip().isdigit():
        length = int(headers["Content-Length"])
    return Validators(etag=headers.get("ETag"), last_modified=headers.get("Last-Modified"),
                      content_length=length)


@dataclass(frozen=True)
class Acquired:
    """A local file for a source, and why it was (re)fetched or reused."""

    source: str
    location: str
    path: Path
    decision: str
    reason: str
    validators: Validators
    sha256: str
    size: int
    from_cache: bool  # True: the file was already in place before this call

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "location": self.location,
            "path": str(self.path),
            "decision": self.decision,
            "reason": self.reason,
            "validators": self.validators.to_dict(),
            "sha256": self.sha256,
            "size": self.size,
            "from_cache": self.from_cache,
        }


@dataclass
class SourceState:
    """The contents of ``<source>.state.json``."""

    source: str
    location: str
    path: str | None = None
    validators: Validators = field(default_factory=Validators)
    size: int | None = None
    sha256: str | None = None
    mtime_ns: int | None = None
    fetched_at: str | None = None
    checked_at: str | None = None
    decision: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["validators"] = self.validators.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SourceState:
        known = {name: data.get(name) for name in (
            "path", "size", "sha256", "mtime_ns", "fetched_at", "checked_at", "decision", "reason")}
        return cls(source=str(data["source"]), location=str(data["location"]),
                   validators=Validators.from_dict(data.get("validators")), **known)

    def cached_file(self) -> Path | None:
        """The cached copy when it exists and still has the recorded size."""
        if not self.path:
            return None
        path = Path(self.path)
        if not path.is_file() or (self.size is not None and path.stat().st_size != self.size):
            return None
        return path


def state_path(cache_dir: Path, source: str) -> Path:
    return cache_dir / f"{source}.state.json"


def load_state(cache_dir: Path, source: str) -> SourceState | None:
    """The recorded state, or ``None`` when there is none (or it is unreadable)."""
    path = state_path(cache_dir, source)
    try:
        return SourceState.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable source state", extra={"path": str(path), "error": str(exc)})
        return None


def save_state(cache_dir: Path, state: SourceState) -> None:
    write_json_atomic(state_path(cache_dir, state.source), state.to_dict())


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=2, sort_keys=True)
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


# --- HTTP ---------------------------------------------------------------------------------


@dataclass
class _Download:
    """A completed download still in its temporary file."""

    tmp_path: Path
    sha256: str
    size: int
    validators: Validators


def _media_type(headers: Message) -> str | None:
    value = headers.get("Content-Type")
    return value.split(";", 1)[0].strip().lower() if value else None


def _type_accepted(media_type: str | None, expect_types: Collection[str] | None) -> bool:
    if not expect_types or media_type is None:
        return True
    return any(fnmatch.fnmatchcase(media_type, pattern.lower()) for pattern in expect_types)


def _http_failure(source: str, url: str, exc: BaseException) -> SourceUnavailableError:
    if isinstance(exc, urllib.error.HTTPError):
        return SourceUnavailableError(source, f"HTTP {exc.code} {exc.reason} from {url}")
    if isinstance(exc, http.client.IncompleteRead):
        return SourceUnavailableError(
            source, f"download truncated: connection closed after {len(exc.partial)} bytes from {url}")
    if isinstance(exc, http.client.HTTPException | ConnectionError):
        return SourceUnavailableError(source, f"connection to {url} dropped: {exc!r}")
    reason = getattr(exc, "reason", exc)
    return SourceUnavailableError(source, f"cannot reach {url}: {reason}")


def _stream_download(
    source: str,
    url: str,
    target: Path,
    *,
    user_agent: str,
    timeout_s: float,
    data: bytes | None = None,
    content_type: str | None = None,
    conditional: Validators | None = None,
    expect_types: Collection[str] | None = None,
    on_progress: ProgressCallback | None = None,
) -> _Download | None:
    """Stream ``url`` into a temporary file next to ``target``; ``None`` means 304 Not Modified.

    The caller moves the temporary file into place (or discards it).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    headers = {"User-Agent": user_agent, "Accept-Encoding": "identity"}
    if content_type:
        headers["Content-Type"] = content_type
    if conditional is not None:
        if conditional.etag:
            headers["If-None-Match"] = conditional.etag
        if conditional.last_modified:
            headers["If-Modified-Since"] = conditional.last_modified
    request = urllib.request.Request(url, data=data, headers=headers)
    fd, tmp_name = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
    keep = False
    try:
        digest = hashlib.sha256()
        received = 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout_s) as response:
            media_type = _media_type(response.headers)
            if not _type_accepted(media_type, expect_types):
                raise SourceUnavailableError(
                    source, f"{url} answered with content type {media_type!r}, expected one of "
                            f"{', '.join(sorted(expect_types or ()))}")
            validators = validators_from_headers(response.headers, response.status)
            expected = validators.content_length
            with Progress("download", source, total=expected, unit="bytes", on_update=on_progress) as progress:
                while chunk := response.read(CHUNK):
                    if received == 0 and _HTML_START.match(chunk) and not _type_accepted("text/html", expect_types):
                        raise SourceUnavailableError(source, f"{url} returned an HTML page instead of data")
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    progress.advance(len(chunk))
                if expected is not None and received != expected:
                    raise SourceUnavailableError(
                        source, f"download truncated: got {received} of {expected} bytes from {url}")
        if received == 0:
            raise SourceUnavailableError(source, f"{url} returned an empty body")
        keep = True
    except urllib.error.HTTPError as exc:
        if exc.code == 304 and conditional is not None:
            return None
        raise _http_failure(source, url, exc) from exc
    except SourceUnavailableError:
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise _http_failure(source, url, exc) from exc
    finally:
        if not keep and os.path.exists(tmp_name):
            os.unlink(tmp_name)
    log.info("downloaded", extra={"source": source, "url": url, "bytes": received})
    return _Download(Path(tmp_name), digest.hexdigest(), received, validators)


def download(
    source: str,
    url: str,
    target: Path,
    *,
    user_agent: str,
    timeout_s: float,
    data: bytes | None = None,
    content_type: str | None = None,
    expect_types: Collection[str] | None = None,
    on_progress: ProgressCallback | None = None,
) -> Path:
    """Fetch ``url`` (POST when ``data`` is given) into ``target`` atomically."""
    fetched = _stream_download(source, url, target, user_agent=user_agent, timeout_s=timeout_s, data=data,
                               content_type=content_type, expect_types=expect_types, on_progress=on_progress)
    if fetched is None:  # only a conditional request can answer 304
        raise SourceUnavailableError(source, f"unexpected 304 Not Modified from {url}")
    os.replace(fetched.tmp_path, target)
    return target


def probe(source: str, url: str, *, user_agent: str, timeout_s: float) -> Validators:
    """The server's validators for ``url`` from a ``Range: bytes=0-0`` GET.

    A server that ignores Range answers 200 with the whole body; only a few bytes are read and
    the connection is closed, so the probe costs as much as a HEAD request.
    """
    request = urllib.request.Request(url, headers={
        "User-Agent": user_agent, "Range": "bytes=0-0", "Accept-Encoding": "identity"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            validators = validators_from_headers(response.headers, response.status)
            response.read(PROBE_READ_BYTES)
            return validators
    except urllib.error.HTTPError as exc:
        if exc.code in (405, 416, 501):
            # No ranged GET here; the download itself will tell whether the content changed.
            return Validators()
        raise _http_failure(source, url, exc) from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise _http_failure(source, url, exc) from exc


# --- decisions ----------------------------------------------------------------------------


def cache_problem(state: SourceState | None, location: str) -> str | None:
    """Why there is no usable cached copy for ``location``, or ``None`` when there is one."""
    if state is None:
        return "no cached copy"
    if state.location != location:
        return f"location changed (was {state.location})"
    cached = state.cached_file()
    if cached is None:
        return "no cached copy" if not state.path else f"cached file {state.path} is gone or has the wrong size"
    return None


def decide_from_validators(state: SourceState, remote: Validators) -> tuple[str | None, str]:
    """Decision from a probe: ``hit``, ``source_changed``, or ``None`` when the validators cannot
    tell (then the content has to be downloaded and compared by SHA-256)."""
    stored = state.validators
    changed = remote.differences(stored)
    if changed:
        details = "; ".join(f"{name} {getattr(stored, name)!r} -> {getattr(remote, name)!r}" for name in changed)
        return SOURCE_CHANGED, f"server validators changed: {details}"
    if remote.shared(stored):
        return HIT, "server validators unchanged"
    return None, "server gives no usable validators"


def decide_local(state: SourceState | None, path: Path) -> tuple[str, str, str, int, int]:
    """(decision, reason, sha256, size, mtime_ns) for a local file; cheap when size and mtime match."""
    stat = path.stat()
    if (state is not None and state.location == str(path) and state.sha256 and state.size == stat.st_size
            and state.mtime_ns == stat.st_mtime_ns):
        return HIT, "size and modification time unchanged", state.sha256, stat.st_size, stat.st_mtime_ns
    digest = sha256_file(path)
    if state is None or state.location != str(path) or not state.sha256:
        return MISSING, "first run with this file", digest, stat.st_size, stat.st_mtime_ns
    if digest == state.sha256:
        return HIT, "content unchanged (same SHA-256)", digest, stat.st_size, stat.st_mtime_ns
    return SOURCE_CHANGED, "file content changed (new SHA-256)", digest, stat.st_size, stat.st_mtime_ns


# --- acquisition --------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpSettings:
    user_agent: str
    timeout_s: float


def local_file(source: str, location: str) -> Path:
    path = Path(location).expanduser()
    if not path.is_file():
        raise SourceUnavailableError(source, f"no such file: {path}")
    return path


def acquire_location(
    source: str,
    location: str,
    cache_dir: Path,
    http: HttpSettings,
    *,
    force: bool = False,
    offline: bool = False,
    expect_types: Collection[str] | None = None,
    fetch: Callable[[], Path | None] | None = None,
    on_progress: ProgressCallback | None = None,
) -> Acquired:
    """A local file for ``location`` of ``source`` with the decision taken, state recorded.

    ``fetch`` is a data source's own acquisition (for locations that are not plain URLs); it
    returns ``None`` to leave the location to the generic URL/file handling. It is not called
    offline.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    state = load_state(cache_dir, source)
    if offline:
        return _acquire_offline(source, location, cache_dir, state)
    if fetch is not None:
        fetched = fetch()
        if fetched is not None:
            return _record_plugin_fetch(source, location, cache_dir, state, Path(fetched), force)
    if is_url(location):
        return _acquire_url(source, location, cache_dir, state, http, force=force,
                            expect_types=expect_types, on_progress=on_progress)
    path = local_file(source, location)
    decision, reason, digest, size, mtime_ns = decide_local(state, path)
    if force:
        decision, reason = FORCED, "--force: treated as changed"
    return _finish(cache_dir, SourceState(
        source=source, location=str(path), path=str(path), size=size, sha256=digest, mtime_ns=mtime_ns,
        fetched_at=now_iso()), decision, reason, from_cache=decision == HIT)


def _finish(cache_dir: Path, state: SourceState, decision: str, reason: str, *, from_cache: bool) -> Acquired:
    state.decision, state.reason, state.checked_at = decision, reason, now_iso()
    save_state(cache_dir, state)
    log.info("source acquired", extra={"source": state.source, "decision": decision, "reason": reason})
    assert state.path is not None and state.sha256 is not None and state.size is not None
    return Acquired(source=state.source, location=state.location, path=Path(state.path), decision=decision,
                    reason=reason, validators=state.validators, sha256=state.sha256, size=state.size,
                    from_cache=from_cache)


def _acquire_offline(source: str, location: str, cache_dir: Path, state: SourceState | None) -> Acquired:
    if not is_url(location):
        path = Path(location).expanduser()
        if path.is_file():
            _, _, digest, size, mtime_ns = decide_local(state, path)
            return _finish(cache_dir, SourceState(
                source=source, location=str(path), path=str(path), size=size, sha256=digest, mtime_ns=mtime_ns,
                fetched_at=now_iso()), OFFLINE, "offline: using the local file", from_cache=True)
    problem = cache_problem(state, location)
    if problem is not None or state is None:
        raise SourceUnavailableError(source, f"offline, and {problem or 'no cached copy'} for {location}")
    cached = Path(str(state.path))
    if state.sha256 and sha256_file(cached) != state.sha256:
        raise SourceUnavailableError(
            source, f"offline, and the cached copy {cached} does not match its recorded SHA-256")
    state.sha256 = state.sha256 or sha256_file(cached)
    return _finish(cache_dir, state, OFFLINE, f"offline: using the cached copy fetched {state.fetched_at}",
                   from_cache=True)


def _record_plugin_fetch(
    source: str, location: str, cache_dir: Path, state: SourceState | None, path: Path, force: bool
) -> Acquired:
    """A plugin downloaded the file itself: tell by SHA-256 whether the content changed."""
    digest = sha256_file(path)
    if force:
        decision, reason = FORCED, "--force: fetched again"
    elif state is None or state.location != location or not state.sha256:
        decision, reason = MISSING, "no earlier copy to compare with"
    elif state.sha256 == digest:
        decision, reason = HIT, "fetched again; content unchanged (same SHA-256)"
    else:
        decision, reason = SOURCE_CHANGED, "fetched again; content changed (new SHA-256)"
    return _finish(cache_dir, SourceState(
        source=source, location=location, path=str(path), size=path.stat().st_size, sha256=digest,
        fetched_at=now_iso()), decision, reason, from_cache=False)


def _acquire_url(
    source: str,
    url: str,
    cache_dir: Path,
    state: SourceState | None,
    http: HttpSettings,
    *,
    force: bool,
    expect_types: Collection[str] | None,
    on_progress: ProgressCallback | None,
) -> Acquired:
    problem = cache_problem(state, url)
    if state is not None and problem is None and state.sha256:
        cached = Path(str(state.path))
        if sha256_file(cached) != state.sha256:
            problem = f"cached file {cached} does not match its recorded SHA-256"
    target = cache_dir / cache_name(source, url)
    by_content = False  # True: only the downloaded bytes can tell whether the source changed
    if force:
        decision, reason = FORCED, "--force: downloaded again"
    elif problem is not None or state is None:
        decision, reason = MISSING, problem or "no cached copy"
    else:
        remote = probe(source, url, user_agent=http.user_agent, timeout_s=http.timeout_s)
        probe_decision, reason = decide_from_validators(state, remote)
        if probe_decision == HIT:
            return _finish(cache_dir, state, HIT, reason, from_cache=True)
        by_content = probe_decision is None
        decision = SOURCE_CHANGED
    # Conditional only when a good cached copy can answer a 304.
    conditional = state.validators if state is not None and problem is None and not force else None
    fetched = _stream_download(source, url, target, user_agent=http.user_agent, timeout_s=http.timeout_s,
                               conditional=conditional, expect_types=expect_types, on_progress=on_progress)
    if fetched is None:
        assert state is not None
        return _finish(cache_dir, state, HIT, f"{reason}; server answered 304 Not Modified", from_cache=True)
    if decision == SOURCE_CHANGED and state is not None and fetched.sha256 == state.sha256:
        # The validators moved (or there are none) but the bytes did not.
        os.unlink(fetched.tmp_path)
        state.validators = fetched.validators
        return _finish(cache_dir, state, HIT, f"{reason}; downloaded content unchanged (same SHA-256)",
                       from_cache=True)
    if by_content:
        reason = f"{reason}; downloaded content changed (new SHA-256)"
    os.replace(fetched.tmp_path, target)
    return _finish(cache_dir, SourceState(
        source=source, location=url, path=str(target), validators=fetched.validators, size=fetched.size,
        sha256=fetched.sha256, fetched_at=now_iso()), decision, reason, from_cache=False)


# --- inspection (``flask pipeline sources``) --------------------------------------------------

UNKNOWN = "unknown"
UNREACHABLE = "unreachable"
UNAVAILABLE = "unavailable"


def inspect_location(
    source: str,
    location: str,
    cache_dir: Path,
    http: HttpSettings,
    *,
    probe_server: bool = True,
    fetched_by_plugin: bool = False,
) -> dict[str, Any]:
    """The cache state of a source and the decision a run would take now; changes nothing.

    Besides the run decisions, ``decision`` may be ``unknown`` (not probed, no validators, or a
    plugin's own download), ``unreachable`` (the probe failed) or ``unavailable`` (no such file).
    """
    state = load_state(cache_dir, source)
    cached = state.cached_file() if state is not None else None
    report: dict[str, Any] = {
        "source": source,
        "location": location,
        "location_type": "url" if is_url(location) else "plugin" if fetched_by_plugin else "file",
        "cache": None,
        "validators": state.validators.to_dict() if state is not None else None,
        "remote_validators": None,
        "last_decision": state.decision if state is not None else None,
        "last_checked_at": state.checked_at if state is not None else None,
    }
    if state is not None and state.path:
        report["cache"] = {"path": state.path, "present": cached is not None, "size": state.size,
                           "sha256": state.sha256, "fetched_at": state.fetched_at}
    decision, reason = _would_decide(source, location, state, http, probe_server, fetched_by_plugin, report)
    report["decision"], report["reason"] = decision, reason
    return report


def _would_decide(
    source: str,
    location: str,
    state: SourceState | None,
    http: HttpSettings,
    probe_server: bool,
    fetched_by_plugin: bool,
    report: dict[str, Any],
) -> tuple[str, str]:
    if not is_url(location) and not fetched_by_plugin:
        path = Path(location).expanduser()
        if not path.is_file():
            return UNAVAILABLE, f"no such file: {path}"
        decision, reason, *_ = decide_local(state, path)
        return decision, reason
    problem = cache_problem(state, location)
    if problem is None and state is not None and state.sha256 and sha256_file(Path(str(state.path))) != state.sha256:
        problem = "cached file does not match its recorded SHA-256"
    if fetched_by_plugin:
        first = f"; {problem}" if problem else ""
        return UNKNOWN, f"fetched by the data source plugin itself; a run downloads and compares SHA-256{first}"
    if not probe_server:
        if problem is not None or state is None:
            return MISSING, problem or "no cached copy"
        return UNKNOWN, "not probed (--no-probe)"
    try:
        remote = probe(source, location, user_agent=http.user_agent, timeout_s=http.timeout_s)
    except SourceUnavailableError as exc:
        return UNREACHABLE, exc.reason if problem is None else f"{problem}, and {exc.reason}"
    report["remote_validators"] = remote.to_dict()
    if problem is not None or state is None:
        return MISSING, problem or "no cached copy"
    would, why = decide_from_validators(state, remote)
    if would is None:
        return UNKNOWN, f"{why}: a run downloads and compares SHA-256"
    return would, why
