"""GET /api/v1/tiles/{z}/{x}/{y}: XYZ tile math, the same answer as /stops for the tile's bbox,
and every bad path value refused with a 400 naming it."""

from __future__ import annotations

import math
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stopsync.blueprints.api import tiles
from stopsync.blueprints.api.tiles import TILE_LIMIT, TILE_MAX_ZOOM, TILE_MIN_ZOOM, tile_bbox, tile_of
from stopsync.extensions import cache

from .conftest import Api

GLARUS = (9.06870540386, 47.04155345219)  # Glarus, Stampf (lon, lat), from the ATLAS sample


def _mercator_y(lat: float, z: int) -> float:
    """The tile row of a latitude by the textbook formula (ln(tan + sec)), as a float."""
    phi = math.radians(lat)
    return (1 - math.log(math.tan(phi) + 1 / math.cos(phi)) / math.pi) / 2 * 2**z


def test_tile_bbox_of_known_tiles() -> None:
    world = tile_bbox(0, 0, 0)
    assert world[0] == -180 and world[2] == 180
    assert world[1] == pytest.approx(-85.0511288) and world[3] == pytest.approx(85.0511288)
    assert tile_bbox(1, 0, 0) == pytest.approx((-180, 0, 0, 85.0511288))
    assert tile_bbox(1, 1, 1) == pytest.approx((0, -85.0511288, 180, 0))
    # Zürich HB (8.5402, 47.3782) lies in tile 15/17161/11474 (row 11474.71 by the textbook formula).
    assert _mercator_y(47.3782, 15) == pytest.approx(11474.709, abs=1e-3)
    assert tile_of(8.5402, 47.3782, 15) == (17161, 11474)
    west, south, east, north = tile_bbox(15, 17161, 11474)
    assert west == pytest.approx(8.5363770) and east == pytest.approx(8.5473633)
    assert south == pytest.approx(47.3760346) and north == pytest.approx(47.3834739)
    assert west < 8.5402 < east and south < 47.3782 < north


@pytest.mark.parametrize("z", [TILE_MIN_ZOOM, 15, TILE_MAX_ZOOM])
def test_tile_of_inverts_tile_bbox(z: int) -> None:
    x, y = tile_of(*GLARUS, z)
    assert y == int(_mercator_y(GLARUS[1], z))
    west, south, east, north = tile_bbox(z, x, y)
    assert west <= GLARUS[0] < east and south < GLARUS[1] <= north
    # Neighbours share edges exactly: a tile's east is the next one's west.
    assert tile_bbox(z, x + 1, y)[0] == east and tile_bbox(z, x, y + 1)[3] == south


def _without_tile(body: dict[str, Any]) -> dict[str, Any]:
    assert body.pop("tile") is not None
    return body


@pytest.mark.parametrize("z", [12, 14, 16])
def test_a_tile_is_what_stops_answers_for_its_bbox(api: Api, z: int) -> None:
    x, y = tile_of(*GLARUS, z)
    bbox = ",".join(repr(value) for value in tile_bbox(z, x, y))
    for extra, headers in (({}, {}), ({"format": "json"}, {}), ({}, {"Accept": "application/json"}),
                           ({"operator": "PAG", "layers": "atlas,link"}, {})):
        response = api.get(f"/tiles/{z}/{x}/{y}", headers=headers, **extra)
        assert response.status_code == 200
        stops = api.get("/stops", headers=headers, bbox=bbox, limit=TILE_LIMIT, **extra)
        assert response.mimetype == stops.mimetype
        body = response.json
        assert body["tile"] == {"z": z, "x": x, "y": y} and body["next_cursor"] is None
        assert _without_tile(body) == stops.json
    geojson = api.ok(f"/tiles/{z}/{x}/{y}")
    assert geojson["type"] == "FeatureCollection" and geojson["features"] and geojson["truncated"] is False
    assert any(f["properties"].get("id") == "ch:1:sloid:80266:0:16213" for f in geojson["features"])


def test_suffix_names_the_representation(api: Api) -> None:
    x, y = tile_of(*GLARUS, 14)
    plain = api.get(f"/tiles/14/{x}/{y}.json", headers={"Accept": "application/geo+json"})
    assert plain.status_code == 200 and plain.mimetype == "application/json" and "atlas" in plain.json
    geo = api.get(f"/tiles/14/{x}/{y}.geojson", headers={"Accept": "application/json"})
    assert geo.mimetype == "application/geo+json" and geo.json["type"] == "FeatureCollection"
    assert api.get(f"/tiles/14/{x}/{y}.json", format="json").status_code == 200
    api.bad(f"/tiles/14/{x}/{y}.json", "format", format="geojson")


def test_an_empty_tile_and_a_truncated_one(api: Api, api_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = api.ok("/tiles/12/0/0")
    assert empty["features"] == [] and empty["truncated"] is False
    monkeypatch.setattr(tiles, "TILE_LIMIT", 1)
    with api_app.app_context():
        cache.clear()  # the tile's complete answer may be cached already
    x, y = tile_of(*GLARUS, 12)
    body = api.ok(f"/tiles/12/{x}/{y}", format="json")
    assert body["truncated"] is True and body["next_cursor"] is None and body["limit"] == 1
    assert len(body["atlas"]) == 1 and len(body["osm"]) == 1
    with api_app.app_context():
        cache.clear()


@pytest.mark.parametrize(("path", "params", "parameter"), [
    ("/tiles/11/1072/717", {}, "z"),
    ("/tiles/19/1/1", {}, "z"),
    ("/tiles/abc/1/1", {}, "z"),
    ("/tiles/-1/1/1", {}, "z"),
    ("/tiles/+14/1/1", {}, "z"),
    ("/tiles/14/16384/1", {}, "x"),
    ("/tiles/14/-1/1", {}, "x"),
    ("/tiles/14/1.5/1", {}, "x"),
    ("/tiles/14/1/16384", {}, "y"),
    ("/tiles/14/1/abc", {}, "y"),
    ("/tiles/14/1/5.xml", {}, "y"),
    ("/tiles/14/1/%D9%A5", {}, "y"),  # an Arabic-Indic five: digits only means 0-9
    ("/tiles/14/1/1", {"bbox": "9,47,9.1,47.1"}, "bbox"),
    ("/tiles/14/1/1", {"cursor": "e30"}, "cursor"),
    ("/tiles/14/1/1", {"limit": "5"}, "limit"),
    ("/tiles/14/1/1", {"layers": "bus"}, "layers"),
    ("/tiles/14/1/1", {"format": "xml"}, "format"),
    ("/tiles/14/1/1", {"priority": "9"}, "priority"),
    ("/tiles/zz/1/1", {"undocumented": "1"}, "undocumented"),  # unknown parameters first
])
def test_bad_tile_requests_name_the_parameter(api: Api, path: str, params: dict[str, str], parameter: str) -> None:
    api.bad(path, parameter, **params)


_segment = st.one_of(st.integers(min_value=-5, max_value=2**20).map(str),
                     st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#%"),
                             min_size=1, max_size=9))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(z=_segment, x=_segment, y=_segment)
def test_no_tile_path_yields_a_server_error(api: Api, z: str, x: str, y: str) -> None:
    response = api.get(f"/tiles/{z}/{x}/{y}")
    assert response.status_code in (200, 400, 404), (z, x, y, response.status_code)
    if response.status_code == 400:
        assert response.json["details"]["parameter"] in ("z", "x", "y", "format")
    if response.status_code == 200:
        assert TILE_MIN_ZOOM <= int(z) <= TILE_MAX_ZOOM
