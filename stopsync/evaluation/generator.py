"""A national-size test instance with ground truth, seeded from the real Swiss service points.

Every real ``85…`` service point (HRDF 2024 list) is expanded into ATLAS boarding platforms,
and each platform is mapped into OSM the way mappers really do it (or not at all). Because the
generator places every element, it knows the true links: ``truth.csv`` lists them and
``truth_unmatched_atlas.csv`` the platforms that have no counterpart.

Realism choices (all rates are per platform unless said otherwise; see ``Rates``):

- Stop type from the name: a name without a comma (``Vernayaz``) is a railway-like place, one
  with a comma (``Glarus, Stampf``) a bus stop (inside the four tram cities 30 % of them tram).
  Platforms per stop are heavy tailed: bus stops mostly 1-2 (a few hubs up to 12), rail places up to 18.
- Platforms lie around the service point: bus platforms on both sides of a road 3-8 m off its
  centre line, staggered 15-30 m; rail platforms side by side 7-12 m apart along the track.
- Designations per stop scheme: numbers (``1``, ``2``), letters (``A``, ``B``) or none.
- OSM patterns: pair (platform + stop_position 2-6 m apart, on a road within the platform's
  own half of the carriageway), platform only, stop_position
  only, platform area (closed way of 4-6 nodes): 16/52/25/7 % on roads, 17/28/15/40 % on
  rail; for two-platform bus stops also trio (two side platforms + one stop_position, 25 %)
  and shared (one element for both directions, 15 %); missing: 2 % of stops entirely plus
  4.5 % of platforms. Operators follow the region (city companies in their service areas).
- Position error of OSM against ATLAS: 80 % half-normal (sigma 2.5 m), 15 % 2 m + exponential
  (8 m), 4.5 % log-uniform 30-150 m, 0.5 % gross (log-uniform 300-2000 m).
- Tag noise per element: uic_ref missing 20 %, wrong 1 % (70 % a number unknown to ATLAS,
  30 % another stop's number), local_ref missing 30 %, name variants (municipality prefix
  dropped 25 %, ``Bahnhof``->``Bhf`` 5 %, accents dropped 8 %, no name 7 %), uic_name on 60 %,
  ``ref:sloid`` on the main element of 3 % of platforms.
- Stations (never to be matched) for 80 % of rail places with 2+ platforms, a fifth as areas;
  extra OSM stops with no ATLAS counterpart (2.5 % of mapped platforms): 60 % without uic_ref,
  30 % with an unknown uic_ref, 10 % with the correct uic_ref of a nearby stop (stale mapping).
- ATLAS rows the baseline filters drop: expired (0.4 %), ``BOARDING_AREA`` (1.5 %) and foreign
  (non-``85``, 1 %); duplicates (same number + designation, 0.3 %).

- Lines (``lines.py``): bus, tram and rail lines over the stops, written as ``gtfs.zip`` and as
  PTv2 route relations in ``osm.xml`` (65 % of lines); they are evidence, not truth, and draw from
  their own random stream, so the other files do not depend on them. ``truth_routes.csv`` lists
  every call of every line with the elements a correct relation holds and the planted noise.

The output is deterministic for a seed; the files are written as streams.
"""

from __future__ import annotations

import csv
import json
import math
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TextIO
from xml.sax.saxutils import escape

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from ..pipeline.geo import EARTH_RADIUS_M
from .atlas_format import (
    BUS_OPERATORS,
    POSTAUTO,
    RAIL_OPERATORS,
    AtlasRow,
    Operator,
    open_atlas_writer,
    wgs84_to_lv95,
    write_atlas_row,
)
from .lines import (
    LineRates,
    build_network,
    in_tram_city,
    network_counts,
    plan_relations,
    plan_trips,
    write_gtfs,
    write_relations,
    write_route_truth,
)
from .service_points import ServicePoints, load_service_points

METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180.0

BUS, TRAM, RAIL, AERIAL = 0, 1, 2, 3
PAIR, PLATFORM_ONLY, STOP_POSITION_ONLY, WAY, TRIO, SHARED = 0, 1, 2, 3, 4, 5
PATTERN_NAMES = ("pair", "platform_only", "stop_position_only", "way", "trio", "shared")
CATEGORIES = (*PATTERN_NAMES, "duplicate", "missing")
KIND_PLATFORM, KIND_STOP_POSITION, KIND_STATION = 0, 1, 2
# What an extra (unmatchable) OSM element carries as uic_ref.
EXTRA_NONE, EXTRA_NO_UIC, EXTRA_UNKNOWN_UIC, EXTRA_STALE_UIC = 0, 1, 2, 3

# (lowest, highest, probability) of the number of platforms per stop.
BUS_PLATFORM_COUNTS = ((1, 1, 0.31), (2, 2, 0.58), (3, 3, 0.06), (4, 4, 0.035), (5, 12, 0.015))
RAIL_PLATFORM_COUNTS = ((1, 1, 0.15), (2, 2, 0.35), (3, 3, 0.12), (4, 4, 0.14), (5, 6, 0.10), (7, 10, 0.09),
                        (11, 18, 0.05))
# Probabilities of pair, platform only, stop_position only and way, by mode (trios apart).
BUS_PATTERNS = (0.16, 0.52, 0.25, 0.07)
RAIL_PATTERNS = (0.17, 0.28, 0.15, 0.40)
# Urban bus operators by service area (lat, lon, radius km); elsewhere mostly PostAuto.
CITY_OPERATORS = (("TPG", 46.20, 6.14, 12.0), ("TL", 46.52, 6.63, 10.0), ("VMCV", 46.46, 6.87, 7.0),
                  ("BVB", 47.56, 7.59, 7.0), ("VBZ", 47.38, 8.54, 7.0), ("VBL", 47.05, 8.31, 8.0),
                  ("STI", 46.76, 7.63, 10.0), ("AFA", 46.55, 7.58, 10.0), ("BOS", 47.46, 9.04, 15.0))
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_BAHNHOF = re.compile(r"\bBahnhof\b")
_EXPIRED_FIRST, _EXPIRED_LAST = date(2016, 12, 10), date(2025, 12, 13)


