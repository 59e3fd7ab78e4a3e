"""Reader for a GTFS feed (a ZIP or a directory) and the GTFS → SLOID resolution.

The national feed has more than 26 M stop_times, so they never become Python objects: the CSV
members are extracted (streamed) from the ZIP to a work directory and DuckDB reduces them to
distinct ordered stop patterns per (route, direction) with trip counts. Only stops, routes and
those patterns reach Python.
"""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
import tempfile
import time
import zipfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from ..errors import ConfigurationError, InputError
from ..plugins.base import SourceResult
from .geo import haversine_m
from .records import AtlasPlatform

SLOID_PREFIX = "ch:1:sloid:"
# Column → DuckDB type for the columns the reader uses; every other column is read as text.
_TYPED_COLUMNS: dict[str, dict[str, str]] = {
    "stops.txt": {"stop_lat": "DOUBLE", "stop_lon": "DOUBLE", "location_type": "INTEGER"},
    "routes.txt": {"route_type": "INTEGER"},
    "trips.txt": {"direction_id": "INTEGER"},
    "stop_times.txt": {"stop_sequence": "INTEGER"},
    "calendar.txt": {},
}
REQUIRED_MEMBERS: dict[str, tuple[str, ...]] = {
    "stops.txt": ("stop_id",),
    "routes.txt": ("route_id",),
    "trips.txt": ("route_id", "trip_id"),
    "stop_times.txt": ("trip_id", "stop_id", "stop_sequence"),
}
OPTIONAL_MEMBERS: dict[str, tuple[str, ...]] = {"calendar.txt": ("service_id", "start_date", "end_date")}
_COPY_CHUNK = 1 << 20
_EXAMPLES_KEPT = 5

_YEAR_PART = re.compile(r"(?<=-)j\d{2}(?=-|$)")
_PLATFORM_STOP = re.compile(r"^(\d{7}):[^:]*:([^:]+)$")
_PARENT_STOP = re.compile(r"^(?:Parent(\d{7})|(\d{7})P)$")
_BARE_STOP = re.compile(r"^(\d{7})$")
# Platform codes 10000, 10001, ... stand for platforms 1, 2, ... (DOMAIN.md §2).
_PLACEHOLDER_BASE = 10000
_PLACEHOLDER_SPAN = 100


# --- records ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GtfsStop:
    stop_id: str
    name: str
    lat: float | None  # None only for location types that need no position (nodes, areas)
    lon: float | None
    location_type: int  # 0 stop/platform, 1 station (parent), 2 entrance, 3 node, 4 area
    parent_station: str  # "" when absent
    original_stop_id: str  # newer Swiss feeds hold a SLOID here; "" when absent

    @property
    def is_parent(self) -> bool:
        """A station rather than a boarding point: never resolved to a platform."""
        if self.location_type == 1:
            return True
        return _PARENT_STOP.match(self.stop_id) is not None


@dataclass(frozen=True, slots=True)
class GtfsRoute:
    route_id: str
    route_id_normalised: str
    short_name: str
    long_name: str
    route_type: int | None
    agency_id: str


@dataclass(frozen=True, slots=True)
class GtfsPattern:
    """One distinct ordered stop sequence of a route and direction, with its number of trips."""

    pattern_id: str
    route_id: str
    direction_id: int | None  # None when trips.txt has no direction_id
    stop_ids: tuple[str, ...]
    trip_count: int


@dataclass(slots=True)
class GtfsFeed:
    stops: list[GtfsStop] = field(default_factory=list)
    routes: list[GtfsRoute] = field(default_factory=list)
    patterns: list[GtfsPattern] = field(default_factory=list)

    def route_index(self) -> dict[str, GtfsRoute]:
        return {route.route_id: route for route in self.routes}


@dataclass(frozen=True, slots=True)
class StopResolution:
    sloid: str
    method: str  # one of RESOLUTION_METHODS
    confidence: float


