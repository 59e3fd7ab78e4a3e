"""The unfiltered /overview from the precomputed ``overview_cells``: identical to the live
aggregation on both backends (random bboxes and zooms over a snapshot full of stops on cell and
bbox edges), filters and high zooms still live, republication and rollback swap the cells with
the stops, and migration 0004 up and down."""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import downgrade, upgrade

from stopsync.blueprints.api import aggregates
from stopsync.blueprints.api.cache import current_run_id
from stopsync.blueprints.api.filters import StopFilters
from stopsync.db.dialect import FIXED_POINT_HIGH, FIXED_POINT_LOW, fixed_point, grid_cell
from stopsync.extensions import db
from stopsync.pipeline.match import MatchResult
from stopsync.pipeline.overview import (
    CELL_VALUES,
    FINEST_PRECOMPUTED_ZOOM,
    PRECOMPUTED_ZOOMS,
    STOPS_MIN_ZOOM,
    cell_size,
    overview_cell_rows,
)
from stopsync.pipeline.publish import publish_snapshot, refresh_overview_cells, rollback_snapshot, snapshot_rows
from stopsync.pipeline.records import AtlasPlatform, Link, OsmElement

from ..conftest import dispose, make_app
from .conftest import SWITZERLAND, Api

REGION = (5.5, 45.5, 10.9, 48.1)  # around Switzerland: most stops, most bboxes
BBox = tuple[float, float, float, float]
SWITZERLAND_BOX: BBox = (5.9, 45.8, 10.5, 47.9)
WORLD: BBox = (-180.0, -90.0, 180.0, 90.0)


def _coordinate(rng: random.Random, seen: list[tuple[float, float]]) -> tuple[float, float]:
    """A stop position; many lie on cell edges (of every zoom: an edge of zoom 13 at an even index
    is one of zoom 12, ...), a hair off them, on 7-decimal values, at the world's edges or repeated."""
    kind = rng.random()
    lon, lat = rng.uniform(REGION[0], REGION[2]), rng.uniform(REGION[1], REGION[3])
    if kind < 0.25:
        # On an edge of a cell at a random zoom (and maybe one ulp beside it).
        zoom = rng.randrange(FINEST_PRECOMPUTED_ZOOM + 1)
        size = cell_size(zoom)
        lon_edge = round((lon + 180.0) / size) * size - 180.0
        lat_edge = round((lat + 90.0) / size) * size - 90.0
        lon = lon_edge if rng.random() < 0.7 else math.nextafter(lon_edge, rng.choice((-math.inf, math.inf)))
        if rng.random() < 0.6:
            lat = lat_edge if rng.random() < 0.7 else math.nextafter(lat_edge, rng.choice((-math.inf, math.inf)))
    elif kind < 0.45:
        lon, lat = round(lon, 7), round(lat, 7)  # as OSM stores them
    elif kind < 0.5:
        lon, lat = rng.uniform(-180.0, 180.0), rng.uniform(-90.0, 90.0)
    elif kind < 0.52:
        lon, lat = rng.choice((-180.0, 180.0, 0.0, lon)), rng.choice((-90.0, 90.0, 0.0, lat))
    elif kind < 0.6 and seen:
        lon, lat = rng.choice(seen)  # several stops at one point
    lon, lat = min(max(lon, -180.0), 180.0), min(max(lat, -90.0), 90.0)
    seen.append((lon, lat))
    return lon, lat


