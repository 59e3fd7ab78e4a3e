"""Filters for the map (unmatched reason, OSM operator, mode, canton, duplicates, route), routes in
stop details, route search, /routes/{id}, /facets and /status refusing unknown parameters, on a
small snapshot built for them and published on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from stopsync.blueprints.api.tiles import tile_of
from stopsync.extensions import db
from stopsync.pipeline.engine import UnmatchedReason
from stopsync.pipeline.match import MatchResult
from stopsync.pipeline.problems import Problem
from stopsync.pipeline.publish import publish_snapshot
from stopsync.pipeline.records import AtlasPlatform, Link, OsmElement, OsmMember, OsmRoute
from stopsync.pipeline.stop_routes import StopRoute

from ..conftest import dispose, make_app
from .conftest import SWITZERLAND, Api

ZH, LAUSANNE, LUGANO, BERN_A, BERN_B = (f"ch:1:sloid:{n}:0:1" for n in (3000, 6000, 8000, 7000, 7001))
IC5 = "gtfs:11-5-Y-jXX-1"
BUS31 = "osm:relation/200"
# The two Genève tram stops form one stop unit (a pair); the other elements stand alone.
GENEVA_PAIR = "pair:node/4+node/5"


def _atlas(sloid: str, number: str, lat: float, lon: float, name: str, designation: str = "1") -> AtlasPlatform:
    return AtlasPlatform(sloid=sloid, number=number, designation=designation, name=name, lat=lat, lon=lon,
                         operator="SBB", valid_to="9999-12-31")


def _osm(number: int, lat: float, lon: float, kind: str, **tags: str) -> OsmElement:
    return OsmElement("node", number, lat, lon, dict(tags), kind=kind)


def _problem(key: str, kind: str, priority: int, sloid: str | None, osm_id: str | None,
             **evidence: Any) -> Problem:
    return Problem(key, kind, priority, sloid, osm_id, "unknown", "test", evidence, "fp")


def _unit(kind: str, *members: OsmElement) -> dict[str, Any]:
    """A stop unit row as match._stop_units makes it."""
    ids = sorted(e.osm_id for e in members)
    return {"unit_key": f"{kind}:{'+'.join(ids)}", "kind": kind, "members": ids,
            "lat": members[0].lat, "lon": members[0].lon}


def filters_result() -> MatchResult:
    atlas = [
        _atlas(ZH, "8503000", 47.3780, 8.5400, "Zürich HB"),
        _atlas(LAUSANNE, "8501120", 46.5167, 6.6290, "Lausanne"),
        _atlas(LUGANO, "8505300", 46.0037, 8.9511, "Lugano"),
        _atlas(BERN_A, "8507000", 46.9490, 7.4390, "Bern, Bahnhof", "A"),
        _atlas(BERN_B, "8507000", 46.9491, 7.4391, "Bern, Bahnhof", "A"),
    ]
    osm = [
        _osm(1, 47.3781, 8.5401, "platform", railway="platform", operator="SBB", name="Zürich HB"),
        _osm(2, 46.9490, 7.4391, "platform", highway="bus_stop", operator="BERNMOBIL", name="Bern, Bahnhof"),
        _osm(3, 46.9530, 7.4450, "platform", highway="bus_stop", operator="BERNMOBIL", name="Bern, Bollwerk"),
        _osm(4, 46.2102, 6.1424, "platform", railway="tram_stop", operator="TPG", name="Genève, Cornavin"),
        _osm(5, 46.2103, 6.1425, "platform", railway="tram_stop", operator="TPG", name="Genève, Cornavin"),
        _osm(6, 46.5000, 6.6280, "platform", amenity="ferry_terminal", name="Lausanne-Ouchy (lac)"),
    ]
    links = [Link(ZH, "node/1", "exact_reference", 12.0), Link(BERN_A, "node/2", "exact_name", 8.0)]
    routes = [
        OsmRoute(100, {"route": "bus", "ref": "31", "name": "Bus 31: A => B", "operator": "BERNMOBIL",
                       "ref_trips": "1.TA.91-31-j25-1.1.H"}, [OsmMember("node", 2, "platform"),
                                                             OsmMember("node", 3, "platform")]),
        OsmRoute(101, {"route": "bus", "ref": "31", "ref_trips": "2.TA.91-31-j25-1.2.R"},
                 [OsmMember("node", 3, "platform"), OsmMember("node", 2, "platform")]),
        OsmRoute(200, {"route_master": "bus", "ref": "31", "name": "Bus 31"},
                 [OsmMember("relation", 100), OsmMember("relation", 101)], kind="route_master"),
    ]
    problems = [
        _problem("dup-atlas", "duplicate_atlas", 2, BERN_A, None, sloids=[BERN_A, BERN_B]),
        _problem("dup-osm", "duplicate_osm", 3, None, "node/4", osm_ids=["node/4", "node/5"]),
        _problem("unmatched-lausanne", "unmatched_atlas", 1, LAUSANNE, None),
        _problem("unmatched-geneva", "unmatched_osm", 2, None, "node/4"),
        _problem("distance-zh", "distance", 3, ZH, "node/1", distance_m=12.0),
    ]
    units = [_unit("single", e) for e in osm if e.osm_id not in ("node/4", "node/5")]
    units.append(_unit("pair", osm[3], osm[4]))
    return MatchResult(
        atlas=atlas, osm=osm, links=links, summary={}, problems=problems, routes=routes, units=units,
        unmatched_reasons={LAUSANNE: UnmatchedReason("no_osm_within_50m"),
                           LUGANO: UnmatchedReason("ambiguous", ("node/9",)),
                           BERN_B: UnmatchedReason("no_candidate")},
        timetable_routes={ZH: [StopRoute(IC5, "gtfs", "IC5", "", "train", "11", "0,1")],
                          LAUSANNE: [StopRoute(IC5, "gtfs", "IC5", "", "train", "11", "0")]},
    )


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def filters_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    application = make_app(str(request.param), tmp_path_factory.mktemp("filters"))
    with application.app_context():
        publish_snapshot(db.engine, filters_result(), "run-filters", {"test": True})
    yield application
    dispose(application)


@pytest.fixture
def api(filters_app: Flask) -> Api:
    return Api(filters_app)


def _stops(api: Api, **filters: str) -> dict[str, set[str]]:
    body = api.ok("/stops", bbox=SWITZERLAND, format="json", **filters)
    return {"atlas": {a["id"] for a in body["atlas"]}, "osm": {o["id"] for o in body["osm"]},
            "links": {f"{link['sloid']}|{link['osm_id']}" for link in body["links"]}}


def test_publication_writes_the_new_columns_and_tables(filters_app: Flask) -> None:
    with filters_app.app_context():
        def rows(sql: str) -> set[tuple[Any, ...]]:
            return {tuple(row) for row in db.session.execute(sa.text(sql))}

        assert rows("SELECT sloid, canton, unmatched_reason, duplicate_key FROM atlas_platforms") == {
            (ZH, "ZH", "", ""), (LAUSANNE, "VD", "no_osm_within_50m", ""), (LUGANO, "TI", "ambiguous", ""),
            (BERN_A, "BE", "", "dup-atlas"), (BERN_B, "BE", "no_candidate", "dup-atlas")}
        assert rows("SELECT osm_id, operator, canton, duplicate_key, unit_key FROM osm_elements") == {
            ("node/1", "SBB", "ZH", "", ""), ("node/2", "BERNMOBIL", "BE", "", ""),
            ("node/3", "BERNMOBIL", "BE", "", ""), ("node/4", "TPG", "GE", "dup-osm", GENEVA_PAIR),
            ("node/5", "TPG", "GE", "dup-osm", GENEVA_PAIR), ("node/6", "", "VD", "", "")}
        assert rows("SELECT unit_key, kind FROM osm_stop_units WHERE kind = 'pair'") == {(GENEVA_PAIR, "pair")}
        assert rows("SELECT problem_key, canton FROM problems") == {
            ("dup-atlas", "BE"), ("dup-osm", "GE"), ("unmatched-lausanne", "VD"), ("unmatched-geneva", "GE"),
            ("distance-zh", "ZH")}
        assert rows("SELECT coalesce(sloid, osm_id), mode FROM stop_modes") == {
            (ZH, "train"), (LAUSANNE, "train"), (BERN_A, "bus"), ("node/1", "train"), ("node/2", "bus"),
            ("node/3", "bus"), ("node/4", "tram"), ("node/5", "tram"), ("node/6", "ferry")}
        assert rows("SELECT coalesce(sloid, osm_id), route_id, route_ref, ref_key, mode, directions "
                    "FROM stop_routes") == {
            (ZH, IC5, "IC5", "ic5", "train", "0,1"), (LAUSANNE, IC5, "IC5", "ic5", "train", "0"),
            ("node/2", BUS31, "31", "31", "bus", "0,1"), ("node/3", BUS31, "31", "31", "bus", "0,1")}


def test_osm_items_name_their_stop_unit_in_stops_tiles_and_details(api: Api) -> None:
    expected = {f"node/{n}": GENEVA_PAIR if n in (4, 5) else "" for n in range(1, 7)}
    plain = api.ok("/stops", bbox=SWITZERLAND, format="json", layers="osm")
    assert {item["id"]: item["unit_key"] for item in plain["osm"]} == expected
    geojson = api.ok("/stops", bbox=SWITZERLAND, layers="osm")
    assert {f["properties"]["id"]: f["properties"]["unit_key"] for f in geojson["features"]} == expected

    # Both members lie in this tile (at zoom 14 and above a tile edge passes between them).
    x, y = tile_of(6.1424, 46.2102, 13)
    tile = api.ok(f"/tiles/13/{x}/{y}", layers="osm")
    assert {f["properties"]["id"]: f["properties"]["unit_key"] for f in tile["features"]} == {
        "node/4": GENEVA_PAIR, "node/5": GENEVA_PAIR}
    assert {item["id"]: item["unit_key"] for item in api.ok(f"/tiles/13/{x}/{y}.json")["osm"]} == {
        "node/4": GENEVA_PAIR, "node/5": GENEVA_PAIR}

    details = api.ok("/stops/node/5")
    assert [item["unit_key"] for item in details["osm"]] == [GENEVA_PAIR]
    assert [(unit["key"], unit["members"]) for unit in details["units"] if unit["kind"] == "pair"] == [
        (GENEVA_PAIR, ["node/4", "node/5"])]
    assert [item["unit_key"] for item in api.ok(f"/stops/{ZH}")["osm"]] == [""]


def test_canton_filter_on_both_sides(api: Api) -> None:
    assert _stops(api, canton="ZH") == {"atlas": {ZH}, "osm": {"node/1"}, "links": {f"{ZH}|node/1"}}
    assert _stops(api, canton="vd") == {"atlas": {LAUSANNE}, "osm": {"node/6"}, "links": set()}
    both = _stops(api, canton="ZH,VD")
    assert both["atlas"] == {ZH, LAUSANNE} and both["osm"] == {"node/1", "node/6"}


def test_unmatched_reason_filter(api: Api) -> None:
    assert _stops(api, unmatched_reason="ambiguous") == {"atlas": {LUGANO}, "osm": set(), "links": set()}
    assert _stops(api, unmatched_reason="ambiguous,no_osm_within_50m")["atlas"] == {LUGANO, LAUSANNE}


def test_osm_operator_filter_reaches_atlas_through_links(api: Api) -> None:
    assert _stops(api, osm_operator="BERNMOBIL") == {
        "atlas": {BERN_A}, "osm": {"node/2", "node/3"}, "links": {f"{BERN_A}|node/2"}}
    assert _stops(api, osm_operator="TPG,SBB")["osm"] == {"node/1", "node/4", "node/5"}


def test_mode_filter(api: Api) -> None:
    assert _stops(api, mode="train") == {"atlas": {ZH, LAUSANNE}, "osm": {"node/1"}, "links": {f"{ZH}|node/1"}}
    # Bern A has no timetable routes: its modes come from its linked bus stop.
    assert _stops(api, mode="bus")["atlas"] == {BERN_A}
    assert _stops(api, mode="ferry,tram")["osm"] == {"node/4", "node/5", "node/6"}


def test_duplicates_filter(api: Api) -> None:
    assert _stops(api, duplicates="true") == {
        "atlas": {BERN_A, BERN_B}, "osm": {"node/4", "node/5"}, "links": {f"{BERN_A}|node/2"}}
    others = _stops(api, duplicates="false")
    assert others["atlas"] == {ZH, LAUSANNE, LUGANO} and others["links"] == {f"{ZH}|node/1"}


def test_route_filter_reaches_the_other_side_through_links(api: Api) -> None:
    assert _stops(api, route=BUS31) == {"atlas": {BERN_A}, "osm": {"node/2", "node/3"},
                                        "links": {f"{BERN_A}|node/2"}}
    assert _stops(api, route=IC5) == {"atlas": {ZH, LAUSANNE}, "osm": {"node/1"}, "links": {f"{ZH}|node/1"}}


def test_filters_or_within_and_across(api: Api) -> None:
    for first, second in (({"canton": "BE"}, {"duplicates": "true"}), ({"mode": "train"}, {"canton": "VD,ZH"}),
                          ({"osm_operator": "BERNMOBIL"}, {"route": BUS31}), ({"mode": "bus"}, {"canton": "GE"})):
        a, b, both = _stops(api, **first), _stops(api, **second), _stops(api, **first, **second)
        assert both == {layer: a[layer] & b[layer] for layer in a}, (first, second)
    # A link qualifies by its ATLAS end's canton and by either end's duplicates and modes.
    assert _stops(api, canton="BE", duplicates="true", mode="bus") == {
        "atlas": {BERN_A}, "osm": set(), "links": {f"{BERN_A}|node/2"}}


def test_statistics_random_and_largest_distances_take_the_new_filters(api: Api) -> None:
    stats = api.ok("/statistics", canton="BE")
    assert stats["atlas"]["total"] == 2 and stats["osm"]["total"] == 2
    assert stats["problems"]["per_type"] == {"duplicate_atlas": 1}
    assert api.ok("/random", unmatched_reason="ambiguous")["id"] == LUGANO
    assert [link["sloid"] for link in api.ok("/largest-distances", mode="train")["links"]] == [ZH]


@pytest.mark.parametrize(("params", "parameter"), [
    ({"canton": "XX"}, "canton"), ({"mode": "rocket"}, "mode"), ({"unmatched_reason": "lost"}, "unmatched_reason"),
    ({"duplicates": "maybe"}, "duplicates"), ({"route": "x" * 161}, "route"), ({"osm_operator": ","}, "osm_operator"),
])
def test_bad_filter_values_name_the_parameter(api: Api, params: dict[str, str], parameter: str) -> None:
    api.bad("/stops", parameter, bbox=SWITZERLAND, **params)


def test_problems_by_canton_mode_and_osm_operator(api: Api) -> None:
    def keys(**params: str) -> set[str]:
        return {p["key"] for p in api.ok("/problems", **params)["problems"]}

    assert keys(canton="GE") == {"dup-osm", "unmatched-geneva"}
    assert keys(canton="GE,ZH", type="distance") == {"distance-zh"}
    assert keys(mode="tram") == {"dup-osm", "unmatched-geneva"}
    assert keys(mode="train") == {"distance-zh", "unmatched-lausanne"}
    # Through the link of Bern A to its BERNMOBIL stop.
    assert keys(osm_operator="BERNMOBIL") == {"dup-atlas"}
    assert {p["canton"] for p in api.ok("/problems", canton="ZH")["problems"]} == {"ZH"}


def test_details_include_routes_modes_and_the_new_attributes(api: Api) -> None:
    body = api.ok(f"/stops/{BERN_A}")
    (atlas,) = body["atlas"]
    assert (atlas["canton"], atlas["unmatched_reason"], atlas["duplicate_key"], atlas["modes"]) == (
        "BE", "", "dup-atlas", ["bus"])
    (osm,) = body["osm"]
    assert (osm["operator"], osm["canton"], osm["modes"]) == ("BERNMOBIL", "BE", ["bus"])
    (route,) = body["routes"]
    assert route["id"] == BUS31 and route["ref"] == "31" and route["name"] == "Bus 31"
    assert route["mode"] == "bus" and route["directions"] == "0,1" and route["stops"] == ["node/2"]
    assert route["details"] == f"/api/v1/routes/{BUS31}"
    zurich = api.ok(f"/stops/{ZH}")
    assert [(r["id"], r["source"], r["ref"], r["operator"]) for r in zurich["routes"]] == [(IC5, "gtfs", "IC5", "11")]
    assert api.ok(f"/stops/{LUGANO}")["routes"] == []


@pytest.mark.parametrize("q", ["31", "Bus 31", "bus  31", "Linie 31"])
def test_search_finds_a_route_by_ref(api: Api, q: str) -> None:
    body = api.ok("/search", q=q)
    assert body["kind"] == "route"
    first = body["results"][0]
    assert (first["layer"], first["id"], first["ref"], first["mode"], first["stops"]) == ("route", BUS31, "31",
                                                                                             "bus", 2)
    assert first["bbox"] == [7.4391, 46.949, 7.445, 46.953]


@pytest.mark.parametrize("q", ["IC 5", "ic5", "Zug IC5"])
def test_search_finds_timetable_routes(api: Api, q: str) -> None:
    (route,) = [r for r in api.ok("/search", q=q)["results"] if r["layer"] == "route"]
    assert route["id"] == IC5 and route["stops"] == 2 and route["source"] == "gtfs"


def test_search_by_a_route_of_another_mode_or_a_name_finds_no_route(api: Api) -> None:
    assert api.ok("/search", q="Tram 31")["results"] == []
    body = api.ok("/search", q="Bollwerk")
    assert body["kind"] == "name" and [r["id"] for r in body["results"]] == ["node/3"]


def test_route_details_list_its_stops(api: Api) -> None:
    body = api.ok(f"/routes/{BUS31}")
    assert (body["id"], body["count"], body["bbox"]) == (BUS31, 2, [7.4391, 46.949, 7.445, 46.953])
    assert [(s["layer"], s["id"], s["directions"]) for s in body["stops"]] == [
        ("osm", "node/2", "0,1"), ("osm", "node/3", "0,1")]
    gtfs = api.ok(f"/routes/{IC5}")
    assert {s["id"] for s in gtfs["stops"]} == {ZH, LAUSANNE} and gtfs["stops"][0]["matched"] in (True, False)


def test_route_details_errors(api: Api) -> None:
    assert api.get("/routes/osm:relation/999").status_code == 404
    api.bad("/routes/node/2", "id")
    api.bad("/routes/gtfs:a b", "id")
    api.bad(f"/routes/{BUS31}", "limit", limit="1")


def test_facets_list_every_menu_value_with_counts(api: Api) -> None:
    body = api.ok("/facets")
    cantons = {item["value"]: (item["atlas"], item["osm"]) for item in body["cantons"]}
    assert len(cantons) == 26 and cantons["BE"] == (2, 2) and cantons["GE"] == (0, 2) and cantons["UR"] == (0, 0)
    modes = {item["value"]: (item["atlas"], item["osm"]) for item in body["modes"]}
    assert modes["train"] == (2, 1) and modes["ferry"] == (0, 1) and modes["subway"] == (0, 0)
    reasons = {item["value"]: item["count"] for item in body["unmatched_reasons"]}
    assert reasons["ambiguous"] == 1 and reasons["no_osm_within_50m"] == 1 and reasons["no_candidate"] == 1
    assert body["osm_operators"][0] == {"value": "BERNMOBIL", "count": 2}
    assert body["duplicates"] == {"atlas": 2, "osm": 2}
    api.bad("/facets", "canton", canton="ZH")


def test_status_refuses_unknown_parameters(api: Api) -> None:
    body = api.bad("/status", "verbose", verbose="1")
    assert "unknown parameter" in body["message"]
    assert api.get("/status").status_code == 200