@dataclass(frozen=True, slots=True)
class GtfsItinerary:
    """A distinct stop sequence of a line (normalised route id) in one direction."""

    route_id_normalised: str
    direction_id: int | None
    stop_ids: tuple[str, ...]
    trip_count: int


# --- identifiers -----------------------------------------------------------------------------


def normalise_route_id(route_id: str) -> str:
    """Replace the timetable-year part ``-jNN`` by ``-jXX`` so ids of other years still match:
    ``92-13-D-j21-1`` → ``92-13-D-jXX-1``."""
    return _YEAR_PART.sub("jXX", route_id.strip())


def _platform_code(code: str) -> str:
    code = code.strip()
    if code.isdigit():
        number = int(code)
        if _PLACEHOLDER_BASE <= number < _PLACEHOLDER_BASE + _PLACEHOLDER_SPAN:
            return str(number - _PLACEHOLDER_BASE + 1)
    return code


def stop_uic_and_platform(stop_id: str) -> tuple[str | None, str | None]:
    """The UIC number and platform code encoded in a Swiss GTFS stop id.

    ``8503000:0:7`` → (``8503000``, ``7``); ``Parent8503000`` and ``8503000P`` → (``8503000``,
    None); ``8502088`` → (``8502088``, None); anything else → (None, None).
    """
    stop_id = stop_id.strip()
    platform = _PLATFORM_STOP.match(stop_id)
    if platform:
        return platform.group(1), _platform_code(platform.group(2))
    parent = _PARENT_STOP.match(stop_id)
    if parent:
        return parent.group(1) or parent.group(2), None
    bare = _BARE_STOP.match(stop_id)
    if bare:
        return bare.group(1), None
    return None, None


def _pattern_id(route_id: str, direction_id: int | None, stop_ids: Sequence[str]) -> str:
    """Stable across runs and independent of row order: a digest of what defines the pattern."""
    key = "\x1f".join([route_id, "" if direction_id is None else str(direction_id), *stop_ids])
    return hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


# --- input members ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Member:
    name: str  # canonical name, e.g. "stops.txt"
    file: Path  # a plain file DuckDB can read
    where: str  # how error messages name it: "feed.zip!stops.txt" or the file path
    header: tuple[str, ...]


def _find_zip_members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """GTFS members by base name; feeds sometimes nest them in one folder."""
    found: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        if info.is_dir() or info.filename.startswith("__MACOSX/"):
            continue
        base = info.filename.rsplit("/", 1)[-1].lower()
        if base in REQUIRED_MEMBERS or base in OPTIONAL_MEMBERS:
            found.setdefault(base, info)
    return found


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, where: str) -> None:
    try:
        with archive.open(info) as source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink, _COPY_CHUNK)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise InputError(f"the ZIP member is damaged or truncated: {exc}", path=where) from exc
    except NotImplementedError as exc:  # e.g. an unsupported compression method
        raise InputError(f"the ZIP member cannot be unpacked: {exc}", path=where) from exc


def _read_header(file: Path, where: str) -> tuple[str, ...]:
    with open(file, "rb") as raw:
        first = raw.readline(1 << 16)
    if first.startswith(b"\xef\xbb\xbf"):
        first = first[3:]
    if not first.strip():
        raise InputError("the file is empty (no header line)", path=where, line=1)
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"the header is not UTF-8 text ({exc.reason})", path=where, line=1) from exc
    header = tuple(name.strip() for name in next(csv.reader([text]), []))
    duplicates = [name for name, count in Counter(header).items() if count > 1]
    if duplicates:
        raise InputError("the header repeats a column", path=where, line=1, column=duplicates[0])
    return header


def _check_columns(member: _Member, required: Iterable[str]) -> None:
    missing = [column for column in required if column not in member.header]
    if missing:
        raise InputError(f"required column {missing[0]!r} is missing from the header", path=member.where,
                         line=1, column=missing[0])