def edge_result(seed: int = 5, atlas_count: int = 1500, osm_count: int = 1800) -> MatchResult:
    rng = random.Random(seed)
    seen: list[tuple[float, float]] = []
    atlas = []
    for number in range(atlas_count):
        lon, lat = _coordinate(rng, seen)
        atlas.append(AtlasPlatform(sloid=f"ch:1:sloid:{number + 1}:0:1", number=f"85{number:05d}", designation="1",
                                   name=f"Stop {number}", lat=lat, lon=lon, operator=rng.choice(("SBB", "PAG")),
                                   valid_to="9999-12-31"))
    osm = []
    for number in range(osm_count):
        lon, lat = _coordinate(rng, seen)
        osm.append(OsmElement("node", number + 1, lat, lon, {"name": f"Stop {number}"},
                              kind=rng.choice(("platform", "stop_position"))))
    # About half of each side matched (links join distinct pairs).
    pairs = zip(rng.sample(atlas, atlas_count // 2), rng.sample(osm, atlas_count // 2), strict=True)
    links = [Link(platform.sloid, element.osm_id, "exact_reference", 5.0) for platform, element in pairs]
    return MatchResult(atlas=atlas, osm=osm, links=links, summary={})


def _random_bbox(rng: random.Random, stops: list[tuple[float, float]]) -> BBox:
    kind = rng.random()
    if kind < 0.3:  # anywhere in the region, from a few metres to the whole country
        width, height = 10 ** rng.uniform(-4, 0.8), 10 ** rng.uniform(-4, 0.4)
        west, south = rng.uniform(REGION[0] - 0.5, REGION[2]), rng.uniform(REGION[1] - 0.5, REGION[3])
        box = (west, south, west + width, south + height)
    elif kind < 0.55:  # edges on cell edges of some zoom, exactly, a hair or EDGE_MARGIN away
        size = cell_size(rng.randrange(FINEST_PRECOMPUTED_ZOOM + 1))
        west = math.floor((rng.uniform(REGION[0], REGION[2]) + 180.0) / size) * size - 180.0
        south = math.floor((rng.uniform(REGION[1], REGION[3]) + 90.0) / size) * size - 90.0
        edges = [west, south, west + size * rng.randint(1, 40), south + size * rng.randint(1, 40)]
        for index in range(4):
            shift = rng.choice((0.0, 0.0, 1e-12, -1e-12, aggregates.EDGE_MARGIN, -aggregates.EDGE_MARGIN, 2e-9, None))
            edges[index] = (math.nextafter(edges[index], rng.choice((-math.inf, math.inf))) if shift is None
                            else edges[index] + shift)
        box = (edges[0], edges[1], edges[2], edges[3])
    elif kind < 0.75:  # edges through stops (stops lie on the bbox edge)
        (lon_a, lat_a), (lon_b, lat_b) = rng.choice(stops), rng.choice(stops)
        box = (min(lon_a, lon_b), min(lat_a, lat_b), max(lon_a, lon_b), max(lat_a, lat_b))
    elif kind < 0.85:  # tiny: a point, or a few nanodegrees around a stop
        lon, lat = rng.choice(stops)
        pad = rng.choice((0.0, 1e-9, 1e-7, 1e-5))
        box = (lon - pad, lat - pad, lon + pad, lat + pad)
    else:  # the world, a hemisphere, or boxes on the world's edges
        box = rng.choice((WORLD, (-180.0, -90.0, 0.0, 90.0), (0.0, 0.0, 180.0, 90.0),
                          (170.0, 80.0, 180.0, 90.0), (-180.0, -90.0, -170.0, -80.0), SWITZERLAND_BOX))
    west, south, east, north = box
    return (max(west, -180.0), max(south, -90.0), min(east, 180.0), min(north, 90.0))


def _stops(app: Flask) -> list[tuple[float, float]]:
    with app.app_context(), db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(  # type: ignore[misc]
            "SELECT lon, lat FROM atlas_platforms UNION ALL SELECT lon, lat FROM osm_elements"))]


def _cells(app: Flask) -> list[dict[str, Any]]:
    columns = ", ".join(("zoom", "gx", "gy", *CELL_VALUES))
    with app.app_context(), db.engine.connect() as connection:
        return [dict(row) for row in connection.execute(sa.text(
            f"SELECT {columns} FROM overview_cells ORDER BY zoom, gx, gy")).mappings()]


def _expected_cells(app: Flask) -> list[dict[str, Any]]:
    """What publication writes for the stops published now."""
    with app.app_context(), db.engine.connect() as connection:
        atlas = connection.execute(sa.text("SELECT lon, lat, matched FROM atlas_platforms")).mappings().all()
        osm = connection.execute(sa.text("SELECT lon, lat, matched FROM osm_elements")).mappings().all()
    return overview_cell_rows(atlas, osm)


