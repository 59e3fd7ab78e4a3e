"""The map's tile layers, pair/trio connectors, the filters added in issue 7 (unmatched reason,
OSM operator, transport mode, canton, duplicates), route search and data tiles at city zoom, in a
real browser against the published real sample. External tile hosts are answered with a blank
image inside the browser: nothing leaves the machine."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import BrowserLog, LiveServer
from .test_map_features import wait_until_idle
from .test_map_page import MARKERS, SWITZERLAND_BBOX, fetch_json, fulfil_json

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "screenshots"
BLANK_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
# Every tile host of the default MAP_TILE_LAYERS but OpenStreetMap (the shared fixture aborts those).
OTHER_TILE_HOSTS = ("https://tile.memomaps.de/**", "https://*.tiles.openrailwaymap.org/**")
# Records CSP violations from the first script on (a violation is also a console error).
CSP_WATCH = (
    "window.__csp = [];"
    "document.addEventListener('securitypolicyviolation',"
    " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
)


def page_query(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def wait_for_query(page: Any, key: str, value: str | None) -> None:
    """The page's own URL has ``key`` = ``value`` (or lacks ``key`` for None)."""
    page.wait_for_function(
        "([key, value]) => new URLSearchParams(location.search).get(key) === value", arg=[key, value]
    )


def serve_blank_tiles(page: Any) -> list[str]:
    requested: list[str] = []

    def blank(route: Any) -> None:
        requested.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=BLANK_PNG)

    for pattern in OTHER_TILE_HOSTS:
        page.route(pattern, blank)
    return requested


def assert_clean(page: Any, browser_log: BrowserLog) -> None:
    assert page.evaluate("window.__csp") == []
    assert browser_log.unexpected() == []


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))


# --- base layers ------------------------------------------------------------------------------


def test_base_layer_and_overlay_switch_and_stay_in_the_url(
    page: Any, published_server: LiveServer, browser_log: BrowserLog
) -> None:
    tiles = serve_blank_tiles(page)
    page.add_init_script(CSP_WATCH)
    response = page.goto(published_server.url + "/")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "https://tile.memomaps.de" in csp and "https://a.tiles.openrailwaymap.org" in csp
    page.locator(MARKERS).first.wait_for()
    assert "base" not in page_query(page) and "overlays" not in page_query(page)

    page.locator(".leaflet-control-layers").hover()
    names = page.locator(".leaflet-control-layers .layer-name").all_inner_texts()
    assert [name.strip() for name in names] == ["OpenStreetMap", "ÖPNVKarte", "OpenRailwayMap"]
    with page.expect_request("https://tile.memomaps.de/tilegen/**"):
        page.locator(".leaflet-control-layers-base .layer-name[data-layer=opnv]").click()
    wait_for_query(page, "base", "opnv")
    with page.expect_request("https://*.tiles.openrailwaymap.org/standard/**"):
        page.locator(".leaflet-control-layers-overlays .layer-name[data-layer=railway]").click()
    wait_for_query(page, "overlays", "railway")
    page.locator(".tiles-opnv img").first.wait_for(state="attached")
    page.locator(".tiles-railway img").first.wait_for(state="attached")
    assert page.locator(".tiles-osm").count() == 0
    attribution = page.locator(".leaflet-control-attribution").inner_text()
    assert "memomaps.de" in attribution and "OpenRailwayMap" in attribution
    assert any("tile.memomaps.de/tilegen/" in url for url in tiles)
    assert any(".tiles.openrailwaymap.org/standard/" in url for url in tiles)

    # A shared link restores both; going back to OpenStreetMap drops the parameter.
    page.goto(page.url)
    page.locator(".tiles-opnv").wait_for(state="attached")
    page.locator(".leaflet-control-layers").hover()
    assert page.locator(".leaflet-control-layers-base input:checked + span .layer-name").inner_text() == "ÖPNVKarte"
    assert page.locator(".leaflet-control-layers-overlays input:checked + span .layer-name").count() == 1
    page.locator(".leaflet-control-layers-base .layer-name[data-layer=osm]").click()
    wait_for_query(page, "base", None)
    assert page_query(page)["overlays"] == ["railway"]
    assert_clean(page, browser_log)