@contextmanager
def _members(path: Path, scratch: Path) -> Iterator[dict[str, _Member]]:
    """The GTFS members this reader uses as plain files, extracted into ``scratch`` if needed."""
    wanted = {**REQUIRED_MEMBERS, **OPTIONAL_MEMBERS}
    files: dict[str, tuple[Path, str]] = {}
    if path.is_dir():
        for name in wanted:
            candidate = path / name
            if candidate.is_file():
                files[name] = (candidate, str(candidate))
    else:
        try:
            with open(path, "rb") as raw:
                magic = raw.read(4)
        except OSError as exc:
            raise InputError(f"cannot read the GTFS file: {exc}", path=str(path)) from exc
        if magic not in (b"PK\x03\x04", b"PK\x05\x06"):
            raise InputError("not a ZIP archive (a GTFS feed is a ZIP of CSV files)", path=str(path))
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(f"not a readable ZIP archive (truncated or damaged?): {exc}", path=str(path)) from exc
        with archive:
            for name, info in _find_zip_members(archive).items():
                where = f"{path}!{info.filename}"
                target = scratch / name
                _extract(archive, info, target, where)
                files[name] = (target, where)
    for name in REQUIRED_MEMBERS:
        if name not in files:
            raise InputError(f"the feed has no {name}", path=f"{path}!{name}" if path.is_file() else str(path / name),
                             column=None)
    members = {name: _Member(name, file, where, _read_header(file, where)) for name, (file, where) in files.items()}
    for name, required in wanted.items():
        if name in members:
            _check_columns(members[name], required)
    yield members


# --- DuckDB ----------------------------------------------------------------------------------


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _scan(member: _Member) -> str:
    """A ``read_csv`` call with every column named and typed explicitly (no sniffing)."""
    typed = _TYPED_COLUMNS.get(member.name, {})
    columns = ", ".join(f"{_sql_string(name)}: {_sql_string(typed.get(name, 'VARCHAR'))}" for name in member.header)
    return (
        f"read_csv({_sql_string(str(member.file))}, header = true, delim = ',', quote = '\"', escape = '\"', "
        f"auto_detect = false, columns = {{{columns}}})"
    )


def _column(member: _Member, name: str, default: str = "NULL") -> str:
    """A quoted column reference, or ``default`` when the optional column is absent."""
    return '"' + name.replace('"', '""') + '"' if name in member.header else default


_LINE_IN_ERROR = re.compile(r"[Ll]ine:?\s*(\d+)")
_COLUMN_IN_ERROR = re.compile(r'converting column "([^"]+)"')
_USEFUL_ERROR_LINES = ("Error when converting", "Expected Number of Columns", "Invalid unicode")


@contextmanager
def _duckdb_errors(member: _Member) -> Iterator[None]:
    try:
        yield
    except duckdb.Error as exc:
        text = str(exc).strip()
        line_match = _LINE_IN_ERROR.search(text)
        column_match = _COLUMN_IN_ERROR.search(text)
        lines = text.splitlines()
        # DuckDB appends hints and its reader options; keep the error and what it found.
        details = [line.strip() for line in lines[1:] if line.startswith(_USEFUL_ERROR_LINES)]
        summary = "; ".join([lines[0] if lines else type(exc).__name__, *details])
        raise InputError(f"cannot read the CSV: {summary}", path=member.where,
                         line=int(line_match.group(1)) if line_match else None,
                         column=column_match.group(1) if column_match else None) from exc


def _connect(scratch: Path, memory_limit: str) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(":memory:")
    spill = scratch / "duckdb-spill"
    spill.mkdir(exist_ok=True)
    try:
        connection.execute(f"SET memory_limit = {_sql_string(memory_limit)}")
    except duckdb.Error as exc:
        connection.close()
        raise ConfigurationError(f"invalid GTFS memory limit {memory_limit!r}: {str(exc).splitlines()[0]}") from exc
    # Two cores on the target machine; insertion order is never needed and costs memory.
    connection.execute("SET threads = 2")
    connection.execute("SET preserve_insertion_order = false")
    connection.execute(f"SET temp_directory = {_sql_string(str(spill))}")
    return connection