@dataclass(frozen=True)
class Rates:
    """The knobs of the generator; the defaults are the documented realistic values."""

    tram_share: float = 0.30  # of the bus-like stops inside the tram cities (lines.TRAM_CITIES)
    aerial_share: float = 0.05  # of single-platform rail-like places
    trio_share: float = 0.25  # of two-platform bus/tram stops with both platforms mapped
    shared_share: float = 0.15  # of the same stops: one OSM element stands for both directions
    missing_stop: float = 0.02
    missing_platform: float = 0.045
    uic_missing: float = 0.20
    uic_wrong: float = 0.01
    local_ref_missing: float = 0.30
    uic_name_present: float = 0.60
    ref_sloid: float = 0.03
    station_share: float = 0.80
    station_way_share: float = 0.20
    extra_share: float = 0.025
    expired_share: float = 0.004
    boarding_area_share: float = 0.015
    foreign_share: float = 0.01
    duplicate_share: float = 0.003
    # exact, drop municipality, Bhf, no accents, no name
    name_variants: tuple[float, float, float, float, float] = (0.55, 0.25, 0.05, 0.08, 0.07)


@dataclass(frozen=True)
class GeneratedInstance:
    """Where a generated instance lives and what it holds."""

    out_dir: Path
    atlas_csv: Path
    osm_xml: Path
    truth_csv: Path
    truth_unmatched_csv: Path
    summary_json: Path
    seed: int
    scale: float
    counts: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    gtfs_zip: Path | None = None
    truth_routes_csv: Path | None = None


@dataclass
class _Stops:
    numbers: list[str]
    names: list[str]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    mode: NDArray[np.int64]
    count: NDArray[np.int64]
    bearing: NDArray[np.float64]
    operator: list[Operator]


@dataclass
class _Platforms:
    stop: NDArray[np.int64]
    k: NDArray[np.int64]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    perp: NDArray[np.float64]
    sloids: list[str]
    designations: list[str]
    parents: list[str]


@dataclass
class _Elements:
    """The OSM elements as parallel lists (columns), filled one element at a time."""

    kind: list[int] = field(default_factory=list)
    stop: list[int] = field(default_factory=list)
    platform: list[int] = field(default_factory=list)  # -1: none
    platform2: list[int] = field(default_factory=list)  # the second side of a trio
    lat: list[float] = field(default_factory=list)
    lon: list[float] = field(default_factory=list)
    way: list[tuple[float, float, int, float] | None] = field(default_factory=list)  # length, width, nodes, phase
    main: list[bool] = field(default_factory=list)  # carries the platform's ref:sloid if any
    extra: list[int] = field(default_factory=list)
    category: list[str] = field(default_factory=list)

    def add(self, kind: int, stop: int, lat: float, lon: float, *, platform: int = -1, platform2: int = -1,
            way: tuple[float, float, int, float] | None = None, main: bool = False, extra: int = EXTRA_NONE,
            category: str = "") -> None:
        self.kind.append(kind)
        self.stop.append(stop)
        self.platform.append(platform)
        self.platform2.append(platform2)
        self.lat.append(lat)
        self.lon.append(lon)
        self.way.append(way)
        self.main.append(main)
        self.extra.append(extra)
        self.category.append(category)

    def __len__(self) -> int:
        return len(self.kind)


def _shift(lat: Any, lon: Any, east_m: Any, north_m: Any) -> tuple[Any, Any]:
    """Move points by metres (a local flat approximation, exact enough below a few km)."""
    return (lat + north_m / METRES_PER_DEGREE,
            lon + east_m / (METRES_PER_DEGREE * np.cos(np.radians(lat))))


def _draw_counts(rng: np.random.Generator, size: int, table: tuple[tuple[int, int, float], ...]) -> NDArray[np.int64]:
    low = np.array([row[0] for row in table])
    high = np.array([row[1] for row in table])
    probabilities = np.array([row[2] for row in table])
    bucket = rng.choice(len(table), size=size, p=probabilities / probabilities.sum())
    return np.asarray(rng.integers(low[bucket], high[bucket] + 1), dtype=np.int64)


