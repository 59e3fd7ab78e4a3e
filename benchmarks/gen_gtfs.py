"""Generate a synthetic GTFS ZIP of national scale for benchmarking the GTFS reader.

Defaults: ~30,000 stops, 4,000 routes with 20 distinct stop patterns each (80,000 patterns),
~1.7 M trips and more than 26 M stop_times. Stop ids follow the real Swiss styles: platforms
``8503000:0:7`` (with codes like ``A`` and the placeholders ``10000``/``10001``), parents
``Parent8503000`` or ``8503000P``, bus stops as bare numbers; platforms carry an
``original_stop_id`` SLOID as newer feeds do. Members are stream-written into the ZIP, so memory
stays small whatever the size. Usage: python benchmarks/gen_gtfs.py OUT.zip [--seed N]
"""

from __future__ import annotations

import argparse
import random
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

RAIL_STATIONS = 3_000
BUS_STOPS = 15_000
ROUTES = 4_000
PATTERNS_PER_ROUTE = 20  # 10 per direction
MEAN_TRIPS_PER_PATTERN = 21.25
BATCH_BYTES = 1 << 22


@dataclass(frozen=True)
class Layout:
    stop_rows: list[str]
    rail_platforms: list[str]
    bus_stops: list[str]


def _csv_field(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if ("," in value or '"' in value) else value


def make_stops(rng: random.Random) -> Layout:
    numbers = rng.sample(range(1, 100_000), RAIL_STATIONS + BUS_STOPS)
    rows: list[str] = []
    rail_platforms: list[str] = []
    bus_stops: list[str] = []
    for index, short in enumerate(numbers[:RAIL_STATIONS]):
        uic = f"85{short:05d}"
        lat, lon = rng.uniform(45.9, 47.7), rng.uniform(6.0, 10.4)
        parent = f"Parent{uic}" if index % 2 else f"{uic}P"
        rows.append(f"{parent},Station {uic},{lat:.7f},{lon:.7f},1,,")
        codes = [str(k) for k in range(1, rng.randint(2, 6) + 1)]
        if index % 7 == 0:
            codes += ["A", "B"]
        if index % 11 == 0:
            codes += ["10000", "10001"]
        for code in codes:
            stop_id = f"{uic}:0:{code}"
            sloid = f"ch:1:sloid:{short}:0:{code}"
            rows.append(f"{stop_id},Station {uic},{lat + rng.uniform(-4e-4, 4e-4):.7f},"
                        f"{lon + rng.uniform(-4e-4, 4e-4):.7f},0,{parent},{sloid}")
            rail_platforms.append(stop_id)
    for short in numbers[RAIL_STATIONS:]:
        uic = f"85{short:05d}"
        rows.append(f"{uic},{_csv_field(f'Ort, Haltestelle {uic}')},{rng.uniform(45.9, 47.7):.7f},"
                    f"{rng.uniform(6.0, 10.4):.7f},,,")
        bus_stops.append(uic)
    return Layout(rows, rail_platforms, bus_stops)


@dataclass(frozen=True)
class Route:
    route_id: str
    route_type: int
    patterns: list[tuple[int, tuple[str, ...], int]]  # (direction, stops, trips)


def _variants(base: list[str], rng: random.Random) -> list[tuple[str, ...]]:
    """Ten distinct variants of a base sequence: full, short turns, skipped stops."""
    seen: set[tuple[str, ...]] = set()
    variants: list[tuple[str, ...]] = []
    while len(variants) < PATTERNS_PER_ROUTE // 2:
        start, end = rng.choice((0, 0, 1, 2)), len(base) - rng.choice((0, 0, 1, 2))
        stops = base[start:end]
        if rng.random() < 0.5 and len(stops) > 4:
            del stops[rng.randrange(1, len(stops) - 1)]
        candidate = tuple(stops)
        if candidate not in seen:
            seen.add(candidate)
            variants.append(candidate)
    return variants


def make_routes(rng: random.Random, layout: Layout) -> Iterator[Route]:
    for number in range(ROUTES):
        rail = number % 4 == 0
        pool = layout.rail_platforms if rail else layout.bus_stops
        base = rng.sample(pool, rng.randint(12, 24))
        route_id = f"{number % 97 + 1}-{number}-{'ABCDY'[number % 5]}-j25-1"
        patterns = []
        for direction in (0, 1):
            for stops in _variants(base if direction == 0 else base[::-1], rng):
                trips = max(1, round(rng.expovariate(1 / MEAN_TRIPS_PER_PATTERN)))
                patterns.append((direction, stops, trips))
        yield Route(route_id, 102 if rail else 700, patterns)


class _Buffered:
    """Collects text and writes it to the ZIP member in large encoded batches."""

    def __init__(self, sink: IO[bytes]) -> None:
        self.sink = sink
        self.parts: list[str] = []
        self.size = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size >= BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        self.sink.write("".join(self.parts).encode("utf-8"))
        self.parts.clear()
        self.size = 0


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}:00"


