"""GET /api/v1/stops/<id> and GET /api/v1/search with real ids and names of the sample."""

from __future__ import annotations

import pytest

from .conftest import GLARUS_NAME, GLARUS_NODE, GLARUS_SLOID, GLARUS_UIC, Api


def test_details_of_an_atlas_platform_show_both_sides(api: Api) -> None:
    body = api.ok(f"/stops/{GLARUS_SLOID}")
    assert body["id"] == GLARUS_SLOID and body["layer"] == "atlas"
    assert [a["name"] for a in body["atlas"]] == [GLARUS_NAME]
    assert body["atlas"][0]["urls"]["atlas"].endswith(f"/service-points/{GLARUS_UIC}/traffic-point-elements")
    osm_ids = {o["id"] for o in body["osm"]}
    assert GLARUS_NODE in osm_ids and osm_ids == {link["osm_id"] for link in body["links"]}
    glarus_node = next(o for o in body["osm"] if o["id"] == GLARUS_NODE)
    assert glarus_node["tags"]["uic_name"] == GLARUS_NAME
    assert glarus_node["urls"]["id_editor"] == "https://www.openstreetmap.org/edit?editor=id&node=34674546"
    assert glarus_node["urls"]["josm"] == "http://127.0.0.1:8111/load_object?objects=n34674546"
    link = next(link for link in body["links"] if link["osm_id"] == GLARUS_NODE)
    assert link["method"] == "exact_reference" and link["evidence"]["uic_ref"] == GLARUS_UIC
    assert all({"key", "type", "priority", "status"} <= set(p) for p in body["problems"])
    assert any(GLARUS_NODE in unit["members"] for unit in body["units"])
    assert body["decisions"] == [] and body["notes"] == []


def test_details_of_an_osm_node(api: Api) -> None:
    body = api.ok(f"/stops/{GLARUS_NODE}")
    assert body["layer"] == "osm" and [o["id"] for o in body["osm"]] == [GLARUS_NODE]
    assert [a["id"] for a in body["atlas"]] == [GLARUS_SLOID]


def test_details_list_problems_of_the_stop(api: Api) -> None:
    problem = api.ok("/problems", type="distance", priority="1", limit=1)["problems"][0]
    body = api.ok(f"/stops/{problem['sloid']}")
    assert problem["key"] in {p["key"] for p in body["problems"]}


@pytest.mark.parametrize("stop_id", ["node/1", "way/45", "relation/1", "ch:1:sloid:1:0:1"])
def test_unknown_stops_are_404(api: Api, stop_id: str) -> None:
    response = api.get(f"/stops/{stop_id}")
    assert response.status_code == 404 and response.json["error"] == "not_found"


@pytest.mark.parametrize("stop_id", ["foo", "node/abc", "node/-1", "nodes/1", "node/99999999999999999999",
                                     "ch:1:sloid:", "sloid:1", "node/1/extra"])
def test_malformed_ids_are_400_naming_id(api: Api, stop_id: str) -> None:
    api.bad(f"/stops/{stop_id}", "id")


def test_details_refuse_query_parameters(api: Api) -> None:
    api.bad(f"/stops/{GLARUS_SLOID}", "verbose", verbose="1")


@pytest.mark.parametrize(
    ("q", "kind", "expected"),
    [
        (GLARUS_SLOID, "sloid", GLARUS_SLOID),
        ("ch:1:sloid:80266", "sloid", GLARUS_SLOID),  # a service point lists its platforms
        (GLARUS_UIC, "number", GLARUS_SLOID),  # the UIC number finds ATLAS ...
        (GLARUS_UIC, "number", GLARUS_NODE),  # ... and the OSM elements carrying it
        (GLARUS_NODE, "osm_id", GLARUS_NODE),
        ("n34674546", "osm_id", GLARUS_NODE),  # JOSM style
        ("34674546", "number", GLARUS_NODE),  # a bare OSM id
        ("Glarus, Stampf", "name", GLARUS_SLOID),
        ("glar sta", "name", GLARUS_SLOID),  # word prefixes, any case
        ("Glaurs", "fuzzy", GLARUS_SLOID),  # a typo: the fuzzy fallback
    ],
)
def test_search_by_each_kind_of_query(api: Api, q: str, kind: str, expected: str) -> None:
    body = api.ok("/search", q=q)
    assert body["kind"] == kind
    assert expected in [result["id"] for result in body["results"]]
    assert all(result["details"] == f"/api/v1/stops/{result['id']}" for result in body["results"])


def test_search_ignores_accents(api: Api) -> None:
    names = [result["name"] for result in api.ok("/search", q="Zurich")["results"]]
    assert "Zürich, Sihlpost/HB" in names and "Zürich, Sihlcity Nord" in names
    names = [result["name"] for result in api.ok("/search", q="chene bougeries")["results"]]
    assert "Chêne-Bougeries, Rigaud" in names
    names = [result["name"] for result in api.ok("/search", q="NEUCHÂTEL")["results"]]
    assert "Neuchâtel,Vallon de l'Ermitage" in names


def test_search_ranks_whole_name_prefixes_first_and_honours_limit(api: Api) -> None:
    results = api.ok("/search", q="Bellinzona", limit=1)["results"]
    assert len(results) == 1 and results[0]["name"].startswith("Bellinzona")


def test_search_without_hits_is_empty(api: Api) -> None:
    assert api.ok("/search", q="Qwxyzzy")["results"] == []


@pytest.mark.parametrize(("params", "parameter"), [
    ({}, "q"), ({"q": "   "}, "q"), ({"q": "x" * 201}, "q"), ({"q": "Glarus", "limit": "101"}, "limit"),
    ({"q": "Glarus", "limit": "0"}, "limit"), ({"q": "Glarus", "lang": "de"}, "lang"),
])
def test_bad_search_parameters(api: Api, params: dict[str, str], parameter: str) -> None:
    api.bad("/search", parameter, **params)