class Overview:
    """Both answers for a bbox and zoom, in one request context (one snapshot)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.precomputed_used = 0

    def both(self, bbox: BBox, zoom: int, filters: StopFilters | None = None) -> tuple[Any, Any]:
        filters = filters or StopFilters()
        with self.app.test_request_context("/api/v1/overview"):
            current_run_id()
            if not filters.active and zoom in PRECOMPUTED_ZOOMS and aggregates._precomputed_ready():
                self.precomputed_used += aggregates._precomputed_overview(bbox, zoom) is not None
            return (aggregates._overview(filters, bbox, zoom),
                    aggregates._overview(filters, bbox, zoom, precomputed=False))

    def assert_equal(self, bbox: BBox, zoom: int, filters: StopFilters | None = None) -> dict[str, Any]:
        precomputed, live = self.both(bbox, zoom, filters)
        assert precomputed == live, (bbox, zoom)
        return precomputed  # type: ignore[no-any-return]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def edge_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    application = make_app(str(request.param), tmp_path_factory.mktemp("overview"))
    with application.app_context():
        publish_snapshot(db.engine, edge_result(), "run-edges", {})
    yield application
    dispose(application)


# -- the grid and the fixed point ---------------------------------------------------------------------

def test_coarser_zooms_derived_by_halving_equal_direct_aggregation() -> None:
    rows = snapshot_rows(edge_result(seed=9, atlas_count=400, osm_count=500))
    cells = overview_cell_rows(rows["atlas_platforms"], rows["osm_elements"])
    for zoom in PRECOMPUTED_ZOOMS:
        direct: dict[tuple[int, int], list[int]] = {}
        for side, table in ((0, "atlas_platforms"), (2, "osm_elements")):
            for row in rows[table]:
                values = direct.setdefault(grid_cell(row["lon"], row["lat"], cell_size(zoom)), [0] * len(CELL_VALUES))
                values[side] += 1
                values[side + 1] += int(row["matched"])
                for index, value in enumerate(fixed_point(row["lon"], row["lat"]), start=4):
                    values[index] += value
        assert {(row["gx"], row["gy"]): [row[name] for name in CELL_VALUES]
                for row in cells if row["zoom"] == zoom} == direct, zoom
    assert STOPS_MIN_ZOOM == 14
    assert tuple(range(14)) == PRECOMPUTED_ZOOMS


def test_fixed_point_is_the_coordinate_itself() -> None:
    rng = random.Random(3)
    for _ in range(2000):
        lon, lat = rng.uniform(-176.0, 180.0), rng.uniform(-86.0, 90.0)
        lon_hi, lon_lo, lat_hi, lat_lo = fixed_point(lon, lat)
        scale_hi, scale_lo = Fraction(int(FIXED_POINT_HIGH)), Fraction(int(FIXED_POINT_HIGH * FIXED_POINT_LOW))
        assert lon_hi / scale_hi + lon_lo / scale_lo == Fraction(lon + 180.0)
        assert lat_hi / scale_hi + lat_lo / scale_lo == Fraction(lat + 90.0)
        assert 0 <= lon_lo < FIXED_POINT_LOW and lon_hi < 2**39


# -- equality with the live aggregation ---------------------------------------------------------------

def test_precomputed_equals_live_on_random_bboxes_and_zooms(edge_app: Flask) -> None:
    overview = Overview(edge_app)
    stops = _stops(edge_app)
    rng = random.Random(17)
    cases = 0
    for _ in range(260):
        bbox = _random_bbox(rng, stops)
        for zoom in {rng.randrange(len(PRECOMPUTED_ZOOMS)), rng.randrange(len(PRECOMPUTED_ZOOMS))}:
            overview.assert_equal(bbox, zoom)
            cases += 1
    # Most answers came from the precomputed cells (the rest had no inner cell at all).
    assert overview.precomputed_used > cases * 0.5, (overview.precomputed_used, cases)


@pytest.mark.parametrize("zoom", range(0, 14))
def test_precomputed_equals_live_on_fixed_bboxes(edge_app: Flask, zoom: int) -> None:
    overview = Overview(edge_app)
    world = overview.assert_equal(WORLD, zoom)
    assert world["total"] == 1500 + 1800
    country = overview.assert_equal(SWITZERLAND_BOX, zoom)
    assert 0 < country["total"] < world["total"]
    # A bbox that cuts cells of every zoom, one of a few metres, and a single point.
    overview.assert_equal((7.123456789, 46.0000001, 9.87654321, 47.5432109), zoom)
    overview.assert_equal((8.5, 47.3, 8.5003, 47.3002), zoom)
    lon, lat = _stops(edge_app)[7]
    point = overview.assert_equal((lon, lat, lon, lat), zoom)
    assert point["total"] >= 1
    assert overview.precomputed_used >= 2


def test_cells_cut_by_the_bbox_count_only_the_stops_inside(edge_app: Flask) -> None:
    overview = Overview(edge_app)
    size = cell_size(6)
    west, south = 133 * size - 180.0, 97 * size - 90.0  # the cell (133, 97) of zoom 6: 7.03 E, 46.41 N
    inside = overview.assert_equal((west + 1e-3, south + 1e-3, west + size - 1e-3, south + size - 1e-3), 6)
    cut = overview.assert_equal((west + 1e-3, south + 1e-3, 7.8, south + size - 1e-3), 6)
    assert [cluster["cell"] for cluster in inside["clusters"]] == [[133, 97]] == [c["cell"] for c in cut["clusters"]]
    assert 0 < cut["total"] < inside["total"]
    # A bbox ending a nanodegree before the next cells: SQLite compares exactly; PostGIS's && (boxes
    # rounded outward to single precision) also takes the stops on the next cells' edges. The
    # precomputed answer follows the live one either way.
    almost = overview.assert_equal((west, south, west + size - 1e-9, south + size - 1e-9), 6)
    cells = [cluster["cell"] for cluster in almost["clusters"]]
    if edge_app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        assert cells == [[133, 97]]
    else:
        assert [133, 97] in cells and {tuple(cell) for cell in cells} <= {(133, 97), (133, 98), (134, 97), (134, 98)}
    assert overview.precomputed_used == 3


def test_the_endpoint_answers_from_the_precomputed_cells(edge_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    original = aggregates._precomputed_overview

    def spy(bbox: Any, zoom: int) -> Any:
        calls.append((bbox, zoom))
        return original(bbox, zoom)

    monkeypatch.setattr(aggregates, "_precomputed_overview", spy)
    api = Api(edge_app)
    queries = ((SWITZERLAND_BOX, 7), ((6.0, 46.0, 7.5, 47.0), 11), (WORLD, 2))
    bodies = [api.ok("/overview", bbox=",".join(map(str, bbox)), zoom=zoom) for bbox, zoom in queries]
    assert calls == [(bbox, zoom) for bbox, zoom in queries]
    overview = Overview(edge_app)
    for (bbox, zoom), body in zip(queries, bodies, strict=True):
        assert body["mode"] == "clusters"
        assert {"clusters": body["clusters"], "total": body["total"]} == overview.both(bbox, zoom)[1]


# -- filters, high zooms and snapshots without cells stay live -----------------------------------------

def test_filters_and_high_zooms_aggregate_live(edge_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any) -> Any:
        raise AssertionError("precomputed cells used")

    api = Api(edge_app)
    overview = Overview(edge_app)
    filtered = [{"matched": "false"}, {"operator": "PAG"}, {"kind": "platform"}, {"matched": "true"}]
    expected = [overview.both(SWITZERLAND_BOX, 8, StopFilters.from_args(args))[1] for args in filtered]
    unfiltered = overview.assert_equal(SWITZERLAND_BOX, 8)["total"]
    monkeypatch.setattr(aggregates, "_precomputed_overview", refuse)
    for args, live in zip(filtered, expected, strict=True):
        body = api.ok("/overview", bbox=SWITZERLAND, zoom=8, **args)
        assert {"clusters": body["clusters"], "total": body["total"]} == live
        assert 0 < body["total"] < unfiltered
    assert api.ok("/overview", bbox="8.5,47.3,8.52,47.31", zoom=14)["mode"] == "stops"
    assert api.ok("/overview", bbox="8.5,47.3,8.52,47.31", zoom=20)["zoom"] == 20


def test_a_snapshot_loaded_without_its_cells_aggregates_live(backend: str, tmp_path: Path) -> None:
    app = make_app(backend, tmp_path)
    try:
        with app.app_context():
            publish_snapshot(db.engine, edge_result(atlas_count=300, osm_count=300), "run-1", {})
            with db.engine.begin() as connection:  # as a hand-made load would leave it
                connection.execute(sa.text("DELETE FROM overview_cells"))
                connection.execute(sa.text("INSERT INTO snapshot_meta (run_id, published_at, sources, summary) "
                                           "VALUES ('by-hand', CURRENT_TIMESTAMP, '{}', '{}')"))
        overview = Overview(app)
        body = overview.assert_equal(SWITZERLAND_BOX, 8)
        assert body["total"] > 0 and overview.precomputed_used == 0
        # Such a load can compute the cells afterwards; the next run id uses them.
        with app.app_context():
            assert refresh_overview_cells(db.engine) == len(_expected_cells(app))
            with db.engine.begin() as connection:
                connection.execute(sa.text("INSERT INTO snapshot_meta (run_id, published_at, sources, summary) "
                                           "VALUES ('by-hand-2', CURRENT_TIMESTAMP, '{}', '{}')"))
        assert _cells(app) == _expected_cells(app)
        assert overview.assert_equal(SWITZERLAND_BOX, 8) == body and overview.precomputed_used == 1
    finally:
        dispose(app)


# -- publication, rollback, migration ------------------------------------------------------------------

def test_republication_replaces_the_cells_and_rollback_restores_them(backend: str, tmp_path: Path) -> None:
    app = make_app(backend, tmp_path)
    api = Api(app)
    try:
        first = edge_result(seed=1, atlas_count=500, osm_count=600)
        # The second snapshot: other stops, in part elsewhere, and fewer of them.
        second = dataclasses.replace(edge_result(seed=2, atlas_count=300, osm_count=200), summary={"n": 2})
        with app.app_context():
            publish_snapshot(db.engine, first, "run-1", {})
        first_cells = _cells(app)
        assert first_cells == _expected_cells(app) and len(first_cells) > 14
        first_body = api.ok("/overview", bbox=SWITZERLAND, zoom=9)

        with app.app_context():
            publish_snapshot(db.engine, second, "run-2", {})
        second_cells = _cells(app)
        assert second_cells == _expected_cells(app) != first_cells  # no cell of run-1 left
        assert sum(row["atlas_count"] + row["osm_count"] for row in second_cells if row["zoom"] == 0) == 500
        second_body = api.ok("/overview", bbox=SWITZERLAND, zoom=9)
        assert second_body["run_id"] == "run-2" and second_body["total"] < first_body["total"]
        Overview(app).assert_equal(SWITZERLAND_BOX, 9)

        with app.app_context():
            assert rollback_snapshot(db.engine) == "run-1"
        assert _cells(app) == first_cells == _expected_cells(app)
        again = api.ok("/overview", bbox=SWITZERLAND, zoom=9)
        assert again["run_id"] == "run-1" and again["clusters"] == first_body["clusters"]
        overview = Overview(app)
        for bbox, zoom in ((SWITZERLAND_BOX, 9), ((6.5, 46.1, 9.9, 47.7), 12), (WORLD, 0)):
            overview.assert_equal(bbox, zoom)
        assert overview.precomputed_used == 3
    finally:
        dispose(app)


def test_migration_0004_down_and_up_refills_the_cells(backend: str, tmp_path: Path) -> None:
    app = make_app(backend, tmp_path)
    try:
        with app.app_context():
            publish_snapshot(db.engine, edge_result(seed=4, atlas_count=600, osm_count=700), "run-1", {})
            publish_snapshot(db.engine, edge_result(seed=5, atlas_count=600, osm_count=700), "run-2", {})
        published = _cells(app)
        with app.app_context():
            downgrade(revision="0003_filters_routes")
            tables = set(sa.inspect(db.engine).get_table_names())
            assert "overview_cells" not in tables and "overview_cells__previous" not in tables
            if backend == "postgis":
                previous = sa.inspect(db.engine).get_table_names(schema="stopsync_previous")
                assert "overview_cells" not in previous and "atlas_platforms" in previous
            upgrade()
            indexes = {index["name"] for index in sa.inspect(db.engine).get_indexes("overview_cells")}
            assert "ix_overview_cells_zoom_gy_gx" in indexes
        # The migration's SQL fills exactly what publication computes in Python.
        assert _cells(app) == published == _expected_cells(app)
        overview = Overview(app)
        for bbox, zoom in ((SWITZERLAND_BOX, 8), ((6.1, 45.9, 7.3, 46.6), 13), (WORLD, 3)):
            overview.assert_equal(bbox, zoom)
        assert overview.precomputed_used == 3
        # The snapshot kept from before the migration has no cells: it cannot be rolled back to,
        # until the next publication keeps one again.
        with app.app_context():
            from stopsync.db.publication import NothingToRollBackError

            with pytest.raises(NothingToRollBackError):
                rollback_snapshot(db.engine)
            publish_snapshot(db.engine, edge_result(seed=6, atlas_count=100, osm_count=100), "run-3", {})
            assert rollback_snapshot(db.engine) == "run-2"
        assert _cells(app) == published
    finally:
        dispose(app)
