"""National-scale publication into PostGIS: wall time and the longest reader stall.

Builds a synthetic MatchResult in memory (~55,000 ATLAS platforms around the real service
point positions of ``hrdf_service_points_2024.csv``, ~65,000 OSM elements, stop units, links
and problems), creates and migrates the database ``stopsync_bench``, publishes twice (the
second publication replaces a full snapshot, as every nightly run does) while reader threads
query the published tables continuously, and prints the publish wall time and the longest
time any single reader query took (a reader waits only while the swap holds its locks).

    .venv/bin/python benchmarks/bench_publish.py [--url postgresql+psycopg2://postgres@127.0.0.1:5432/stopsync_bench]
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "hrdf_service_points_2024.csv"
DEFAULT_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/stopsync_bench"


def service_points() -> list[tuple[str, float, float, str]]:
    with DATA.open(newline="", encoding="utf-8") as handle:
        rows = [(r["id_didok"], float(r["wgs84_n"]), float(r["wgs84_e"]), r["name_official"])
                for r in csv.DictReader(handle, delimiter=";")
                if r["wgs84_n"] and 45.7 < float(r["wgs84_n"]) < 47.9 and 5.9 < float(r["wgs84_e"]) < 10.6]
    return rows


def synthetic_result(platforms: int = 55_000, elements: int = 65_000, seed: int = 6) -> Any:
    from stopsync.pipeline.match import MatchResult
    from stopsync.pipeline.problems import Problem
    from stopsync.pipeline.records import AtlasPlatform, Link, OsmElement

    rng = random.Random(seed)
    points = service_points()
    atlas = []
    for i in range(platforms):
        number, lat, lon, name = points[i % len(points)]
        atlas.append(AtlasPlatform(
            sloid=f"ch:1:sloid:{number[-5:]}:0:{i}", number=f"85{number[-5:]}", designation=str(i % 8 + 1),
            name=name, lat=lat + rng.uniform(-3e-4, 3e-4), lon=lon + rng.uniform(-3e-4, 3e-4),
            operator="SBB" if i % 5 == 0 else "PostAuto", valid_to="9999-12-31"))
    osm = []
    for j in range(elements):
        base = atlas[j % platforms]
        kind = ("platform", "stop_position", "station")[j % 3]
        osm.append(OsmElement("node", 10_000_000 + j, base.lat + rng.uniform(-2e-4, 2e-4),
                              base.lon + rng.uniform(-2e-4, 2e-4),
                              {"public_transport": kind, "name": base.name, "uic_ref": base.number,
                               "local_ref": base.designation}, kind=kind))
    links = [Link(atlas[j].sloid, osm[j].osm_id, "exact_reference", rng.uniform(0, 40), 1.0,
                  {"uic_ref": atlas[j].number}) for j in range(min(platforms, elements) - 8_000)]
    units = [{"unit_key": f"unit/{k}", "kind": "pair", "members": [osm[2 * k].osm_id, osm[2 * k + 1].osm_id],
              "lat": osm[2 * k].lat, "lon": osm[2 * k].lon} for k in range(elements // 4)]
    problems = [Problem(f"distance:{atlas[k].sloid}", "distance", 1 + k % 3, atlas[k].sloid, osm[k].osm_id,
                        "atlas", "farther than 25 m", {"distance_m": 30 + k % 50}, f"fp{k % 97}")
                for k in range(0, len(links), 4)]
    problems += [Problem(f"unmatched_atlas:{atlas[k].sloid}", "unmatched_atlas", 2, atlas[k].sloid, None,
                         "osm", "no OSM element", {}, "fp") for k in range(len(links), platforms)]
    return MatchResult(atlas=atlas, osm=osm, links=links, summary={"synthetic": True}, problems=problems,
                       units=units)


def ensure_database(url: str) -> None:
    target = sa.engine.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if not connection.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"),
                                  {"d": target.database}).scalar():
            connection.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        for schema in ("stopsync_staging", "stopsync_previous", "stopsync_rollback", "public"):
            connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


class Readers:
    """Threads running bbox and count queries back to back; records the slowest answer."""

    QUERY = sa.text(
        "SELECT (SELECT count(*) FROM atlas_platforms WHERE geom && ST_MakeEnvelope(7.3, 46.8, 7.6, 47.1, 4326)),"
        " (SELECT count(*) FROM osm_elements), (SELECT count(*) FROM matches)")

    def __init__(self, url: str, threads: int = 4) -> None:
        self.engine = sa.create_engine(url, pool_size=threads)
        self.stop = threading.Event()
        self.slowest = 0.0
        self.queries = 0
        self.errors: list[str] = []
        self.empty = 0
        self.threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _run(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                with self.engine.connect() as connection:
                    row = connection.execute(self.QUERY).one()
            except Exception as exc:
                self.errors.append(repr(exc))
                continue
            took = time.perf_counter() - started
            self.slowest = max(self.slowest, took)
            self.queries += 1
            self.empty += int(row[1] == 0)

    def __enter__(self) -> Readers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()
        self.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    args = parser.parse_args()
    from flask_migrate import upgrade

    from stopsync import create_app
    from stopsync.db import publication
    from stopsync.extensions import db
    from stopsync.pipeline.publish import publish_snapshot

    ensure_database(args.url)
    instance = tempfile.mkdtemp(prefix="stopsync-bench-")
    app = create_app({"TESTING": True, "SECRET_KEY": "bench-secret-key-0123456789", "DATABASE_URL": args.url,
                      "INSTANCE_PATH": instance, "LOG_LEVEL": "WARNING", "LOG_FORMAT": "text"})
    with app.app_context():
        upgrade()
    started = time.perf_counter()
    result = synthetic_result()
    print(f"synthetic result: {len(result.atlas)} platforms, {len(result.osm)} OSM elements, "
          f"{len(result.units)} units, {len(result.links)} links, {len(result.problems)} problems "
          f"(built in {time.perf_counter() - started:.1f} s)")
    hold: list[float] = []
    original_swap = publication.PostgresPublisher._swap

    def timed_swap(self: Any, *args: Any) -> None:
        original_swap(self, *args)
        hold.append(self.last_lock_hold_s)

    publication.PostgresPublisher._swap = timed_swap  # type: ignore[method-assign]
    with app.app_context():
        for attempt, label in ((1, "first publication (empty database)"), (2, "replacing a full snapshot")):
            with Readers(args.url) as readers:
                time.sleep(0.5)
                baseline = readers.slowest
                t0 = time.perf_counter()
                counts, lifecycle = publish_snapshot(db.engine, result, f"bench-{attempt}", {"bench": True})
                wall = time.perf_counter() - t0
                time.sleep(0.5)
            print(f"{label}: publish {wall:.2f} s (lifecycle {lifecycle.duration_s:.2f} s, tables locked for "
                  f"{hold[-1] * 1000:.0f} ms); readers: "
                  f"{readers.queries} queries, slowest {readers.slowest * 1000:.0f} ms (before publishing "
                  f"{baseline * 1000:.0f} ms), errors {len(readers.errors)}, empty answers {readers.empty}")
            for error in readers.errors[:3]:
                print("  reader error:", error)
        print("rows:", counts)
    with app.app_context():
        db.engine.dispose()


if __name__ == "__main__":
    main()
