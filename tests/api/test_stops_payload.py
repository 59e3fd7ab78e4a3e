"""The bbox payload of /stops and /tiles, pinned byte for byte.

/stops and /tiles build their pages from statements prepared once per filter shape (bound
parameters) and turn rows into JSON without per-row helper calls. These tests compare their bytes
with two other constructions of the same answer:

- the straightforward one the endpoints used before (a fresh statement with the values inlined by
  :func:`layer_query`, the row helpers ``atlas_item``/``point_feature``/... per row), swapped in
  with monkeypatch, for many bboxes, filters, representations and cursor chains;
- an independent one for unfiltered bboxes: every row read with plain SQL, the bbox, the order,
  the limit and the JSON shapes applied in Python.
"""

from __future__ import annotations

import base64
import json
import math
import random
import struct
from collections import namedtuple
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from flask import Flask, Response

from stopsync.blueprints.api import stops, tiles
from stopsync.blueprints.api.cursor import cursor_value
from stopsync.blueprints.api.filters import LINKS, STOP_ROUTES, StopFilters
from stopsync.blueprints.api.serialize import (
    ORJSON_OPTIONS,
    atlas_features_json,
    atlas_item,
    atlas_items,
    coordinate,
    json_response,
    link_feature,
    link_features_json,
    link_item,
    link_items,
    osm_features_json,
    osm_item,
    osm_items,
    point_feature,
)
from stopsync.blueprints.api.tiles import TILE_LIMIT, tile_bbox, tile_of
from stopsync.extensions import cache, db

from .conftest import GLARUS_BBOX, SWITZERLAND, Api

GLARUS = (9.06870540386, 47.04155345219)  # Glarus, Stampf (lon, lat), from the ATLAS sample
EMPTY_BBOX = "0,0,0.001,0.001"
BBOXES = [SWITZERLAND, GLARUS_BBOX, EMPTY_BBOX, "8.9,46.9,9.2,47.2", "6.0,46.0,7.5,47.0"]
REPRESENTATIONS: list[tuple[dict[str, str], dict[str, str]]] = [
    ({}, {}),
    ({}, {"Accept": "application/json"}),
    ({}, {"Accept": "application/geo+json, application/json"}),
    ({"format": "json"}, {}),
    ({"format": "geojson"}, {"Accept": "application/json"}),
]
FILTERS: list[dict[str, str]] = [
    {},
    {"operator": "PAG"},
    {"operator": "PAG,TPG", "kind": "platform"},
    {"matched": "true"},
    {"matched": "false"},
    {"method": "exact_name,ref_sloid"},
    {"problem_type": "distance", "priority": "1"},
    {"priority": "1,2"},
    {"unmatched_reason": "no_osm_within_50m,ambiguous"},
    {"osm_operator": "PostAuto"},
    {"mode": "bus,train"},
    {"canton": "gl,ZH"},
    {"duplicates": "true"},
    {"duplicates": "false", "matched": "true"},
    {"layers": "osm,link", "kind": "stop_position"},
    {"layers": "atlas"},
]


# -- the construction the endpoints used before ------------------------------------------------------

