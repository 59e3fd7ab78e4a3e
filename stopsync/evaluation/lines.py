"""Public-transport lines over a generated instance: the line network, its GTFS feed and the
OSM route relations that map most of it.

Routes are evidence, not truth: ``truth.csv`` does not depend on them. What the lines are and
which relation members were planted as noise is written to ``truth_routes.csv``.

The model (all distances at national scale; a sampled instance stretches them by
``1/sqrt(scale)`` so that its sparser stops still form lines):

- **Network.** Bus lines are chains of 8-30 bus stops grown greedily through the nearest
  neighbours (a KD-tree query for all stops at once, then a cheap walk): a hop prefers ~420 m
  (150-3,000 m allowed), keeps going roughly forward and avoids stops that already have lines.
  A first pass seeds a line at every stop without one; a second adds trunk lines through dense
  areas, so most stops have 1-3 lines, hubs up to 4 and isolated rural stops none (3 % of stops
  have no service at all). Tram lines run over the tram stops of the tram cities (~450 m hops),
  rail lines over rail places (~4 km hops; a second pass adds express lines with ~10 km hops).
- **Directions.** Direction 0 runs along the chain, direction 1 back. At a road stop with
  platforms on both sides the vehicle stops on its right: the side whose ``perp`` (the
  platform's offset across the road) is positive when travelling along the stop's bearing,
  negative against it; so both lines passing in the same direction use the same side, and the
  two directions of a line use opposite sides. A hub with several platforms per side gives a
  line one of them, fixed per line. Single-platform stops serve both directions. At a station
  a line direction uses one platform, random but fixed per line and direction.
- **GTFS** (``gtfs.zip``): Swiss styles, ``8503000:0:7`` platforms under ``Parent8503000``
  (placeholders ``10000``, ``10001`` … where ATLAS has no platform code, and for 3 % of stops
  even where it has one), bare UIC numbers for 70 % of single-platform bus stops,
  ``original_stop_id`` = SLOID on 55 % of service points (2 % of those stale), coordinates equal
  to ATLAS on half of the stops, else a few metres off. Route ids ``<branch>-<ref>[-<letter>]-j25-1``,
  extended route types (700 bus, 900 tram, 103/106/109 rail), a main pattern per direction
  (2-6 trips) and a short-turn pattern on a quarter of the lines; trip ids
  ``<n>.TA.<route id>.<pattern>.H|R``.
- **OSM** (PTv2): 65 % of lines have a ``type=route`` relation per direction and a
  ``route_master``; members in stop order, per call the stop_position(s) (role ``stop``) then
  the platform(s) (role ``platform``) mapped for the platform it calls at (a trio's middle node
  or a shared element belongs to both directions; an unmapped platform contributes nothing).
  ``gtfs:route_id`` on 70 % of mapped lines (35 % of those with an older year), the direction
  as ``ref_trips`` or ``gtfs:trip_id:sample`` ending ``.H``/``.R`` on 80 % of those. Noise: 2 %
  of members left out, 1 % of relations with one element of the other direction's platform.
"""

from __future__ import annotations

import contextlib
import csv
import math
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from ..pipeline.geo import EARTH_RADIUS_M
from .atlas_format import POSTAUTO, Operator

if TYPE_CHECKING:
    from .generator import _Elements, _Platforms, _Stops

# Mode codes as in the generator (kept equal; the generator imports this module lazily).
BUS, TRAM, RAIL = 0, 1, 2
KIND_PLATFORM, KIND_STOP_POSITION = 0, 1
METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180.0
_REFERENCE_LAT = 46.8  # flat metric coordinates for the KD-tree, exact enough for hop lengths

TIMETABLE_YEAR = "j25"
OLDER_YEARS = ("j22", "j23", "j24")
CALENDAR = (("TA+b0001", "1,1,1,1,1,1,1"), ("TA+b0002", "1,1,1,1,1,0,0"), ("TA+b0003", "0,0,0,0,0,1,1"))
SERVICE_START, SERVICE_END = "20241215", "20251213"
_ZIP_TIME = (2024, 12, 1, 0, 0, 0)
_BATCH_CHARS = 1 << 21

# Tram cities: (name, lat, lon, radius km, operator abbreviation, agency id, agency name).
TRAM_CITIES = (
    ("Zürich", 47.378, 8.540, 6.0, "VBZ", "849", "Verkehrsbetriebe Zürich"),
    ("Basel", 47.557, 7.593, 5.0, "BVB", "823", "Basler Verkehrsbetriebe"),
    ("Genève", 46.204, 6.143, 6.0, "TPG", "881", "Transports Publics Genevois"),
    ("Bern", 46.948, 7.440, 4.5, "BERNMOBIL", "827", "Städtische Verkehrsbetriebe Bern"),
)
CITY_BUS_OPERATORS = frozenset({"TPG", "TL", "VMCV", "BVB", "VBZ", "VBL"})
# Fare networks (network=*) by area: (name, lat, lon, radius km); the nearest one within its radius.
NETWORKS = (("ZVV", 47.40, 8.60, 30.0), ("TNW", 47.50, 7.65, 25.0), ("Libero", 46.95, 7.45, 35.0),
            ("unireso", 46.20, 6.15, 20.0), ("Mobilis", 46.55, 6.65, 35.0), ("Passepartout", 47.05, 8.30, 30.0),
            ("Ostwind", 47.40, 9.30, 45.0), ("A-Welle", 47.40, 8.10, 20.0), ("Arcobaleno", 46.10, 8.90, 40.0),
            ("frimobil", 46.75, 7.10, 25.0), ("Onde Verte", 47.00, 6.90, 25.0))