def _require_rows(connection: duckdb.DuckDBPyConnection, table: str, member: _Member) -> int:
    row = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
    count = int(row[0]) if row else 0
    if count == 0:
        raise InputError("the file has a header but no data rows", path=member.where, line=2)
    return count


def _require_values(connection: duckdb.DuckDBPyConnection, table: str, member: _Member,
                    columns: Sequence[str]) -> None:
    for column in columns:
        query = f"SELECT count(*) FROM {table} WHERE {column} IS NULL OR trim({column}) = ''"
        row = connection.execute(query).fetchone()
        if row and row[0]:
            raise InputError(f"{row[0]} rows have no value", path=member.where, column=column)


def _load_stops(connection: duckdb.DuckDBPyConnection, member: _Member) -> list[GtfsStop]:
    with _duckdb_errors(member):
        connection.execute(
            f"""CREATE TABLE stops AS SELECT
                trim(stop_id) AS stop_id,
                coalesce({_column(member, 'stop_name')}, '') AS stop_name,
                {_column(member, 'stop_lat')} AS lat,
                {_column(member, 'stop_lon')} AS lon,
                coalesce({_column(member, 'location_type')}, 0) AS location_type,
                coalesce(trim({_column(member, 'parent_station')}), '') AS parent_station,
                coalesce(trim({_column(member, 'original_stop_id')}), '') AS original_stop_id
            FROM {_scan(member)}"""
        )
    _require_rows(connection, "stops", member)
    _require_values(connection, "stops", member, ["stop_id"])
    duplicate = connection.execute(
        "SELECT stop_id FROM stops GROUP BY stop_id HAVING count(*) > 1 ORDER BY stop_id LIMIT 1").fetchone()
    if duplicate:
        raise InputError(f"stop_id {duplicate[0]!r} occurs more than once", path=member.where, column="stop_id")
    stops = []
    for stop_id, name, lat, lon, location_type, parent, original in connection.execute(
        "SELECT * FROM stops ORDER BY stop_id"
    ).fetchall():
        if location_type in (0, 1, 2) and (lat is None or lon is None):
            raise InputError(f"stop {stop_id!r} has no coordinates", path=member.where,
                             column="stop_lat" if lat is None else "stop_lon")
        stops.append(GtfsStop(stop_id, name, lat, lon, int(location_type), parent, original))
    return stops


def _load_routes(connection: duckdb.DuckDBPyConnection, member: _Member) -> list[GtfsRoute]:
    with _duckdb_errors(member):
        rows = connection.execute(
            f"""SELECT trim(route_id), coalesce({_column(member, 'route_short_name')}, ''),
                       coalesce({_column(member, 'route_long_name')}, ''), {_column(member, 'route_type')},
                       coalesce(trim({_column(member, 'agency_id')}), '')
                FROM {_scan(member)} ORDER BY 1"""
        ).fetchall()
    if not rows:
        raise InputError("the file has a header but no data rows", path=member.where, line=2)
    if any(not row[0] for row in rows):
        raise InputError("a row has no route_id", path=member.where, column="route_id")
    return [GtfsRoute(route_id, normalise_route_id(route_id), short, long, route_type, agency)
            for route_id, short, long, route_type, agency in rows]


