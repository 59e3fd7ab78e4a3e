"""The grid of ``/api/v1/overview`` and its precomputed form, the ``overview_cells`` table.

Publication writes, for every zoom of :data:`PRECOMPUTED_ZOOMS`, one row per non-empty grid cell
with the cell's stop counts (per side, all and matched) and its coordinate sums. The API answers
an unfiltered overview from these rows (see ``blueprints/api/aggregates.py`` for how it stays
equal to the live aggregation).

A stop's cell is :func:`~stopsync.db.dialect.grid_cell` (the Python twin of the SQL
``grid_cell_columns``) at the finest zoom; the cells of coarser zooms are derived by halving the
indexes, which is exact: the cell sizes are ``45 * 2**(1 - zoom)`` degrees, so one zoom's quotient
is exactly twice the next coarser one's (a division by a power of two never rounds differently),
and ``floor(floor(2q) / 2) == floor(q)``. Coordinate sums are sums of integers
(:func:`~stopsync.db.dialect.fixed_point`), so cells add up exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..db.dialect import fixed_point, grid_cell

# Zoom policy: below this zoom the map shows clusters (/overview); from it on, the stops themselves.
STOPS_MIN_ZOOM = 14
# Grid cells per 256-pixel tile width: cells of 64 pixels.
CELLS_PER_TILE = 4
# The zooms publication precomputes: every zoom the map asks the overview at. Above them the API
# aggregates live (small bboxes only; the cell limit of /overview sees to that).
PRECOMPUTED_ZOOMS = tuple(range(STOPS_MIN_ZOOM))
FINEST_PRECOMPUTED_ZOOM = PRECOMPUTED_ZOOMS[-1]

# The columns of an overview_cells row after (zoom, gx, gy), in this order: the sums are those of
# dialect.fixed_point (lon hi, lon lo, lat hi, lat lo).
CELL_VALUES = ("atlas_count", "atlas_matched", "osm_count", "osm_matched", "lon_sum_hi", "lon_sum_lo",
               "lat_sum_hi", "lat_sum_lo")


def add_to_cell(cells: dict[tuple[int, int], list[int]], key: tuple[int, int], values: list[int]) -> None:
    """Add ``values`` (the :data:`CELL_VALUES` of some stops) to the cell ``key`` of ``cells``
    (which takes the list itself when the cell is new)."""
    found = cells.get(key)
    if found is None:
        cells[key] = values
    else:
        for index, value in enumerate(values):
            found[index] += value


def cell_size(zoom: int) -> float:
    """Grid cell edge in degrees at ``zoom``: a quarter of a web-map tile's width (exact in binary:
    ``45 * 2**(1 - zoom)``)."""
    return 360.0 / (2**zoom * CELLS_PER_TILE)


def overview_cell_rows(atlas_rows: Iterable[Mapping[str, Any]],
                       osm_rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``overview_cells`` rows of a snapshot from its ``atlas_platforms`` and ``osm_elements``
    rows (``lon``, ``lat``, ``matched``): every stop of either table counts, as in the unfiltered
    ``/overview``; a stop is matched when ``matched`` is true (``IS TRUE`` in SQL)."""
    size = cell_size(FINEST_PRECOMPUTED_ZOOM)
    cells: dict[tuple[int, int], list[int]] = {}
    for side, rows in ((0, atlas_rows), (2, osm_rows)):
        for row in rows:
            lon, lat = row["lon"], row["lat"]
            values = cells.get(key := grid_cell(lon, lat, size))
            if values is None:
                values = cells[key] = [0] * len(CELL_VALUES)
            values[side] += 1
            if row["matched"]:  # NULL IS TRUE is false, as None is here
                values[side + 1] += 1
            lon_hi, lon_lo, lat_hi, lat_lo = fixed_point(lon, lat)
            values[4] += lon_hi
            values[5] += lon_lo
            values[6] += lat_hi
            values[7] += lat_lo
    per_zoom: dict[int, list[dict[str, Any]]] = {}
    for zoom in reversed(PRECOMPUTED_ZOOMS):
        per_zoom[zoom] = [{"zoom": zoom, "gx": gx, "gy": gy, **dict(zip(CELL_VALUES, values, strict=True))}
                          for (gx, gy), values in sorted(cells.items())]
        if zoom == PRECOMPUTED_ZOOMS[0]:
            break
        parents: dict[tuple[int, int], list[int]] = {}
        for (gx, gy), values in cells.items():
            add_to_cell(parents, (gx >> 1, gy >> 1), list(values))
        cells = parents
    # In (zoom, gx, gy) order: rows of one bbox lie together in the table.
    return [row for zoom in PRECOMPUTED_ZOOMS for row in per_zoom[zoom]]
