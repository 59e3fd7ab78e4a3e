"""The map page in a real browser: Leaflet renders, the published stops appear, popups carry
the stop's name and OSM links, and the notices (truncated, empty, error) show when they should.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask

from tests.conftest import dispose, publish_sample

from .conftest import BrowserLog, LiveServer

pytestmark = pytest.mark.browser

STOPS_API = "**/api/v1/stops?*"
MARKERS = "path.leaflet-interactive.stop-marker"
SWITZERLAND_BBOX = "5.9,45.8,10.5,47.9"
MOVE_DEBOUNCE_MS = 300  # as in map.js


def fetch_json(page: Any, url: str) -> Any:
    response = page.request.get(url)
    assert response.ok, f"{url} answered {response.status}"
    return response.json()


def features_in_switzerland(page: Any, server: LiveServer) -> list[dict[str, Any]]:
    collection = fetch_json(page, f"{server.url}/api/v1/stops?bbox={SWITZERLAND_BBOX}")
    assert collection["truncated"] is False, "the sample should fit in one answer"
    features: list[dict[str, Any]] = collection["features"]
    return features


def popup_value(page: Any, label: str) -> str:
    """The value next to ``label`` in the open popup's fact list."""
    popup = page.locator(".leaflet-popup-content")
    value: str = popup.locator(f"dt:text-is('{label}') + dd").inner_text()
    return value


def open_popup(page: Any, marker: Any) -> Any:
    # A DOM click reaches the marker even where another marker overlaps it at this zoom.
    marker.dispatch_event("click")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible")
    return popup


def fulfil_json(route: Any, body: dict[str, Any], status: int = 200) -> None:
    route.fulfill(status=status, content_type="application/json", body=json.dumps(body))


# --- published real sample --------------------------------------------------------------------


def test_map_renders_published_stops(page: Any, published_server: LiveServer, browser_log: BrowserLog) -> None:
    features = features_in_switzerland(page, published_server)
    points = [f for f in features if f["geometry"]["type"] == "Point"]
    assert len(points) >= 10, "the published sample should contain stops"

    response = page.goto(published_server.url + "/")
    assert response is not None and response.ok
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp

    page.locator("#map.leaflet-container").wait_for()
    page.wait_for_function(
        "n => document.querySelectorAll('path.leaflet-interactive.stop-marker').length >= n",
        arg=len(points),
    )
    atlas_count = sum(1 for f in points if f["properties"]["layer"] == "atlas")
    assert page.locator("path.stop-atlas").count() == atlas_count
    assert page.locator("path.stop-osm").count() == len(points) - atlas_count
    assert page.locator("#map-status").is_hidden()
    # Marker colours come from the same CSS custom properties as the legend swatches.
    for state, selector in (
        ("atlas-linked", "path.stop-atlas.is-linked"),
        ("osm-linked", "path.stop-osm.is-linked"),
    ):
        fill = page.locator(selector).first.get_attribute("fill")
        swatch = page.locator(f".swatch-{state}").evaluate("e => getComputedStyle(e).backgroundColor")
        expected = page.evaluate(
            f"getComputedStyle(document.documentElement).getPropertyValue('--state-{state}').trim()"
        )
        assert fill == expected
        red, green, blue = (int(expected[i : i + 2], 16) for i in (1, 3, 5))
        assert swatch == f"rgb({red}, {green}, {blue})"
    assert page.locator(".navbar-brand").inner_text() == "stopsync"
    assert "opentransportdata.swiss" in page.locator("footer").inner_text()
    assert browser_log.unexpected() == []


def test_clicking_a_linked_atlas_marker_shows_name_and_osm_links(
    page: Any, published_server: LiveServer, browser_log: BrowserLog
) -> None:
    features = features_in_switzerland(page, published_server)
    atlas_by_sloid = {f["properties"]["id"]: f["properties"] for f in features if f["properties"]["layer"] == "atlas"}
    links_by_sloid: dict[str, list[str]] = {}
    for feature in features:
        if feature["properties"]["layer"] == "link":
            props = feature["properties"]
            links_by_sloid.setdefault(props["sloid"], []).append(props["osm_id"])
    assert links_by_sloid, "the published sample should contain matches"

    page.goto(published_server.url + "/")
    marker = page.locator("path.stop-atlas.is-linked").first
    marker.wait_for()
    # A real mouse click: ATLAS markers are drawn on top, so this one is hittable.
    marker.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible")

    sloid = popup_value(page, "SLOID")
    expected = atlas_by_sloid[sloid]
    assert popup.locator("h3").inner_text() == expected["name"]
    hrefs = popup.locator("a").evaluate_all("links => links.map(a => a.href)")
    atlas_page = (
        f"https://atlas.app.sbb.ch/service-point-directory/service-points/{expected['number']}/traffic-point-elements"
    )
    assert atlas_page in hrefs
    for osm_id in links_by_sloid[sloid]:
        element_type, element_id = osm_id.split("/")
        assert f"https://www.openstreetmap.org/{osm_id}" in hrefs
        assert f"https://www.openstreetmap.org/edit?editor=id&{element_type}={element_id}" in hrefs
    assert browser_log.unexpected() == []