def _load_trips(connection: duckdb.DuckDBPyConnection, member: _Member) -> int:
    with _duckdb_errors(member):
        connection.execute(
            f"""CREATE TABLE trips AS SELECT
                trim(route_id) AS route_id, trim(trip_id) AS trip_id,
                {_column(member, 'direction_id')} AS direction_id
            FROM {_scan(member)}"""
        )
    count = _require_rows(connection, "trips", member)
    _require_values(connection, "trips", member, ["route_id", "trip_id"])
    bad_direction = connection.execute(
        "SELECT direction_id FROM trips WHERE direction_id NOT IN (0, 1) LIMIT 1").fetchone()
    if bad_direction:
        raise InputError(f"direction_id must be 0 or 1, got {bad_direction[0]}", path=member.where,
                         column="direction_id")
    duplicate = connection.execute(
        "SELECT trip_id FROM trips GROUP BY trip_id HAVING count(*) > 1 LIMIT 1").fetchone()
    if duplicate:
        raise InputError(f"trip_id {duplicate[0]!r} occurs more than once", path=member.where, column="trip_id")
    return count


def _reduce_stop_times(connection: duckdb.DuckDBPyConnection, member: _Member) -> dict[str, Any]:
    """Group stop_times by trip into ordered stop lists, in one pass over the CSV.

    Stop and trip ids are replaced by small integers first, so the per-trip lists hold 4-byte
    values instead of strings; that keeps the national feed well inside the memory limit.
    """
    connection.execute("CREATE TABLE stop_keys AS SELECT stop_id, CAST(row_number() OVER () AS INTEGER) AS stop_key "
                       "FROM stops")
    connection.execute("CREATE TABLE trip_keys AS SELECT trip_id, route_id, direction_id, "
                       "CAST(row_number() OVER () AS INTEGER) AS trip_key FROM trips")
    with _duckdb_errors(member):
        connection.execute(
            f"""CREATE TABLE trip_calls AS
            WITH calls AS (
                SELECT trim(trip_id) AS trip_id, trim(stop_id) AS stop_id, stop_sequence FROM {_scan(member)}
            )
            SELECT t.trip_key,
                   list(s.stop_key ORDER BY c.stop_sequence) FILTER (WHERE s.stop_key IS NOT NULL) AS stop_keys,
                   count(*) AS calls,
                   count_if(s.stop_key IS NULL) AS unknown_stops,
                   count_if(c.stop_sequence IS NULL) AS missing_sequence,
                   count(DISTINCT c.stop_sequence) AS distinct_sequences,
                   any_value(c.stop_id) FILTER (WHERE s.stop_key IS NULL) AS unknown_stop_example
            FROM calls c
            LEFT JOIN trip_keys t ON c.trip_id = t.trip_id
            LEFT JOIN stop_keys s ON c.stop_id = s.stop_id
            GROUP BY t.trip_key"""
        )
    totals = connection.execute(
        """SELECT coalesce(sum(calls), 0),
                  coalesce(sum(calls) FILTER (WHERE trip_key IS NULL), 0),
                  coalesce(sum(unknown_stops) FILTER (WHERE trip_key IS NOT NULL), 0),
                  coalesce(sum(missing_sequence), 0),
                  count(*) FILTER (WHERE trip_key IS NOT NULL AND distinct_sequences < calls - missing_sequence),
                  list(DISTINCT unknown_stop_example) FILTER (WHERE unknown_stop_example IS NOT NULL)
           FROM trip_calls"""
    ).fetchone()
    assert totals is not None  # an aggregate without GROUP BY always returns one row
    stop_times, unknown_trip_calls, unknown_stop_calls, missing_sequence, repeated_sequence, unknown_stops = totals
    if stop_times == 0:
        raise InputError("the file has a header but no data rows", path=member.where, line=2)
    if missing_sequence:
        raise InputError(f"{missing_sequence} rows have no value", path=member.where, column="stop_sequence")
    if repeated_sequence:
        raise InputError(f"{repeated_sequence} trips repeat a stop_sequence value", path=member.where,
                         column="stop_sequence")
    return {
        "stop_times": int(stop_times),
        # Calls of trips that trips.txt does not list, and calls at stops stops.txt does not list:
        # they cannot be placed in a pattern and are left out (counted, not fatal).
        "stop_times_unknown_trip": int(unknown_trip_calls),
        "stop_times_unknown_stop": int(unknown_stop_calls),
        "unknown_stop_examples": sorted(unknown_stops or [])[:_EXAMPLES_KEPT],
    }


