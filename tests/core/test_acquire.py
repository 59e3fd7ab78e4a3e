"""Freshness probe, source cache and download safety against a real local HTTP server."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import threading
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from stopsync.errors import SourceUnavailableError
from stopsync.pipeline.acquire import (
    HttpSettings,
    acquire_location,
    download,
    load_state,
    sha256_file,
    state_path,
)
from stopsync.pipeline.progress import Progress

CONTENT_TYPES = {".csv": "text/csv; charset=utf-8", ".xml": "application/xml", ".zip": "application/zip",
                 ".geojson": "application/geo+json"}
ATLAS_TYPES = ("text/csv", "application/zip", "application/octet-stream")
HTTP = HttpSettings(user_agent="stopsync-tests", timeout_s=5)


class FileServer:
    """Serves files from memory with ETag/Last-Modified, Range and conditional requests.

    ``mode`` switches on a misbehaviour: ``500``, ``html`` (an error page as text/html),
    ``html_as_binary`` (the same page labelled application/octet-stream), ``truncate`` (announces
    more bytes than it sends, then closes), ``empty``, ``no_validators``, ``range_without_validators`` (a 206
    without validators, but full GETs honour If-None-Match), ``ignore_range`` and ``range_416``.
    """

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files: dict[str, bytes] = {}
        self.modified: dict[str, float] = {}
        self.mode = "normal"
        self.requests: list[dict[str, Any]] = []
        self._clock = 1_700_000_000.0
        for name, content in files.items():
            self.set_file(name, content)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def set_file(self, name: str, content: bytes) -> None:
        self._clock += 60
        self.files[name] = content
        self.modified[name] = self._clock

    def etag(self, name: str) -> str:
        return '"' + hashlib.sha256(self.files[name]).hexdigest()[:16] + '"'

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def full_gets(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == "GET" and not r["range"]]

    def ranged_gets(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == "GET" and r["range"]]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                server.requests.append({"method": "POST", "path": self.path, "range": None, "body": body,
                                        "content_type": self.headers.get("Content-Type"),
                                        "user_agent": self.headers.get("User-Agent")})
                payload = b"<osm>" + body + b"</osm>"
                self._send(200, payload, {"Content-Type": "application/xml"})

            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                server.requests.append({"method": "GET", "path": self.path, "range": self.headers.get("Range"),
                                        "if_none_match": self.headers.get("If-None-Match"),
                                        "user_agent": self.headers.get("User-Agent")})
                mode = server.mode
                if mode == "500":
                    self._send(500, b"internal error", {"Content-Type": "text/plain"})
                    return
                if name not in server.files:
                    self._send(404, b"not found", {"Content-Type": "text/plain"})
                    return
                if mode in ("html", "html_as_binary"):
                    page = b"<!DOCTYPE html><html><body>Scheduled maintenance</body></html>"
                    kind = "text/html; charset=utf-8" if mode == "html" else "application/octet-stream"
                    self._send(200, page, {"Content-Type": kind})
                    return
                content = server.files[name]
                headers = {"Content-Type": CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream"),
                           "Accept-Ranges": "bytes"}
                if mode not in ("no_validators",):
                    headers["ETag"] = server.etag(name)
                    headers["Last-Modified"] = formatdate(server.modified[name], usegmt=True)
                wanted = self.headers.get("Range")
                if wanted and mode == "range_416":
                    self._send(416, b"", {"Content-Type": "text/plain"})
                    return
                if wanted and mode != "ignore_range":
                    if mode == "range_without_validators":
                        headers.pop("ETag"), headers.pop("Last-Modified")
                    headers["Content-Range"] = f"bytes 0-0/{len(content)}"
                    self._send(206, content[:1], headers)
                    return
                if mode != "no_validators" and self.headers.get("If-None-Match") == server.etag(name):
                    self._send(304, b"", headers, with_length=False)
                    return
                if mode == "empty":
                    self._send(200, b"", headers)
                elif mode == "truncate":
                    headers["Content-Length"] = str(len(content))
                    self._send(200, content[: len(content) // 2], headers, with_length=False)
                    self.close_connection = True
                else:
                    self._send(200, content, headers)

            def _send(self, status: int, body: bytes, headers: dict[str, str], with_length: bool = True) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if with_length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # a probe closes after a few bytes

        return Handler

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def real_files(real_data: Path) -> dict[str, bytes]:
    return {name: (real_data / name).read_bytes() for name in (
        "atlas_traffic_points_sample.csv", "osm_sample.xml", "switzerland.geojson", "gtfs_ch_2019_subset.zip")}


@pytest.fixture
def server(real_data: Path) -> Iterator[FileServer]:
    with FileServer(real_files(real_data)) as running:
        yield running


ATLAS = "atlas_traffic_points_sample.csv"


def fetch(server: FileServer, cache: Path, name: str = ATLAS, **kwargs: Any) -> Any:
    kwargs.setdefault("expect_types", ATLAS_TYPES)
    return acquire_location("atlas-csv", server.url(name), cache, HTTP, **kwargs)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_first_download_records_the_state(server: FileServer, tmp_path: Path) -> None:
    got = fetch(server, tmp_path)
    assert got.decision == "missing" and not got.from_cache
    assert got.path.read_bytes() == server.files[ATLAS]
    assert got.sha256 == sha(server.files[ATLAS]) and got.size == len(server.files[ATLAS])
    assert got.validators.etag == server.etag(ATLAS) and got.validators.last_modified
    state = json.loads(state_path(tmp_path, "atlas-csv").read_text())
    assert state["location"] == server.url(ATLAS) and state["sha256"] == got.sha256
    assert state["validators"]["etag"] == server.etag(ATLAS) and state["fetched_at"]
    assert state["decision"] == "missing" and state["size"] == got.size
    assert server.requests[0]["user_agent"] == "stopsync-tests"


def test_unchanged_source_is_a_hit_without_a_full_download(server: FileServer, tmp_path: Path) -> None:
    fetch(server, tmp_path)
    server.requests.clear()
    got = fetch(server, tmp_path)
    assert got.decision == "hit" and got.from_cache
    assert "validators unchanged" in got.reason
    assert server.full_gets() == [] and len(server.ranged_gets()) == 1
    assert server.ranged_gets()[0]["range"] == "bytes=0-0"


def test_changed_source_is_downloaded_again(server: FileServer, tmp_path: Path) -> None:
    first = fetch(server, tmp_path)
    changed = server.files[ATLAS].rsplit(b"\n", 2)[0] + b"\n"  # the last row withdrawn
    server.set_file(ATLAS, changed)
    server.requests.clear()
    got = fetch(server, tmp_path)
    assert got.decision == "source_changed" and "etag" in got.reason
    assert got.path.read_bytes() == changed and got.sha256 == sha(changed) != first.sha256
    assert len(server.full_gets()) == 1
    assert load_state(tmp_path, "atlas-csv").sha256 == sha(changed)  # type: ignore[union-attr]


def test_not_modified_answer_is_a_hit(server: FileServer, tmp_path: Path) -> None:
    fetch(server, tmp_path)
    server.mode = "range_without_validators"  # the probe cannot tell; the conditional GET can
    server.requests.clear()
    got = fetch(server, tmp_path)
    assert got.decision == "hit" and "304" in got.reason and got.from_cache
    assert server.full_gets()[0]["if_none_match"] == server.etag(ATLAS)


def test_server_without_validators_is_compared_by_sha256(server: FileServer, tmp_path: Path) -> None:
    server.mode = "no_validators"
    assert fetch(server, tmp_path).decision == "missing"
    again = fetch(server, tmp_path)
    assert again.decision == "hit" and "same SHA-256" in again.reason
    same_size = server.files[ATLAS].replace(b"BOARDING_PLATFORM", b"BOARDING_AREA____", 1)
    server.set_file(ATLAS, same_size)  # a size alone would already tell
    changed = fetch(server, tmp_path)
    assert changed.decision == "source_changed" and "new SHA-256" in changed.reason
    assert changed.sha256 == sha(server.files[ATLAS])


def test_ignored_range_still_probes_cheaply(server: FileServer, tmp_path: Path) -> None:
    fetch(server, tmp_path)
    server.mode = "ignore_range"
    assert fetch(server, tmp_path).decision == "hit"


def test_range_not_supported_falls_back_to_the_content(server: FileServer, tmp_path: Path) -> None:
    fetch(server, tmp_path)
    server.mode = "range_416"
    got = fetch(server, tmp_path)
    assert got.decision == "hit" and "304" in got.reason


def _assert_cache_intact(cache: Path, good_sha: str) -> None:
    state = load_state(cache, "atlas-csv")
    assert state is not None and state.sha256 == good_sha
    assert sha256_file(Path(str(state.path))) == good_sha
    assert not list(cache.glob("*.part"))


def test_truncated_download_keeps_the_cached_copy(server: FileServer, tmp_path: Path) -> None:
    good = fetch(server, tmp_path)
    server.set_file(ATLAS, server.files[ATLAS] + b"more\n")
    server.mode = "truncate"
    with pytest.raises(SourceUnavailableError) as error:
        fetch(server, tmp_path)
    assert error.value.source == "atlas-csv" and "truncated" in error.value.message
    _assert_cache_intact(tmp_path, good.sha256)


def test_truncated_first_download_leaves_nothing(server: FileServer, tmp_path: Path) -> None:
    server.mode = "truncate"
    with pytest.raises(SourceUnavailableError, match="truncated"):
        fetch(server, tmp_path)
    assert not list(tmp_path.glob("atlas-csv-*"))
    assert load_state(tmp_path, "atlas-csv") is None


@pytest.mark.parametrize(("mode", "message"), [
    ("html", "content type 'text/html'"),
    ("html_as_binary", "HTML page instead of data"),
    ("empty", "empty body"),
])
def test_bad_answers_keep_the_cached_copy(server: FileServer, tmp_path: Path, mode: str, message: str) -> None:
    good = fetch(server, tmp_path)
    server.set_file(ATLAS, server.files[ATLAS] + b"\n")
    server.mode = mode
    with pytest.raises(SourceUnavailableError, match=message):
        fetch(server, tmp_path)
    _assert_cache_intact(tmp_path, good.sha256)


@pytest.mark.parametrize("cached", [False, True])
def test_server_error_names_the_source_and_the_code(server: FileServer, tmp_path: Path, cached: bool) -> None:
    good = fetch(server, tmp_path) if cached else None
    server.mode = "500"
    with pytest.raises(SourceUnavailableError) as error:
        fetch(server, tmp_path)
    assert "data source 'atlas-csv' is unavailable: HTTP 500" in error.value.message
    if good is not None:
        _assert_cache_intact(tmp_path, good.sha256)


def test_unreachable_server_is_named(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError, match=r"cannot reach http://127\.0\.0\.1:9/a\.csv"):
        acquire_location("atlas-csv", "http://127.0.0.1:9/a.csv", tmp_path, HTTP)


def test_force_downloads_again(server: FileServer, tmp_path: Path) -> None:
    fetch(server, tmp_path)
    server.requests.clear()
    got = fetch(server, tmp_path, force=True)
    assert got.decision == "forced" and not got.from_cache
    assert len(server.full_gets()) == 1 and server.full_gets()[0]["if_none_match"] is None


def test_offline_uses_the_cache_without_asking(server: FileServer, tmp_path: Path) -> None:
    good = fetch(server, tmp_path)
    server.requests.clear()
    got = fetch(server, tmp_path, offline=True)
    assert got.decision == "offline" and "offline" in got.reason and got.from_cache
    assert got.sha256 == good.sha256 and server.requests == []


def test_offline_without_cache_is_a_clear_error(server: FileServer, tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError, match="offline, and no cached copy for http://"):
        fetch(server, tmp_path, offline=True)
    assert server.requests == []


def test_offline_with_a_damaged_cache_is_an_error(server: FileServer, tmp_path: Path) -> None:
    got = fetch(server, tmp_path)
    got.path.write_bytes(b"x" * got.size)  # same size, other bytes
    with pytest.raises(SourceUnavailableError, match="does not match its recorded SHA-256"):
        fetch(server, tmp_path, offline=True)


def test_damaged_cache_is_downloaded_again(server: FileServer, tmp_path: Path) -> None:
    got = fetch(server, tmp_path)
    got.path.write_bytes(b"x" * got.size)
    again = fetch(server, tmp_path)
    assert again.decision == "missing" and "SHA-256" in again.reason
    assert again.path.read_bytes() == server.files[ATLAS]


def test_unreadable_state_counts_as_no_cache(server: FileServer, tmp_path: Path) -> None:
    fetch(server, tmp_path)
    state_path(tmp_path, "atlas-csv").write_text("{not json")
    assert fetch(server, tmp_path).decision == "missing"


def test_changed_location_is_fetched(server: FileServer, tmp_path: Path) -> None:
    fetch(server, tmp_path)
    got = fetch(server, tmp_path, name="gtfs_ch_2019_subset.zip")
    assert got.decision == "missing" and "location changed" in got.reason


def test_local_file_decisions(tmp_path: Path) -> None:
    cache, data = tmp_path / "cache", tmp_path / "atlas.csv"
    data.write_text("a;b\n1;2\n")
    first = acquire_location("atlas-csv", str(data), cache, HTTP)
    assert first.decision == "missing" and first.path == data and first.sha256 == sha256_file(data)
    assert acquire_location("atlas-csv", str(data), cache, HTTP).reason == "size and modification time unchanged"
    os.utime(data, ns=(1, 1))  # touched, same bytes
    touched = acquire_location("atlas-csv", str(data), cache, HTTP)
    assert touched.decision == "hit" and "same SHA-256" in touched.reason
    data.write_text("a;b\n1;3\n")
    assert acquire_location("atlas-csv", str(data), cache, HTTP).decision == "source_changed"
    assert acquire_location("atlas-csv", str(data), cache, HTTP, force=True).decision == "forced"
    offline = acquire_location("atlas-csv", str(data), cache, HTTP, offline=True)
    assert offline.decision == "offline" and offline.reason == "offline: using the local file"
    with pytest.raises(SourceUnavailableError, match="no such file"):
        acquire_location("atlas-csv", str(tmp_path / "gone.csv"), cache, HTTP)
    with pytest.raises(SourceUnavailableError, match="offline, and"):
        acquire_location("atlas-csv", str(tmp_path / "gone.csv"), cache, HTTP, offline=True)


def test_plugin_fetch_is_compared_by_sha256(tmp_path: Path) -> None:
    produced = tmp_path / "cache" / "overpass-stops.osm"
    produced.parent.mkdir()
    calls: list[int] = []

    def plugin_fetch() -> Path:
        calls.append(1)
        produced.write_text(f"<osm>{len(calls) // 3}</osm>")  # changes on the third call
        return produced

    def run(**kwargs: Any) -> str:
        return acquire_location("overpass", "overpass", tmp_path / "cache", HTTP, fetch=plugin_fetch,
                                **kwargs).decision

    assert [run(), run(), run(), run(force=True)] == ["missing", "hit", "source_changed", "forced"]
    assert run(offline=True) == "offline" and len(calls) == 4


def test_download_keeps_its_post_api(server: FileServer, tmp_path: Path) -> None:
    target = download("overpass", server.url("interpreter"), tmp_path / "out.osm", user_agent="ua",
                      timeout_s=5, data=b"data=query", content_type="application/x-www-form-urlencoded")
    assert target.read_bytes() == b"<osm>data=query</osm>"
    post = server.requests[-1]
    assert post["content_type"] == "application/x-www-form-urlencoded" and post["user_agent"] == "ua"
    server.mode = "500"
    with pytest.raises(SourceUnavailableError, match="HTTP 500"):
        download("overpass", server.url(ATLAS), target, user_agent="ua", timeout_s=5)
    assert target.read_bytes() == b"<osm>data=query</osm>"


def test_download_reports_progress(server: FileServer, tmp_path: Path) -> None:
    states: list[dict[str, Any]] = []
    fetch(server, tmp_path, on_progress=states.append)
    final = states[-1]
    size = len(server.files[ATLAS])
    assert final["phase"] == "download" and final["source"] == "atlas-csv" and final["unit"] == "bytes"
    assert final["done"] == final["total"] == size and final["eta_s"] == 0.0


# --- progress ---------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TtyStream(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_updates_one_line() -> None:
    clock, stream = FakeClock(), TtyStream()
    states: list[dict[str, Any]] = []
    progress = Progress("download", "atlas-csv", total=4096, on_update=states.append, stream=stream, clock=clock)
    clock.now += 1
    progress.advance(1024)
    clock.now += 0.1
    progress.advance(1024)  # within 0.2 s of the last update: throttled
    clock.now += 0.5
    progress.advance(1024)
    progress.finish()
    assert len(states) == 3  # two throttled-through updates and the final one
    assert states[0] == {"phase": "download", "source": "atlas-csv", "done": 1024, "total": 4096,
                         "unit": "bytes", "rate": 1024.0, "eta_s": 3.0}
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n") and text.count("\r") == 3
    assert "1.0 KB of 4.0 KB (25%)" in text and "ETA 0:03" in text


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_progress_without_a_terminal_logs_every_five_seconds() -> None:
    clock, stream = FakeClock(), io.StringIO()
    progress = Progress("parse", "gtfs", unit="rows", stream=stream, clock=clock)
    logger = logging.getLogger("stopsync.pipeline.progress")
    handler, level = Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        for _ in range(20):
            clock.now += 1
            progress.advance(500)
        progress.finish()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert [r.getMessage() for r in handler.records] == ["progress"] * 4 + ["progress finished"]
    first = vars(handler.records[0])
    assert first["done"] == 2500 and first["unit"] == "rows" and first["eta_s"] is None
    assert stream.getvalue() == ""


def test_progress_rejects_a_negative_total() -> None:
    progress = Progress("download", "x", total=-1, stream=io.StringIO())
    assert progress.state()["total"] is None