# --- pair/trio connectors ---------------------------------------------------------------------


def find_pair(page: Any, server: LiveServer) -> dict[str, Any]:
    """A pair of the sample, from the ``unit_key`` its members carry in /stops: its key, members
    and the position of its first member."""
    collection = fetch_json(page, f"{server.url}/api/v1/stops?bbox={SWITZERLAND_BBOX}&layers=osm")
    for feature in collection["features"]:
        key = feature["properties"]["unit_key"]
        if key.startswith("pair:"):
            lon, lat = feature["geometry"]["coordinates"]
            return {"key": key, "members": key.removeprefix("pair:").split("+"), "lon": lon, "lat": lat}
    raise AssertionError("the sample should hold a platform + stop position pair")


def test_connectors_join_the_members_of_visible_pairs(
    page: Any, published_server: LiveServer, browser_log: BrowserLog
) -> None:
    unit = find_pair(page, published_server)
    details = fetch_json(page, f"{published_server.url}/api/v1/stops/{unit['members'][0]}")
    assert [(u["key"], u["members"]) for u in details["units"] if u["kind"] == "pair"] == [
        (unit["key"], unit["members"])]
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url) if "/api/v1/" in request.url else None)
    page.add_init_script(CSP_WATCH)
    page.goto(f"{published_server.url}/?lat={unit['lat']}&lon={unit['lon']}&z=18")
    connectors = page.locator("path.stop-unit.stop-unit-pair")
    connectors.first.wait_for(state="attached")
    # Drawn without opening any popup: every visible pair gets its line.
    assert page.locator(".leaflet-popup").count() == 0
    assert page.locator(f"#map[data-units='{connectors.count()}']").count() == 1
    # The members come from the features' unit_key: no stop details are asked for.
    wait_until_idle(page)
    assert [url for url in requests if "/api/v1/stops/" in url] == []
    screenshot(page, "map-unit-connectors.png")

    # The legend toggles them, and the choice is kept in the URL.
    page.locator("#map-units-toggle").uncheck()
    wait_for_query(page, "units", "0")
    assert page.locator("path.stop-unit").count() == 0
    page.goto(page.url)
    wait_until_idle(page)
    assert not page.locator("#map-units-toggle").is_checked()
    assert page.locator("path.stop-unit").count() == 0
    page.locator("#map-units-toggle").check()
    wait_for_query(page, "units", None)
    connectors.first.wait_for(state="attached")
    assert_clean(page, browser_log)


def test_no_connectors_below_city_zoom(page: Any, published_server: LiveServer, browser_log: BrowserLog) -> None:
    unit = find_pair(page, published_server)
    page.goto(f"{published_server.url}/?lat={unit['lat']}&lon={unit['lon']}&z=12")
    page.locator(MARKERS).first.wait_for()
    wait_until_idle(page)
    assert page.locator("path.stop-unit").count() == 0
    assert browser_log.unexpected() == []


# --- the new filters ----------------------------------------------------------------------------


def first_facet_value(page: Any, server: LiveServer, group: str) -> str:
    """A value of ``group`` that some stop of the sample carries (any value if none does)."""
    facets = fetch_json(page, f"{server.url}/api/v1/facets")
    if group == "duplicates":
        return "true"
    key = {"unmatched_reason": "unmatched_reasons", "osm_operator": "osm_operators", "mode": "modes",
           "canton": "cantons"}[group]
    values = facets[key]
    counted = [item["value"] for item in values if item["count"] > 0]
    return str((counted or [values[0]["value"]])[0])


