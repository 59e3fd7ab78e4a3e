"""Statistics, operators, overview clusters, random stop and largest distances."""

from __future__ import annotations

import pytest

from .conftest import GLARUS_BBOX, SWITZERLAND, Api


def test_statistics_of_the_whole_snapshot(api: Api) -> None:
    body = api.ok("/statistics")
    assert body["atlas"] == {"total": 40, "matched": 40, "unmatched": 0}
    assert body["osm"]["total"] == 125 and body["osm"]["matched"] + body["osm"]["unmatched"] == 125
    assert body["match_rate"]["atlas"] == 1.0
    assert body["links"]["per_method"]["exact_reference"] == 97 and body["links"]["total"] == 99
    assert body["problems"]["total"] == 84 and sum(body["problems"]["per_priority"].values()) == 84
    assert body["problems"]["per_type"]["distance"] == 40


def test_statistics_follow_the_stop_filters(api: Api) -> None:
    stops = api.ok("/stops", bbox=SWITZERLAND, format="json", operator="PAG", kind="platform")
    stats = api.ok("/statistics", operator="PAG", kind="platform")
    assert stats["atlas"]["total"] == len(stops["atlas"])
    assert stats["osm"]["total"] == len(stops["osm"])
    assert stats["links"]["total"] == len(stops["links"])
    assert stats["filters"] == {"kind": ["platform"], "operator": ["PAG"]}
    scoped = api.ok("/statistics", bbox=GLARUS_BBOX)
    assert scoped["atlas"]["total"] == 1 and scoped["bbox"] == [9.06, 47.03, 9.08, 47.05]
    distance = api.ok("/statistics", problem_type="distance")
    assert set(distance["problems"]["per_type"]) == {"distance"}


def test_operators(api: Api) -> None:
    rows = api.ok("/operators")["operators"]
    assert rows[0]["operator"] == "PAG" and rows[0]["platforms"] == 16
    assert sum(row["platforms"] for row in rows) == 40
    assert {"operator", "platforms", "matched", "unmatched", "links", "problems"} == set(rows[0])


@pytest.mark.parametrize("zoom", [0, 5, 8, 12])
def test_overview_clusters_count_every_stop_once(api: Api, zoom: int) -> None:
    body = api.ok("/overview", bbox=SWITZERLAND, zoom=zoom)
    assert body["total"] == 40 + 125 == sum(cluster["count"] for cluster in body["clusters"])
    assert body["mode"] == "clusters"
    for cluster in body["clusters"]:
        west, south, east, north = cluster["bbox"]
        assert west <= cluster["lon"] <= east and south <= cluster["lat"] <= north
        assert sum(cluster["states"].values()) == cluster["count"]
    if zoom == 0:
        assert len(body["clusters"]) == 1
    assert len(body["clusters"]) < 165


def test_overview_zoom_policy_and_filters(api: Api) -> None:
    near = api.ok("/overview", bbox=GLARUS_BBOX, zoom=16)
    assert near["mode"] == "stops" and near["stops_min_zoom"] == 14
    unmatched = api.ok("/overview", bbox=SWITZERLAND, zoom=8, matched="false")
    states = [c["states"] for c in unmatched["clusters"]]
    assert unmatched["total"] == 26 and all(s["osm_matched"] == 0 and s["atlas_matched"] == 0 for s in states)


@pytest.mark.parametrize(("params", "parameter"), [
    ({"bbox": SWITZERLAND}, "zoom"), ({"bbox": SWITZERLAND, "zoom": "23"}, "zoom"),
    ({"bbox": SWITZERLAND, "zoom": "z"}, "zoom"), ({"zoom": "5"}, "bbox"),
    ({"bbox": "-180,-90,180,90", "zoom": "12"}, "zoom"),  # millions of cells: refused
    ({"bbox": SWITZERLAND, "zoom": "5", "priority": "4"}, "priority"),
])
def test_bad_overview_parameters(api: Api, params: dict[str, str], parameter: str) -> None:
    api.bad("/overview", parameter, **params)


def test_random_stop_obeys_the_filters(api: Api) -> None:
    for _ in range(5):
        stop = api.ok("/random", operator="PAG", layers="atlas")
        assert stop["operator"] == "PAG" and stop["details"] == f"/api/v1/stops/{stop['id']}"
        unmatched = api.ok("/random", matched="false")
        assert unmatched["layer"] == "osm" and unmatched["matched"] is False
    assert api.get("/random", operator="NOBODY").status_code == 404
    assert api.get("/random", bbox="0,0,1,1").status_code == 404


def test_largest_distances(api: Api) -> None:
    links = api.ok("/largest-distances", limit=3)["links"]
    assert [link["distance_m"] for link in links] == [123.74, 119.47, 119.27]
    vbz = api.ok("/largest-distances", operator="VBZ", limit=1)["links"]
    assert vbz[0]["sloid"] == "ch:1:sloid:91366::10" and vbz[0]["distance_m"] == 95.2


@pytest.mark.parametrize(("path", "params", "parameter"), [
    ("/statistics", {"bbox": "x"}, "bbox"), ("/statistics", {"zoom": "3"}, "zoom"),
    ("/operators", {"limit": "3"}, "limit"), ("/random", {"layers": "link"}, "layers"),
    ("/largest-distances", {"limit": "1001"}, "limit"), ("/largest-distances", {"sort": "x"}, "sort"),
])
def test_bad_parameters(api: Api, path: str, params: dict[str, str], parameter: str) -> None:
    api.bad(path, parameter, **params)
