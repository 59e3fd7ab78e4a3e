"""The area a run covers: a (multi)polygon read from GeoJSON or TopoJSON, or a bbox.

ATLAS numbers do not tell a Swiss stop from a Liechtenstein one, so the border is a setting
(a file), never a constant.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Polygon, box, shape
from shapely.geometry.base import BaseGeometry

from ..errors import InputError

POLYGONAL = ("Polygon", "MultiPolygon")


class Region:
    """A polygonal area in WGS84 (x = longitude, y = latitude)."""

    def __init__(self, geometry: BaseGeometry, name: str = "") -> None:
        if geometry.is_empty or geometry.geom_type not in POLYGONAL:
            raise ValueError(f"a region needs a non-empty (multi)polygon, got {geometry.geom_type}")
        self.geometry = geometry
        self.name = name
        # Preparing builds the spatial index once; every later point test reuses it.
        shapely.prepare(self.geometry)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(minLon, minLat, maxLon, maxLat)``, the order bbox parameters use."""
        min_x, min_y, max_x, max_y = self.geometry.bounds
        return (float(min_x), float(min_y), float(max_x), float(max_y))

    def contains(self, lat: float, lon: float) -> bool:
        return bool(shapely.contains_xy(self.geometry, lon, lat))

    def contains_many(
        self, lats: Sequence[float] | npt.ArrayLike, lons: Sequence[float] | npt.ArrayLike
    ) -> npt.NDArray[np.bool_]:
        """One boolean per point; the test runs in shapely's C loop, not per point in Python."""
        lat_arr = np.asarray(lats, dtype=float)
        lon_arr = np.asarray(lons, dtype=float)
        if lat_arr.shape != lon_arr.shape:
            raise ValueError("lats and lons must have the same length")
        if lat_arr.size == 0:
            return np.zeros(0, dtype=bool)
        return np.asarray(shapely.contains_xy(self.geometry, lon_arr, lat_arr), dtype=bool)

    def __repr__(self) -> str:
        return f"Region(name={self.name!r}, bounds={self.bounds})"