@pytest.mark.parametrize("group", ["unmatched_reason", "osm_operator", "mode", "canton", "duplicates"])
def test_each_new_filter_is_a_removable_chip_in_the_url(
    page: Any, published_server: LiveServer, browser_log: BrowserLog, group: str
) -> None:
    value = first_facet_value(page, published_server, group)
    page.add_init_script(CSP_WATCH)
    page.goto(published_server.url + "/")
    page.locator(MARKERS).first.wait_for()
    page.locator(f"details[data-group={group}] > summary").click()
    option = page.locator(f"input[name={group}][value='{value}']")
    with page.expect_request(f"**/api/v1/stops?*{group}=*") as stops_request, \
            page.expect_request(f"**/api/v1/statistics?*{group}=*") as statistics_request:
        option.check()
    assert parse_qs(urlsplit(stops_request.value.url).query)[group] == [value]
    assert parse_qs(urlsplit(statistics_request.value.url).query)[group] == [value]
    assert page_query(page)[group] == [value]
    chip = page.locator(f".chip[data-group={group}]")
    assert chip.count() == 1
    expected = fetch_json(page, f"{published_server.url}/api/v1/stops?bbox={SWITZERLAND_BBOX}&{group}={value}")
    points = sum(1 for feature in expected["features"] if feature["geometry"]["type"] == "Point")
    page.wait_for_function(f"n => document.querySelectorAll('{MARKERS}').length === n", arg=points)

    # A shared link restores the chip; removing it restores the request and the URL.
    page.goto(page.url)
    chip.wait_for()
    with page.expect_request(lambda request: "/api/v1/stops?" in request.url and f"{group}=" not in request.url):
        chip.locator(".chip-remove").click()
    assert group not in page_query(page)
    assert page.locator(".chip").count() == 0
    assert_clean(page, browser_log)


def test_filter_menus_offer_the_api_values_with_counts(
    page: Any, published_server: LiveServer, browser_log: BrowserLog
) -> None:
    facets = fetch_json(page, f"{published_server.url}/api/v1/facets")
    page.goto(published_server.url + "/?lang=de")
    page.locator(MARKERS).first.wait_for()
    page.locator("details[data-group=mode] > summary").click()
    bus = next(item for item in facets["modes"] if item["value"] == "bus")
    label = page.locator("details[data-group=mode] label", has=page.locator("input[value=bus]"))
    assert label.inner_text().strip().startswith("Bus")
    assert label.locator(".filter-option-count").inner_text() == str(bus["count"])
    page.locator("details[data-group=osm_operator] > summary").click()
    operators = page.locator("input[name=osm_operator]").evaluate_all("inputs => inputs.map(i => i.value)")
    assert operators[0] == facets["osm_operators"][0]["value"]
    # Any OSM operator by name, not only the listed ones.
    page.fill("input[name=osm_operator-add]", "VBZ")
    page.press("input[name=osm_operator-add]", "Enter")
    page.locator(".chip[data-group=osm_operator][data-value=VBZ]").wait_for()
    # Two groups at once: values ORed within a group, groups ANDed.
    page.locator("details[data-group=canton] > summary").click()
    with page.expect_request("**/api/v1/stops?*canton=ZH%2CBE*") as request_info:
        page.locator("input[name=canton][value=ZH]").check()
        page.locator("input[name=canton][value=BE]").check()
    sent = parse_qs(urlsplit(request_info.value.url).query)
    assert sent["canton"] == ["ZH,BE"] and sent["osm_operator"] == ["VBZ"]
    chips = page.locator(".chip-label").all_inner_texts()
    assert "Kanton: ZH" in chips and "OSM-Betreiber: VBZ" in chips
    stops_api = f"{published_server.url}/api/v1/stops?bbox={SWITZERLAND_BBOX}"
    points = sum(1 for feature in fetch_json(page, stops_api + "&canton=ZH,BE&osm_operator=VBZ")["features"]
                 if feature["geometry"]["type"] == "Point")
    everything = sum(1 for feature in fetch_json(page, stops_api)["features"] if feature["geometry"]["type"] == "Point")
    assert 0 < points < everything
    page.wait_for_function(f"n => document.querySelectorAll('{MARKERS}').length === n", arg=points)
    wait_until_idle(page)
    screenshot(page, "map-de-new-filters.png")
    assert browser_log.unexpected() == []


# --- route search -------------------------------------------------------------------------------


