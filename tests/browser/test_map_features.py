"""The map's filters, shareable URLs, search, popup details, JOSM remote control, clusters and
languages, in a real browser against the published real sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import BrowserLog, LiveServer
from .test_map_page import (  # noqa: F401 (truncated_server is a fixture)
    MARKERS,
    MOVE_DEBOUNCE_MS,
    SWITZERLAND_BBOX,
    fetch_json,
    open_popup,
    popup_value,
    truncated_server,
)

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "screenshots"


def wait_until_idle(page: Any) -> None:
    """Past the move debounce and with no stops request in flight. (The predicate is a function:
    Playwright polls a bare expression string with eval, which the page's CSP refuses.)"""
    page.wait_for_timeout(MOVE_DEBOUNCE_MS + 200)
    page.wait_for_function("() => !document.getElementById('map').hasAttribute('aria-busy')")


def page_query(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def point_count(page: Any, server: LiveServer, query: str = "") -> int:
    collection = fetch_json(page, f"{server.url}/api/v1/stops?bbox={SWITZERLAND_BBOX}{query}")
    return sum(1 for feature in collection["features"] if feature["geometry"]["type"] == "Point")


def wait_for_details(page: Any) -> None:
    """The open popup has its details and the map has stopped panning to fit them: clicks
    inside the popup land where they aim."""
    page.locator(".leaflet-popup-content .popup-details[data-loaded=done]").wait_for()
    page.wait_for_timeout(400)  # Leaflet's pan animation lasts 250 ms
    wait_until_idle(page)


def wait_for_marker_count(page: Any, count: int) -> None:
    page.wait_for_function(f"n => document.querySelectorAll('{MARKERS}').length === n", arg=count)


def test_filters_update_the_url_chips_and_markers(
    page: Any, published_server: LiveServer, browser_log: BrowserLog
) -> None:
    everything = point_count(page, published_server)
    duplicates = point_count(page, published_server, "&problem_type=duplicate_osm")
    assert 0 < duplicates < everything

    page.goto(published_server.url + "/")
    wait_for_marker_count(page, everything)
    page.locator("details[data-group=problem_type] > summary").click()
    with page.expect_request("**/api/v1/stops?*problem_type=duplicate_osm*"):
        page.locator("input[name=problem_type][value=duplicate_osm]").check()
    wait_for_marker_count(page, duplicates)
    assert page_query(page)["problem_type"] == ["duplicate_osm"]
    chip = page.locator(".chip[data-group=problem_type]")
    assert chip.inner_text().startswith("Problem type: Duplicate OSM elements")
    # The statistics follow the filters.
    page.wait_for_function("() => !document.getElementById('map-statistics-body').hasAttribute('aria-busy')")
    stats = fetch_json(page, f"{published_server.url}/api/v1/statistics?problem_type=duplicate_osm")
    assert page.locator("#map-statistics-body .stats-osm").inner_text().startswith(str(stats["osm"]["matched"]))

    # A second group narrows further (AND); a second value in one group widens (OR).
    page.locator("details[data-group=kind] > summary").click()
    page.locator("input[name=kind][value=platform]").check()
    narrowed = point_count(page, published_server, "&problem_type=duplicate_osm&kind=platform")
    wait_for_marker_count(page, narrowed)
    assert page_query(page)["kind"] == ["platform"]
    page.locator("input[name=kind][value=stop_position]").check()
    widened = point_count(page, published_server, "&problem_type=duplicate_osm&kind=platform,stop_position")
    wait_for_marker_count(page, widened)
    assert page_query(page)["kind"] == ["platform,stop_position"]

    # Removing the chips restores everything.
    page.locator(".chip[data-group=kind] .chip-remove").first.click()
    page.locator(".chip[data-group=kind] .chip-remove").first.click()
    chip.locator(".chip-remove").click()
    wait_for_marker_count(page, everything)
    assert not {"problem_type", "kind"} & set(page_query(page))
    assert page.locator(".chip").count() == 0
    assert browser_log.unexpected() == []


def test_a_shared_url_restores_view_and_filters(
    page: Any, published_server: LiveServer, browser_log: BrowserLog
) -> None:
    expected = point_count(page, published_server, "&matched=false&kind=platform,stop_position")
    with page.expect_request("**/api/v1/stops?*") as request_info:
        page.goto(published_server.url + "/?lat=46.20000&lon=6.14000&z=12&matched=false&kind=platform,stop_position")
    sent = parse_qs(urlsplit(request_info.value.url).query)
    assert sent["matched"] == ["false"] and sent["kind"] == ["platform,stop_position"]
    query = page_query(page)
    assert (query["lat"], query["lon"], query["z"]) == (["46.20000"], ["6.14000"], ["12"])
    assert page.locator("input[name=matched][value=false]").is_checked()
    assert page.locator(".chip").count() == 3
    page.wait_for_function("() => !document.getElementById('map').hasAttribute('aria-busy')")
    assert page.locator("path.stop-atlas").count() == 0  # every ATLAS platform of the sample is linked
    assert page.locator(MARKERS).count() <= expected
    assert page.locator("path.stop-osm.is-linked").count() == 0
    assert browser_log.unexpected() == []


def test_search_jumps_to_a_stop_and_opens_it(page: Any, published_server: LiveServer, browser_log: BrowserLog) -> None:
    collection = fetch_json(page, f"{published_server.url}/api/v1/stops?bbox={SWITZERLAND_BBOX}&layers=atlas")
    target = collection["features"][0]["properties"]

    page.goto(published_server.url + "/")
    page.locator(MARKERS).first.wait_for()
    page.fill("#map-search-input", target["id"])
    page.press("#map-search-input", "Enter")
    page.locator(".leaflet-popup-content").wait_for(state="visible")
    wait_for_details(page)
    assert popup_value(page, "SLOID") == target["id"]
    assert page_query(page)["stop"] == [target["id"]]
    assert int(page_query(page)["z"][0]) >= 14

    # A name with several hits lists them; choosing one jumps there.
    page.fill("#map-search-input", "bern")
    page.press("#map-search-input", "Enter")
    first = page.locator("#map-search-results .search-result").first
    first.wait_for()
    stop_id = first.get_attribute("data-stop-id")
    first.click()
    page.wait_for_function("id => new URLSearchParams(location.search).get('stop') === id", arg=stop_id)
    assert browser_log.unexpected() == []


def test_popup_shows_both_sides_with_differences(
    page: Any, published_server: LiveServer, browser_log: BrowserLog
) -> None:
    problems = fetch_json(page, f"{published_server.url}/api/v1/problems?type=attributes&limit=1")["problems"]
    sloid = problems[0]["sloid"]
    details = fetch_json(page, f"{published_server.url}/api/v1/stops/{sloid}")
    atlas = details["atlas"][0]

    # A shared link to one stop opens its popup.
    page.goto(f"{published_server.url}/?lat={atlas['lat']}&lon={atlas['lon']}&z=18&stop={sloid}")
    popup = page.locator(".leaflet-popup-content")
    popup.locator(".popup-compare").first.wait_for()
    assert popup_value(page, "SLOID") == sloid
    assert popup.locator(".popup-link").count() == min(len(details["links"]), 4)
    different = popup.locator(".popup-compare tr.is-different")
    assert different.count() >= 1
    row = different.first.locator("td")
    assert row.nth(0).inner_text() != row.nth(1).inner_text()
    assert "Method" in popup.inner_text() and "Distance" in popup.inner_text()
    assert popup.locator(".popup-problems a[href='/help/problems/attributes']").count() >= 1
    assert browser_log.unexpected() == []


def test_josm_link_calls_remote_control_in_the_background(
    page: Any, published_server: LiveServer, browser_log: BrowserLog
) -> None:
    calls: list[str] = []

    def josm(route: Any) -> None:
        calls.append(route.request.url)
        route.fulfill(status=200, body="OK\n", headers={"Access-Control-Allow-Origin": "*"})

    page.route("http://127.0.0.1:8111/**", josm)
    page.goto(published_server.url + "/")
    marker = page.locator("path.stop-osm").first
    marker.wait_for()
    popup = open_popup(page, marker)
    wait_for_details(page)
    osm_id = popup_value(page, "OSM id")
    page.evaluate("window.__same_document = true")
    element_type, element_id = osm_id.split("/")
    popup.locator(".popup-links .josm-link").first.click()
    popup.locator(".josm-note.is-ok").wait_for()
    assert calls == [f"http://127.0.0.1:8111/load_object?objects={element_type[0]}{element_id}"]
    assert page.evaluate("window.__same_document") is True  # no navigation
    assert browser_log.unexpected() == []


def test_josm_not_running_is_reported(page: Any, published_server: LiveServer) -> None:
    page.route("http://127.0.0.1:8111/**", lambda route: route.abort())
    page.goto(published_server.url + "/")
    marker = page.locator("path.stop-osm").first
    marker.wait_for()
    popup = open_popup(page, marker)
    wait_for_details(page)
    popup.locator(".popup-links .josm-link").first.click()
    popup.locator(".josm-note.is-error").wait_for()


def test_low_zoom_shows_clusters_when_the_stops_do_not_fit(
    page: Any, truncated_server: LiveServer, browser_log: BrowserLog  # noqa: F811
) -> None:
    page.goto(truncated_server.url + "/")
    clusters = page.locator(".stop-cluster")
    clusters.first.wait_for()
    total = sum(int(text.replace(",", "")) for text in clusters.all_inner_texts())
    assert total > 3
    assert page.locator(MARKERS).count() == 0
    zoom_before = int(page_query(page)["z"][0])
    clusters.first.click()
    page.wait_for_function("z => Number(new URLSearchParams(location.search).get('z')) > z", arg=zoom_before)
    assert browser_log.unexpected() == []


def test_german_page_with_filters(page: Any, published_server: LiveServer, browser_log: BrowserLog) -> None:
    page.goto(published_server.url + "/?lang=de&problem_type=distance&priority=1,2")
    page.locator(MARKERS).first.wait_for()
    page.wait_for_function("() => !document.getElementById('map-statistics-body').hasAttribute('aria-busy')")
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.locator(".map-legend-title").inner_text() == "Legende"
    chips = page.locator(".chip-label").all_inner_texts()
    assert "Problemart: Verknüpfte Haltekanten weit auseinander" in chips
    assert "Priorität: 1 – kritisch" in chips  # noqa: RUF001
    assert "verknüpft" in page.locator("#map-statistics-body").inner_text()
    popup = open_popup(page, page.locator("path.stop-atlas").first)
    popup.locator(".popup-problems").wait_for()
    assert "Probleme" in popup.inner_text() and "In JOSM laden" in popup.inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "map-de-filters.png"))

    # Switching language keeps the view and the filters.
    page.keyboard.press("Escape")
    page.locator(".language-switcher a[data-lang=fr]").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page_query(page)["problem_type"] == ["distance"]
    assert "Type de problème: Quais reliés éloignés" in page.locator(".chip-label").all_inner_texts()
    assert browser_log.unexpected() == []
