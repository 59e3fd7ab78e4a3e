"""Benchmark of the matching engine at national size, in memory (no files, no database).

Builds ~55,000 ATLAS platforms and ~65,000 OSM elements around the real Swiss service-point
positions of ``hrdf_service_points_2024.csv`` (platforms jittered a few metres, some tags
missing or wrong, route tokens for the route stage), then times stop-unit grouping and every
built-in strategy and prints seconds and peak RSS. This is a load test, not a quality test:
a generator with ground truth lives under ``stopsync/evaluation``.

Usage: python benchmarks/bench_engine.py [--atlas 55000] [--osm 65000] [--seed 7]
"""

from __future__ import annotations

import argparse
import csv
import math
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stopsync.pipeline.engine import MatchEngine  # noqa: E402
from stopsync.pipeline.records import AtlasPlatform, OsmElement  # noqa: E402
from stopsync.plugins.manager import build_plugins  # noqa: E402

SERVICE_POINTS = REPO.parent / "shared" / "data" / "real" / "hrdf_service_points_2024.csv"
METRES_PER_DEGREE = 111_320.0


def swiss_service_points() -> list[tuple[str, str, float, float]]:
    points = []
    with SERVICE_POINTS.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            number = row["id_didok"].strip()
            try:
                lon, lat = float(row["wgs84_e"]), float(row["wgs84_n"])
            except ValueError:
                continue
            if number.startswith("85") and 45.8 <= lat <= 47.9 and 5.9 <= lon <= 10.6:
                points.append((number, row["name_official"].strip(), lat, lon))
    return points


def offset(rng: np.random.Generator, lat: float, lon: float, sigma_m: float) -> tuple[float, float]:
    dy, dx = rng.normal(0.0, sigma_m, 2)
    return (lat + dy / METRES_PER_DEGREE,
            lon + dx / (METRES_PER_DEGREE * math.cos(math.radians(lat))))


def build(n_atlas: int, n_osm: int, seed: int) -> tuple[list[AtlasPlatform], list[OsmElement], dict[str, Any]]:
    rng = np.random.default_rng(seed)
    points = swiss_service_points()
    # Platforms per service point: most bus stops have 1-2, stations more.
    per_point = rng.choice([1, 2, 2, 2, 3, 4], size=len(points))
    scale = n_atlas / per_point.sum()
    per_point = np.maximum(1, np.round(per_point * scale)).astype(int)
    atlas: list[AtlasPlatform] = []
    for (number, name, lat, lon), count in zip(points, per_point, strict=True):
        for k in range(count):
            plat, plon = offset(rng, lat, lon, 25.0)
            atlas.append(AtlasPlatform(sloid=f"ch:1:sloid:{int(number[2:])}:0:{k + 1}", number=number,
                                       designation=chr(ord("A") + k) if count > 1 else "", name=name,
                                       lat=plat, lon=plon))
    atlas = atlas[:n_atlas]
    osm: list[OsmElement] = []
    atlas_tokens: dict[str, set[str]] = {}
    osm_tokens: dict[str, set[str]] = {}
    next_id = 1
    stations = set()
    order = rng.permutation(len(atlas))
    for idx in order:
        if len(osm) >= n_osm:
            break
        platform = atlas[idx]
        lines = {f"{int(platform.number[-3:]) % 97}-{rng.integers(0, 40)}:{rng.integers(0, 2)}"
                 for _ in range(rng.integers(1, 4))}
        atlas_tokens[platform.sloid] = lines
        if rng.random() < 0.06:
            continue  # missing in OSM
        tags: dict[str, str] = {"public_transport": "platform", "highway": "bus_stop"}
        if rng.random() < 0.7:
            tags["uic_ref"] = platform.number
        if rng.random() < 0.8:
            tags["name"] = platform.name.split(",")[-1].strip() if rng.random() < 0.5 else platform.name
        if platform.designation and rng.random() < 0.5:
            tags["local_ref"] = platform.designation
        if rng.random() < 0.05:
            tags["ref:sloid"] = platform.sloid
        lat, lon = offset(rng, platform.lat, platform.lon, 6.0)
        osm.append(OsmElement("node", next_id, lat, lon, tags, "platform"))
        osm_tokens[f"node/{next_id}"] = lines if rng.random() < 0.6 else set()
        next_id += 1
        if rng.random() < 0.25:  # a stop_position a few metres away: a pair
            slat, slon = offset(rng, lat, lon, 3.0)
            stop_tags = {k: v for k, v in tags.items() if k != "highway"}
            stop_tags["public_transport"] = "stop_position"
            osm.append(OsmElement("node", next_id, slat, slon, stop_tags, "stop_position"))
            next_id += 1
        if platform.number not in stations and rng.random() < 0.05:
            stations.add(platform.number)
            osm.append(OsmElement("node", next_id, platform.lat, platform.lon,
                                  {"public_transport": "station", "uic_ref": platform.number}, "station"))
            next_id += 1
    context = {"atlas_route_tokens": atlas_tokens, "osm_route_tokens": osm_tokens}
    return atlas, osm, context


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--atlas", type=int, default=55_000)
    parser.add_argument("--osm", type=int, default=65_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    started = time.perf_counter()
    atlas, osm, context = build(args.atlas, args.osm, args.seed)
    print(f"built {len(atlas)} ATLAS platforms, {len(osm)} OSM elements "
          f"in {time.perf_counter() - started:.2f} s (not part of the engine time)")
    strategies = build_plugins({"SAFE_MODE": True}).strategies_for(None, {})

    engine_started = time.perf_counter()
    engine = MatchEngine(atlas, osm, context=context)
    print(f"{'grouping':<24}{time.perf_counter() - engine_started:8.2f} s  units={engine.units.counts()}")
    for strategy in strategies:
        t0 = time.perf_counter()
        before = len(engine.links)
        strategy.run(engine)
        print(f"{strategy.name:<24}{time.perf_counter() - t0:8.2f} s  links=+{len(engine.links) - before}")
    t0 = time.perf_counter()
    reasons = engine.unmatched_reasons()
    print(f"{'unmatched_reasons':<24}{time.perf_counter() - t0:8.2f} s  unmatched={len(reasons)}")
    total = time.perf_counter() - engine_started
    matched = len(engine.atlas) - len(engine.unmatched_atlas())
    print(f"engine total {total:.2f} s; match rate {matched / len(engine.atlas):.3f}; "
          f"links {len(engine.links)}; peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