def test_route_search_highlights_the_stops_and_zooms_to_the_route(
    page: Any, published_server: LiveServer, browser_log: BrowserLog
) -> None:
    # Three stops of one town: the first ATLAS platform and the two stops nearest to it.
    everything = fetch_json(page, f"{published_server.url}/api/v1/stops?bbox={SWITZERLAND_BBOX}&layers=atlas,osm")
    points = [feature for feature in everything["features"] if feature["geometry"]["type"] == "Point"]
    first_lon, first_lat = points[0]["geometry"]["coordinates"]
    points.sort(key=lambda f: (f["geometry"]["coordinates"][0] - first_lon) ** 2
                + (f["geometry"]["coordinates"][1] - first_lat) ** 2)
    stops = points[:3]
    assert len(stops) == 3
    lons = [feature["geometry"]["coordinates"][0] for feature in stops]
    lats = [feature["geometry"]["coordinates"][1] for feature in stops]
    bbox = [min(lons), min(lats), max(lons), max(lats)]
    route = {"layer": "route", "kind": "route", "id": "osm:relation/31", "source": "osm", "ref": "31",
             "name": "Bus 31: Bern Bahnhof => Wankdorf", "mode": "bus", "operator": "BERNMOBIL",
             "details": "/api/v1/routes/osm:relation/31", "stops": 3, "bbox": bbox, "match": "route"}
    answer = {**route, "stops": [{"layer": feature["properties"]["layer"], "id": feature["properties"]["id"],
                                  "name": feature["properties"]["name"], "matched": True, "directions": [],
                                  "lon": feature["geometry"]["coordinates"][0],
                                  "lat": feature["geometry"]["coordinates"][1]} for feature in stops], "count": 3}
    searches: list[str] = []

    def search(request_route: Any) -> None:
        searches.append(request_route.request.url)
        fulfil_json(request_route, {"q": "Bus 31", "kind": "route", "limit": 20, "results": [route]})

    page.route("**/api/v1/search?*", search)
    page.route("**/api/v1/routes/**", lambda request_route: fulfil_json(request_route, answer))
    page.add_init_script(CSP_WATCH)
    page.goto(published_server.url + "/")
    page.locator(MARKERS).first.wait_for()
    page.fill("#map-search-input", "Bus 31")
    page.press("#map-search-input", "Enter")
    page.locator("path.route-stop").nth(2).wait_for(state="attached")
    assert page.locator("path.route-stop").count() == 3
    wait_for_query(page, "highlight", "osm:relation/31")
    assert int(page_query(page)["z"][0]) >= 12
    view = page.evaluate("() => [...document.querySelectorAll('path.route-stop')].map(p => p.getBBox().width > 0)")
    assert view == [True, True, True]
    assert "31" in page.locator("#map-route-label").inner_text()
    assert page.locator(".legend-route").is_visible()
    lat, lon = float(page_query(page)["lat"][0]), float(page_query(page)["lon"][0])
    assert bbox[1] - 0.05 <= lat <= bbox[3] + 0.05 and bbox[0] - 0.05 <= lon <= bbox[2] + 0.05
    assert "q=Bus+31" in searches[0] or "q=Bus%2031" in searches[0]
    screenshot(page, "map-route.png")

    # "Only its stops" filters the stops by the route (the API's route filter), as a chip.
    def filtered(request: Any) -> bool:
        query = parse_qs(urlsplit(request.url).query)
        return "/api/v1/statistics" in request.url and query.get("route") == ["osm:relation/31"]

    with page.expect_request(filtered):
        page.locator("#map-route-only").click()
    wait_for_query(page, "route", "osm:relation/31")
    assert page.locator(".chip[data-group=route] .chip-label").inner_text() == "Route: Bus 31"
    page.locator(".chip[data-group=route] .chip-remove").click()
    wait_for_query(page, "route", None)

    # A shared link highlights the route again; "Hide route" clears it.
    page.goto(page.url)
    page.locator("path.route-stop").nth(2).wait_for(state="attached")
    page.locator("#map-route-clear").click()
    wait_for_query(page, "highlight", None)
    assert page.locator("path.route-stop").count() == 0
    assert page.locator("#map-route").is_hidden()
    assert_clean(page, browser_log)