def _patterns(connection: duckdb.DuckDBPyConnection) -> tuple[list[GtfsPattern], int]:
    rows = connection.execute(
        """WITH grouped AS (
               SELECT t.route_id, t.direction_id, c.stop_keys, count(*) AS trips
               FROM trip_calls c JOIN trip_keys t ON c.trip_key = t.trip_key
               WHERE c.stop_keys IS NOT NULL AND len(c.stop_keys) > 0
               GROUP BY ALL
           )
           SELECT route_id, direction_id, stop_keys, trips FROM grouped"""
    ).fetchall()
    without_calls = connection.execute(
        "SELECT count(*) FROM trip_keys k ANTI JOIN trip_calls c USING (trip_key)").fetchone()
    stop_ids = [row[0] for row in connection.execute("SELECT stop_id FROM stop_keys ORDER BY stop_key").fetchall()]
    patterns = []
    for route_id, direction_id, keys, trips in rows:
        ids = tuple(stop_ids[key - 1] for key in keys)
        patterns.append(GtfsPattern(_pattern_id(route_id, direction_id, ids), route_id, direction_id, ids, int(trips)))
    patterns.sort(key=lambda p: (p.route_id, -1 if p.direction_id is None else p.direction_id, -p.trip_count,
                                 p.stop_ids))
    return patterns, int(without_calls[0]) if without_calls else 0


def _calendar_window(connection: duckdb.DuckDBPyConnection, member: _Member) -> dict[str, Any]:
    with _duckdb_errors(member):
        row = connection.execute(
            f"SELECT min(start_date), max(end_date), count(*) FROM {_scan(member)}").fetchone()
    if not row or not row[2]:
        return {}
    return {"service_start": row[0], "service_end": row[1], "calendar_rows": int(row[2])}


def read_gtfs(path: Path, *, work_dir: Path | None = None, memory_limit: str = "1GB") -> SourceResult:
    """Read a GTFS ZIP (or directory): stops, routes and the distinct stop patterns.

    ``work_dir`` holds the extracted members and DuckDB's spill files (default: the system
    temporary directory); everything written there is removed before returning.
    """
    started = time.perf_counter()
    path = Path(path)
    if not path.exists():
        raise InputError("the GTFS file does not exist", path=str(path))
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="stopsync-gtfs-", dir=work_dir)))
        members = stack.enter_context(_members(path, scratch))
        extracted = time.perf_counter()
        connection = _connect(scratch, memory_limit)
        stack.callback(connection.close)
        stops = _load_stops(connection, members["stops.txt"])
        routes = _load_routes(connection, members["routes.txt"])
        trip_count = _load_trips(connection, members["trips.txt"])
        reduce_started = time.perf_counter()
        call_stats = _reduce_stop_times(connection, members["stop_times.txt"])
        patterns, trips_without_calls = _patterns(connection)
        reduced = time.perf_counter()
        known_routes = {route.route_id for route in routes}
        trips_unknown_route = sum(
            int(count) for route_id, count in
            connection.execute("SELECT route_id, count(*) FROM trips GROUP BY route_id").fetchall()
            if route_id not in known_routes
        )
        calendar = _calendar_window(connection, members["calendar.txt"]) if "calendar.txt" in members else {}
    feed = GtfsFeed(stops=stops, routes=routes, patterns=patterns)
    stats: dict[str, Any] = {
        "stops": len(stops),
        "parent_stops": sum(1 for stop in stops if stop.is_parent),
        "routes": len(routes),
        "trips": trip_count,
        **call_stats,
        "trips_without_stop_times": trips_without_calls,
        "patterns": len(patterns),
        # Trips whose route_id routes.txt does not list: their patterns are kept (counted).
        "trips_unknown_route": trips_unknown_route,
        **calendar,
        "extract_s": round(extracted - started, 3),
        "pattern_s": round(reduced - reduce_started, 3),
        "duration_s": round(time.perf_counter() - started, 3),
    }
    return SourceResult(records=feed, stats=stats)