def generate(out: Path, seed: int = 2025) -> dict[str, int]:
    rng = random.Random(seed)
    layout = make_stops(rng)
    routes = list(make_routes(rng, layout))
    clocks = [_clock(minute) for minute in range(60 * 30)]
    counts = {"stops": len(layout.stop_rows), "routes": len(routes), "patterns": 0, "trips": 0, "stop_times": 0}
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("stops.txt", "w") as sink:
            buffer = _Buffered(sink)
            buffer.add("stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station,original_stop_id\n")
            for row in layout.stop_rows:
                buffer.add(row + "\n")
            buffer.flush()
        with archive.open("routes.txt", "w") as sink:
            buffer = _Buffered(sink)
            buffer.add("route_id,agency_id,route_short_name,route_long_name,route_desc,route_type\n")
            for route in routes:
                buffer.add(f"{route.route_id},11,{route.route_id.split('-')[1]},,Synthetic,{route.route_type}\n")
            buffer.flush()
        with archive.open("trips.txt", "w", force_zip64=True) as sink:
            buffer = _Buffered(sink)
            buffer.add("route_id,service_id,trip_id,trip_headsign,trip_short_name,direction_id\n")
            for route in routes:
                for variant, (direction, _stops, trips) in enumerate(route.patterns):
                    for k in range(trips):
                        trip_id = f"{k}.TA.{route.route_id}.{variant}.{'HR'[direction]}"
                        buffer.add(f"{route.route_id},TA+b0001,{trip_id},Terminus,{k},{direction}\n")
                    counts["trips"] += trips
                    counts["patterns"] += 1
            buffer.flush()
        with archive.open("stop_times.txt", "w", force_zip64=True) as sink:
            buffer = _Buffered(sink)
            buffer.add("trip_id,arrival_time,departure_time,stop_id,stop_sequence,pickup_type,drop_off_type\n")
            for route in routes:
                for variant, (direction, stops, trips) in enumerate(route.patterns):
                    tails = [f",{stop_id},{sequence},0,0\n" for sequence, stop_id in enumerate(stops, start=1)]
                    offsets = [2 * position for position in range(len(stops))]
                    for k in range(trips):
                        trip_id = f"{k}.TA.{route.route_id}.{variant}.{'HR'[direction]}"
                        first = 300 + (k * 37) % 1_140
                        buffer.add("".join(f"{trip_id},{clocks[first + o]},{clocks[first + o]}{tail}"
                                           for o, tail in zip(offsets, tails, strict=True)))
                    counts["stop_times"] += trips * len(stops)
            buffer.flush()
        with archive.open("calendar.txt", "w") as sink:
            sink.write(b"service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
                       b"TA+b0001,1,1,1,1,1,1,1,20241215,20251213\n")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()
    started = time.perf_counter()
    counts = generate(args.out, args.seed)
    size_mb = args.out.stat().st_size / 1e6
    print(f"wrote {args.out} ({size_mb:.0f} MB) in {time.perf_counter() - started:.0f} s: "
          + ", ".join(f"{name} {value:,}" for name, value in counts.items()))


if __name__ == "__main__":
    main()
