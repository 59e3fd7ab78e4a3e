"""The canton of a point, for every stop at once.

The polygons are the 26 cantons of the vendored ``swiss-maps`` TopoJSON (object ``cantons``;
each geometry's ``id`` is the official BFS canton number). A point inside a canton gets its
two-letter abbreviation; a point just outside every canton (on a lake, on a generalised border)
gets the nearest canton within ``NEAREST_LIMIT_M``; anything further gets ``""`` (abroad).

Everything runs in shapely's C loops: a point-in-polygon test per canton over the points inside
that canton's bounding box (26 vectorised calls, no loop per point), then, for the few points
left over, the same per canton grown by the tolerance and a vectorised distance to the cantons
they are near.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from ..errors import InputError
from .region import _decode_arcs, _polygonal, _topo_polygons
from .regions import SWISS_MAPS_TOPOJSON

# BFS canton number -> abbreviation (the official order).
CANTONS: dict[int, str] = {
    1: "ZH", 2: "BE", 3: "LU", 4: "UR", 5: "SZ", 6: "OW", 7: "NW", 8: "GL", 9: "ZG", 10: "FR", 11: "SO",
    12: "BS", 13: "BL", 14: "SH", 15: "AR", 16: "AI", 17: "SG", 18: "GR", 19: "AG", 20: "TG", 21: "TI",
    22: "VD", 23: "VS", 24: "NE", 25: "GE", 26: "JU",
}
CANTON_CODES = tuple(CANTONS.values())
CANTONS_OBJECT = "cantons"
# Points this close to a canton but inside none (lakes, generalised borders) still belong to it.
NEAREST_LIMIT_M = 2000.0
# Metres per degree at Switzerland's middle latitude: an equirectangular projection is good to
# well under 1 % inside the country, plenty for a 2 km tolerance.
_REFERENCE_LAT = 46.8
_M_PER_DEG_LAT = 111_132.0
_M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(_REFERENCE_LAT))


@dataclass(frozen=True)
class CantonIndex:
    """The canton polygons in local metres, one (multi)polygon per canton, and each grown by
    the tolerance (only points inside a grown canton need the distance to it)."""

    codes: tuple[str, ...]
    geometries: npt.NDArray[np.object_]  # shapely geometries, projected to metres, prepared
    bounds: npt.NDArray[np.float64]  # (n, 4) min_x, min_y, max_x, max_y in metres
    grown: npt.NDArray[np.object_]  # each canton buffered by a little more than the tolerance
    grown_bounds: npt.NDArray[np.float64]

    def assign(self, lats: npt.ArrayLike, lons: npt.ArrayLike) -> list[str]:
        """The canton abbreviation of each point (``""`` when none is within the limit)."""
        lat_arr = np.asarray(lats, dtype=float)
        lon_arr = np.asarray(lons, dtype=float)
        if lat_arr.shape != lon_arr.shape:
            raise ValueError("lats and lons must have the same length")
        x, y = _project(lon_arr, lat_arr)
        found = np.full(lat_arr.shape, -1, dtype=np.int64)
        pending = np.isfinite(x) & np.isfinite(y)
        for index, geometry in enumerate(self.geometries):
            candidates = _in_box(x, y, pending, self.bounds[index])
            if len(candidates) == 0:
                continue
            # contains_xy leaves out points on the border line; intersects_xy keeps them.
            inside = candidates[shapely.intersects_xy(geometry, x[candidates], y[candidates])]
            found[inside] = index
            pending[inside] = False
        if pending.any():
            self._nearest(x, y, pending, found)
        codes = np.array([*self.codes, ""], dtype=object)
        return list(codes[found])  # -1 picks the trailing ""

    def _nearest(self, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], pending: npt.NDArray[np.bool_],
                 found: npt.NDArray[np.int64]) -> None:
        """Points inside no canton: the nearest canton within the tolerance, if any."""
        best = np.full(x.shape, np.inf)
        for index, grown in enumerate(self.grown):
            candidates = _in_box(x, y, pending, self.grown_bounds[index])
            if len(candidates) == 0:
                continue
            near = candidates[shapely.intersects_xy(grown, x[candidates], y[candidates])]
            if len(near) == 0:
                continue
            distance = shapely.distance(self.geometries[index], shapely.points(x[near], y[near]))
            closer = (distance <= NEAREST_LIMIT_M) & (distance < best[near])
            best[near[closer]] = distance[closer]
            found[near[closer]] = index


def _in_box(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], pending: npt.NDArray[np.bool_],
            bounds: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    min_x, min_y, max_x, max_y = bounds
    return np.flatnonzero(pending & (x >= min_x) & (x <= max_x) & (y >= min_y) & (y <= max_y))


def _project(lons: npt.NDArray[np.float64], lats: npt.NDArray[np.float64]) -> tuple[
        npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    return lons * _M_PER_DEG_LON, lats * _M_PER_DEG_LAT


def _projected(geometry: BaseGeometry) -> BaseGeometry:
    return shapely.transform(geometry, lambda coords: coords * np.array([_M_PER_DEG_LON, _M_PER_DEG_LAT]))


def load_canton_index(path: Path = SWISS_MAPS_TOPOJSON) -> CantonIndex:
    """Read the ``cantons`` object of a swiss-maps TopoJSON (ids are BFS canton numbers)."""
    try:
        topology: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
        arcs = _decode_arcs(topology)
        geometries = topology["objects"][CANTONS_OBJECT]["geometries"]
        codes: list[str] = []
        shapes: list[BaseGeometry] = []
        for geometry in geometries:
            code = CANTONS.get(int(geometry["id"]))
            polygons = _topo_polygons(geometry, arcs)
            if code is None or not polygons:
                continue
            merged = _polygonal(shapely.union_all([shapely.make_valid(p) for p in polygons]))
            codes.append(code)
            shapes.append(_projected(merged))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"cannot read the canton polygons: {exc}", path=str(path)) from exc
    if not shapes:
        raise InputError("the TopoJSON holds no canton polygon", path=str(path))
    array = np.array(shapes, dtype=object)
    # A little wider than the limit: the buffer's polygonal arcs must not cut off a point the
    # exact distance test keeps.
    grown = shapely.buffer(array, NEAREST_LIMIT_M + 100.0, quad_segs=4)
    shapely.prepare(array)
    shapely.prepare(grown)
    return CantonIndex(tuple(codes), array, shapely.bounds(array), grown, shapely.bounds(grown))


@lru_cache(maxsize=1)
def default_canton_index() -> CantonIndex:
    """The vendored cantons, read once per process."""
    return load_canton_index()


def assign_cantons(lats: npt.ArrayLike, lons: npt.ArrayLike, index: CantonIndex | None = None) -> list[str]:
    """The canton abbreviation (``"ZH"``) of each point; ``""`` outside Switzerland."""
    if np.size(lats) == 0:
        return []
    return (index or default_canton_index()).assign(lats, lons)