def reference_stops_in_bbox(bbox: Any, layers: list[str], filters: StopFilters, limit: int,
                            position: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    items: dict[str, list[dict[str, Any]]] = {}
    next_position: dict[str, Any] = {}
    for layer in layers:
        query = stops.layer_query(layer, filters, bbox)
        if position is not None:
            if layer == "atlas":
                query = query.where(stops.ATLAS.c.sloid > cursor_value(position, "atlas", str))
            elif layer == "osm":
                query = query.where(stops.OSM.c.osm_id > cursor_value(position, "osm", str))
            else:
                last = cursor_value(position, "link", str, length=2)
                query = query.where(sa.tuple_(LINKS.c.sloid, LINKS.c.osm_id) > sa.tuple_(*last))
        rows = list(db.session.execute(query.limit(limit + 1)).all())
        items[layer] = [stops.ITEM[layer](row) for row in rows[:limit]]
        if len(rows) > limit:
            last_item = items[layer][-1]
            next_position[layer] = [last_item["sloid"], last_item["osm_id"]] if layer == "link" else last_item["id"]
    return items, next_position


def reference_stops_response(items: dict[str, Any], common: dict[str, Any], plain: bool) -> Response:
    if plain:
        return json_response({"atlas": items.get("atlas", []), "osm": items.get("osm", []),
                              "links": items.get("link", []), **common})
    features = [point_feature(item) for layer in ("atlas", "osm") for item in items.get(layer, [])]
    features += [link_feature(item) for item in items.get("link", [])]
    return json_response({"type": "FeatureCollection", "features": features, **common}, "application/geo+json")


@contextmanager
def reference_construction() -> Iterator[None]:
    """Inside it, /stops and /tiles answer through the reference construction."""
    with pytest.MonkeyPatch.context() as patch:
        for module in (stops, tiles):
            patch.setattr(module, "stops_in_bbox", reference_stops_in_bbox)
            patch.setattr(module, "stops_response", reference_stops_response)
        yield


@pytest.fixture
def route_id(api_app: Flask) -> str:
    """A route of the sample when it has any (the filter's SQL runs either way)."""
    with api_app.app_context():
        found = db.session.execute(sa.select(STOP_ROUTES.c.route_id).order_by(STOP_ROUTES.c.route_id)).first()
        db.session.remove()
    return found[0] if found else "osm:relation/1"


def _bytes(response: Any) -> tuple[int, str, bytes]:
    return response.status_code, response.mimetype, response.get_data()


def _both(api: Api, path: str, headers: dict[str, str], params: dict[str, Any]) -> bytes:
    """The answer now and by the reference construction: the same status, type and bytes."""
    now = api.get(path, headers=headers, **params)
    with reference_construction():
        before = api.get(path, headers=headers, **params)
    assert _bytes(now) == _bytes(before), (path, params, headers)
    assert now.status_code == 200, now.get_data(as_text=True)[:300]
    body: bytes = now.get_data()
    return body


@pytest.mark.parametrize("bbox", BBOXES)
@pytest.mark.parametrize(("extra", "headers"), REPRESENTATIONS)
def test_bboxes_in_every_representation_are_what_they_were(api: Api, bbox: str,
                                                           extra: dict[str, str], headers: dict[str, str]) -> None:
    _both(api, "/stops", headers, {"bbox": bbox, **extra})


@pytest.mark.parametrize("filters", FILTERS)
@pytest.mark.parametrize("plain", [False, True])
def test_every_filter_gives_the_same_bytes(api: Api, filters: dict[str, str], plain: bool) -> None:
    extra = {"format": "json"} if plain else {}
    for bbox in (SWITZERLAND, GLARUS_BBOX):
        _both(api, "/stops", {}, {"bbox": bbox, **filters, **extra})


def test_route_filter_gives_the_same_bytes(api: Api, route_id: str) -> None:
    for extra in ({}, {"format": "json"}, {"operator": "PAG"}):
        _both(api, "/stops", {}, {"bbox": SWITZERLAND, "route": route_id, **extra})


@pytest.mark.parametrize(("params", "headers"), [
    ({"format": "json", "limit": 7}, {}),
    ({"limit": 11}, {}),
    ({"limit": 5, "layers": "link,osm"}, {"Accept": "application/json"}),
    ({"limit": 3, "operator": "PAG"}, {}),
    ({"limit": 4, "matched": "true", "format": "json"}, {}),
])
def test_cursor_chains_are_what_they_were(api: Api, params: dict[str, Any],
                                          headers: dict[str, str]) -> None:
    """Every page of a chain, including its next_cursor, as before; the chain ends."""
    cursor: str | None = None
    for _ in range(200):
        body = _both(api, "/stops", headers, {"bbox": SWITZERLAND, **params,
                                                         **({"cursor": cursor} if cursor else {})})
        cursor = orjson.loads(body)["next_cursor"]
        if cursor is None:
            return
    raise AssertionError("the cursor chain did not end")


@pytest.mark.parametrize("z", [12, 14, 16])
def test_tiles_are_what_they_were(api: Api, api_app: Flask, z: int) -> None:
    x, y = tile_of(*GLARUS, z)
    for suffix, params in (("", {}), (".json", {}), ("", {"operator": "PAG", "layers": "atlas,link"}),
                           (".json", {"matched": "false"})):
        with api_app.app_context():
            cache.clear()  # a tile answer is cached: compute both
        now = api.get(f"/tiles/{z}/{x}/{y}{suffix}", **params)
        with api_app.app_context():
            cache.clear()
        with reference_construction():
            before = api.get(f"/tiles/{z}/{x}/{y}{suffix}", **params)
        assert _bytes(now) == _bytes(before) and now.status_code == 200
        # A tile is /stops for the tile's bbox with limit TILE_LIMIT, plus its "tile" member.
        bbox = ",".join(repr(value) for value in tile_bbox(z, x, y))
        plain = {"format": "json"} if suffix == ".json" else {}
        as_stops = orjson.loads(api.get("/stops", bbox=bbox, limit=TILE_LIMIT, **params, **plain).get_data())
        as_stops["tile"] = {"z": z, "x": x, "y": y}
        assert now.get_data() == orjson.dumps(as_stops, option=ORJSON_OPTIONS)
    with api_app.app_context():
        cache.clear()


def test_a_stop_on_the_bbox_edge_is_inside(api: Api, api_app: Flask) -> None:
    with api_app.app_context():
        lon, lat = db.session.execute(sa.select(stops.ATLAS.c.lon, stops.ATLAS.c.lat)
                                      .order_by(stops.ATLAS.c.sloid).limit(1)).one()
        db.session.remove()
    point = f"{lon!r},{lat!r},{lon!r},{lat!r}"
    body = orjson.loads(_both(api, "/stops", {}, {"bbox": point, "format": "json"}))
    assert body["atlas"] and all(item["lon"] == round(lon, 7) for item in body["atlas"])


# -- an independent construction of unfiltered answers ---------------------------------------------

def _rows(sql: str) -> list[Any]:
    return list(db.session.execute(sa.text(sql)).all())


def _inside(bbox: tuple[float, ...], lon: float, lat: float) -> bool:
    return bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]


