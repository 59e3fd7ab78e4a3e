"""Region loading: the real Swiss borders (GeoJSON), TopoJSON decoding, bbox, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stopsync.errors import InputError
from stopsync.pipeline.region import Region, load_region, region_from_bbox

BERN = (46.948, 7.447)
VADUZ = (47.141, 9.521)
BUESINGEN = (47.697, 8.690)  # German enclave: a hole in the Swiss polygon
CAMPIONE = (45.9725, 8.9707)  # Italian enclave near Lugano
LUGANO = (46.004, 8.951)
SWISS_MAPS = (
    Path(__file__).resolve().parents[2] / "stopsync" / "static" / "vendor" / "swiss-maps" / "2025" / "ch-combined.json"
)


def test_switzerland_border(swiss_border: Path) -> None:
    region = load_region(swiss_border)
    assert region.contains(*BERN)
    assert region.contains(*LUGANO)
    assert not region.contains(*VADUZ)
    assert not region.contains(*BUESINGEN)
    assert not region.contains(*CAMPIONE)
    min_lon, min_lat, max_lon, max_lat = region.bounds
    assert (round(min_lon, 3), round(min_lat, 3), round(max_lon, 3), round(max_lat, 3)) == (
        5.957, 45.819, 10.493, 47.81,
    )


def test_switzerland_with_liechtenstein(swiss_border_with_li: Path) -> None:
    region = load_region(swiss_border_with_li)
    assert region.contains(*BERN)
    assert region.contains(*VADUZ)
    assert not region.contains(*BUESINGEN)


def test_contains_many_matches_contains(swiss_border: Path) -> None:
    region = load_region(swiss_border)
    points = [BERN, VADUZ, BUESINGEN, CAMPIONE, LUGANO, (48.1, 11.6)]  # last: Munich
    inside = region.contains_many([p[0] for p in points], [p[1] for p in points])
    assert inside.dtype == np.bool_
    assert inside.tolist() == [True, False, False, False, True, False]
    assert inside.tolist() == [region.contains(*p) for p in points]
    assert region.contains_many([], []).tolist() == []
    with pytest.raises(ValueError, match="same length"):
        region.contains_many([1.0, 2.0], [1.0])


def test_bbox_region() -> None:
    region = region_from_bbox(9.47, 47.04, 9.64, 47.28)
    assert region.bounds == (9.47, 47.04, 9.64, 47.28)
    assert region.contains(*VADUZ)
    assert not region.contains(*BERN)
    with pytest.raises(InputError, match="invalid bbox"):
        region_from_bbox(9.64, 47.04, 9.47, 47.28)  # min and max swapped


def square_with_hole_topology() -> dict:
    # Quantised arcs: a 10x10 outer square at (0,0)-(10,10) split into two arcs, and a hole
    # (4,4)-(6,6); scale 0.1 and translate (7, 46) map them to lon 7..8, lat 46..47.
    return {
        "type": "Topology",
        "transform": {"scale": [0.1, 0.1], "translate": [7.0, 46.0]},
        "objects": {
            "country": {
                "type": "GeometryCollection",
                "geometries": [
                    {"type": "Polygon", "id": "X", "arcs": [[0, ~1], [2]]},
                    # The enclave drawn as its own part, as swiss-maps does for Büsingen.
                    {"type": "Polygon", "id": "X", "arcs": [[~2]]},
                ],
            },
            "lakes": {"type": "GeometryCollection", "geometries": []},
        },
        "arcs": [
            [[0, 0], [10, 0], [0, 10]],  # (0,0) -> (10,0) -> (10,10)
            [[0, 0], [0, 10], [10, 0]],  # (0,0) -> (0,10) -> (10,10); used reversed
            [[4, 4], [0, 2], [2, 0], [0, -2], [-2, 0]],  # hole (4,4) -> ... -> (4,4)
        ],
    }


def test_topojson_square_with_hole(tmp_path: Path) -> None:
    path = tmp_path / "square.topojson"
    path.write_text(json.dumps(square_with_hole_topology()), encoding="utf-8")
    region = load_region(path)
    assert region.bounds == pytest.approx((7.0, 46.0, 8.0, 47.0))
    assert region.contains(46.2, 7.2)
    assert not region.contains(46.5, 7.5)  # inside the hole, despite the enclave part
    assert region.contains(46.9, 7.9)
    assert not region.contains(47.5, 7.5)
    assert region.geometry.area == pytest.approx(1.0 - 0.04)


def test_topojson_without_transform_and_named_object(tmp_path: Path) -> None:
    topology = {
        "type": "Topology",
        "objects": {
            "a": {"type": "Polygon", "arcs": [[0]]},
            "b": {"type": "MultiPolygon", "arcs": [[[1]], [[2]]]},
        },
        "arcs": [
            [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]],
            [[5.0, 5.0], [6.0, 5.0], [6.0, 6.0], [5.0, 5.0]],
            [[8.0, 8.0], [9.0, 8.0], [9.0, 9.0], [8.0, 8.0]],
        ],
    }
    path = tmp_path / "two.json"
    path.write_text(json.dumps(topology), encoding="utf-8")
    with pytest.raises(InputError, match=r"several TopoJSON objects \(a, b\) and none is 'country'"):
        load_region(path)
    b = load_region(path, topojson_object="b")
    assert b.geometry.geom_type == "MultiPolygon"
    assert b.contains(5.2, 5.8)  # lat 5.2, lon 5.8: inside the first triangle
    assert not b.contains(0.5, 0.5)
    assert load_region(path, topojson_object="a").contains(0.5, 0.5)


@pytest.mark.skipif(not SWISS_MAPS.is_file(), reason="swiss-maps is not vendored (python scripts/sync_vendor.py)")
def test_swiss_maps_topojson_matches_the_derived_geojson(swiss_border_with_li: Path) -> None:
    # objects.country of ch-combined.json holds Switzerland and Liechtenstein.
    topo = load_region(SWISS_MAPS)
    assert topo.contains(*BERN)
    assert topo.contains(*VADUZ)
    assert not topo.contains(*BUESINGEN)
    assert not topo.contains(*CAMPIONE)
    derived = load_region(swiss_border_with_li)
    assert topo.geometry.symmetric_difference(derived.geometry).area < 1e-5
    cantons = load_region(SWISS_MAPS, topojson_object="cantons")
    assert cantons.contains(*BERN)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "not valid JSON"),
        ("{nope", "not valid JSON"),
        ("[1, 2]", "neither GeoJSON nor TopoJSON"),
        ('{"type": "Point", "coordinates": [7.4, 46.9]}', "Polygon or MultiPolygon, not Point"),
        ('{"type": "FeatureCollection", "features": []}', "no features"),
        ('{"type": "Feature", "geometry": null}', "no geometry"),
        ('{"type": "Polygon", "coordinates": [[[0, 0], [1, 0]]]}', "invalid geometry"),
        ('{"type": "Topology", "objects": {}, "arcs": []}', "several TopoJSON objects|no TopoJSON"),
    ],
)
def test_bad_border_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "border.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message) as info:
        load_region(path)
    assert str(path) in info.value.message


def test_missing_border_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read border file"):
        load_region(tmp_path / "absent.geojson")


def test_region_needs_a_polygon() -> None:
    from shapely.geometry import Point

    with pytest.raises(ValueError, match="non-empty"):
        Region(Point(7.4, 46.9))
