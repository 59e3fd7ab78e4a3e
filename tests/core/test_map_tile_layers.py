"""MAP_TILE_LAYERS: checked at start-up, handed to the map page, and the only third-party hosts
the CSP lets images come from."""

from __future__ import annotations

import json
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from stopsync import create_app
from stopsync.config import DEFAULTS, tile_layers
from stopsync.errors import ConfigurationError
from stopsync.security import content_security_policy, tile_sources

from ..conftest import base_config, dispose

CITY_TILES = {"id": "city", "name": "City <map>", "url": "https://tiles.example.org/city/{z}/{x}/{y}.png",
              "attribution": "© City", "max_zoom": 17}


def _img_src(csp: str) -> list[str]:
    directive = next(part.strip() for part in csp.split(";") if part.strip().startswith("img-src"))
    return directive.split()[1:]


def test_default_layers_allow_exactly_their_hosts() -> None:
    sources = tile_sources(tile_layers(DEFAULTS["MAP_TILE_LAYERS"]))
    assert sources == [
        "https://tile.openstreetmap.org",
        "https://tile.memomaps.de",
        "https://a.tiles.openrailwaymap.org",
        "https://b.tiles.openrailwaymap.org",
        "https://c.tiles.openrailwaymap.org",
    ]


def test_the_csp_follows_the_configured_tile_layers(tmp_path: Path) -> None:
    app = create_app(base_config(tmp_path, MAP_TILE_LAYERS=[CITY_TILES]))
    try:
        response = app.test_client().get("/healthz")
        csp = response.headers["Content-Security-Policy"]
        assert _img_src(csp) == ["'self'", "data:", "https://tiles.example.org"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert content_security_policy(app.config)["img-src"] == ["'self'", "data:", "https://tiles.example.org"]
        # The page gets the layers as data (names escaped by Jinja, and again by map.js).
        html = app.test_client().get("/").get_data(as_text=True)
        attribute = html.split('data-tile-layers="', 1)[1].split('"', 1)[0]
        layers = json.loads(unescape(attribute))
        assert [layer["id"] for layer in layers] == ["city"]
        assert layers[0]["name"] == "City <map>" and layers[0]["max_zoom"] == 17
        assert "<map>" not in attribute
    finally:
        dispose(app)


def test_no_tile_layers_means_no_tile_hosts(tmp_path: Path) -> None:
    app = create_app(base_config(tmp_path, MAP_TILE_LAYERS=[]))
    try:
        csp = app.test_client().get("/healthz").headers["Content-Security-Policy"]
        assert _img_src(csp) == ["'self'", "data:"]
    finally:
        dispose(app)


def test_layers_from_the_environment_are_json() -> None:
    layers = tile_layers(json.dumps([{**CITY_TILES, "overlay": True}]))
    assert layers[0]["overlay"] is True and layers[0]["subdomains"] == "abc"


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ("not json", "not valid JSON"),
        ({"url": "x"}, "must be a list"),
        (["osm"], "must be a mapping"),
        ([{**CITY_TILES, "colour": "red"}], "unknown keys"),
        ([{**CITY_TILES, "url": "javascript:alert(1)//{z}/{x}/{y}"}], "url must be http"),
        ([{**CITY_TILES, "url": "https://tiles.example.org/{z}/{x}.png"}], "url must be http"),
        ([{**CITY_TILES, "id": "Bad Id"}], "needs a name and an id"),
        ([{**CITY_TILES, "name": ""}], "needs a name and an id"),
        ([{**CITY_TILES, "max_zoom": 30}], "max_zoom"),
        ([{**CITY_TILES, "attribution_url": "javascript:alert(1)"}], "attribution_url"),
        ([{**CITY_TILES, "subdomains": "a.b"}], "subdomains"),
        ([CITY_TILES, CITY_TILES], "used twice"),
    ],
)
def test_bad_tile_layers_fail_at_start_up(tmp_path: Path, layers: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        create_app(base_config(tmp_path, MAP_TILE_LAYERS=layers))