def region_from_bbox(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> Region:
    if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
        raise InputError(
            f"invalid bbox {min_lon},{min_lat},{max_lon},{max_lat} "
            "(expected minLon,minLat,maxLon,maxLat within WGS84 ranges)"
        )
    return Region(box(min_lon, min_lat, max_lon, max_lat), name="bbox")


def load_region(path: Path, *, topojson_object: str | None = None) -> Region:
    """Read a border file: GeoJSON (Feature, FeatureCollection, Polygon, MultiPolygon) or
    TopoJSON (``topojson_object`` names the object; default: the only one, else ``country``)."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise InputError(f"cannot read border file: {exc}", path=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise InputError("border file is not UTF-8 text", path=str(path)) from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"border file is not valid JSON: {exc.msg}", path=str(path),
                         line=exc.lineno) from exc
    if not isinstance(document, dict) or "type" not in document:
        raise InputError("border file is neither GeoJSON nor TopoJSON (no 'type')", path=str(path))
    try:
        if document["type"] == "Topology":
            geometry = _topojson_geometry(document, topojson_object)
        else:
            geometry = _geojson_geometry(document)
    except (KeyError, IndexError, TypeError, ValueError, shapely.errors.ShapelyError) as exc:
        raise InputError(f"border file has an invalid geometry: {exc}", path=str(path)) from exc
    if geometry.is_empty:
        raise InputError("border file contains no polygon", path=str(path))
    if not geometry.is_valid:
        # Generalised borders sometimes self-touch; repairing keeps the area, not the defect.
        geometry = _polygonal(shapely.make_valid(geometry))
    return Region(geometry, name=Path(path).stem)


def _polygonal(geometry: BaseGeometry) -> BaseGeometry:
    """Only the polygon parts of ``geometry`` (make_valid may add stray lines)."""
    if geometry.geom_type in POLYGONAL:
        return geometry
    parts = [g for g in getattr(geometry, "geoms", []) if g.geom_type in POLYGONAL]
    if not parts:
        raise ValueError(f"expected polygons, got {geometry.geom_type}")
    return shapely.union_all(parts)


def _geojson_geometry(document: dict[str, Any]) -> BaseGeometry:
    kind = document["type"]
    if kind == "FeatureCollection":
        parts = [_geojson_geometry(feature) for feature in document["features"]]
        if not parts:
            raise ValueError("the FeatureCollection has no features")
        return _polygonal(shapely.union_all(parts))
    if kind == "Feature":
        if document.get("geometry") is None:
            raise ValueError("a Feature has no geometry")
        return _geojson_geometry(document["geometry"])
    if kind == "GeometryCollection":
        return _polygonal(shapely.union_all([_geojson_geometry(g) for g in document["geometries"]]))
    if kind not in POLYGONAL:
        raise ValueError(f"a border must be a Polygon or MultiPolygon, not {kind}")
    return shape(document)


def _decode_arcs(topology: dict[str, Any]) -> list[list[tuple[float, float]]]:
    transform = topology.get("transform")
    arcs: list[list[tuple[float, float]]] = []
    for raw in topology["arcs"]:
        if transform is None:
            arcs.append([(float(p[0]), float(p[1])) for p in raw])
            continue
        (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
        # Quantised arcs store the first position absolutely and then deltas.
        x = y = 0
        points = []
        for p in raw:
            x += int(p[0])
            y += int(p[1])
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def _ring(indices: Iterable[int], arcs: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    ring: list[tuple[float, float]] = []
    for index in indices:
        # A negative index ~i means arc i walked backwards.
        points = arcs[~index][::-1] if index < 0 else arcs[index]
        # Consecutive arcs share their joining position; keep it once.
        ring.extend(points[1:] if ring else points)
    return ring


ArcRings = list[list[int]]  # one polygon: rings as lists of arc indices, the first is the shell


def _topo_polygon_arcs(geometry: dict[str, Any]) -> list[ArcRings]:
    kind = geometry.get("type")
    if kind == "Polygon":
        return [geometry["arcs"]] if geometry["arcs"] else []
    if kind == "MultiPolygon":
        return [rings for rings in geometry["arcs"] if rings]
    if kind == "GeometryCollection":
        return [rings for g in geometry["geometries"] for rings in _topo_polygon_arcs(g)]
    if kind is None:
        return []  # TopoJSON allows null geometries
    raise ValueError(f"a border must be polygonal, found a TopoJSON {kind}")


def _arc_set(ring: list[int]) -> frozenset[int]:
    return frozenset(~i if i < 0 else i for i in ring)


def _topo_polygons(
    geometry: dict[str, Any], arcs: list[list[tuple[float, float]]]
) -> list[Polygon]:
    """The polygons of a TopoJSON geometry, without parts that exactly fill another part's
    hole: swiss-maps' ``country`` draws the Büsingen and Campione enclaves that way, although
    the Swiss polygon declares them as holes, i.e. not Swiss territory."""
    polygons = _topo_polygon_arcs(geometry)
    holes = {_arc_set(ring) for rings in polygons for ring in rings[1:]}
    return [
        Polygon(_ring(rings[0], arcs), [_ring(r, arcs) for r in rings[1:]])
        for rings in polygons
        if _arc_set(rings[0]) not in holes
    ]


def topojson_polygons(path: Path, object_name: str) -> list[Polygon]:
    """The separate polygons of one TopoJSON object (e.g. Switzerland and Liechtenstein in
    swiss-maps' ``country``), before they are merged into one region."""
    try:
        topology = json.loads(Path(path).read_text(encoding="utf-8"))
        return _topo_polygons(topology["objects"][object_name], _decode_arcs(topology))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"cannot read TopoJSON object {object_name!r}: {exc}", path=str(path)) from exc


def _topojson_geometry(topology: dict[str, Any], object_name: str | None) -> BaseGeometry:
    objects: dict[str, Any] = topology["objects"]
    if object_name is None:
        if len(objects) == 1:
            object_name = next(iter(objects))
        elif "country" in objects:
            object_name = "country"
        else:
            raise ValueError(
                f"several TopoJSON objects ({', '.join(sorted(objects))}) and none is 'country'"
            )
    if object_name not in objects:
        raise ValueError(f"no TopoJSON object {object_name!r}")
    polygons = _topo_polygons(objects[object_name], _decode_arcs(topology))
    if not polygons:
        raise ValueError(f"TopoJSON object {object_name!r} holds no polygon")
    if len(polygons) == 1:
        return polygons[0]
    # Neighbouring parts (cantons, CH and LI) share edges; a plain MultiPolygon of them would
    # be invalid, their union is not.
    return _polygonal(shapely.union_all([shapely.make_valid(p) for p in polygons]))
