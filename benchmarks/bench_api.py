"""API v1 under load with a national-size snapshot in PostGIS.

1. (Re)creates the database ``stopsync_bench_api``, migrates it through the app factory
   (``flask db upgrade``) and loads a synthetic national snapshot with COPY: ~55,000 ATLAS
   platforms and ~65,000 OSM elements placed around the real Swiss service points of
   ``hrdf_service_points_2024.csv``, their links, problems and problem states.
2. Starts gunicorn (2 workers, ``stopsync/gunicorn_conf.py``) on a free loopback port, with the
   cache on Redis as in production and the rate limit raised out of the way.
3. Drives load from a second process (``--drive``): Python threads with ``http.client``, bounded
   in count and time, loopback only. Measures p50/p95 of a city-zoom bbox stops request, a
   problems page and a country-wide overview (one client, back to back), then the sustained
   rate of an even mix of the three from ``--threads`` clients for ``--seconds``.

Usage: python benchmarks/bench_api.py [--admin-url postgresql+psycopg2://postgres@127.0.0.1:5432/postgres]
       [--redis-url redis://127.0.0.1:6379/14] [--seconds 20] [--threads 8]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import http.client
import io
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
HRDF = REPO.parent / "shared" / "data" / "real" / "hrdf_service_points_2024.csv"
DATABASE = "stopsync_bench_api"
RUN_ID = "20250101T000000Z-bench0"
SWITZERLAND = (5.9, 45.8, 10.5, 47.9)
OPERATORS = ["SBB", "PAG", "BLT", "VBZ", "TPG", "TL", "BERNMOBIL", "VBL", "RBS", "SOB", "ZVB", "BVB", "TPF Auto",
             "TPC Auto", "AVA-bd", "STI", "VMCV", "TRN-tn", "RhB", "MGB"]
CITIES = {"Zürich": (8.540, 47.378), "Genève": (6.143, 46.204), "Bern": (7.439, 46.949), "Basel": (7.589, 47.547),
          "Lausanne": (6.629, 46.517), "Luzern": (8.310, 47.050), "St. Gallen": (9.370, 47.423)}
# A city-zoom view (about zoom 14 on a laptop screen): 0.06° x 0.03°.
CITY_HALF_SPAN = (0.03, 0.015)


# -- 1. the snapshot ----------------------------------------------------------------------------

def service_points() -> list[tuple[str, str, float, float]]:
    with HRDF.open(encoding="utf-8") as handle:
        rows = []
        for row in csv.DictReader(handle, delimiter=";"):
            if not (row["id_didok"].startswith("85") and row["wgs84_e"] and row["wgs84_n"]):
                continue
            lon, lat = float(row["wgs84_e"]), float(row["wgs84_n"])
            if SWITZERLAND[0] < lon < SWITZERLAND[2] and SWITZERLAND[1] < lat < SWITZERLAND[3]:
                rows.append((row["id_didok"], row["name_official"], lon, lat))
        return rows


def synthesise(points: list[tuple[str, str, float, float]], seed: int = 11) -> dict[str, list[tuple[Any, ...]]]:
    rng = random.Random(seed)
    atlas: list[tuple[Any, ...]] = []
    osm: list[tuple[Any, ...]] = []
    links: list[tuple[Any, ...]] = []
    problems: list[tuple[Any, ...]] = []
    states: list[tuple[Any, ...]] = []
    node = 10_000_000

    def jitter(lon: float, lat: float, metres: float) -> tuple[float, float]:
        return lon + rng.uniform(-metres, metres) / 76_000, lat + rng.uniform(-metres, metres) / 111_000

    def problem(kind: str, priority: int, sloid: str | None, osm_id: str | None, evidence: dict[str, Any]) -> None:
        key = hashlib.md5(f"{kind}|{sloid}|{osm_id}".encode()).hexdigest()
        problems.append((len(problems) + 1, key, kind, priority, sloid or None, osm_id or None,
                         "unknown", "synthetic", json.dumps(evidence), key[:16], "new"))
        states.append((key, kind, sloid or None, osm_id or None, priority, "new", key[:16], RUN_ID, RUN_ID, None,
                       f"2025-01-0{1 + len(states) % 9}T00:00:00+00:00"))

    for number, name, lon, lat in points:
        operator = rng.choice(OPERATORS)
        for platform in range(rng.choices((1, 2, 3, 4), weights=(30, 38, 18, 14))[0]):
            sloid = f"ch:1:sloid:{int(number[2:])}:0:{platform + 1}"
            a_lon, a_lat = jitter(lon, lat, 40)
            linked = rng.random() < 0.88
            atlas.append((len(atlas) + 1, sloid, number, str(platform + 1), name, operator, "9999-12-31",
                          f"ch:1:sloid:{int(number[2:])}", a_lat, a_lon, linked))
            if linked:
                node += 1
                o_lon, o_lat = jitter(a_lon, a_lat, 12 if rng.random() < 0.9 else 120)
                osm_id = f"node/{node}"
                kind = rng.choice(("platform", "stop_position"))
                tags = {"public_transport": kind, "name": name, "uic_ref": number, "operator": operator}
                osm.append((len(osm) + 1, osm_id, "node", node, kind, name, number, str(platform + 1), o_lat, o_lon,
                            json.dumps(tags), True))
                distance = round(((o_lon - a_lon) * 76_000) ** 2 + ((o_lat - a_lat) * 111_000) ** 2, 2) ** 0.5
                links.append((len(links) + 1, sloid, osm_id, "exact_reference", round(distance, 2), 0.9,
                              json.dumps({"uic_ref": number})))
                if distance > 15:
                    problem("distance", 1 if distance > 80 else 2 if distance > 30 else 3, sloid, osm_id,
                            {"distance_m": round(distance, 2), "operator": operator})
            else:
                problem("unmatched_atlas", rng.choice((1, 2, 3)), sloid, None, {"number": number})
    while len(osm) < 65_000:  # OSM elements without an ATLAS counterpart
        node += 1
        number, name, lon, lat = rng.choice(points)
        o_lon, o_lat = jitter(lon, lat, 300)
        osm.append((len(osm) + 1, f"node/{node}", "node", node, "platform", name, "", "", o_lat, o_lon,
                    json.dumps({"public_transport": "platform", "name": name}), False))
        problem("unmatched_osm", rng.choice((1, 2, 3)), None, f"node/{node}", {"name": name})
    return {"atlas": atlas, "osm": osm, "links": links, "problems": problems, "states": states}


COLUMNS = {
    "atlas_platforms": "id, sloid, number, designation, name, operator, valid_to, parent_sloid, lat, lon, matched",
    "osm_elements": "id, osm_id, osm_type, osm_numeric_id, kind, name, uic_ref, local_ref, lat, lon, tags, matched",
    "matches": "id, sloid, osm_id, method, distance_m, score, evidence",
    "problems": "id, problem_key, type, priority, sloid, osm_id, side, side_reason, evidence, fingerprint, status",
    "review_problem_states": "problem_key, type, sloid, osm_id, priority, status, fingerprint, first_seen_run, "
                             "last_seen_run, resolved_run, updated_at",
}


def copy_rows(cursor: Any, table: str, rows: list[tuple[Any, ...]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(["\\N" if value is None else value for value in row])
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({COLUMNS[table]}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buffer)


def load(admin_url: str) -> tuple[str, dict[str, int]]:
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from stopsync import create_app
    from stopsync.extensions import db

    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        connection.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()
    url = admin_url.rsplit("/", 1)[0] + f"/{DATABASE}"
    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-0123456789", "ENVIRONMENT": "test",
                          "INSTANCE_PATH": instance, "LOG_LEVEL": "WARNING"})
        with app.app_context():
            upgrade()  # what `flask db upgrade` runs
            data = synthesise(service_points())
            raw = db.engine.raw_connection()
            try:
                cursor = raw.cursor()
                for table, key in (("atlas_platforms", "atlas"), ("osm_elements", "osm"), ("matches", "links"),
                                   ("problems", "problems"), ("review_problem_states", "states")):
                    copy_rows(cursor, table, data[key])
                cursor.execute("INSERT INTO snapshot_meta (run_id, published_at, sources, summary) "
                               "VALUES (%s, now(), '{}', '{}')", (RUN_ID,))
                raw.commit()
                raw.set_isolation_level(0)
                raw.cursor().execute("VACUUM ANALYZE")
            finally:
                raw.close()
            db.engine.dispose()
    return url, {key: len(rows) for key, rows in data.items()}


# -- 2. the server --------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(url: str, redis_url: str, port: int, instance: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "STOPSYNC_DATABASE_URL": url, "STOPSYNC_REDIS_URL": redis_url,
           "STOPSYNC_SECRET_KEY": "bench-secret-key-0123456789abcdef", "STOPSYNC_INSTANCE_PATH": instance,
           "STOPSYNC_RATELIMIT_DEFAULT": "1000000 per minute", "STOPSYNC_LOG_LEVEL": "WARNING", "ROLE": "web",
           "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", str(REPO / "stopsync" / "gunicorn_conf.py"),
         "--access-logfile", "/dev/null", "stopsync.wsgi:app"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit("gunicorn did not come up: " + (server.stderr.read().decode() if server.stderr else ""))


# -- 3. the load (second process) -----------------------------------------------------------------

def city_bbox(rng: random.Random) -> str:
    lon, lat = rng.choice(list(CITIES.values()))
    lon += rng.uniform(-0.01, 0.01)
    lat += rng.uniform(-0.005, 0.005)
    return f"{lon - CITY_HALF_SPAN[0]:.4f},{lat - CITY_HALF_SPAN[1]:.4f},{lon + CITY_HALF_SPAN[0]:.4f},"\
           f"{lat + CITY_HALF_SPAN[1]:.4f}"


def scenario_path(name: str, rng: random.Random) -> str:
    if name == "city_bbox":
        return f"/api/v1/stops?bbox={city_bbox(rng)}"
    if name == "problems_page":
        sort = rng.choice(("priority", "type", "distance"))
        return f"/api/v1/problems?limit=100&sort={sort}&priority={rng.choice(('1', '2', '3', '1,2'))}"
    return "/api/v1/overview?bbox=5.9,45.8,10.5,47.9&zoom=8"


def drive(port: int, names: list[str], threads: int, seconds: float, max_requests: int) -> dict[str, Any]:
    """Requests from ``threads`` threads until ``seconds`` or ``max_requests`` run out."""
    latencies: dict[str, list[float]] = {name: [] for name in names}
    errors: list[str] = []
    lock = threading.Lock()
    count = [0]
    deadline = time.monotonic() + seconds

    def worker(index: int) -> None:
        rng = random.Random(index)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < deadline:
            with lock:
                if count[0] >= max_requests:
                    return
                count[0] += 1
            name = rng.choice(names)
            started = time.perf_counter()
            try:
                connection.request("GET", scenario_path(name, rng))
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                status, name = 0, f"{name}: {error}"
            elapsed = time.perf_counter() - started
            with lock:
                if status != 200:
                    errors.append(f"{name} -> {status}")
                else:
                    latencies[name].append(elapsed)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    wall = time.perf_counter() - started
    done = sum(len(values) for values in latencies.values())
    return {"wall_s": round(wall, 2), "requests": done, "errors": len(errors), "error_samples": errors[:5],
            "rps": round(done / wall, 1),
            "latency_ms": {name: percentiles(values) for name, values in latencies.items()}}


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {"n": len(ordered), "p50": round(statistics.median(ordered) * 1000, 1),
            "p95": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 1),
            "max": round(ordered[-1] * 1000, 1)}


def driver_main(port: int, seconds: float, threads: int) -> None:
    results: dict[str, Any] = {}
    # Warm-up: every worker connects, the overview cache fills.
    drive(port, ["city_bbox", "problems_page", "overview"], 4, 5, 100)
    # Latency: one client at a time (requests back to back), so queueing does not count.
    for name in ("city_bbox", "problems_page", "overview"):
        results[name] = drive(port, [name], 1, 15, 400)
    # Throughput: ``threads`` clients at once, a third of the requests each kind.
    results["sustained_mix"] = drive(port, ["city_bbox", "problems_page", "overview"], threads, seconds, 1_000_000)
    print(json.dumps(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--drive", type=int, help=argparse.SUPPRESS)  # the load process: the server's port
    args = parser.parse_args()
    if args.drive:
        driver_main(args.drive, args.seconds, args.threads)
        return
    started = time.perf_counter()
    url, counts = load(args.admin_url)
    print(f"loaded {counts} into {DATABASE} in {time.perf_counter() - started:.1f} s", flush=True)
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()  # a cold cache: no entries of earlier runs
    port = free_port()
    with tempfile.TemporaryDirectory() as instance:
        server = start_server(url, args.redis_url, port, instance)
        try:
            load_process = subprocess.run(
                [sys.executable, __file__, "--drive", str(port), "--seconds", str(args.seconds),
                 "--threads", str(args.threads)], capture_output=True, text=True, timeout=300, check=True)
        finally:
            server.terminate()
            server.wait(timeout=30)
    results = json.loads(load_process.stdout.strip().splitlines()[-1])
    for name, result in results.items():
        print(f"{name:14} {result['requests']:6d} req in {result['wall_s']:5.1f} s = {result['rps']:7.1f} req/s, "
              f"errors {result['errors']}; " + "; ".join(
                  f"{scenario} p50 {lat['p50']} ms p95 {lat['p95']} ms (n={lat['n']})"
                  for scenario, lat in result["latency_ms"].items() if lat))
        if result["errors"]:
            print("  error samples:", result["error_samples"])


if __name__ == "__main__":
    main()
