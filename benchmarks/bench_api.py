"""API v1 under load with a national-size snapshot in PostGIS.

1. (Re)creates the database ``stopsync_bench_api``, migrates it through the app factory
   (``flask db upgrade``) and loads a synthetic national snapshot with COPY: ~55,000 ATLAS
   platforms and ~65,000 OSM elements placed around the real Swiss service points of
   ``hrdf_service_points_2024.csv``, their links, problems and problem states. The overview grid
   (``overview_cells``) is then derived from them, as the publisher does.
2. Starts gunicorn (2 workers x 4 threads, ``stopsync/gunicorn_conf.py``) on a free loopback
   port, with the cache on Redis as in production. Rate limiting stays on (Flask-Limiter on
   Redis, as in production), with ``RATELIMIT_DEFAULT`` raised explicitly: all the load comes
   from one address. The snapshot is loaded without the publisher, so nothing announced its run
   id: the first request reads it from the database and announces it (see
   ``stopsync/blueprints/api/cache.py``).
3. Drives load from a second process (``--drive``): Python threads with ``http.client``, bounded
   in count and time, loopback only. The Redis database is flushed before each cold phase.
   - latency, one client back to back (queueing does not count): 120 distinct city tiles at
     z15 and at z16, the common problem lists and the overviews, each once on an empty cache
     (``latency_cold``) and once more (``latency_warm``); then 300 random city-zoom bboxes on
     ``/stops`` (``latency_city_bbox``, never cached);
   - throughput, ``--threads`` clients each running ``--sessions`` sessions: map users opening
     a city at view zoom 14-16 and panning five times, fetching the 512-pixel tiles (zoom
     view - 1) newly in their 1280 x 800 window (tiles repeat across clients, as on a real
     map), sometimes opening a stop's details; people reading three pages of a problem list
     with common filters; overviews of the country and around a city. Once on an empty cache
     (``mix_cold``), then the same sessions again (``mix_warm``);
   - the earlier benchmark's even mix of random city bboxes, problem pages and the overview
     for ``--seconds`` (``random_bbox_mix``), for comparison.

Usage: python benchmarks/bench_api.py [--admin-url postgresql+psycopg2://postgres@127.0.0.1:5432/postgres]
       [--redis-url redis://127.0.0.1:6379/9] [--seconds 20] [--threads 8] [--sessions 40]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import http.client
import io
import json
import math
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
            # What the publisher derives from the stops as it publishes: the overview's grid.
            from stopsync.pipeline.publish import refresh_overview_cells
            refresh_overview_cells(db.engine)
            db.engine.dispose()
    return url, {key: len(rows) for key, rows in data.items()}


# -- 2. the server --------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(url: str, redis_url: str, port: int, instance: str) -> subprocess.Popen[bytes]:
    # Rate limiting stays enabled (Flask-Limiter counting in Redis, as in production); only its
    # limit is raised, explicitly, because every benchmark client shares one address.
    env = {**os.environ, "STOPSYNC_DATABASE_URL": url, "STOPSYNC_REDIS_URL": redis_url,
           "STOPSYNC_SECRET_KEY": "bench-secret-key-0123456789abcdef", "STOPSYNC_INSTANCE_PATH": instance,
           "STOPSYNC_RATELIMIT_DEFAULT": "1000000 per minute", "STOPSYNC_LOG_LEVEL": "WARNING", "ROLE": "web",
           "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "4"}
    # The server's log goes to a file: a pipe nobody reads would block it once full.
    log_path = Path(instance) / "gunicorn.log"
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", str(REPO / "stopsync" / "gunicorn_conf.py"),
         "--access-logfile", "/dev/null", "stopsync.wsgi:app"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log_path.open("wb"),
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
    raise SystemExit("gunicorn did not come up: " + log_path.read_text(errors="replace")[-3000:])


# -- 3. the load (second process) -----------------------------------------------------------------

class Stop(Exception):
    """The time or request budget of a phase ran out."""


class Recorder:
    """Latencies per request kind and errors, shared by the client threads of one phase."""

    def __init__(self, seconds: float, max_requests: int) -> None:
        self.latencies: dict[str, list[float]] = {}
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.count = 0
        self.max_requests = max_requests
        self.deadline = time.monotonic() + seconds

    def client(self, port: int) -> Any:
        """A fetch function for one client thread (one keep-alive connection)."""
        connection = [http.client.HTTPConnection("127.0.0.1", port, timeout=30)]

        def fetch(kind: str, path: str) -> bytes | None:
            with self.lock:
                if time.monotonic() >= self.deadline or self.count >= self.max_requests:
                    raise Stop
                self.count += 1
            started = time.perf_counter()
            try:
                connection[0].request("GET", path, headers={"Accept": "application/json"}
                                      if kind.startswith("tile") else {})
                response = connection[0].getresponse()
                body = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as error:
                connection[0].close()
                connection[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status, body = 0, f"{error!r}".encode()
            elapsed = time.perf_counter() - started
            with self.lock:
                if status != 200:
                    self.errors.append(f"{kind} {path} -> {status} {body[:120]!r}")
                    return None
                self.latencies.setdefault(kind, []).append(elapsed)
            return body

        return fetch

    def result(self, wall: float) -> dict[str, Any]:
        done = sum(len(values) for values in self.latencies.values())
        return {"wall_s": round(wall, 2), "requests": done, "errors": len(self.errors),
                "error_samples": self.errors[:5], "rps": round(done / wall, 1) if wall else 0.0,
                "latency_ms": {kind: percentiles(values) for kind, values in sorted(self.latencies.items())}}


def server_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by the gunicorn master and its workers."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for process in (str(pid), *children):
        fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


SERVER_PID = [0]  # set by the driver: whose CPU time the phases measure


def run_phase(port: int, plans: list[Any], seconds: float, max_requests: int = 1_000_000) -> dict[str, Any]:
    """Each plan runs in its own thread with its own connection until it ends or the budget does.
    Besides latencies, the server's CPU time per request: a figure that other load on the machine
    disturbs less than throughput does."""
    recorder = Recorder(seconds, max_requests)
    cpu_before = server_cpu_s(SERVER_PID[0]) if SERVER_PID[0] else 0.0

    def run(plan: Any) -> None:
        fetch = recorder.client(port)
        with contextlib.suppress(Stop):
            plan(fetch)

    started = time.perf_counter()
    pool = [threading.Thread(target=run, args=(plan,)) for plan in plans]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    result = recorder.result(time.perf_counter() - started)
    if SERVER_PID[0] and result["requests"]:
        result["server_cpu_ms_per_request"] = round(
            (server_cpu_s(SERVER_PID[0]) - cpu_before) * 1000 / result["requests"], 2)
    return result


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {"n": len(ordered), "p50": round(statistics.median(ordered) * 1000, 1),
            "p95": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 1),
            "max": round(ordered[-1] * 1000, 1)}


def city_bbox(rng: random.Random) -> str:
    lon, lat = rng.choice(list(CITIES.values()))
    lon += rng.uniform(-0.01, 0.01)
    lat += rng.uniform(-0.005, 0.005)
    return f"{lon - CITY_HALF_SPAN[0]:.4f},{lat - CITY_HALF_SPAN[1]:.4f},{lon + CITY_HALF_SPAN[0]:.4f},"\
           f"{lat + CITY_HALF_SPAN[1]:.4f}"


# Problem lists as people open them: the default, the critical ones, one type, one operator.
PROBLEM_QUERIES = ["sort=priority", "priority=1", "priority=1,2&sort=type", "type=distance&sort=distance",
                   "type=unmatched_atlas&priority=1", "operator=SBB", "status=new&sort=type", "operator=PAG&priority=2"]
# The overview as the map asks for it below the stops zoom: the country, and each city around.
OVERVIEW_QUERIES = ["bbox=5.9,45.8,10.5,47.9&zoom=8"] + [
    f"bbox={lon - 0.35:.2f},{lat - 0.18:.2f},{lon + 0.35:.2f},{lat + 0.18:.2f}&zoom=11" for lon, lat in CITIES.values()]
# A map client's window in pixels, and the map's rule for tiles: zoom z - 1 (512-pixel tiles).
VIEWPORT_PX = (1280, 800)
TILE_ZOOM_OFFSET = 1


def viewport_tiles(lon: float, lat: float, view_zoom: int) -> list[tuple[int, int, int]]:
    """The data tiles (z = view zoom - 1) covering a viewport centred on (lon, lat)."""
    z = view_zoom - TILE_ZOOM_OFFSET
    # Half the viewport in tile units of zoom z (a tile of zoom z spans 2 ** offset * 256 px).
    half_x = VIEWPORT_PX[0] / 2 / (256 * 2**TILE_ZOOM_OFFSET)
    half_y = VIEWPORT_PX[1] / 2 / (256 * 2**TILE_ZOOM_OFFSET)
    n = 2**z
    x = (lon + 180.0) / 360.0 * n
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return [(z, column, row) for column in range(int(x - half_x), int(x + half_x) + 1)
            for row in range(int(y - half_y), int(y + half_y) + 1)]


def map_session(fetch: Any, rng: random.Random) -> None:
    """Open the map on a city at stop zoom, pan five times, maybe click a stop."""
    lon, lat = rng.choice(list(CITIES.values()))
    lon += rng.uniform(-0.01, 0.01)
    lat += rng.uniform(-0.006, 0.006)
    view_zoom = rng.choice((14, 15, 16))
    seen: set[tuple[int, int, int]] = set()  # the browser's own cache: a tile is fetched once per session
    last_tile = b""
    step = 360.0 / 2**view_zoom * VIEWPORT_PX[0] / 256 * 0.3  # a pan of 30 % of the window
    for _ in range(6):
        for z, x, y in viewport_tiles(lon, lat, view_zoom):
            if (z, x, y) in seen:
                continue
            seen.add((z, x, y))
            body = fetch(f"tile_z{z}", f"/api/v1/tiles/{z}/{x}/{y}")
            if body and b'"atlas":[{' in body:
                last_tile = body
        angle = rng.uniform(0, 2 * math.pi)
        lon += step * math.cos(angle)
        lat += step * math.sin(angle) * 0.68
    if last_tile and rng.random() < 0.5:  # a click on a stop of the last tile that had one
        fetch("stop_details", f"/api/v1/stops/{rng.choice(json.loads(last_tile)['atlas'])['id']}")


def problems_session(fetch: Any, rng: random.Random) -> None:
    """Open the problem list with common filters and read three pages."""
    path: str | None = f"/api/v1/problems?limit=100&{rng.choice(PROBLEM_QUERIES)}"
    for _ in range(3):
        assert path is not None
        body = fetch("problems_page", path)
        cursor = json.loads(body)["next_cursor"] if body else None
        if not cursor:
            return
        path = path.split("&cursor=")[0] + f"&cursor={cursor}"


def overview_session(fetch: Any, rng: random.Random) -> None:
    fetch("overview", f"/api/v1/overview?{rng.choice(OVERVIEW_QUERIES)}")


SESSIONS = ((map_session, 5), (problems_session, 3), (overview_session, 2))


def mix_plan(seed: int, sessions: int) -> Any:
    def plan(fetch: Any) -> None:
        rng = random.Random(seed)
        kinds = [session for session, weight in SESSIONS for _ in range(weight)]
        for _ in range(sessions):
            rng.choice(kinds)(fetch, rng)

    return plan


def sequence_plan(requests: list[tuple[str, str]]) -> Any:
    def plan(fetch: Any) -> None:
        for kind, path in requests:
            fetch(kind, path)

    return plan


def random_mix_plan(seed: int) -> Any:
    """The earlier benchmark's even mix: random city bboxes (never cached), problem pages, the
    country-wide overview."""
    def plan(fetch: Any) -> None:
        rng = random.Random(seed)
        while True:
            kind = rng.choice(("city_bbox", "problems_page", "overview"))
            if kind == "city_bbox":
                fetch(kind, f"/api/v1/stops?bbox={city_bbox(rng)}")
            elif kind == "problems_page":
                sort = rng.choice(("priority", "type", "distance"))
                fetch(kind, f"/api/v1/problems?limit=100&sort={sort}&priority={rng.choice(('1', '2', '3', '1,2'))}")
            else:
                fetch(kind, "/api/v1/overview?bbox=5.9,45.8,10.5,47.9&zoom=8")

    return plan


def latency_requests(seed: int = 3) -> list[tuple[str, str]]:
    """Distinct hot reads, each once: city tiles at z15 and z16, problem pages, overviews."""
    from stopsync.blueprints.api.tiles import tile_of

    rng = random.Random(seed)
    requests: list[tuple[str, str]] = []
    for z in (15, 16):
        tiles: set[tuple[int, int]] = set()
        while len(tiles) < 120:
            lon, lat = rng.choice(list(CITIES.values()))
            tiles.add(tile_of(lon + rng.uniform(-0.02, 0.02), lat + rng.uniform(-0.012, 0.012), z))
        requests += [(f"tile_z{z}", f"/api/v1/tiles/{z}/{x}/{y}") for x, y in sorted(tiles)]
    requests += [("problems_page", f"/api/v1/problems?limit=100&{query}") for query in PROBLEM_QUERIES]
    requests += [("overview", f"/api/v1/overview?{query}") for query in OVERVIEW_QUERIES]
    return requests


def flush(redis_url: str) -> None:
    """An empty cache (and no announcement: the first request reads the run id from the database)."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()


