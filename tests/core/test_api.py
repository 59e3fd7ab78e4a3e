"""GET /api/v1/stops on both backends with the published real sample."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

# Glarus, Stampf: the ATLAS platform and its OSM stop_position (checked by hand in the files).
GLARUS_STAMPF_BBOX = "9.06,47.03,9.08,47.05"


def _get(app: Flask, query: str) -> Any:
    return app.test_client().get(f"/api/v1/stops?{query}")


def test_bbox_returns_rfc7946_geojson(published_app: Flask) -> None:
    response = _get(published_app, f"bbox={GLARUS_STAMPF_BBOX}")
    assert response.status_code == 200
    body = response.json
    assert body["type"] == "FeatureCollection" and body["truncated"] is False
    layers = {f["properties"]["layer"] for f in body["features"]}
    assert layers == {"atlas", "osm", "link"}
    for feature in body["features"]:
        lon, lat = feature["geometry"]["coordinates"][0] if feature["geometry"]["type"] == "LineString" \
            else feature["geometry"]["coordinates"]
        assert 9.0 < lon < 9.1 and 47.0 < lat < 47.1  # lon first, as RFC 7946 orders them
    names = {f["properties"].get("name") for f in body["features"] if f["properties"]["layer"] == "atlas"}
    assert "Glarus, Stampf" in names
    link = next(f for f in body["features"] if f["properties"]["layer"] == "link")
    assert link["properties"]["osm_id"].startswith(("node/", "way/"))
    assert link["properties"]["method"] == "exact_reference"


def test_bbox_outside_the_data_is_empty(published_app: Flask) -> None:
    body = _get(published_app, "bbox=0,0,1,1").json
    assert body["features"] == []


def test_whole_country_with_a_small_limit_is_truncated(published_app: Flask) -> None:
    body = _get(published_app, "bbox=5.9,45.8,10.5,47.9&limit=5&layers=atlas").json
    assert len(body["features"]) == 5 and body["truncated"] is True


def test_matched_flags_agree_with_links(published_app: Flask) -> None:
    body = _get(published_app, "bbox=5.9,45.8,10.5,47.9&limit=1000").json
    linked = {f["properties"]["sloid"] for f in body["features"] if f["properties"]["layer"] == "link"}
    for feature in body["features"]:
        props = feature["properties"]
        if props["layer"] == "atlas":
            assert props["matched"] == (props["id"] in linked)


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("", "bbox"),
        ("bbox=1,2,3", "bbox"),
        ("bbox=a,b,c,d", "bbox"),
        ("bbox=10,47,9,48", "bbox"),
        ("bbox=0,95,1,96", "bbox"),
        ("bbox=nan,1,2,3", "bbox"),
        (f"bbox={GLARUS_STAMPF_BBOX}&limit=0", "limit"),
        (f"bbox={GLARUS_STAMPF_BBOX}&limit=ten", "limit"),
        (f"bbox={GLARUS_STAMPF_BBOX}&limit=99999999", "limit"),
        (f"bbox={GLARUS_STAMPF_BBOX}&layers=roads", "layers"),
        (f"bbox={GLARUS_STAMPF_BBOX}&colour=red", "colour"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(sqlite_app: Flask, query: str, parameter: str) -> None:
    response = _get(sqlite_app, query)
    assert response.status_code == 400
    assert response.json["error"] == "bad_request"
    assert response.json["details"]["parameter"] == parameter
    assert response.json["message"]


def test_empty_database_answers_an_empty_collection(sqlite_app: Flask) -> None:
    body = _get(sqlite_app, "bbox=5.9,45.8,10.5,47.9").json
    assert body["features"] == [] and body["truncated"] is False