@dataclass(frozen=True)
class LineRates:
    """The knobs of the line network, GTFS feed and OSM relations."""

    no_service: float = 0.03  # stops no line serves (besides isolated ones)
    mapped_lines: float = 0.65  # lines with OSM route relations
    gtfs_route_id: float = 0.70  # of mapped lines: relations carry gtfs:route_id
    older_year: float = 0.35  # of those: the id of an older timetable year
    direction_tag: float = 0.80  # of those: ref_trips or gtfs:trip_id:sample
    member_missing: float = 0.02
    opposite_member: float = 0.01  # of relations
    original_stop_id: float = 0.55  # of service points in the GTFS feed
    stale_original: float = 0.02  # of those
    bare_bus_id: float = 0.70  # of single-platform bus stops
    placeholder_code: float = 0.03  # of stops whose platforms have codes
    exact_coordinates: float = 0.50  # of service points
    short_turn: float = 0.25  # of lines


@dataclass(frozen=True)
class _ModeParams:
    pref_m: float
    min_hop_m: float
    max_hop_m: float
    lengths: tuple[int, int]
    min_length: int
    extra_share: float  # second-pass lines per first-pass line
    extra_pref_factor: float
    max_usage: int
    neighbours: int


BUS_PARAMS = _ModeParams(420.0, 150.0, 3000.0, (8, 30), 5, 0.30, 1.0, 4, 12)
TRAM_PARAMS = _ModeParams(450.0, 150.0, 1500.0, (8, 20), 4, 0.8, 1.0, 4, 10)
RAIL_PARAMS = _ModeParams(4000.0, 700.0, 15000.0, (4, 18), 3, 0.5, 2.5, 4, 12)
SPEED_KMH = {BUS: 18.0, TRAM: 14.0, RAIL: 45.0}
MODE_ROUTE = {BUS: "bus", TRAM: "tram", RAIL: "train"}
MODE_LABEL = {BUS: "Bus", TRAM: "Tram", RAIL: "Train"}


@dataclass(frozen=True)
class Line:
    mode: int
    ref: str
    route_id: str  # the current timetable year's GTFS route id
    route_type: int
    route_desc: str
    agency_id: str
    operator: str  # as OSM writes it
    network: str
    stops: tuple[int, ...]  # service points in direction-0 order
    calls: tuple[tuple[int, ...], tuple[int, ...]]  # platform per call, per direction, in travel order
    short_turn: tuple[int, int] | None  # calls dropped at the (start, end) of direction 0's short pattern


@dataclass
class LineNetwork:
    lines: list[Line]
    agencies: dict[str, str]  # agency id -> name
    served: NDArray[np.int64]  # lines per service point


# --- network --------------------------------------------------------------------------------