# --- GTFS stop → SLOID -----------------------------------------------------------------------

RESOLUTION_METHODS = ("original_stop_id", "uic_platform", "uic_proximity", "unique_uic")
RESOLUTION_CONFIDENCE = {"original_stop_id": 1.0, "uic_platform": 0.95, "uic_proximity": 0.9, "unique_uic": 0.7}
PROXIMITY_LIMIT_M = 0.5


def _close_pairs(stops: Sequence[GtfsStop], platforms: Sequence[AtlasPlatform]) -> list[tuple[int, int]]:
    """Index pairs (stop, platform) closer than the limit, within one UIC group (a few items)."""
    pairs = []
    for i, stop in enumerate(stops):
        if stop.lat is None or stop.lon is None:
            continue
        for j, platform in enumerate(platforms):
            # A cheap degree-box test first; 1e-5° is about 1.1 m of latitude.
            if abs(stop.lat - platform.lat) > 1e-5 or abs(stop.lon - platform.lon) > 2e-5:
                continue
            if haversine_m(stop.lat, stop.lon, platform.lat, platform.lon) <= PROXIMITY_LIMIT_M:
                pairs.append((i, j))
    return pairs


def resolve_stop_ids(feed: GtfsFeed, atlas: Sequence[AtlasPlatform]) -> dict[str, StopResolution]:
    """Map GTFS stop ids to ATLAS SLOIDs, trying in order (DOMAIN.md §2):

    1. ``original_stop_id`` (or the stop id itself) is a SLOID present in ATLAS — 1.0;
    2. UIC + platform code equal ATLAS ``number`` + ``designation``, unambiguously — 0.95;
    3. the only same-UIC ATLAS point within 0.5 m, itself near no other GTFS stop — 0.9;
    4. the UIC number occurs exactly once in ATLAS — 0.7.

    Parent stations are never resolved. Stops without a resolution are absent from the result.
    All lookups go through dictionaries keyed by SLOID, (UIC, platform) or UIC.
    """
    by_sloid = {platform.sloid: platform for platform in atlas}
    by_number_designation: dict[tuple[str, str], list[AtlasPlatform]] = defaultdict(list)
    by_number: dict[str, list[AtlasPlatform]] = defaultdict(list)
    for platform in atlas:
        by_number_designation[(platform.number, platform.designation.strip().casefold())].append(platform)
        by_number[platform.number].append(platform)

    resolutions: dict[str, StopResolution] = {}

    def resolve(stop: GtfsStop, sloid: str, method: str) -> None:
        resolutions[stop.stop_id] = StopResolution(sloid, method, RESOLUTION_CONFIDENCE[method])

    candidates = [stop for stop in feed.stops if not stop.is_parent]
    stops_by_uic: dict[str, list[GtfsStop]] = defaultdict(list)
    for stop in candidates:
        for own in (stop.original_stop_id, stop.stop_id):
            if own.startswith(SLOID_PREFIX) and own in by_sloid:
                resolve(stop, own, "original_stop_id")
                break
        uic, platform_code = stop_uic_and_platform(stop.stop_id)
        if uic is None:
            continue
        stops_by_uic[uic].append(stop)
        if stop.stop_id in resolutions or platform_code is None:
            continue
        same_code = by_number_designation.get((uic, platform_code.casefold()), [])
        if len(same_code) == 1:
            resolve(stop, same_code[0].sloid, "uic_platform")

    for uic, uic_stops in stops_by_uic.items():
        uic_platforms = by_number.get(uic, [])
        if not uic_platforms:
            continue
        pairs = _close_pairs(uic_stops, uic_platforms)
        near_platforms = Counter(i for i, _ in pairs)
        near_stops = Counter(j for _, j in pairs)
        for i, j in pairs:
            stop = uic_stops[i]
            if stop.stop_id not in resolutions and near_platforms[i] == 1 and near_stops[j] == 1:
                resolve(stop, uic_platforms[j].sloid, "uic_proximity")
        if len(uic_platforms) == 1:
            for stop in uic_stops:
                if stop.stop_id not in resolutions:
                    resolve(stop, uic_platforms[0].sloid, "unique_uic")
    return resolutions