def test_osm_marker_popup_shows_name_and_editor_links(
    page: Any, published_server: LiveServer, browser_log: BrowserLog
) -> None:
    features = features_in_switzerland(page, published_server)
    osm_by_id = {f["properties"]["id"]: f["properties"] for f in features if f["properties"]["layer"] == "osm"}

    page.goto(published_server.url + "/")
    markers = page.locator("path.stop-osm")
    markers.first.wait_for()
    popup = open_popup(page, markers.first)

    osm_id = popup_value(page, "OSM id")
    expected = osm_by_id[osm_id]
    assert popup.locator("h3").inner_text() == (expected["name"] or "(no name)")
    element_type, element_id = osm_id.split("/")
    read_link = popup.locator(f"a[href='https://www.openstreetmap.org/{osm_id}']")
    assert read_link.count() == 1
    assert read_link.get_attribute("rel") == "noopener noreferrer"
    edit_href = f"https://www.openstreetmap.org/edit?editor=id&{element_type}={element_id}"
    assert popup.locator(f"a[href='{edit_href}']").count() == 1
    assert browser_log.unexpected() == []


def test_moving_the_map_reloads_the_visible_bbox(
    page: Any, published_server: LiveServer, browser_log: BrowserLog
) -> None:
    page.goto(published_server.url + "/")
    page.locator(MARKERS).first.wait_for()

    with page.expect_request(STOPS_API) as request_info:
        page.locator(".leaflet-control-zoom-in").click()
    bbox = parse_qs(urlsplit(request_info.value.url).query)["bbox"][0]
    min_lon, min_lat, max_lon, max_lat = (float(value) for value in bbox.split(","))
    assert 5.0 < min_lon < max_lon < 11.5
    assert 45.0 < min_lat < max_lat < 48.5
    assert max_lon - min_lon < 7.0, "zoomed in: the bbox must be smaller than the first one"
    page.locator(MARKERS).first.wait_for()
    assert browser_log.unexpected() == []


def wait_until_idle(page: Any) -> None:
    """Past the move debounce and with no stops request in flight."""
    page.wait_for_timeout(MOVE_DEBOUNCE_MS + 200)
    # A function, not a string: Playwright evaluates strings with eval, which the CSP forbids.
    page.wait_for_function("() => !document.getElementById('map').hasAttribute('aria-busy')")


def test_open_popup_survives_the_reload_after_a_pan(
    page: Any, published_server: LiveServer, browser_log: BrowserLog
) -> None:
    page.goto(published_server.url + "/")
    marker = page.locator("path.stop-atlas.is-linked").first
    marker.wait_for()
    open_popup(page, marker)
    sloid = popup_value(page, "SLOID")
    wait_until_idle(page)  # the popup's own auto-pan may have reloaded already

    # Drag the map by an empty corner (outside Switzerland): moveend reloads the stops. The
    # corner is the map's own: the statistics sidebar lies left of it.
    box = page.locator("#map").bounding_box()
    x, y = box["x"] + 80, box["y"] + box["height"] - 100
    with page.expect_response(STOPS_API):
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 40, y - 10, steps=5)
        page.mouse.up()
    wait_until_idle(page)

    # A closing Leaflet popup fades out with inline opacity 0 before it is removed.
    popups = page.locator(".leaflet-popup")
    assert popups.count() == 1
    assert popups.evaluate("popup => popup.style.opacity") == "1"
    assert popup_value(page, "SLOID") == sloid
    assert browser_log.unexpected() == []


@pytest.fixture
def truncated_server(tmp_path: Any, real_data: Any) -> Iterator[LiveServer]:
    app: Flask = publish_sample("sqlite", tmp_path, real_data, API_DEFAULT_LIMIT=3)
    with LiveServer(app) as server:
        yield server
    dispose(app)