def test_several_results_list_routes_first(page: Any, published_server: LiveServer, browser_log: BrowserLog) -> None:
    route = {"kind": "route", "layer": "route", "id": "gtfs:91-S12-j26", "ref": "S12", "name": "S12", "mode": "train",
             "operator": "SBB", "details": "/api/v1/routes/gtfs:91-S12-j26", "stops": 2,
             "bbox": [8.5, 47.3, 8.6, 47.4]}
    stop = {"layer": "atlas", "id": "ch:1:sloid:1", "name": "S12 Halt", "lat": 47.35, "lon": 8.55}
    page.route("**/api/v1/search?*", lambda r: fulfil_json(r, {"q": "S12", "kind": "route", "results": [route, stop]}))
    page.goto(published_server.url + "/")
    page.locator(MARKERS).first.wait_for()
    page.fill("#map-search-input", "S12")
    page.press("#map-search-input", "Enter")
    first = page.locator("#map-search-results .search-result").first
    first.wait_for()
    assert first.get_attribute("data-route-id") == "gtfs:91-S12-j26"
    assert first.inner_text().startswith("Train S12 · Route")
    assert page.locator("#map-search-results .search-result[data-stop-id]").count() == 1
    assert browser_log.unexpected() == []


# --- data tiles at city zoom ---------------------------------------------------------------------


def test_city_zoom_loads_data_tiles_and_reuses_them(
    page: Any, published_server: LiveServer, browser_log: BrowserLog
) -> None:
    collection = fetch_json(page, f"{published_server.url}/api/v1/stops?bbox={SWITZERLAND_BBOX}&layers=atlas")
    lon, lat = collection["features"][0]["geometry"]["coordinates"]
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url) if "/api/v1/" in request.url else None)
    page.add_init_script(CSP_WATCH)
    page.goto(f"{published_server.url}/?lat={lat}&lon={lon}&z=17")
    page.locator("path.stop-atlas").first.wait_for()
    wait_until_idle(page)
    tiles = [url for url in requests if "/api/v1/tiles/" in url]
    assert tiles and all("/api/v1/tiles/15/" in url for url in tiles)
    assert not any("/api/v1/stops?" in url for url in requests)

    # Zooming in within the city range asks nothing new: the z15 tiles cover the view already.
    before = len(requests)
    page.locator(".leaflet-control-zoom-in").click()
    wait_for_query(page, "z", "18")
    wait_until_idle(page)
    assert [url for url in requests[before:] if "/api/v1/tiles/" in url or "/api/v1/stops?" in url] == []
    assert page.locator("path.stop-atlas").count() >= 1

    # A filter is part of each tile request (and of the cache key).
    page.locator("details[data-group=kind] > summary").click()
    with page.expect_request("**/api/v1/tiles/15/*/*?kind=platform") as request_info:
        page.locator("input[name=kind][value=platform]").check()
    assert parse_qs(urlsplit(request_info.value.url).query) == {"kind": ["platform"]}
    wait_until_idle(page)
    screenshot(page, "map-city-tiles.png")
    assert_clean(page, browser_log)


def test_tile_answers_are_merged_by_feature(page: Any, published_server: LiveServer, browser_log: BrowserLog) -> None:
    """The same stop in two tile answers is drawn once; a truncated tile says so."""
    point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [7.4391, 46.9488]},
             "properties": {"layer": "osm", "id": "node/42", "kind": "platform", "name": "Twice",
                            "uic_ref": "8507000", "local_ref": "3", "matched": False}}
    state = {"calls": 0}

    def tile(route: Any) -> None:
        state["calls"] += 1
        body = {"type": "FeatureCollection", "features": [point], "truncated": state["calls"] == 1,
                "limit": 5000, "next_cursor": None}
        route.fulfill(status=200, content_type="application/geo+json", body=json.dumps(body))

    page.route("**/api/v1/tiles/**", tile)
    page.goto(f"{published_server.url}/?lat=46.9488&lon=7.4391&z=16")
    page.locator("path.stop-osm").first.wait_for()
    wait_until_idle(page)
    assert state["calls"] >= 2
    assert page.locator("path.stop-osm").count() == 1
    assert "zoom in" in page.locator("#map-status").inner_text()
    assert browser_log.unexpected() == []