def resolution_stats(feed: GtfsFeed, resolutions: dict[str, StopResolution]) -> dict[str, Any]:
    """Coverage of the resolution: over all stops and over the boarding points (non-parents)."""
    eligible = sum(1 for stop in feed.stops if not stop.is_parent)
    by_method = Counter(resolution.method for resolution in resolutions.values())
    resolved = len(resolutions)
    return {
        "stops": len(feed.stops),
        "eligible_stops": eligible,
        "resolved": resolved,
        "by_method": {method: by_method.get(method, 0) for method in RESOLUTION_METHODS},
        "coverage_all": round(resolved / len(feed.stops), 4) if feed.stops else 0.0,
        "coverage_eligible": round(resolved / eligible, 4) if eligible else 0.0,
        "distinct_sloids": len({resolution.sloid for resolution in resolutions.values()}),
    }


# --- route evidence --------------------------------------------------------------------------


def route_token(route_id_normalised: str, direction_id: int | None) -> str:
    """``"<normalised route id>:<direction>"``; the direction part is empty when unknown."""
    return f"{route_id_normalised}:{'' if direction_id is None else direction_id}"


def route_tokens(feed: GtfsFeed, resolutions: dict[str, StopResolution]) -> dict[str, set[str]]:
    """Per SLOID, the (route, direction) tokens of the patterns that call there."""
    normalised = {route.route_id: route.route_id_normalised for route in feed.routes}
    tokens: dict[str, set[str]] = defaultdict(set)
    for pattern in feed.patterns:
        token = route_token(normalised.get(pattern.route_id, normalise_route_id(pattern.route_id)),
                            pattern.direction_id)
        for stop_id in set(pattern.stop_ids):
            resolution = resolutions.get(stop_id)
            if resolution is not None:
                tokens[resolution.sloid].add(token)
    return dict(tokens)


def itineraries(feed: GtfsFeed) -> list[GtfsItinerary]:
    """One itinerary per distinct (normalised route, direction, stop sequence); patterns of
    route ids that normalise alike are merged and their trips added up."""
    normalised = {route.route_id: route.route_id_normalised for route in feed.routes}
    trips: Counter[tuple[str, int | None, tuple[str, ...]]] = Counter()
    for pattern in feed.patterns:
        route = normalised.get(pattern.route_id, normalise_route_id(pattern.route_id))
        trips[(route, pattern.direction_id, pattern.stop_ids)] += pattern.trip_count
    result = [GtfsItinerary(route, direction, stops, count) for (route, direction, stops), count in trips.items()]
    result.sort(key=lambda it: (it.route_id_normalised, -1 if it.direction_id is None else it.direction_id,
                                -it.trip_count, it.stop_ids))
    return result


def line_families(feed: GtfsFeed) -> dict[str, list[GtfsItinerary]]:
    """Itineraries grouped by normalised route id, each list by direction then most trips first."""
    families: dict[str, list[GtfsItinerary]] = defaultdict(list)
    for itinerary in itineraries(feed):
        families[itinerary.route_id_normalised].append(itinerary)
    return dict(families)


def itinerary_sloids(itinerary: GtfsItinerary, resolutions: dict[str, StopResolution]) -> tuple[str | None, ...]:
    """The stop calls of an itinerary as SLOIDs (None where a stop is unresolved), for
    comparing with the member order of an OSM route."""
    return tuple(resolution.sloid if (resolution := resolutions.get(stop_id)) else None
                 for stop_id in itinerary.stop_ids)