def test_truncated_answer_asks_to_zoom_in(page: Any, truncated_server: LiveServer) -> None:
    page.goto(truncated_server.url + "/")
    status = page.locator("#map-status")
    status.wait_for(state="visible")
    assert "zoom in to see all stops" in status.inner_text()
    assert page.locator("path.stop-atlas").count() <= 3


# --- states that do not need published data ------------------------------------------------------


def test_empty_database_says_no_data_published(page: Any, empty_server: LiveServer, browser_log: BrowserLog) -> None:
    page.goto(empty_server.url + "/")
    status = page.locator("#map-status")
    status.wait_for(state="visible")
    assert "No data published yet" in status.inner_text()
    assert page.locator(MARKERS).count() == 0
    assert page.locator(".leaflet-container").count() == 1
    assert browser_log.unexpected() == []


def test_api_error_is_shown(page: Any, empty_server: LiveServer) -> None:
    page.route(
        STOPS_API,
        lambda route: fulfil_json(
            route,
            {"error": "invalid_parameter", "message": "bbox is out of range", "details": {"parameter": "bbox"}},
            status=400,
        ),
    )
    page.goto(empty_server.url + "/")
    status = page.locator("#map-status.is-error")
    status.wait_for(state="visible")
    assert "bbox is out of range" in status.inner_text()


def test_unreachable_server_is_shown(page: Any, empty_server: LiveServer) -> None:
    page.route(STOPS_API, lambda route: route.abort())
    page.goto(empty_server.url + "/")
    status = page.locator("#map-status.is-error")
    status.wait_for(state="visible")
    assert re.search(r"Could not load stops", status.inner_text())


def test_untrusted_names_are_shown_as_text(page: Any, empty_server: LiveServer, browser_log: BrowserLog) -> None:
    hostile = '<img src="x" onerror="window.__pwned = 1">Bern & <b>Co</b>'
    collection = {
        "type": "FeatureCollection",
        "truncated": False,
        "limit": 2000,
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [7.4391, 46.9488]},
                "properties": {
                    "layer": "osm",
                    "id": "node/42",
                    "kind": "platform",
                    "name": hostile,
                    "uic_ref": "8507000",
                    "local_ref": "3",
                    "matched": False,
                },
            }
        ],
    }
    details = {
        "id": "node/42", "layer": "osm", "atlas": [], "links": [], "units": [], "decisions": [], "notes": [],
        "osm": [{**collection["features"][0]["properties"], "lon": 7.4391, "lat": 46.9488, "tags": {"name": hostile}}],
        "problems": [{"type": "unmatched_osm", "priority": 1, "side_reason": hostile, "evidence": {}}],
    }
    page.route(STOPS_API, lambda route: fulfil_json(route, collection))
    # The popup asks for the stop's details too; the fake stop has them here.
    page.route("**/api/v1/stops/node/42", lambda route: fulfil_json(route, details))
    page.goto(empty_server.url + "/")
    marker = page.locator("path.stop-osm.is-unmatched")
    marker.wait_for()
    marker.hover()
    tooltip = page.locator(".leaflet-tooltip")
    tooltip.wait_for(state="visible")
    assert tooltip.inner_text() == hostile
    assert tooltip.locator("img, b").count() == 0
    popup = open_popup(page, marker)

    assert popup.locator("h3").inner_text() == hostile
    popup.locator(".problem-reason").wait_for()
    assert popup.locator(".problem-reason").inner_text() == hostile
    assert popup.locator("img, b").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert popup.locator("a[href='https://www.openstreetmap.org/node/42']").count() == 1
    assert browser_log.unexpected() == []


def test_error_page_uses_the_layout_without_breaking_the_csp(
    page: Any, empty_server: LiveServer, browser_log: BrowserLog
) -> None:
    response = page.goto(empty_server.url + "/no-such-page")
    assert response is not None and response.status == 404
    assert "script-src 'self'" in response.headers.get("content-security-policy", "")
    assert page.locator(".error-status").inner_text() == "404"
    assert page.locator(".error-message").inner_text()
    assert page.locator(".navbar-brand").inner_text() == "stopsync"
    assert "OpenStreetMap contributors" in page.locator("footer").inner_text()
    browser_log.console_errors = [e for e in browser_log.console_errors if "404" not in e]
    assert browser_log.unexpected() == []