def _xy(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.column_stack((lon * METRES_PER_DEGREE * math.cos(math.radians(_REFERENCE_LAT)),
                            lat * METRES_PER_DEGREE))


def _chains(xy: NDArray[np.float64], rng: np.random.Generator, params: _ModeParams,
            stretch: float) -> tuple[list[list[int]], int]:
    """Lines as lists of row indices of ``xy``: greedy walks through the nearest neighbours;
    and how many of them the first pass made (the rest are trunk or express lines)."""
    n = len(xy)
    if n < params.min_length:
        return [], 0
    tree = cKDTree(xy)
    k = min(params.neighbours + 1, n)
    dist, idx = tree.query(xy, k=k, distance_upper_bound=params.max_hop_m * stretch)
    dist, idx = dist[:, 1:], idx[:, 1:]  # the first is the point itself
    valid = np.isfinite(dist) & (dist >= params.min_hop_m * stretch)
    safe = np.where(valid, idx, 0)
    dx, dy = xy[safe, 0] - xy[:, None, 0], xy[safe, 1] - xy[:, None, 1]
    log_d = np.log(np.where(valid, dist, 1.0))
    # Per point its usable neighbours as (index, distance, east, north, log distance), nearest first.
    neighbours = [[t for t, ok in zip(zip(*row, strict=True), mask, strict=True) if ok] for row, mask in zip(
        zip(idx.tolist(), dist.tolist(), dx.tolist(), dy.tolist(), log_d.tolist(), strict=True),
        valid.tolist(), strict=True)]
    usage = [0] * n

    def grow(seed: int, target: int, pref: float, usage_weight: float) -> list[int]:
        log_pref = math.log(pref)
        chain, members = [seed], {seed}
        for forward in (True, False):
            hx = hy = hn = 0.0
            if len(chain) > 1:  # keep heading away from the other end
                a, b = (chain[-2], chain[-1]) if forward else (chain[1], chain[0])
                hx, hy = float(xy[b, 0] - xy[a, 0]), float(xy[b, 1] - xy[a, 1])
                hn = math.hypot(hx, hy)
            while len(chain) < target:
                current = chain[-1] if forward else chain[0]
                best, best_cost, step = -1, math.inf, (0.0, 0.0, 0.0)
                for j, d, ex, ny, ld in neighbours[current]:
                    if j in members or usage[j] >= params.max_usage:
                        continue
                    cost = abs(ld - log_pref) + usage_weight * usage[j]
                    if hn > 0:
                        cos = (ex * hx + ny * hy) / (d * hn)
                        if cos < -0.2:
                            continue  # no turning back
                        cost += 1.2 * (1.0 - cos)
                    if cost < best_cost:
                        best, best_cost, step = j, cost, (ex, ny, d)
                if best < 0:
                    break
                members.add(best)
                hx, hy, hn = step
                if forward:
                    chain.append(best)
                else:
                    chain.insert(0, best)
        return chain

    low, high = params.lengths
    targets = rng.integers(low, high + 1, n).tolist()
    lines: list[list[int]] = []
    for seed in rng.permutation(n).tolist():
        if usage[seed] == 0:
            chain = grow(seed, targets[seed], params.pref_m * stretch, 3.0)
            if len(chain) >= params.min_length:
                lines.append(chain)
                for s in chain:
                    usage[s] += 1
    first_pass = len(lines)
    # Trunk / express lines: seeded where stops are dense, sharing stops with the first pass.
    density = np.isfinite(dist).sum(axis=1).astype(np.float64) ** 2 + 1e-9
    extra = round(len(lines) * params.extra_share)
    seeds = rng.choice(n, size=extra, p=density / density.sum()).tolist() if extra else []
    extra_targets = rng.integers(low, high + 1, max(extra, 1)).tolist()
    for number, seed in enumerate(seeds):
        if usage[seed] >= params.max_usage:
            continue
        chain = grow(seed, extra_targets[number], params.pref_m * params.extra_pref_factor * stretch, 0.4)
        if len(chain) >= params.min_length:
            lines.append(chain)
            for s in chain:
                usage[s] += 1
    return lines, first_pass


def _tram_city(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.int64]:
    """Index into TRAM_CITIES of the city a point lies in, else -1."""
    city = np.full(len(lat), -1, dtype=np.int64)
    for number, (_name, c_lat, c_lon, radius_km, *_rest) in enumerate(TRAM_CITIES):
        north = (lat - c_lat) * METRES_PER_DEGREE
        east = (lon - c_lon) * METRES_PER_DEGREE * math.cos(math.radians(c_lat))
        city[(np.hypot(east, north) < radius_km * 1000.0) & (city < 0)] = number
    return city


def in_tram_city(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.bool_]:
    return _tram_city(lat, lon) >= 0


def _network_name(lat: float, lon: float) -> str:
    best, best_distance = "", math.inf
    for name, c_lat, c_lon, radius_km in NETWORKS:
        distance = math.hypot((lat - c_lat) * METRES_PER_DEGREE,
                              (lon - c_lon) * METRES_PER_DEGREE * math.cos(math.radians(c_lat)))
        if distance < radius_km * 1000.0 and distance < best_distance:
            best, best_distance = name, distance
    return best


def _agency_id(operator: Operator) -> str:
    return operator.number.split(".")[0]


class _Refs:
    """Line refs per operator: city companies count from 1, others use three-digit numbers."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: dict[str, set[str]] = {}
        self.next: Counter[str] = Counter()

    def take(self, owner: str, style: str) -> str:
        used = self.used.setdefault(owner, set())
        while True:
            if style == "city":
                self.next[owner] += 1
                ref = str(self.next[owner])
            elif style == "regional":
                ref = str(int(self.rng.integers(100, 1000)) if len(used) < 800 else int(self.rng.integers(1000, 10000)))
            else:  # rail: owner is the family, e.g. "S"
                self.next[owner] += 1
                ref = f"{owner}{self.next[owner]}" if owner in ("S", "R") else f"{owner} {self.next[owner]}"
            if ref not in used:
                used.add(ref)
                return ref


def _side_lists(plats: _Platforms, n_stops: int) -> tuple[list[list[int]], list[list[int]], list[int]]:
    """Per stop: its platforms on the positive and the negative side of the road, and all of them."""
    positive: list[list[int]] = [[] for _ in range(n_stops)]
    negative: list[list[int]] = [[] for _ in range(n_stops)]
    first = [0] * n_stops
    stop, perp = plats.stop.tolist(), plats.perp.tolist()
    for i in range(len(stop) - 1, -1, -1):
        s = stop[i]
        first[s] = i
        (positive if perp[i] > 0 else negative)[s].insert(0, i)
    return positive, negative, first


def build_network(stops: _Stops, plats: _Platforms, rng: np.random.Generator, scale: float,
                  rates: LineRates) -> LineNetwork:
    n = len(stops.numbers)
    stretch = 1.0 / math.sqrt(scale)
    xy = _xy(stops.lat, stops.lon)
    active = rng.random(n) >= rates.no_service
    city = _tram_city(stops.lat, stops.lon)
    positive, negative, first = _side_lists(plats, n)
    count = stops.count.tolist()
    east, north = xy[:, 0].tolist(), xy[:, 1].tolist()
    sin_bearing, cos_bearing = np.sin(stops.bearing).tolist(), np.cos(stops.bearing).tolist()
    refs = _Refs(rng)
    route_ids: set[str] = set()
    agencies: dict[str, str] = {}
    lines: list[Line] = []
    served = [0] * n

    def route_id(agency: str, ref: str) -> str:
        branch = int(agency) % 97 + 1 if agency.isdigit() else 1
        letter = "" if rng.random() < 0.5 else "-" + "ABCDY"[int(rng.integers(0, 5))]
        base = f"{branch}-{ref.replace(' ', '')}{letter}-{TIMETABLE_YEAR}"
        version = 1
        while f"{base}-{version}" in route_ids:
            version += 1
        route_ids.add(f"{base}-{version}")
        return f"{base}-{version}"

    def add(mode: int, chain: list[int], ref: str, agency: str, agency_name: str, operator: str,
            route_type: int, desc: str) -> None:
        index, last = len(lines), len(chain) - 1
        rail_pick = rng.integers(0, 1 << 30, (2, len(chain))).tolist()
        calls: list[list[int]] = [[], []]
        for position, s in enumerate(chain):
            # Travelling along the stop's bearing the vehicle stops on its right: the +perp side.
            ahead, behind = chain[min(position + 1, last)], chain[max(position - 1, 0)]
            along = ((east[ahead] - east[behind]) * sin_bearing[s] + (north[ahead] - north[behind]) * cos_bearing[s])
            right_positive = along >= 0
            if count[s] == 1:
                calls[0].append(first[s])
                calls[1].append(first[s])
            elif mode == RAIL:
                calls[0].append(first[s] + rail_pick[0][position] % count[s])
                calls[1].append(first[s] + rail_pick[1][position] % count[s])
            else:
                for direction in (0, 1):
                    use_positive = right_positive == (direction == 0)
                    side = positive[s] if use_positive else negative[s]
                    calls[direction].append(side[(index + s) % len(side)])
        middle = chain[len(chain) // 2]
        short: tuple[int, int] | None = None
        if len(chain) >= 8 and rng.random() < rates.short_turn:
            cut = int(rng.integers(1, 3))
            short = (cut, 0) if rng.random() < 0.5 else (0, cut)
        agencies[agency] = agency_name
        lines.append(Line(
            mode=mode, ref=ref, route_id=route_id(agency, ref), route_type=route_type, route_desc=desc,
            agency_id=agency, operator=operator,
            network=_network_name(float(stops.lat[middle]), float(stops.lon[middle])),
            stops=tuple(chain), calls=(tuple(calls[0]), tuple(calls[1][::-1])), short_turn=short))
        for s in chain:
            served[s] += 1

    # Trams, city by city.
    for number, (_name, *_centre, abbreviation, agency, agency_name) in enumerate(TRAM_CITIES):
        members = np.flatnonzero(active & (stops.mode == TRAM) & (city == number))
        for chain in _chains(xy[members], rng, TRAM_PARAMS, stretch)[0]:
            ref = refs.take(abbreviation, "city")
            add(TRAM, members[chain].tolist(), ref, agency, agency_name, abbreviation, 900, "Tram")
    # Buses.
    members = np.flatnonzero(active & (stops.mode == BUS))
    for chain in _chains(xy[members], rng, BUS_PARAMS, stretch)[0]:
        stops_of = members[chain].tolist()
        operator = stops.operator[stops_of[len(stops_of) // 2]]
        style = "city" if operator.abbreviation in CITY_BUS_OPERATORS else "regional"
        ref = refs.take(operator.abbreviation, style)
        add(BUS, stops_of, ref, _agency_id(operator), operator.descriptions[0],
            operator.osm_alias if operator is POSTAUTO else operator.abbreviation, 700, "Bus")
    # Rail: regional lines first, then the express lines of the second pass (longer hops).
    members = np.flatnonzero(active & (stops.mode == RAIL))
    rail_chains, first_pass = _chains(xy[members], rng, RAIL_PARAMS, stretch)
    for number, chain in enumerate(rail_chains):
        stops_of = members[chain].tolist()
        operator = stops.operator[stops_of[len(stops_of) // 2]]
        if number >= first_pass:
            family, route_type, desc = ("IR", 103, "InterRegio") if rng.random() < 0.5 else ("RE", 106, "RegioExpress")
        elif rng.random() < 0.7:
            family, route_type, desc = "S", 109, "S-Bahn"
        else:
            family, route_type, desc = "R", 106, "Regio"
        ref = refs.take(family, "rail")
        add(RAIL, stops_of, ref, _agency_id(operator), operator.descriptions[0], operator.abbreviation,
            route_type, desc)
    return LineNetwork(lines=lines, agencies=dict(sorted(agencies.items())), served=np.asarray(served, dtype=np.int64))


# --- patterns and timing --------------------------------------------------------------------


def _patterns(line: Line, direction: int) -> list[tuple[int, ...]]:
    """The calls (platform indices) of a direction's patterns: the full one first."""
    calls = line.calls[direction]
    patterns = [calls]
    if line.short_turn is not None:
        start, end = line.short_turn if direction == 0 else line.short_turn[::-1]
        patterns.append(calls[start:len(calls) - end])
    return patterns


def _minutes(plats: _Platforms, calls: tuple[int, ...], mode: int, stretch: float) -> list[int]:
    """Minutes after departure at each call: hop length (at national scale) over the mode's speed."""
    index = np.asarray(calls)
    xy = _xy(plats.lat[index], plats.lon[index])
    hops = np.hypot(*np.diff(xy, axis=0).T) / stretch
    minutes = np.maximum(1, np.rint(hops / (SPEED_KMH[mode] * 1000.0 / 60.0) + 0.5)).astype(np.int64)
    return [0, *np.cumsum(minutes).tolist()]


class _Clocks(dict[int, str]):
    """``HH:MM:SS`` per minute after midnight (past 24:00 as GTFS writes it), made on demand."""

    def __missing__(self, minute: int) -> str:
        text = self[minute] = f"{minute // 60:02d}:{minute % 60:02d}:00"
        return text


def _trip_id(number: int, route_id: str, pattern: int, direction: int) -> str:
    return f"{number}.TA.{route_id}.{pattern}.{'HR'[direction]}"


# --- GTFS -----------------------------------------------------------------------------------




@dataclass(frozen=True)
class _Pattern:
    line: int
    direction: int
    number: int  # the pattern part of the trip ids
    calls: tuple[int, ...]
    trips: tuple[tuple[int, int, str], ...]  # (trip number, first departure minute, service id)


def plan_trips(network: LineNetwork, rng: np.random.Generator) -> list[_Pattern]:
    """A few trips per pattern, numbered per route like the real feed (``<n>.TA.<route>.<p>.H``)."""
    plan: list[_Pattern] = []
    for index, line in enumerate(network.lines):
        number = 0
        trip_number = 0
        start = 300 + int(rng.integers(0, 60))
        headway = 30 if line.mode != BUS or rng.random() < 0.5 else 60
        for direction in (0, 1):
            for variant, calls in enumerate(_patterns(line, direction)):
                number += 1
                count = int(rng.integers(2, 7)) if variant == 0 else int(rng.integers(1, 3))
                trips = []
                for k in range(count):
                    trip_number += 1
                    service = CALENDAR[0][0] if rng.random() < 0.7 else CALENDAR[1 + int(rng.integers(0, 2))][0]
                    trips.append((trip_number, start + headway * (2 * k + variant) + 7 * direction, service))
                plan.append(_Pattern(index, direction, number, calls, tuple(trips)))
    return plan


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


@dataclass
class _ZipMember:
    """A CSV member written into the ZIP as a stream, every field quoted as in the real feed;
    fixed timestamps keep the archive byte-identical per seed."""

    archive: zipfile.ZipFile
    name: str
    header: tuple[str, ...]
    rows: int = 0
    _raw: IO[bytes] | None = None
    _parts: list[str] = field(default_factory=list)
    _size: int = 0

    def __enter__(self) -> _ZipMember:
        info = zipfile.ZipInfo(self.name, date_time=_ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        for attribute in ("compress_level", "_compresslevel"):  # Python 3.13 renamed it
            with contextlib.suppress(AttributeError):
                setattr(info, attribute, 1)
        self._raw = self.archive.open(info, "w")
        self.write(list(self.header))
        self.rows = 0
        return self

    def write(self, row: list[str]) -> None:
        self.write_text(",".join(_quoted(value) for value in row) + "\n", 1)

    def write_text(self, text: str, rows: int) -> None:
        self._parts.append(text)
        self._size += len(text)
        self.rows += rows
        if self._size > _BATCH_CHARS:
            self._flush()

    def _flush(self) -> None:
        assert self._raw is not None
        self._raw.write("".join(self._parts).encode("utf-8"))
        self._parts.clear()
        self._size = 0

    def __exit__(self, *exc: object) -> None:
        self._flush()
        assert self._raw is not None
        self._raw.close()


def _stale_sloid(sloid: str) -> str:
    head, _sep, tail = sloid.rpartition(":")
    return f"{head}:{int(tail) + 50}" if tail.isdigit() else f"{sloid}:1"


def _gtfs_stops(network: LineNetwork, stops: _Stops, plats: _Platforms, rng: np.random.Generator,
                rates: LineRates) -> Iterator[tuple[int, list[str]]]:
    """Rows of stops.txt for every served service point: (platform index or -1, row)."""
    n, size = len(stops.numbers), len(plats.stop)
    u_bare, u_original, u_placeholder, u_exact = (rng.random(n) for _ in range(4))
    stale = rng.random(size) < rates.stale_original
    east, north = rng.normal(0.0, 3.0, size), rng.normal(0.0, 3.0, size)
    lat_off = plats.lat + north / METRES_PER_DEGREE
    lon_off = plats.lon + east / (METRES_PER_DEGREE * np.cos(np.radians(plats.lat)))
    starts = (np.cumsum(stops.count) - stops.count).tolist()
    for s in np.flatnonzero(network.served > 0).tolist():
        uic, name, count = stops.numbers[s], stops.names[s], int(stops.count[s])
        bare = count == 1 and stops.mode[s] != RAIL and u_bare[s] < rates.bare_bus_id
        parent = "" if bare else f"Parent{uic}"
        if parent:
            yield -1, [parent, name, f"{stops.lat[s]:.7f}", f"{stops.lon[s]:.7f}", "1", "", ""]
        placeholder = u_placeholder[s] < rates.placeholder_code
        exact = u_exact[s] < rates.exact_coordinates
        for k in range(count):
            p = starts[s] + k
            designation = plats.designations[p]
            code = designation if designation and not placeholder else str(10000 + k)
            original = ""
            if u_original[s] < rates.original_stop_id:
                original = _stale_sloid(plats.sloids[p]) if stale[p] else plats.sloids[p]
            lat, lon = (plats.lat[p], plats.lon[p]) if exact else (lat_off[p], lon_off[p])
            yield p, [uic if bare else f"{uic}:0:{code}", name, f"{lat:.7f}", f"{lon:.7f}", "", parent, original]


def write_gtfs(path: Path, network: LineNetwork, trips: list[_Pattern], stops: _Stops, plats: _Platforms,
               rng: np.random.Generator, rates: LineRates, scale: float) -> dict[str, int]:
    """``gtfs.zip``: agency, stops, routes, trips, stop_times and calendar, each a streamed member."""
    stretch = 1.0 / math.sqrt(scale)
    stop_id: dict[int, str] = {}
    counts: dict[str, int] = {}
    clocks = _Clocks()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with _ZipMember(archive, "agency.txt", ("agency_id", "agency_name", "agency_url", "agency_timezone",
                                                "agency_lang", "agency_phone")) as member:
            for agency, name in network.agencies.items():
                member.write([agency, name, "http://www.sbb.ch/", "Europe/Berlin", "DE", "0848 44 66 88"])
            counts["agencies"] = member.rows
        with _ZipMember(archive, "stops.txt", ("stop_id", "stop_name", "stop_lat", "stop_lon", "location_type",
                                               "parent_station", "original_stop_id")) as member:
            for platform, row in _gtfs_stops(network, stops, plats, rng, rates):
                if platform >= 0:
                    stop_id[platform] = row[0]
                member.write(row)
            counts["stops"] = member.rows
        with _ZipMember(archive, "routes.txt", ("route_id", "agency_id", "route_short_name", "route_long_name",
                                                "route_desc", "route_type")) as member:
            for line in network.lines:
                member.write([line.route_id, line.agency_id, line.ref, "", line.route_desc, str(line.route_type)])
            counts["routes"] = member.rows
        with _ZipMember(archive, "trips.txt", ("route_id", "service_id", "trip_id", "trip_headsign",
                                               "trip_short_name", "direction_id")) as member:
            for pattern in trips:
                line = network.lines[pattern.line]
                headsign = stops.names[int(plats.stop[pattern.calls[-1]])]
                for number, _start, service in pattern.trips:
                    member.write([line.route_id, service, _trip_id(number, line.route_id, pattern.number,
                                                                   pattern.direction),
                                  headsign, str(number), str(pattern.direction)])
            counts["trips"] = member.rows
        with _ZipMember(archive, "stop_times.txt", ("trip_id", "arrival_time", "departure_time", "stop_id",
                                                    "stop_sequence", "pickup_type", "drop_off_type")) as member:
            for pattern in trips:
                line = network.lines[pattern.line]
                minutes = _minutes(plats, pattern.calls, line.mode, stretch)
                last = len(pattern.calls) - 1
                tails = [f'","{stop_id[p]}","{sequence + 1}","{int(sequence == last)}","{int(sequence == 0)}"\n'
                         for sequence, p in enumerate(pattern.calls)]
                for number, start, _service in pattern.trips:
                    trip = '"' + _trip_id(number, line.route_id, pattern.number, pattern.direction) + '","'
                    member.write_text("".join(
                        trip + clocks[start + offset] + '","' + clocks[start + offset] + tail
                        for offset, tail in zip(minutes, tails, strict=True)), len(tails))
            counts["stop_times"] = member.rows
        with _ZipMember(archive, "calendar.txt", ("service_id", "monday", "tuesday", "wednesday", "thursday",
                                                  "friday", "saturday", "sunday", "start_date",
                                                  "end_date")) as member:
            for service, days in CALENDAR:
                member.write([service, *days.split(","), SERVICE_START, SERVICE_END])
    counts["patterns"] = len(trips)
    return counts


# --- OSM route relations --------------------------------------------------------------------


@dataclass
class _Relation:
    relation_id: int
    tags: list[tuple[str, str]]
    members: list[tuple[str, int, str]] = field(default_factory=list)  # ("element"|"relation", index, role)


@dataclass
class _CallTruth:
    line: int
    direction: int
    relation: int  # index into RoutePlan.relations, -1 when the line is not mapped
    platform: int
    elements: list[int]  # what a correct relation holds for the call
    noise: list[tuple[str, int]]  # ("dropped" | "opposite", element)


@dataclass
class RoutePlan:
    relations: list[_Relation]
    calls: list[_CallTruth]
    counts: dict[str, int]


def _platform_elements(elements: _Elements, size: int) -> list[list[int]]:
    """Per ATLAS platform the OSM elements standing for it: stop_positions first, then platforms."""
    result: list[list[int]] = [[] for _ in range(size)]
    for e in range(len(elements)):
        if elements.extra[e] or elements.kind[e] not in (KIND_PLATFORM, KIND_STOP_POSITION):
            continue
        for platform in (elements.platform[e], elements.platform2[e]):
            if platform >= 0:
                result[platform].append(e)
    for found in result:
        found.sort(key=lambda e: (elements.kind[e] != KIND_STOP_POSITION, e))
    return result


def plan_relations(network: LineNetwork, trips: list[_Pattern], stops: _Stops, plats: _Platforms,
                   elements: _Elements, rng: np.random.Generator, rates: LineRates) -> RoutePlan:
    by_platform = _platform_elements(elements, len(plats.stop))
    kind = elements.kind
    sample_trips: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for pattern in trips:
        sample_trips.setdefault((pattern.line, pattern.direction), []).extend(
            (number, pattern.number) for number, _start, _service in pattern.trips)
    relations: list[_Relation] = []
    calls: list[_CallTruth] = []
    counts: Counter[str] = Counter({key: 0 for key in (
        "mapped_lines", "route_masters", "relations_with_gtfs_route_id", "relations_with_direction",
        "members_dropped", "members_opposite")})
    for index, line in enumerate(network.lines):
        u = rng.random(6)
        mapped = u[0] < rates.mapped_lines
        tagged_id = ""
        if mapped and u[1] < rates.gtfs_route_id:
            tagged_id = line.route_id
            if u[2] < rates.older_year:
                tagged_id = tagged_id.replace(f"-{TIMETABLE_YEAR}-", f"-{OLDER_YEARS[int(u[3] * 3)]}-")
        with_direction = bool(tagged_id) and u[4] < rates.direction_tag
        direction_key = "ref_trips" if u[5] < 0.6 else "gtfs:trip_id:sample"
        route_indices = []
        for direction in (0, 1):
            relation = -1
            if mapped:
                relation = len(relations)
                route_indices.append(relation)
                first, last = line.calls[direction][0], line.calls[direction][-1]
                origin, destination = stops.names[int(plats.stop[first])], stops.names[int(plats.stop[last])]
                tags = [("type", "route"), ("route", MODE_ROUTE[line.mode]), ("ref", line.ref),
                        ("name", f"{MODE_LABEL[line.mode]} {line.ref}: {origin} => {destination}"),
                        ("from", origin), ("to", destination), ("operator", line.operator),
                        ("public_transport:version", "2")]
                if line.network:
                    tags.append(("network", line.network))
                if tagged_id:
                    tags.append(("gtfs:route_id", tagged_id))
                    counts["relations_with_gtfs_route_id"] += 1
                if with_direction:
                    samples = sample_trips[(index, direction)]
                    several = int(rng.integers(0, min(3, len(samples)))) if direction_key == "ref_trips" else 0
                    picked = samples[:1 + several]
                    tags.append((direction_key, ";".join(_trip_id(number, tagged_id, pattern, direction)
                                                         for number, pattern in picked)))
                    counts["relations_with_direction"] += 1
                relations.append(_Relation(0, sorted(tags)))
            own = line.calls[direction]
            other = line.calls[1 - direction][::-1]  # the other direction's platform at the same stop
            dropped = rng.random(sum(len(by_platform[p]) for p in own)) < rates.member_missing
            opposite_at = -1
            if mapped and rng.random() < rates.opposite_member:
                candidates = [k for k, (p, q) in enumerate(zip(own, other, strict=True))
                              if p != q and set(by_platform[q]) - set(by_platform[p])]
                if candidates:
                    opposite_at = candidates[int(rng.integers(0, len(candidates)))]
            cursor = 0
            for position, platform in enumerate(own):
                truth = _CallTruth(index, direction, relation, platform, list(by_platform[platform]), [])
                for e in by_platform[platform]:
                    if dropped[cursor] and mapped:
                        truth.noise.append(("dropped", e))
                        counts["members_dropped"] += 1
                    elif mapped:
                        relations[relation].members.append(
                            ("element", e, "stop" if kind[e] == KIND_STOP_POSITION else "platform"))
                    cursor += 1
                if position == opposite_at:
                    wrong = next(e for e in by_platform[other[position]] if e not in by_platform[platform])
                    relations[relation].members.append(
                        ("element", wrong, "stop" if kind[wrong] == KIND_STOP_POSITION else "platform"))
                    truth.noise.append(("opposite", wrong))
                    counts["members_opposite"] += 1
                calls.append(truth)
        if mapped:
            master = [("type", "route_master"), ("route_master", MODE_ROUTE[line.mode]), ("ref", line.ref),
                      ("name", f"{MODE_LABEL[line.mode]} {line.ref}"), ("operator", line.operator)]
            if line.network:
                master.append(("network", line.network))
            relations.append(_Relation(0, sorted(master), [("relation", r, "") for r in route_indices]))
            counts["route_masters"] += 1
            counts["mapped_lines"] += 1
    # Ids say nothing about the lines: increasing ids handed out in a random order.
    ids = 9_000 + np.cumsum(rng.integers(1, 4_000, len(relations)))
    for written, rank in zip(relations, rng.permutation(len(relations)).tolist(), strict=True):
        written.relation_id = int(ids[rank])
    counts["route_relations"] = len(relations) - counts["route_masters"]
    counts["route_members"] = sum(len(r.members) for r in relations
                                  if ("type", "route") in r.tags)
    return RoutePlan(relations, calls, dict(counts))


def write_relations(out: TextIO, plan: RoutePlan, osm_ids: list[str],
                    write_tags: Callable[[TextIO, list[tuple[str, str]]], None]) -> int:
    """The relations after the ways, in ascending id order as OSM files have them."""
    for relation in sorted(plan.relations, key=lambda r: r.relation_id):
        out.write(f'  <relation id="{relation.relation_id}">\n')
        for member_kind, index, role in relation.members:
            if member_kind == "relation":
                out.write(f'    <member type="relation" ref="{plan.relations[index].relation_id}" role="{role}"/>\n')
            else:
                osm_type, _sep, ref = osm_ids[index].partition("/")
                out.write(f'    <member type="{osm_type}" ref="{ref}" role="{role}"/>\n')
        write_tags(out, relation.tags)
        out.write("  </relation>\n")
    return len(plan.relations)


def write_route_truth(path: Path, network: LineNetwork, plan: RoutePlan, plats: _Platforms,
                      osm_ids: list[str]) -> None:
    """``truth_routes.csv``: every call of every line's full pattern, the elements a correct
    relation holds for it and the noise planted in the relation."""
    sequence: Counter[tuple[int, int]] = Counter()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("route_id", "direction", "sequence", "sloid", "relation", "osm_ids", "noise"))
        for call in plan.calls:
            sequence[(call.line, call.direction)] += 1
            relation = f"relation/{plan.relations[call.relation].relation_id}" if call.relation >= 0 else ""
            writer.writerow((network.lines[call.line].route_id, call.direction, sequence[(call.line, call.direction)],
                             plats.sloids[call.platform], relation, ";".join(osm_ids[e] for e in call.elements),
                             ";".join(f"{kind}:{osm_ids[e]}" for kind, e in call.noise)))


def network_counts(network: LineNetwork) -> dict[str, Any]:
    served = network.served
    per_mode = Counter(MODE_ROUTE[line.mode] for line in network.lines)
    lengths = np.array([len(line.stops) for line in network.lines]) if network.lines else np.zeros(1)
    return {
        "lines": len(network.lines),
        "lines_per_mode": dict(sorted(per_mode.items())),
        "line_stops_median": float(np.median(lengths)),
        "line_calls": int(sum(len(line.stops) for line in network.lines)),
        "served_service_points": int((served > 0).sum()),
        "lines_per_service_point": {"0": int((served == 0).sum()), "1": int((served == 1).sum()),
                                    "2": int((served == 2).sum()), "3": int((served == 3).sum()),
                                    "4+": int((served >= 4).sum())},
    }
