"""The Overpass source against a real local HTTP server: query, retries, error answers, cache."""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import shapely
from shapely.geometry import Polygon

from stopsync.errors import ConfigurationError, SourceUnavailableError
from stopsync.pipeline.region import Region, load_region, region_from_bbox
from stopsync.plugins.builtin.overpass import (
    OverpassSource,
    build_query,
    fetch_overpass,
    poly_strings,
    retry_delay,
    scope_from_config,
)

ANSWER = b"""<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="Overpass API 0.7.62.1">
<note>The data included in this document is from www.openstreetmap.org.</note>
<meta osm_base="2026-11-26T02:00:00Z"/>
  <node id="1" lat="47.1410000" lon="9.5210000">
    <tag k="highway" v="bus_stop"/><tag k="uic_ref" v="8577101"/>
  </node>
  <way id="2"><center lat="47.1420000" lon="9.5220000"/><tag k="railway" v="platform"/></way>
  <relation id="3">
    <member type="node" ref="1" role="platform"/>
    <tag k="type" v="route"/><tag k="route" v="bus"/><tag k="ref" v="11"/>
  </relation>
</osm>
"""
ERROR_ANSWER = b"""<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="Overpass API 0.7.62.1">
<note>The data included in this document is from www.openstreetmap.org.</note>
<meta osm_base="2026-11-26T02:00:00Z"/>
<remark> runtime error: Query timed out in "query" at line 3 after 901 seconds. </remark>
</osm>
"""
RESET = (0, {}, b"")  # close the connection without answering


@dataclass
class Script:
    """What the server answers, in order (the last answer repeats), and what it received."""

    answers: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_answer(self) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            script.requests.append({
                "path": self.path,
                "user_agent": self.headers.get("User-Agent"),
                "content_type": self.headers.get("Content-Type"),
                "query": urllib.parse.parse_qs(body.decode())["data"][0],
            })
            status, headers, payload = script.next_answer()
            if status == 0:
                self.close_connection = True
                return
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/api/interpreter", script
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _source(url: str, **config: Any) -> OverpassSource:
    return OverpassSource({
        "OVERPASS_URL": url,
        "HTTP_USER_AGENT": "stopsync-test/1.0 (tests@example.org)",
        "HTTP_TIMEOUT_S": 10,
        "OVERPASS_TIMEOUT_S": 5,
        "OVERPASS_BACKOFF_S": 0.001,
        "OVERPASS_AREA": "ISO3166-1=LI",
        **config,
    })