def independent_answer(bbox_text: str, limit: int, plain: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first page of /stops?bbox=...&limit=... from plain SQL and Python; also the expected
    cursor position of the truncated layers."""
    bbox = tuple(float(value) for value in bbox_text.split(","))
    atlas = sorted((r for r in _rows("SELECT sloid, number, designation, name, operator, matched, lon, lat "
                                     "FROM atlas_platforms") if _inside(bbox, r.lon, r.lat)), key=lambda r: r.sloid)
    osm = sorted((r for r in _rows("SELECT osm_id, kind, name, uic_ref, local_ref, matched, unit_key, lon, lat "
                                   "FROM osm_elements") if _inside(bbox, r.lon, r.lat)), key=lambda r: r.osm_id)
    links = sorted((r for r in _rows(
        "SELECT m.sloid, m.osm_id, m.method, m.distance_m, a.lon AS a_lon, a.lat AS a_lat, o.lon AS o_lon, "
        "o.lat AS o_lat FROM matches m JOIN atlas_platforms a ON a.sloid = m.sloid "
        "JOIN osm_elements o ON o.osm_id = m.osm_id") if _inside(bbox, r.a_lon, r.a_lat)),
        key=lambda r: (r.sloid, r.osm_id))
    position: dict[str, Any] = {}
    if len(atlas) > limit:
        position["atlas"] = atlas[limit - 1].sloid
    if len(osm) > limit:
        position["osm"] = osm[limit - 1].osm_id
    if len(links) > limit:
        position["link"] = [links[limit - 1].sloid, links[limit - 1].osm_id]
    atlas, osm, links = atlas[:limit], osm[:limit], links[:limit]

    def atlas_properties(r: Any) -> dict[str, Any]:
        return {"layer": "atlas", "id": r.sloid, "number": r.number, "designation": r.designation, "name": r.name,
                "operator": r.operator, "matched": r.matched in (True, 1)}

    def osm_properties(r: Any) -> dict[str, Any]:
        return {"layer": "osm", "id": r.osm_id, "kind": r.kind, "name": r.name, "uic_ref": r.uic_ref,
                "local_ref": r.local_ref, "matched": r.matched in (True, 1), "unit_key": r.unit_key or ""}

    def link_properties(r: Any) -> dict[str, Any]:
        return {"layer": "link", "sloid": r.sloid, "osm_id": r.osm_id, "method": r.method,
                "distance_m": r.distance_m}

    def point(lon: float, lat: float) -> dict[str, float]:
        return {"lon": round(lon, 7), "lat": round(lat, 7)}

    common = {"bbox": list(bbox), "limit": limit, "truncated": bool(position)}
    if plain:
        return {"atlas": [{**atlas_properties(r), **point(r.lon, r.lat)} for r in atlas],
                "osm": [{**osm_properties(r), **point(r.lon, r.lat)} for r in osm],
                "links": [{**link_properties(r), "atlas_lon": round(r.a_lon, 7), "atlas_lat": round(r.a_lat, 7),
                           "osm_lon": round(r.o_lon, 7), "osm_lat": round(r.o_lat, 7)} for r in links],
                **common}, position

    def feature(geometry: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
        return {"type": "Feature", "geometry": geometry, "properties": properties}

    features = [feature({"type": "Point", "coordinates": [round(r.lon, 7), round(r.lat, 7)]}, properties(r))
                for rows, properties in ((atlas, atlas_properties), (osm, osm_properties)) for r in rows]
    features += [feature({"type": "LineString", "coordinates": [[round(r.a_lon, 7), round(r.a_lat, 7)],
                                                                [round(r.o_lon, 7), round(r.o_lat, 7)]]},
                         link_properties(r)) for r in links]
    return {"type": "FeatureCollection", "features": features, **common}, position


@pytest.mark.parametrize("bbox", BBOXES)
@pytest.mark.parametrize("limit", [1, 9, 1000])
@pytest.mark.parametrize("plain", [False, True])
def test_unfiltered_answers_match_an_independent_construction(api: Api, api_app: Flask, bbox: str, limit: int,
                                                              plain: bool) -> None:
    response = api.get("/stops", bbox=bbox, limit=limit, **({"format": "json"} if plain else {}))
    assert response.status_code == 200
    with api_app.app_context():
        expected, position = independent_answer(bbox, limit, plain)
        db.session.remove()
    body = response.get_data()
    cursor = orjson.loads(body)["next_cursor"]
    if position:
        assert json.loads(base64.urlsafe_b64decode(cursor + "===")).get("p") == position
    else:
        assert cursor is None
    expected["next_cursor"] = cursor
    assert body == orjson.dumps(expected, option=ORJSON_OPTIONS)
    assert response.mimetype == ("application/json" if plain else "application/geo+json")


# -- statements built once and compiled once -------------------------------------------------------

def test_page_statements_are_built_once_per_filter_shape(api: Api, api_app: Flask) -> None:
    from sqlalchemy.engine.interfaces import CacheStats

    executed: list[tuple[Any, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        executed.append((context.compiled.statement if context.compiled is not None else None, context.cache_hit))

    query = {"bbox": SWITZERLAND, "operator": "PAG", "kind": "platform", "limit": 3}
    api.ok("/stops", **query)  # builds and compiles the statements of this shape
    built = dict(stops._page_statements)
    with api_app.app_context():
        engine = db.engine
    sa.event.listen(engine, "after_cursor_execute", record)
    try:
        api.ok("/stops", bbox=GLARUS_BBOX, operator="TPG,PAG", kind="platform,stop_position", limit=5)
        cursor = api.ok("/stops", **query)["next_cursor"]
        api.ok("/stops", **query, cursor=cursor)
        api.ok("/stops", **query, cursor=cursor)
    finally:
        sa.event.remove(engine, "after_cursor_execute", record)
    # Other values of the same shape reuse the statements; the cursor pages add theirs once.
    for key, statement in built.items():
        assert stops._page_statements[key] is statement
    continued = len(json.loads(base64.urlsafe_b64decode(cursor + "==="))["p"])
    added = [key for key in stops._page_statements if key not in built]
    assert continued and len(added) == continued and all(key[3] for key in added)
    # ... and SQLAlchemy finds their compiled form in its cache: each is compiled once.
    statements = {id(statement) for statement in stops._page_statements.values()}
    pages = [hit for statement, hit in executed if id(statement) in statements]
    assert len(pages) == 3 + 3 + 2 * continued
    assert pages[6:6 + continued] == [CacheStats.CACHE_MISS] * continued
    assert set(pages[:6] + pages[6 + continued:]) == {CacheStats.CACHE_HIT}


def test_filter_shape_and_parameters() -> None:
    one = StopFilters.from_args({"operator": "PAG,TPG", "matched": "true", "priority": "2"})
    other = StopFilters.from_args({"operator": "SBB", "matched": "true", "priority": "1,3"})
    assert one.shape() == other.shape() != StopFilters.from_args({"operator": "PAG", "matched": "false"}).shape()
    assert StopFilters().shape() != StopFilters(duplicates=False).shape() != StopFilters(duplicates=True).shape()
    assert other.parameters() == {"filter_operator": ["SBB"], "filter_priority": [1, 3]}


def test_a_link_cursor_without_a_position_is_a_400(api: Api) -> None:
    """Before, a (forged) cursor with a null link position failed with a server error."""
    cursor = api.ok("/stops", bbox=SWITZERLAND, layers="link", limit=2)["next_cursor"]
    payload = json.loads(base64.urlsafe_b64decode(cursor + "==="))
    payload["p"] = {"link": None}
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    api.bad("/stops", "cursor", bbox=SWITZERLAND, layers="link", limit=2, cursor=forged)


def test_the_row_builders_agree_with_the_per_row_helpers(api_app: Flask) -> None:
    """The per-row helpers (also used by /stops/{id}, /random, /largest-distances) and the row
    builders of bbox pages give the same items and feature bytes."""
    with api_app.app_context():
        atlas = db.session.execute(stops.atlas_select().order_by(stops.ATLAS.c.sloid).limit(50)).all()
        osm = db.session.execute(stops.osm_select().order_by(stops.OSM.c.osm_id).limit(50)).all()
        links = db.session.execute(stops.link_select().order_by(LINKS.c.sloid).limit(50)).all()
        db.session.remove()
    assert atlas and osm and links
    assert orjson.dumps(atlas_items(atlas)) == orjson.dumps([atlas_item(r) for r in atlas])
    assert orjson.dumps(osm_items(osm)) == orjson.dumps([osm_item(r) for r in osm])
    assert orjson.dumps(link_items(links)) == orjson.dumps([link_item(r) for r in links])
    assert atlas_features_json(atlas) == [orjson.dumps(point_feature(atlas_item(r))) for r in atlas]
    assert osm_features_json(osm) == [orjson.dumps(point_feature(osm_item(r))) for r in osm]
    assert link_features_json(links) == [orjson.dumps(link_feature(link_item(r))) for r in links]


AtlasRow = namedtuple("AtlasRow", "sloid number designation name operator matched lon lat")
OsmRow = namedtuple("OsmRow", "osm_id kind name uic_ref local_ref matched unit_key lon lat")
LinkRow = namedtuple("LinkRow", "sloid osm_id method distance_m a_lat a_lon o_lat o_lon")


@pytest.mark.parametrize("odd", ["lone surrogate \ud800", 2**70])
def test_what_orjson_refuses_is_answered_as_before(api_app: Flask, odd: Any) -> None:
    """A value orjson cannot write (no such value comes out of the database today) takes the
    Flask serializer, as every answer's body does, with the same bytes as before."""
    rows = {"atlas": [AtlasRow("ch:1:sloid:1:0:1", "8500001", "1", "A", "SBB", True, 7.1, 46.1)],
            "osm": [OsmRow("node/1", "platform", odd, "", "", 1, None, 7.10000004, 46.1000000049)],
            "link": [LinkRow("ch:1:sloid:1:0:1", "node/1", "exact", 1.25, 46.1, 7.1, 46.1000000049, 7.10000004)]}
    common = {"bbox": [7.0, 46.0, 8.0, 47.0], "limit": 10, "truncated": False, "next_cursor": None}
    with api_app.test_request_context():
        for plain in (False, True):
            items = {"atlas": [atlas_item(r) for r in rows["atlas"]], "osm": [osm_item(r) for r in rows["osm"]],
                     "link": [link_item(r) for r in rows["link"]]}
            now = stops.stops_response(rows, common, plain)
            before = reference_stops_response(items, common, plain)
            assert (now.mimetype, now.get_data()) == (before.mimetype, before.get_data())


def test_coordinate_is_round_to_seven_places() -> None:
    def same(value: Any) -> None:
        got, expected = coordinate(value), round(value, 7)
        assert type(got) is type(expected) and (repr(got) == repr(expected) or got != got), value

    rng = random.Random(7)
    special = [0.0, -0.0, -1e-9, 1e-9, 4e-8, 5e-8, 6e-8, -5e-8, 0.00390625, -0.00390625, 39062.5e-7, 0.5, 1.5e-7,
               2.5e-7, 999.99999995, -999.99999995, 1000.0, 1e300, -1e300, 5e-324, math.inf, -math.inf, math.nan,
               7, -180, True, 8.5400000499999999, 47.05, 46.00000005, 9.06870540386]
    for value in special:
        same(value)
    for _ in range(200_000):
        same(rng.uniform(-180.0, 180.0))
        same(round(rng.uniform(5.0, 11.0), rng.randint(6, 9)))
        # Numbers a hair from a tie at the 7th decimal.
        tie = (rng.randint(-1_800_000_000, 1_800_000_000) + 0.5) / 1e7
        same(tie)
        same(math.nextafter(tie, math.inf))
        same(math.nextafter(tie, -math.inf))
    for _ in range(20_000):
        same(struct.unpack("<d", rng.randbytes(8))[0])