def driver_main(port: int, seconds: float, threads: int, redis_url: str, sessions: int, server_pid: int) -> None:
    SERVER_PID[0] = server_pid
    results: dict[str, Any] = {}
    # Warm-up of the processes (connections, imports), not of the cache: flushed right after.
    run_phase(port, [sequence_plan([("warmup", "/api/v1/stops?bbox=8.5,47.3,8.6,47.4")] * 20)], 30)
    flush(redis_url)
    # Latency: one client at a time (requests back to back), so queueing does not count. Each hot
    # read once on an empty cache (cold: computed), then once more (warm: cached bytes).
    hot = latency_requests()
    results["latency_cold"] = run_phase(port, [sequence_plan(hot)], 120)
    results["latency_warm"] = run_phase(port, [sequence_plan(hot)], 120)
    rng = random.Random(5)
    results["latency_city_bbox"] = run_phase(
        port, [sequence_plan([("city_bbox", f"/api/v1/stops?bbox={city_bbox(rng)}") for _ in range(300)])], 20)
    # Throughput: ``threads`` map users at once, the same sessions twice: first on an empty cache
    # (cold), then again (warm).
    flush(redis_url)
    plans = [mix_plan(seed, sessions) for seed in range(threads)]
    results["mix_cold"] = run_phase(port, plans, seconds * 3)
    results["mix_warm"] = run_phase(port, plans, seconds * 3)
    # The earlier benchmark's mix (random bboxes, never cached), for comparison.
    results["random_bbox_mix"] = run_phase(port, [random_mix_plan(seed) for seed in range(threads)], seconds)
    print(json.dumps(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--sessions", type=int, default=40, help="sessions per client thread in the mix")
    parser.add_argument("--drive", type=int, help=argparse.SUPPRESS)  # the load process: the server's port
    parser.add_argument("--server-pid", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        driver_main(args.drive, args.seconds, args.threads, args.redis_url, args.sessions, args.server_pid)
        return
    started = time.perf_counter()
    url, counts = load(args.admin_url)
    print(f"loaded {counts} into {DATABASE} in {time.perf_counter() - started:.1f} s", flush=True)
    flush(args.redis_url)
    port = free_port()
    with tempfile.TemporaryDirectory() as instance:
        server = start_server(url, args.redis_url, port, instance)
        try:
            load_process = subprocess.run(
                [sys.executable, __file__, "--drive", str(port), "--seconds", str(args.seconds),
                 "--threads", str(args.threads), "--redis-url", args.redis_url, "--sessions", str(args.sessions),
                 "--server-pid", str(server.pid)],
                capture_output=True, text=True, timeout=900, check=True)
        finally:
            server.terminate()
            server.wait(timeout=30)
    results = json.loads(load_process.stdout.strip().splitlines()[-1])
    for name, result in results.items():
        cpu = result.get("server_cpu_ms_per_request")
        print(f"{name:17} {result['requests']:6d} req in {result['wall_s']:5.1f} s = {result['rps']:7.1f} req/s, "
              f"errors {result['errors']}" + (f"; server CPU {cpu} ms/request" if cpu is not None else ""))
        for kind, lat in result["latency_ms"].items():
            if lat:
                print(f"    {kind:14} p50 {lat['p50']:7.1f} ms  p95 {lat['p95']:7.1f} ms  max {lat['max']:7.1f} ms"
                      f"  (n={lat['n']})")
        if result["errors"]:
            print("  error samples:", result["error_samples"])


if __name__ == "__main__":
    main()