def test_429_is_retried_then_the_answer_is_read(server: tuple[str, Script], tmp_path: Path) -> None:
    url, script = server
    script.answers = [(429, {"Retry-After": "0"}, b"slow down"), (200, {}, ANSWER)]
    source = _source(url)
    path = source.fetch("overpass", tmp_path)
    assert path == tmp_path / "overpass-stops.osm"
    assert len(script.requests) == 2
    result = source.read(path)
    assert sorted(e.osm_id for e in result.records) == ["node/1", "way/2"]
    assert [r.osm_id for r in result.related["routes"]] == ["relation/3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["overpass-stops.osm"]  # no temp files left


def test_connection_reset_is_retried(server: tuple[str, Script], tmp_path: Path) -> None:
    url, script = server
    script.answers = [RESET, (200, {}, ANSWER)]
    path = _source(url).fetch("overpass", tmp_path)
    assert path is not None and path.read_bytes() == ANSWER
    assert len(script.requests) == 2


def test_error_answer_keeps_the_cached_copy(server: tuple[str, Script], tmp_path: Path) -> None:
    url, script = server
    cached = tmp_path / "overpass-stops.osm"
    cached.write_bytes(ANSWER)
    script.answers = [(200, {}, ERROR_ANSWER)]
    with pytest.raises(SourceUnavailableError, match=r"Overpass answered with an error: runtime error: "
                                                     r"Query timed out"):
        _source(url).fetch("overpass", tmp_path)
    assert cached.read_bytes() == ANSWER
    assert sorted(p.name for p in tmp_path.iterdir()) == ["overpass-stops.osm"]
    assert len(script.requests) == 1  # an error report is not retried


def test_html_error_page_with_200_fails(server: tuple[str, Script], tmp_path: Path) -> None:
    url, script = server
    script.answers = [(200, {"Content-Type": "text/html"},
                       b"<!DOCTYPE html><html><body><p><strong>Error</strong>: runtime error: open64: 0 Success "
                       b"Dispatcher_Client::request_read_and_idx::timeout.</p></body></html>")]
    with pytest.raises(SourceUnavailableError, match="Overpass answered with an error: the answer is an HTML page"):
        _source(url).fetch("overpass", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_504_fails_after_the_configured_retries(server: tuple[str, Script], tmp_path: Path) -> None:
    url, script = server
    cached = tmp_path / "overpass-stops.osm"
    cached.write_bytes(ANSWER)
    script.answers = [(504, {}, b"Gateway Timeout")]
    with pytest.raises(SourceUnavailableError) as info:
        _source(url, OVERPASS_MAX_RETRIES=2).fetch("overpass", tmp_path)
    message = str(info.value)
    assert "overpass" in message and "Overpass request failed after 3 attempt(s)" in message
    assert "HTTP 504" in message
    assert len(script.requests) == 3
    assert cached.read_bytes() == ANSWER


def test_other_http_errors_are_not_retried(server: tuple[str, Script], tmp_path: Path) -> None:
    url, script = server
    script.answers = [(400, {}, b"Error: line 3: parse error")]
    with pytest.raises(SourceUnavailableError, match=r"after 1 attempt\(s\): HTTP 400"):
        _source(url).fetch("overpass", tmp_path)
    assert len(script.requests) == 1


def test_retry_after_is_honoured(server: tuple[str, Script], tmp_path: Path) -> None:
    url, script = server
    script.answers = [(503, {"Retry-After": "7"}, b"busy"), (502, {}, b"bad gateway"), (200, {}, ANSWER)]
    waits: list[float] = []
    fetch_overpass("[out:xml];node(1);out;", tmp_path / "answer.osm", url=url, user_agent="ua",
                   timeout_s=10, max_retries=4, backoff_s=2.0, sleep=waits.append)
    assert waits[0] == 7.0
    assert 2.0 <= waits[1] <= 6.0  # after the second attempt: 2 s * 2**1, +-50 % jitter
    assert (tmp_path / "answer.osm").read_bytes() == ANSWER


def test_backoff_grows_exponentially_with_jitter() -> None:
    import urllib.error
    from email.message import Message

    def http_error(code: int, retry_after: str | None = None) -> SourceUnavailableError:
        headers = Message()
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        error = SourceUnavailableError("overpass", f"HTTP {code}")
        error.__cause__ = urllib.error.HTTPError("http://x", code, "x", headers, None)
        return error

    for attempt in range(4):
        delays = [retry_delay(http_error(429), attempt, 5.0) for _ in range(50)]
        assert all(d is not None and 2.5 * 2**attempt <= d <= 7.5 * 2**attempt for d in delays)
        assert len(set(delays)) > 1  # jittered
    assert retry_delay(http_error(404), 0, 5.0) is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    delay = retry_delay(http_error(429, later), 0, 5.0)
    assert delay is not None and 100 <= delay <= 120
    assert retry_delay(http_error(503, "100000"), 0, 5.0) == 900.0  # capped
    reset = SourceUnavailableError("overpass", "reset")
    reset.__cause__ = ConnectionResetError(104, "Connection reset by peer")
    assert retry_delay(reset, 0, 1.0) is not None
    refused = SourceUnavailableError("overpass", "refused")
    refused.__cause__ = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    assert retry_delay(refused, 0, 1.0) is None


# --- the query ------------------------------------------------------------------------------------


def test_query_by_area_and_user_agent(server: tuple[str, Script], tmp_path: Path) -> None:
    url, script = server
    script.answers = [(200, {}, ANSWER)]
    _source(url).fetch("overpass", tmp_path)
    [request] = script.requests
    assert request["path"] == "/api/interpreter"
    assert request["user_agent"] == "stopsync-test/1.0 (tests@example.org)"
    assert request["content_type"] == "application/x-www-form-urlencoded"
    query = request["query"]
    assert query.startswith("[out:xml][timeout:5];")
    assert 'area["ISO3166-1"="LI"][admin_level=2]->.region;' in query
    assert 'node(area.region)[highway=bus_stop];' in query
    assert "rel(bn.stops)[type=route]" in query and "rel(bw.stops)[type=route]" in query
    assert "rel(br.routes)[type=route_master]" in query and "rel(r.masters)[type=route]" in query
    assert "out tags center;" in query


def test_query_by_bbox_uses_overpass_order(server: tuple[str, Script], tmp_path: Path) -> None:
    url, script = server
    script.answers = [(200, {}, ANSWER)]
    _source(url, OVERPASS_BBOX="9.47,47.04,9.64,47.28").fetch("overpass", tmp_path)
    query = script.requests[0]["query"]
    # minLon,minLat,maxLon,maxLat -> (south,west,north,east)
    assert "node(47.040000,9.470000,47.280000,9.640000)[highway=bus_stop];" in query
    assert "area[" not in query and "poly:" not in query


def test_query_by_polygon(server: tuple[str, Script], tmp_path: Path) -> None:
    url, script = server
    script.answers = [(200, {}, ANSWER)]
    triangle = Region(Polygon([(9.5, 47.1), (9.6, 47.1), (9.55, 47.2)]), name="triangle")
    _source(url, REGION=triangle, OVERPASS_AREA=None).fetch("overpass", tmp_path)
    query = script.requests[0]["query"]
    [poly] = poly_strings(triangle)
    assert f'node.candidates(poly:"{poly}");' in query and f'way.candidates(poly:"{poly}");' in query
    assert "node(47.100000,9.500000,47.200000,9.600000)[highway=bus_stop];" in query  # the index box
    # lat lon pairs, the triangle's corners within the grown outline
    numbers = [float(v) for v in poly.split()]
    lats, lons = numbers[0::2], numbers[1::2]
    assert min(lats) < 47.1 < max(lats) - 0.09 and 9.49 < min(lons) < 9.5 and 9.6 < max(lons) < 9.61


def test_region_precedence() -> None:
    box_region = region_from_bbox(9.5, 47.1, 9.6, 47.2)
    triangle = Region(Polygon([(9.5, 47.1), (9.6, 47.1), (9.55, 47.2)]))
    both = {"OVERPASS_AREA": "ISO3166-1=CH", "REGION": triangle}
    assert scope_from_config({**both, "OVERPASS_BBOX": "8,46,9,47"}).spatial_filter == \
        "(46.000000,8.000000,47.000000,9.000000)"
    # A named region's area beats its polygon; the runner clears the area for borders and boxes.
    assert scope_from_config(both).prelude.startswith('area["ISO3166-1"="CH"]')
    assert scope_from_config({**both, "OVERPASS_AREA": None}).polygons
    assert scope_from_config({"OVERPASS_AREA": "ISO3166-1=CH"}).prelude.startswith('area["ISO3166-1"="CH"]')
    # A rectangular region is sent as a bbox.
    assert scope_from_config({"REGION": box_region}).polygons == ()
    with pytest.raises(ConfigurationError):
        scope_from_config({"OVERPASS_AREA": ""})
    with pytest.raises(ConfigurationError):
        scope_from_config({"OVERPASS_BBOX": "9,47,8,46"})
    with pytest.raises(ConfigurationError):
        scope_from_config({"OVERPASS_AREA": "CH"})


def test_national_polygon_is_simplified_but_covers_the_border(swiss_border_with_li: Path) -> None:
    region = load_region(swiss_border_with_li)
    for limit, growth in ((500, 1.05), (60, 1.5)):
        polys = poly_strings(region, max_points=limit)
        rings = []
        for poly in polys:
            numbers = [float(v) for v in poly.split()]
            rings.append(Polygon(list(zip(numbers[1::2], numbers[0::2], strict=True))))
        assert sum(len(poly.split()) // 2 for poly in polys) <= limit
        outline = shapely.union_all(rings)
        exteriors = shapely.union_all([Polygon(p.exterior) for p in getattr(region.geometry, "geoms",
                                                                             [region.geometry])])
        assert outline.covers(exteriors)
        assert outline.area < exteriors.area * growth
    query = build_query(scope_from_config({"REGION": region}))
    assert len(query) < 40_000


def test_other_locations_use_the_generic_downloader(tmp_path: Path) -> None:
    assert _source("http://127.0.0.1:9/").fetch("https://example.org/extract.osm.pbf", tmp_path) is None
