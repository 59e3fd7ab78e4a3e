"""GET /api/v1/stops: formats, filters, cursor paging, and every bad parameter."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from stopsync.blueprints.api.cursor import encode_cursor

from .conftest import GLARUS_BBOX, GLARUS_NAME, GLARUS_NODE, GLARUS_SLOID, SWITZERLAND, Api


def _items(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(layer, key) of every item of a plain-JSON stops answer."""
    return ([("atlas", i["id"]) for i in body["atlas"]] + [("osm", i["id"]) for i in body["osm"]]
            + [("link", f"{i['sloid']}|{i['osm_id']}") for i in body["links"]])


def test_geojson_is_the_default_and_keeps_its_contract(api: Api) -> None:
    response = api.get("/stops", bbox=GLARUS_BBOX)
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    body = response.json
    assert body["type"] == "FeatureCollection" and body["truncated"] is False and body["next_cursor"] is None
    atlas = [f for f in body["features"] if f["properties"]["layer"] == "atlas"]
    assert [f["properties"]["id"] for f in atlas] == [GLARUS_SLOID]
    assert atlas[0]["properties"]["name"] == GLARUS_NAME
    lon, lat = atlas[0]["geometry"]["coordinates"]
    assert 9.06 < lon < 9.08 and 47.03 < lat < 47.05
    assert set(atlas[0]["properties"]) == {"layer", "id", "number", "designation", "name", "operator", "matched"}
    osm_ids = {f["properties"]["id"] for f in body["features"] if f["properties"]["layer"] == "osm"}
    assert GLARUS_NODE in osm_ids
    link = next(f for f in body["features"] if f["properties"]["layer"] == "link")
    assert link["geometry"]["type"] == "LineString"
    assert set(link["properties"]) == {"layer", "sloid", "osm_id", "method", "distance_m"}


def test_the_map_pages_accept_header_gets_geojson(api: Api) -> None:
    response = api.get("/stops", headers={"Accept": "application/geo+json, application/json"}, bbox=GLARUS_BBOX)
    assert response.mimetype == "application/geo+json" and response.json["type"] == "FeatureCollection"


@pytest.mark.parametrize("how", ["accept", "format"])
def test_plain_json_by_accept_or_format(api: Api, how: str) -> None:
    if how == "accept":
        response = api.get("/stops", headers={"Accept": "application/json"}, bbox=GLARUS_BBOX)
    else:
        response = api.get("/stops", bbox=GLARUS_BBOX, format="json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.json
    assert [a["id"] for a in body["atlas"]] == [GLARUS_SLOID]
    assert GLARUS_NODE in {o["id"] for o in body["osm"]}
    assert all(link["sloid"] == GLARUS_SLOID for link in body["links"])
    assert {"lon", "lat"} <= set(body["atlas"][0])


def test_format_beats_accept(api: Api) -> None:
    response = api.get("/stops", headers={"Accept": "application/json"}, bbox=GLARUS_BBOX, format="geojson")
    assert response.json["type"] == "FeatureCollection"


def test_filters_or_within_and_across(api: Api) -> None:
    everything = api.ok("/stops", bbox=SWITZERLAND, format="json")
    pag = api.ok("/stops", bbox=SWITZERLAND, format="json", operator="PAG")
    tpg = api.ok("/stops", bbox=SWITZERLAND, format="json", operator="TPG")
    both = api.ok("/stops", bbox=SWITZERLAND, format="json", operator="PAG,TPG")
    assert {a["operator"] for a in pag["atlas"]} == {"PAG"} and len(pag["atlas"]) == 16
    # OR within one parameter: the union.
    assert set(_items(both)) == set(_items(pag)) | set(_items(tpg))
    # OSM elements qualify through their links to a PAG platform.
    pag_sloids = {a["id"] for a in pag["atlas"]}
    assert {link["sloid"] for link in pag["links"]} <= pag_sloids
    assert {o["id"] for o in pag["osm"]} == {link["osm_id"] for link in pag["links"]}
    # AND across parameters: the intersection.
    platforms = api.ok("/stops", bbox=SWITZERLAND, format="json", kind="platform")
    pag_platforms = api.ok("/stops", bbox=SWITZERLAND, format="json", operator="PAG", kind="platform")
    assert set(_items(pag_platforms)) == set(_items(pag)) & set(_items(platforms))
    assert pag_platforms["osm"] and {o["kind"] for o in pag_platforms["osm"]} == {"platform"}
    assert len(_items(everything)) > len(_items(both))


def test_matched_method_and_problem_filters(api: Api) -> None:
    unmatched = api.ok("/stops", bbox=SWITZERLAND, format="json", matched="false")
    assert unmatched["osm"] and not any(o["matched"] for o in unmatched["osm"])
    assert unmatched["atlas"] == [] and unmatched["links"] == []  # every ATLAS platform of the sample is linked
    by_name = api.ok("/stops", bbox=SWITZERLAND, format="json", method="exact_name")
    assert [link["method"] for link in by_name["links"]] == ["exact_name"]
    both_methods = api.ok("/stops", bbox=SWITZERLAND, format="json", method="exact_name,ref_sloid")
    assert sorted(link["method"] for link in both_methods["links"]) == ["exact_name", "ref_sloid"]
    critical_distance = api.ok("/stops", bbox=SWITZERLAND, format="json", problem_type="distance", priority="1")
    problems = api.ok("/problems", type="distance", priority="1", limit=1000)["problems"]
    assert {a["id"] for a in critical_distance["atlas"]} == {p["sloid"] for p in problems}
    assert {o["id"] for o in critical_distance["osm"]} == {p["osm_id"] for p in problems}


def test_cursor_pages_return_every_item_exactly_once(api: Api) -> None:
    whole = _items(api.ok("/stops", bbox=SWITZERLAND, format="json"))
    seen: list[tuple[str, str]] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"bbox": SWITZERLAND, "format": "json", "limit": 7}
        if cursor:
            params["cursor"] = cursor
        body = api.ok("/stops", **params)
        assert len(body["atlas"]) <= 7 and len(body["osm"]) <= 7 and len(body["links"]) <= 7
        seen += _items(body)
        pages += 1
        cursor = body["next_cursor"]
        assert body["truncated"] is (cursor is not None)
        if cursor is None:
            break
    assert pages > 2
    assert len(seen) == len(set(seen)) and sorted(seen) == sorted(whole)