def _position_errors(rng: np.random.Generator, size: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """East/north metres of a heavy-tailed error: mostly < 5 m, a tail to 150 m, a few gross."""
    u = rng.random(size)
    small = np.abs(rng.normal(0.0, 2.5, size))
    medium = 2.0 + rng.exponential(8.0, size)
    tail = np.exp(rng.uniform(math.log(30.0), math.log(150.0), size))
    gross = np.exp(rng.uniform(math.log(300.0), math.log(2000.0), size))
    radius = np.where(u < 0.80, small, np.where(u < 0.95, medium, np.where(u < 0.995, tail, gross)))
    angle = rng.uniform(0.0, 2 * math.pi, size)
    return radius * np.sin(angle), radius * np.cos(angle)


def _bus_operators(rng: np.random.Generator, lat: NDArray[np.float64], lon: NDArray[np.float64]) -> list[Operator]:
    """The city operator where a stop lies in a city's service area (85 %), else PostAuto (75 %)
    or another regional company."""
    by_abbreviation = {operator.abbreviation: operator for operator in BUS_OPERATORS}
    regional = [by_abbreviation[name] for name in ("AFA", "BOS", "STI")]
    u, pick = rng.random(len(lat)), rng.integers(0, len(regional), len(lat))
    chosen = [POSTAUTO if u[s] < 0.75 else regional[pick[s]] for s in range(len(lat))]
    for name, centre_lat, centre_lon, radius_km in CITY_OPERATORS:
        north = (lat - centre_lat) * METRES_PER_DEGREE
        east = (lon - centre_lon) * METRES_PER_DEGREE * math.cos(math.radians(centre_lat))
        inside = (np.hypot(east, north) < radius_km * 1000.0) & (u < 0.85)
        for s in np.flatnonzero(inside).tolist():
            chosen[s] = by_abbreviation[name]
    return chosen


def _build_stops(points: ServicePoints, rng: np.random.Generator, scale: float, rates: Rates) -> _Stops:
    n = min(len(points), max(1, round(len(points) * scale)))
    chosen = np.sort(rng.choice(len(points), size=n, replace=False))
    names = [points.names[i] for i in chosen]
    rail_like = np.array(["," not in name for name in names])
    count = np.where(rail_like, _draw_counts(rng, n, RAIL_PLATFORM_COUNTS), _draw_counts(rng, n, BUS_PLATFORM_COUNTS))
    lat, lon = points.lat[chosen], points.lon[chosen]
    tram = (rng.random(n) < rates.tram_share) & in_tram_city(lat, lon)
    mode = np.where(rail_like, RAIL, np.where(tram, TRAM, BUS))
    mode = np.where(rail_like & (count == 1) & (rng.random(n) < rates.aerial_share), AERIAL, mode)
    rail_pick = rng.choice(len(RAIL_OPERATORS), size=n, p=[0.8, 0.15, 0.05])
    bus_operator = _bus_operators(rng, lat, lon)
    operators = [RAIL_OPERATORS[2] if m == AERIAL else RAIL_OPERATORS[r] if m == RAIL else bus_operator[s]
                 for s, (m, r) in enumerate(zip(mode.tolist(), rail_pick.tolist(), strict=True))]
    return _Stops(
        numbers=[points.numbers[i] for i in chosen], names=names, lat=lat, lon=lon,
        mode=mode.astype(np.int64), count=count, bearing=rng.uniform(0.0, math.pi, n), operator=operators,
    )


def _designations(stops: _Stops, rng: np.random.Generator) -> list[list[str]]:
    """Platform codes per stop: numbers, letters or none, by a per-stop scheme."""
    n = len(stops.numbers)
    u = rng.random(n)
    result: list[list[str]] = []
    for s in range(n):
        count, mode = int(stops.count[s]), int(stops.mode[s])
        if mode in (RAIL, AERIAL):
            scheme = ("numbers" if u[s] < 0.95 else "none") if count > 1 else ("numbers" if u[s] < 0.5 else "none")
        elif count > 1:
            scheme = "letters" if u[s] < 0.55 else "numbers" if u[s] < 0.85 else "none"
        else:
            scheme = "none" if u[s] < 0.65 else "letters" if u[s] < 0.85 else "numbers"
        if scheme == "numbers":
            result.append([str(k + 1) for k in range(count)])
        elif scheme == "letters":
            result.append([LETTERS[k % 26] * (1 + k // 26) for k in range(count)])
        else:
            result.append([""] * count)
    return result


def _build_platforms(stops: _Stops, rng: np.random.Generator) -> _Platforms:
    counts = stops.count
    stop = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    k = np.arange(int(counts.sum())) - np.repeat(starts, counts)
    c, mode = counts[stop], stops.mode[stop]
    size = len(stop)
    rail = (mode == RAIL) | (mode == AERIAL)
    spacing = rng.uniform(7.0, 12.0, len(counts))[stop]
    side = np.where(k % 2 == 0, -1.0, 1.0)
    perp = np.where(rail, (k - (c - 1) / 2.0) * spacing, side * rng.uniform(3.0, 8.0, size))
    along = np.where(rail, rng.normal(0.0, 15.0, size),
                     np.where(c == 1, rng.normal(0.0, 8.0, size),
                              (k // 2) * rng.uniform(15.0, 30.0, size) - ((c - 1) // 2) * 10.0
                              + rng.normal(0.0, 4.0, size)))
    theta = stops.bearing[stop]
    east = along * np.sin(theta) + perp * np.cos(theta)
    north = along * np.cos(theta) - perp * np.sin(theta)
    lat, lon = _shift(stops.lat[stop], stops.lon[stop], east, north)

    codes = _designations(stops, rng)
    base = rng.integers(1, 900_000, len(counts))
    short_style = rng.random(len(counts)) < 0.07
    sloids: list[str] = []
    designations: list[str] = []
    parents: list[str] = []
    for s, number in enumerate(stops.numbers):
        short = int(number[2:])
        for position in range(int(counts[s])):
            designations.append(codes[s][position])
            if stops.mode[s] in (RAIL, AERIAL):
                area = position // 2 + 1
                sloids.append(f"ch:1:sloid:{short}:{area}:{position + 1}")
                parents.append(f"ch:1:sloid:{short}:{area}")
            elif short_style[s]:
                sloids.append(f"ch:1:sloid:{short}::{position + 1:02d}")
                parents.append("")
            else:
                sloids.append(f"ch:1:sloid:{short}:0:{int(base[s]) + position}")
                parents.append("")
    return _Platforms(stop=stop, k=k, lat=np.asarray(lat), lon=np.asarray(lon), perp=perp, sloids=sloids,
                      designations=designations, parents=parents)


def _ellipse(lat: float, lon: float, bearing: float, geometry: tuple[float, float, int, float]) -> list[tuple[float,
                                                                                                             float]]:
    """Vertices of a closed way: evenly spaced on an ellipse, so their mean is the centre."""
    length, width, count, phase = geometry
    angles = phase + 2 * math.pi * np.arange(count) / count
    along, across = length / 2 * np.cos(angles), width / 2 * np.sin(angles)
    east = along * math.sin(bearing) + across * math.cos(bearing)
    north = along * math.cos(bearing) - across * math.sin(bearing)
    lats, lons = _shift(lat, lon, east, north)
    return list(zip(np.asarray(lats).tolist(), np.asarray(lons).tolist(), strict=True))


class _Generator:
    def __init__(self, points: ServicePoints, seed: int, scale: float, rates: Rates) -> None:
        self.points = points
        self.rng = np.random.default_rng(seed)
        self.rates = rates
        self.stops = _build_stops(points, self.rng, scale, rates)
        self.platforms = _build_platforms(self.stops, self.rng)
        self.known_numbers = set(points.numbers)
        self.elements = _Elements()
        self.truth: list[tuple[str, str, str]] = []

    # --- which platforms exist in OSM, and how ----------------------------------------------

    def patterns(self) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
        rng, rates, stops, plats = self.rng, self.rates, self.stops, self.platforms
        size = len(plats.stop)
        missing = (rng.random(len(stops.numbers)) < rates.missing_stop)[plats.stop] | (
            rng.random(size) < rates.missing_platform)
        mode = stops.mode[plats.stop]
        u = rng.random(size)
        bus_cut, rail_cut = np.cumsum(BUS_PATTERNS), np.cumsum(RAIL_PATTERNS)
        pattern = np.where(
            (mode == RAIL), np.searchsorted(rail_cut / rail_cut[-1], u, side="right"),
            np.searchsorted(bus_cut / bus_cut[-1], u, side="right"),
        ).astype(np.int64)
        pattern = np.where(mode == AERIAL, PLATFORM_ONLY, pattern)
        # A trio, or one shared element, needs a two-platform road stop whose both sides are mapped.
        mapped_per_stop = np.bincount(plats.stop, weights=~missing, minlength=len(stops.numbers))
        two_sided = (stops.count == 2) & (stops.mode != RAIL) & (stops.mode != AERIAL) & (mapped_per_stop == 2)
        u_stop = rng.random(len(stops.numbers))
        trio_stop = two_sided & (u_stop < rates.trio_share)
        shared_stop = two_sided & ~trio_stop & (u_stop < rates.trio_share + rates.shared_share)
        pattern = np.where(trio_stop[plats.stop], TRIO, pattern)
        pattern = np.where(shared_stop[plats.stop], SHARED, pattern)
        return missing, pattern

    def place_elements(self, missing: NDArray[np.bool_], pattern: NDArray[np.int64]) -> None:
        rng, stops, plats, elements = self.rng, self.stops, self.platforms, self.elements
        size = len(plats.stop)
        err_e, err_n = _position_errors(rng, size)
        unit_lat, unit_lon = _shift(plats.lat, plats.lon, err_e, err_n)
        theta = stops.bearing[plats.stop]
        # Stop positions lie towards the road (bus) or on the track (rail): across the stop axis.
        towards = -np.sign(plats.perp)
        towards = np.where(towards == 0, 1.0, towards)
        # On a road the stop_position lies in the platform's own lane: never beyond 1 m short of
        # the centre line (the far lane is the other direction's). Rail keeps the full offset.
        road = (stops.mode[plats.stop] == BUS) | (stops.mode[plats.stop] == TRAM)
        lane_limit = np.where(road, np.maximum(np.abs(plats.perp) - 1.0, 1.0), np.inf)
        across_pair = towards * np.minimum(rng.uniform(2.0, 6.0, size), lane_limit)
        across_single = towards * np.minimum(rng.uniform(1.0, 4.0, size), lane_limit)
        sp_e_pair, sp_n_pair = across_pair * np.cos(theta), -across_pair * np.sin(theta)
        sp_e_one, sp_n_one = across_single * np.cos(theta), -across_single * np.sin(theta)
        rail = stops.mode[plats.stop] == RAIL
        way_length = np.where(rail, rng.uniform(60.0, 250.0, size), rng.uniform(8.0, 20.0, size))
        way_width = np.where(rail, rng.uniform(4.0, 9.0, size), rng.uniform(2.0, 4.0, size))
        way_nodes = rng.integers(4, 7, size)
        way_phase = rng.uniform(0.0, 2 * math.pi, size)
        midpoint_noise_e, midpoint_noise_n = rng.normal(0.0, 0.7, size), rng.normal(0.0, 0.7, size)
        shared_kind = np.where(rng.random(size) < 0.6, KIND_PLATFORM, KIND_STOP_POSITION)
        for i in range(size):
            if missing[i]:
                continue
            s, kind = int(plats.stop[i]), int(pattern[i])
            lat, lon = float(unit_lat[i]), float(unit_lon[i])
            name = PATTERN_NAMES[kind]
            if kind == TRIO:
                if plats.k[i] != 0:
                    continue  # both sides are placed with the first
                j = i + 1
                lat2, lon2 = float(unit_lat[j]), float(unit_lon[j])
                elements.add(KIND_PLATFORM, s, lat, lon, platform=i, main=True, category=name)
                elements.add(KIND_PLATFORM, s, lat2, lon2, platform=j, main=True, category=name)
                mid_lat, mid_lon = _shift((lat + lat2) / 2, (lon + lon2) / 2, midpoint_noise_e[i], midpoint_noise_n[i])
                elements.add(KIND_STOP_POSITION, s, float(mid_lat), float(mid_lon), platform=i, platform2=j,
                             category=name)
                continue
            if kind == SHARED:
                if plats.k[i] == 0:  # one element between both sides, carrying no platform code
                    mid_lat, mid_lon = _shift((plats.lat[i] + plats.lat[i + 1]) / 2,
                                              (plats.lon[i] + plats.lon[i + 1]) / 2, err_e[i], err_n[i])
                    elements.add(int(shared_kind[i]), s, float(mid_lat), float(mid_lon), platform=i,
                                 platform2=i + 1, category=name)
                continue
            if kind in (PAIR, PLATFORM_ONLY):
                elements.add(KIND_PLATFORM, s, lat, lon, platform=i, main=True, category=name)
            if kind == PAIR:
                sp_lat, sp_lon = _shift(lat, lon, sp_e_pair[i], sp_n_pair[i])
                elements.add(KIND_STOP_POSITION, s, float(sp_lat), float(sp_lon), platform=i, category=name)
            elif kind == STOP_POSITION_ONLY:
                sp_lat, sp_lon = _shift(lat, lon, sp_e_one[i], sp_n_one[i])
                elements.add(KIND_STOP_POSITION, s, float(sp_lat), float(sp_lon), platform=i, main=True,
                             category=name)
            elif kind == WAY:
                geometry = (float(way_length[i]), float(way_width[i]), int(way_nodes[i]), float(way_phase[i]))
                elements.add(KIND_PLATFORM, s, lat, lon, platform=i, way=geometry, main=True, category=name)

    def place_stations(self) -> int:
        rng, rates, stops = self.rng, self.rates, self.stops
        n = len(stops.numbers)
        has = (stops.mode == RAIL) & (stops.count >= 2) & (rng.random(n) < rates.station_share)
        as_way = rng.random(n) < rates.station_way_share
        err_e, err_n = rng.normal(0.0, 10.0, n), rng.normal(0.0, 10.0, n)
        length, width = rng.uniform(40.0, 120.0, n), rng.uniform(15.0, 40.0, n)
        nodes, phase = rng.integers(4, 7, n), rng.uniform(0.0, 2 * math.pi, n)
        lat, lon = _shift(stops.lat, stops.lon, err_e, err_n)
        for s in np.flatnonzero(has).tolist():
            geometry = (float(length[s]), float(width[s]), int(nodes[s]), float(phase[s])) if as_way[s] else None
            self.elements.add(KIND_STATION, s, float(lat[s]), float(lon[s]), way=geometry)
        return int(has.sum())

    def place_extras(self, mapped: int) -> int:
        rng, stops = self.rng, self.stops
        n = max(3, round(mapped * self.rates.extra_share))
        stop = rng.integers(0, len(stops.numbers), n)
        u = rng.random(n)
        extra = np.where(u < 0.6, EXTRA_NO_UIC, np.where(u < 0.9, EXTRA_UNKNOWN_UIC, EXTRA_STALE_UIC))
        distance = np.where(extra == EXTRA_STALE_UIC, np.exp(rng.uniform(math.log(40.0), math.log(300.0), n)),
                            np.exp(rng.uniform(math.log(60.0), math.log(600.0), n)))
        angle = rng.uniform(0.0, 2 * math.pi, n)
        lat, lon = _shift(stops.lat[stop], stops.lon[stop], distance * np.sin(angle), distance * np.cos(angle))
        # A cable-car station is only ever a platform (aerialway=station has no stop_position).
        kind = np.where((rng.random(n) < 0.6) | (stops.mode[stop] == AERIAL), KIND_PLATFORM, KIND_STOP_POSITION)
        for e in range(n):
            self.elements.add(int(kind[e]), int(stop[e]), float(lat[e]), float(lon[e]), extra=int(extra[e]))
        return n

    # --- tags ---------------------------------------------------------------------------------

    def _unknown_numbers(self, count: int) -> list[str]:
        """UIC numbers that no Swiss service point has (a stale or mistyped uic_ref)."""
        found: list[str] = []
        while len(found) < count:
            for value in self.rng.integers(0, 100_000, 2 * (count - len(found)) + 4).tolist():
                number = f"85{value:05d}"
                if number not in self.known_numbers:
                    found.append(number)
        return found[:count]

    def _tag_noise(self) -> dict[str, Any]:
        rng, rates, size = self.rng, self.rates, len(self.elements)
        variants = np.array(rates.name_variants)
        return {
            "uic_missing": rng.random(size) < rates.uic_missing,
            "uic_wrong": rng.random(size) < rates.uic_wrong,
            "wrong_existing": rng.random(size) < 0.3,
            "wrong_stop": rng.integers(0, len(self.stops.numbers), size),
            "local_ref_missing": rng.random(size) < rates.local_ref_missing,
            "uic_name": rng.random(size) < rates.uic_name_present,
            "name_variant": rng.choice(len(variants), size=size, p=variants / variants.sum()),
            "operator": rng.random(size),
            "extra_named": rng.random(size) < 0.5,
            "ref_sloid": rng.random(len(self.platforms.stop)) < rates.ref_sloid,
            "unknown": iter(self._unknown_numbers(size // 50 + 8)),
        }

    def _tags(self, e: int, noise: dict[str, Any]) -> list[tuple[str, str]]:
        elements, stops, plats = self.elements, self.stops, self.platforms
        s, kind, extra = elements.stop[e], elements.kind[e], elements.extra[e]
        mode = int(stops.mode[s])
        tags: list[tuple[str, str]] = []
        if kind == KIND_STATION:
            tags += [("public_transport", "station"), ("railway", "station"), ("train", "yes")]
        elif mode == AERIAL:
            tags += [("aerialway", "station")]
        elif kind == KIND_PLATFORM:
            if mode == RAIL:
                tags += [("public_transport", "platform"), ("railway", "platform"), ("train", "yes")]
            elif mode == TRAM:
                tags += [("public_transport", "platform"), ("railway", "platform"), ("tram", "yes")]
            elif elements.way[e] is not None:
                tags += [("public_transport", "platform"), ("highway", "platform"), ("bus", "yes")]
            else:
                tags += [("public_transport", "platform"), ("highway", "bus_stop"), ("bus", "yes")]
        elif mode == RAIL:
            tags += [("public_transport", "stop_position"), ("railway", "stop"), ("train", "yes")]
        elif mode == TRAM:
            tags += [("public_transport", "stop_position"), ("railway", "tram_stop"), ("tram", "yes")]
        else:
            tags += [("public_transport", "stop_position"), ("bus", "yes")]

        official = stops.names[s]
        if extra == EXTRA_NONE or noise["extra_named"][e]:
            name = _name_variant(official, int(noise["name_variant"][e]))
            if name:
                tags.append(("name", name))
        if extra == EXTRA_UNKNOWN_UIC:
            tags.append(("uic_ref", next(noise["unknown"])))
        elif extra == EXTRA_STALE_UIC:
            tags.append(("uic_ref", stops.numbers[s]))
        elif extra == EXTRA_NONE and not noise["uic_missing"][e]:
            number = stops.numbers[s]
            if noise["uic_wrong"][e]:
                number = (stops.numbers[int(noise["wrong_stop"][e])] if noise["wrong_existing"][e]
                          else next(noise["unknown"]))
            tags.append(("uic_ref", number))
        if extra == EXTRA_NONE and noise["uic_name"][e]:
            tags.append(("uic_name", official))
        platform = elements.platform[e]
        if platform >= 0 and elements.platform2[e] < 0 and plats.designations[platform] \
                and not noise["local_ref_missing"][e]:
            tags.append(("local_ref", plats.designations[platform]))
        if platform >= 0 and elements.main[e] and noise["ref_sloid"][platform]:
            tags.append(("ref:sloid", plats.sloids[platform]))
        operator = stops.operator[s]
        if noise["operator"][e] < 0.35:
            tags.append(("operator", operator.abbreviation))
        elif noise["operator"][e] < 0.6:
            tags.append(("operator", operator.osm_alias))
        return sorted(tags)

    # --- writing ------------------------------------------------------------------------------

    def write_osm(self, path: Path, after_ways: Callable[[TextIO], object] | None = None) -> dict[str, int]:
        """Nodes (stop nodes and way vertices, ascending ids) then ways, then what ``after_ways``
        writes (the route relations); ids are shuffled so that their order says nothing about the
        stops."""
        rng, elements = self.rng, self.elements
        size = len(elements)
        noise = self._tag_noise()
        bearing = self.stops.bearing
        vertex_lists: dict[int, list[tuple[float, float]]] = {}
        slots: list[tuple[int, int]] = []  # (element, vertex or -1)
        for e in range(size):
            geometry = elements.way[e]
            if geometry is None:
                slots.append((e, -1))
            else:
                vertex_lists[e] = _ellipse(elements.lat[e], elements.lon[e], float(bearing[elements.stop[e]]),
                                           geometry)
                slots.extend((e, v) for v in range(geometry[2]))
        node_ids = 30_000_000 + np.cumsum(rng.integers(1, 200_000, len(slots)))
        slot_order = rng.permutation(len(slots))  # slot_order[r] is the slot given the r-th smallest id
        ways = sorted(vertex_lists)
        way_ids = 4_000_000 + np.cumsum(rng.integers(1, 20_000, len(ways)))
        way_order = rng.permutation(len(ways))
        vertex_ids: dict[int, list[int]] = {e: [0] * len(vertex_lists[e]) for e in ways}
        self.osm_ids: list[str] = [""] * size
        with path.open("w", encoding="utf-8", newline="\n") as out:
            out.write("<?xml version='1.0' encoding='UTF-8'?>\n")
            out.write('<osm version="0.6" generator="stopsync-evaluation">\n')
            for rank, slot in enumerate(slot_order.tolist()):
                e, vertex = slots[slot]
                node_id = int(node_ids[rank])
                if vertex >= 0:
                    vertex_ids[e][vertex] = node_id
                    lat, lon = vertex_lists[e][vertex]
                    out.write(f'  <node id="{node_id}" lat="{lat:.7f}" lon="{lon:.7f}"/>\n')
                    continue
                self.osm_ids[e] = f"node/{node_id}"
                out.write(f'  <node id="{node_id}" lat="{elements.lat[e]:.7f}" lon="{elements.lon[e]:.7f}">\n')
                _write_tags(out, self._tags(e, noise))
                out.write("  </node>\n")
            for rank, index in enumerate(way_order.tolist()):
                e = ways[index]
                way_id = int(way_ids[rank])
                self.osm_ids[e] = f"way/{way_id}"
                out.write(f'  <way id="{way_id}">\n')
                refs = [*vertex_ids[e], vertex_ids[e][0]]  # closed: the first node again
                out.write("".join(f'    <nd ref="{ref}"/>\n' for ref in refs))
                _write_tags(out, self._tags(e, noise), indent="    ")
                out.write("  </way>\n")
            if after_ways is not None:
                after_ways(out)
            out.write("</osm>\n")
        return {"osm_nodes_written": len(slots), "osm_ways": len(ways)}


def _write_tags(out: TextIO, tags: list[tuple[str, str]], indent: str = "    ") -> None:
    out.write("".join(f'{indent}<tag k="{_attr(k)}" v="{_attr(v)}"/>\n' for k, v in tags))


def _attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _name_variant(official: str, variant: int) -> str:
    """How OSM names an official name: as is, without municipality, abbreviated, unaccented, none."""
    if variant == 1 and "," in official:
        return official.split(",", 1)[1].strip() or official
    if variant == 2 and _BAHNHOF.search(official):
        return _BAHNHOF.sub("Bhf", official)
    if variant == 3:
        return _strip_accents(official)
    if variant == 4:
        return ""
    return official


def _iso(rng: np.random.Generator, first: date, last: date, size: int) -> list[str]:
    offsets = rng.integers(0, (last - first).days + 1, size)
    return [(first + timedelta(days=int(day))).isoformat() for day in offsets]


def _write_atlas(gen: _Generator, path: Path,
                 missing: NDArray[np.bool_]) -> tuple[dict[str, int], list[tuple[str, int]]]:
    """The export: every platform, duplicates and the planted rows the filters drop, shuffled.
    Returns the planted counts and the duplicates as (sloid, original platform)."""
    rng, rates, stops, plats = gen.rng, gen.rates, gen.stops, gen.platforms
    size = len(plats.stop)
    rows: list[AtlasRow] = []
    valid_from = _iso(rng, date(1993, 1, 1), date(2025, 12, 14), size)
    created = _iso(rng, date(2019, 1, 1), date(2025, 12, 1), size)
    heights = rng.uniform(195.0, 2500.0, len(stops.numbers))
    for i in range(size):
        s = int(plats.stop[i])
        rail = stops.mode[s] in (RAIL, AERIAL)
        rows.append(AtlasRow(
            sloid=plats.sloids[i], number=stops.numbers[s], designation=plats.designations[i], name=stops.names[s],
            lat=float(plats.lat[i]), lon=float(plats.lon[i]), operator=stops.operator[s], valid_from=valid_from[i],
            parent_sloid=plats.parents[i], designation_operational=plats.designations[i] or f"{plats.k[i] + 1:02d}",
            length=f"{200.0 + 15 * plats.k[i]:.3f}" if rail else "", boarding_height="55.0" if rail else "",
            height=f"{heights[s]:.1f}", created=f"{created[i]} 09:00:00", edited="2024-04-08 09:47:16",
        ))
    # Duplicates: a second SLOID for the same number + designation, at almost the same place.
    candidates = np.flatnonzero(~missing & np.array([bool(d) for d in plats.designations], dtype=bool))
    n_dup = min(len(candidates), max(2, round(size * rates.duplicate_share)))
    duplicates: list[tuple[str, int]] = []
    for number, i in enumerate(np.sort(rng.choice(candidates, n_dup, replace=False)).tolist()):
        original = rows[i]
        lat, lon = _shift(original.lat, original.lon, rng.normal(0.0, 1.5), rng.normal(0.0, 1.5))
        sloid = f"ch:1:sloid:{int(original.number[2:])}:0:{950_000 + number}"
        rows.append(replace(original, sloid=sloid, lat=float(lat), lon=float(lon), parent_sloid=""))
        duplicates.append((sloid, i))
    planted = _planted_rows(gen, rows, size)
    if len({row.sloid for row in rows}) != len(rows):
        raise RuntimeError("generator bug: two ATLAS rows share a SLOID")
    order = rng.permutation(len(rows))
    east, north = wgs84_to_lv95(np.array([r.lat for r in rows]), np.array([r.lon for r in rows]))
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = open_atlas_writer(handle)
        for index in order.tolist():
            write_atlas_row(writer, rows[index], float(east[index]), float(north[index]))
    return planted, duplicates


def _planted_rows(gen: _Generator, rows: list[AtlasRow], size: int) -> dict[str, int]:
    """Append the rows the baseline funnel removes: expired, BOARDING_AREA and non-85."""
    rng, rates, stops = gen.rng, gen.rates, gen.stops
    n_stops = len(stops.numbers)
    n_expired = max(3, round(size * rates.expired_share))
    for number, s in enumerate(rng.integers(0, n_stops, n_expired).tolist()):
        lat, lon = _shift(float(stops.lat[s]), float(stops.lon[s]), rng.normal(0.0, 20.0), rng.normal(0.0, 20.0))
        valid_to = _iso(rng, _EXPIRED_FIRST, _EXPIRED_LAST, 1)[0]
        rows.append(AtlasRow(
            sloid=f"ch:1:sloid:{int(stops.numbers[s][2:])}:0:{970_000 + number}", number=stops.numbers[s],
            designation="", name=stops.names[s], lat=float(lat), lon=float(lon), operator=stops.operator[s],
            valid_from="2010-12-12", valid_to=valid_to, height="500.0", created="2019-01-01 09:00:00",
            edited="2024-04-08 09:47:16"))
    n_areas = min(n_stops, max(3, round(size * rates.boarding_area_share)))
    for s in np.sort(rng.choice(n_stops, n_areas, replace=False)).tolist():
        rows.append(AtlasRow(
            sloid=f"ch:1:sloid:{int(stops.numbers[s][2:])}:1", number=stops.numbers[s], designation="",
            name=stops.names[s], lat=float(stops.lat[s]), lon=float(stops.lon[s]), operator=stops.operator[s],
            valid_from="2021-12-12", element_type="BOARDING_AREA", height="500.0", created="2021-05-04 11:05:57",
            edited="2024-04-08 09:47:16"))
    foreign = gen.points.foreign
    n_foreign = max(3, round(size * rates.foreign_share))
    for number in range(n_foreign):
        if foreign:
            point = foreign[int(rng.integers(0, len(foreign)))]
            sloid, uic, name, lat, lon = point.sloid, point.number, point.name, point.lat, point.lon
        else:  # a list without foreign points: a German number near a Swiss stop
            s = int(rng.integers(0, n_stops))
            uic, name = f"80{stops.numbers[s][2:]}", stops.names[s]
            sloid, lat, lon = f"ch:1:sloid:{int(uic)}", float(stops.lat[s]), float(stops.lon[s])
        rows.append(AtlasRow(
            sloid=f"{sloid}:0:{number + 1}", number=uic, designation="", name=name, lat=lat, lon=lon,
            operator=RAIL_OPERATORS[0], valid_from="2020-12-13", height="400.0", created="2020-09-23 07:15:34",
            edited="2024-04-08 09:47:16"))
    return {"expired": n_expired, "boarding_area": n_areas, "non_85": n_foreign}


def _write_csv(path: Path, header: tuple[str, ...], rows: Iterable[Sequence[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def generate(out_dir: Path, *, seed: int, scale: float = 1.0, hrdf_csv: Path,
             rates: Rates | None = None, line_rates: LineRates | None = None) -> GeneratedInstance:
    """Write ``atlas.csv``, ``osm.xml`` (with route relations), ``gtfs.zip``, ``truth.csv``,
    ``truth_unmatched_atlas.csv``, ``truth_routes.csv`` and ``generation.json`` into ``out_dir``;
    ``scale`` samples that share of the service points."""
    started = time.perf_counter()
    if not (isinstance(scale, int | float) and 0 < scale <= 1.0):
        raise InputError(f"scale must be in (0, 1], got {scale!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gen = _Generator(load_service_points(Path(hrdf_csv)), seed, float(scale), rates or Rates())
    missing, pattern = gen.patterns()
    gen.place_elements(missing, pattern)
    stations = gen.place_stations()
    extras = gen.place_extras(int((~missing).sum()))
    paths = {name: out_dir / name for name in ("atlas.csv", "osm.xml", "gtfs.zip", "truth.csv",
                                               "truth_unmatched_atlas.csv", "truth_routes.csv", "generation.json")}
    # Lines draw from their own stream, so the stops, elements and truth do not depend on them.
    line_rng = np.random.default_rng([seed, 0x11E5])
    line_rates = line_rates or LineRates()
    network = build_network(gen.stops, gen.platforms, line_rng, float(scale), line_rates)
    trips = plan_trips(network, line_rng)
    route_plan = plan_relations(network, trips, gen.stops, gen.platforms, gen.elements, line_rng, line_rates)
    osm_counts = gen.write_osm(paths["osm.xml"], after_ways=lambda out: write_relations(
        out, route_plan, gen.osm_ids, _write_tags))
    gtfs_counts = write_gtfs(paths["gtfs.zip"], network, trips, gen.stops, gen.platforms, line_rng, line_rates,
                             float(scale))
    write_route_truth(paths["truth_routes.csv"], network, route_plan, gen.platforms, gen.osm_ids)
    planted, duplicates = _write_atlas(gen, paths["atlas.csv"], missing)

    plats, elements = gen.platforms, gen.elements
    links_of: dict[int, list[tuple[str, str]]] = {}
    for e in range(len(elements)):
        for platform in (elements.platform[e], elements.platform2[e]):
            if platform >= 0:
                links_of.setdefault(platform, []).append((gen.osm_ids[e], elements.category[e]))
    truth = [(plats.sloids[i], osm_id, category) for i, links in links_of.items() for osm_id, category in links]
    truth += [(sloid, osm_id, "duplicate") for sloid, i in duplicates for osm_id, _category in links_of[i]]
    truth.sort()
    _write_csv(paths["truth.csv"], ("sloid", "osm_id", "category"), truth)
    unmatched = sorted((plats.sloids[i], "missing") for i in np.flatnonzero(missing).tolist())
    _write_csv(paths["truth_unmatched_atlas.csv"], ("sloid", "category"), unmatched)

    per_category = {name: 0 for name in CATEGORIES}
    for i in np.flatnonzero(~missing).tolist():
        per_category[PATTERN_NAMES[int(pattern[i])]] += 1
    per_category["duplicate"] = len(duplicates)
    per_category["missing"] = len(unmatched)
    kinds = {"platform": elements.kind.count(KIND_PLATFORM), "stop_position": elements.kind.count(KIND_STOP_POSITION),
             "station": stations}
    counts: dict[str, Any] = {
        "service_points": len(gen.stops.numbers),
        "atlas_platforms": len(plats.stop) + len(duplicates),
        "atlas_rows": len(plats.stop) + len(duplicates) + sum(planted.values()),
        "planted_filtered": planted,
        "osm_elements": len(elements),
        "osm_per_kind": kinds,
        "osm_extras": extras,
        **osm_counts,
        "truth_links": len(truth),
        "platforms_per_category": per_category,
        "lines": network_counts(network),
        "osm_routes": route_plan.counts,
        "gtfs": gtfs_counts,
    }
    duration = round(time.perf_counter() - started, 2)
    paths["generation.json"].write_text(json.dumps(
        {"seed": seed, "scale": scale, "hrdf_csv": str(hrdf_csv), "counts": counts, "duration_s": duration},
        indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return GeneratedInstance(
        out_dir=out_dir, atlas_csv=paths["atlas.csv"], osm_xml=paths["osm.xml"], truth_csv=paths["truth.csv"],
        truth_unmatched_csv=paths["truth_unmatched_atlas.csv"], summary_json=paths["generation.json"], seed=seed,
        scale=float(scale), counts=counts, duration_s=duration, gtfs_zip=paths["gtfs.zip"],
        truth_routes_csv=paths["truth_routes.csv"],
    )