def test_cursor_paging_in_geojson_with_filters(api: Api) -> None:
    first = api.ok("/stops", bbox=SWITZERLAND, layers="osm", kind="platform", limit=10)
    second = api.ok("/stops", bbox=SWITZERLAND, layers="osm", kind="platform", limit=10, cursor=first["next_cursor"])
    ids = [f["properties"]["id"] for f in first["features"] + second["features"]]
    assert len(ids) == len(set(ids)) == 20


def _forged(api: Api, payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({}, "bbox"),
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"bbox": "10,47,9,48"}, "bbox"),
        ({"bbox": "0,95,1,96"}, "bbox"),
        ({"bbox": "inf,1,2,3"}, "bbox"),
        ({"bbox": GLARUS_BBOX, "limit": "0"}, "limit"),
        ({"bbox": GLARUS_BBOX, "limit": "x"}, "limit"),
        ({"bbox": GLARUS_BBOX, "limit": "10001"}, "limit"),
        ({"bbox": GLARUS_BBOX, "layers": "roads"}, "layers"),
        ({"bbox": GLARUS_BBOX, "format": "xml"}, "format"),
        ({"bbox": GLARUS_BBOX, "matched": "maybe"}, "matched"),
        ({"bbox": GLARUS_BBOX, "priority": "7"}, "priority"),
        ({"bbox": GLARUS_BBOX, "priority": "high"}, "priority"),
        ({"bbox": GLARUS_BBOX, "operator": ","}, "operator"),
        ({"bbox": GLARUS_BBOX, "method": "x" * 200}, "method"),
        ({"bbox": GLARUS_BBOX, "cursor": "!!!"}, "cursor"),
        ({"bbox": GLARUS_BBOX, "cursor": "bm90IGpzb24"}, "cursor"),
        ({"bbox": GLARUS_BBOX, "colour": "red"}, "colour"),
        ({"bbox": GLARUS_BBOX, "kind": "a\x00b"}, "kind"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(api: Api, query: dict[str, str], parameter: str) -> None:
    api.bad("/stops", parameter, **query)


def test_cursors_of_other_queries_or_snapshots_are_refused(api: Api) -> None:
    cursor = api.ok("/stops", bbox=SWITZERLAND, limit=2)["next_cursor"]
    assert "different query" in api.bad("/stops", "cursor", bbox=GLARUS_BBOX, limit=2, cursor=cursor)["message"]
    fingerprint = json.loads(base64.urlsafe_b64decode(cursor + "==="))["q"]
    stale = encode_cursor("20000101T000000Z-000000", fingerprint, {"atlas": "ch:1:sloid:1"})
    assert "earlier snapshot" in api.bad("/stops", "cursor", bbox=SWITZERLAND, limit=2, cursor=stale)["message"]
    run_id = json.loads(base64.urlsafe_b64decode(cursor + "==="))["r"]
    wrong_type = encode_cursor(run_id, fingerprint, {"atlas": 5})
    api.bad("/stops", "cursor", bbox=SWITZERLAND, limit=2, cursor=wrong_type)
    wrong_layer = encode_cursor(run_id, fingerprint, {"roads": "x"})
    api.bad("/stops", "cursor", bbox=SWITZERLAND, limit=2, cursor=wrong_layer)
    api.bad("/stops", "cursor", bbox=SWITZERLAND, cursor=_forged(api, ["not", "an", "object"]))


def test_api_answers_are_not_indexed(api: Api) -> None:
    assert api.get("/stops", bbox=GLARUS_BBOX).headers["X-Robots-Tag"] == "noindex"
