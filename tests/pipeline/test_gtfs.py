"""GTFS reader on the two real Swiss subsets, stop-id parsing, SLOID resolution, route evidence
and every kind of broken feed."""

from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from stopsync.errors import ConfigurationError, InputError
from stopsync.pipeline.gtfs import (
    GtfsFeed,
    GtfsPattern,
    GtfsRoute,
    GtfsStop,
    StopResolution,
    itinerary_sloids,
    line_families,
    normalise_route_id,
    read_gtfs,
    resolution_stats,
    resolve_stop_ids,
    route_tokens,
    stop_uic_and_platform,
)
from stopsync.pipeline.records import AtlasPlatform
from stopsync.plugins.builtin import gtfs_source

SUBSETS = {
    # file: (stops, routes, trips, stop_times) as published in shared/data/README.md
    "gtfs_ch_2019_subset.zip": (100, 5, 2_272, 23_650),
    "gtfs_ch_2020_subset.zip": (137, 4, 2_114, 46_471),
}


@pytest.fixture(scope="module", params=sorted(SUBSETS))
def subset(request: pytest.FixtureRequest, real_data: Path) -> tuple[str, Path]:
    return request.param, real_data / request.param


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_zip(path: Path, contents: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return path


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


# --- the real subsets ------------------------------------------------------------------------


def test_counts_match_the_published_numbers(subset: tuple[str, Path]) -> None:
    name, path = subset
    stops, routes, trips, stop_times = SUBSETS[name]
    result = read_gtfs(path)
    assert (result.stats["stops"], result.stats["routes"], result.stats["trips"], result.stats["stop_times"]) == (
        stops, routes, trips, stop_times)
    feed = result.records
    assert isinstance(feed, GtfsFeed)
    assert len(feed.stops) == stops and len(feed.routes) == routes
    assert result.stats["patterns"] == len(feed.patterns) > 0
    assert sum(pattern.trip_count for pattern in feed.patterns) == trips
    assert result.stats["stop_times_unknown_stop"] == result.stats["stop_times_unknown_trip"] == 0
    assert result.stats["duration_s"] >= result.stats["pattern_s"] >= 0


def test_patterns_equal_an_independent_reduction(subset: tuple[str, Path]) -> None:
    """Recompute the patterns with the csv module and compare all of them."""
    _, path = subset
    files = members(path)
    trips = {row["trip_id"]: (row["route_id"], int(row["direction_id"])) for row in csv_rows(files["trips.txt"])}
    calls: dict[str, list[tuple[int, str]]] = {}
    for row in csv_rows(files["stop_times.txt"]):
        calls.setdefault(row["trip_id"], []).append((int(row["stop_sequence"]), row["stop_id"]))
    expected = Counter(
        (*trips[trip_id], tuple(stop for _, stop in sorted(stop_calls))) for trip_id, stop_calls in calls.items()
    )
    feed = read_gtfs(path).records
    assert {(p.route_id, p.direction_id, p.stop_ids): p.trip_count for p in feed.patterns} == dict(expected)
    assert len({p.pattern_id for p in feed.patterns}) == len(feed.patterns)


def test_a_pattern_checked_by_hand(real_data: Path) -> None:
    # Trip 1.TA.1-85-j19-1.1.H (PostAuto 85, direction 0) read off stop_times.txt.
    feed = read_gtfs(real_data / "gtfs_ch_2019_subset.zip").records
    bus_85 = ("8572668", "8502095", "8572666", "8502887", "8581055", "8502096", "8581347", "8502097", "8502886",
              "8502748", "8572661", "8572660", "8502088", "8502089", "8572657", "8572656", "8572648")
    matching = [p for p in feed.patterns if p.route_id == "1-85-j19-1" and p.stop_ids == bus_85]
    assert len(matching) == 1 and matching[0].direction_id == 0 and matching[0].trip_count >= 1
    # RhB Albula trip 1.TA.59-9-Y-j20-1.1.H: stop_sequence jumps from 10 to 12, order must hold.
    feed = read_gtfs(real_data / "gtfs_ch_2020_subset.zip").records
    albula = ("8509000:0:10", "8509181:0:2", "8509183:0:4", "8509189:0:3", "8509192", "8509193", "8509194",
              "8509195:0:2", "8509197", "8509198", "8509199", "8509250", "8509251:0:2", "8509252", "8509253:0:2")
    assert [p.direction_id for p in feed.patterns if p.route_id == "59-9-Y-j20-1" and p.stop_ids == albula] == [0]


def test_stops_and_routes_of_the_real_feed(real_data: Path) -> None:
    feed = read_gtfs(real_data / "gtfs_ch_2019_subset.zip").records
    stops = {stop.stop_id: stop for stop in feed.stops}
    olten = stops["8500218:0:7"]
    assert (olten.name, olten.parent_station, olten.location_type, olten.is_parent) == ("Olten", "8500218P", 0, False)
    assert olten.lat == pytest.approx(47.3522319) and olten.lon == pytest.approx(7.9076898)
    assert stops["8500218P"].is_parent and stops["8500218P"].location_type == 1
    assert sum(stop.is_parent for stop in feed.stops) == 11
    routes = feed.route_index()
    assert routes["1-85-j19-1"] == GtfsRoute("1-85-j19-1", "1-85-jXX-1", "85", "", 700, "801")
    assert sorted(route.route_type for route in feed.routes) == [102, 700, 700, 1000, 1300]


def test_directory_input_reads_like_the_zip(real_data: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(real_data / "gtfs_ch_2020_subset.zip") as archive:
        archive.extractall(tmp_path / "feed")
    from_dir = read_gtfs(tmp_path / "feed", work_dir=tmp_path / "work")
    from_zip = read_gtfs(real_data / "gtfs_ch_2020_subset.zip")
    assert from_dir.records.patterns == from_zip.records.patterns
    assert list((tmp_path / "work").iterdir()) == []  # scratch files are cleaned up


def test_plugin_reads_the_feed(real_data: Path) -> None:
    assert gtfs_source.stopsync_register_data_sources() == [gtfs_source.GtfsZipSource]
    source = gtfs_source.GtfsZipSource({"GTFS_MEMORY_LIMIT": "256MB"})
    assert (source.name, source.kind) == ("gtfs-zip", "gtfs")
    result = source.read(real_data / "gtfs_ch_2020_subset.zip")
    assert result.stats["trips"] == 2_114


# --- identifiers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stop_id", "expected"),
    [
        ("8503000:0:7", ("8503000", "7")),
        ("8503000:0:A", ("8503000", "A")),
        ("8503000:0:10000", ("8503000", "1")),
        ("8503000:0:10001", ("8503000", "2")),
        ("8503000:0:12", ("8503000", "12")),
        ("Parent8503000", ("8503000", None)),
        ("8503000P", ("8503000", None)),
        ("8502088", ("8502088", None)),
        ("ch:1:sloid:3000:0:7", (None, None)),
        ("850300", (None, None)),
        ("", (None, None)),
    ],
)
def test_stop_uic_and_platform(stop_id: str, expected: tuple[str | None, str | None]) -> None:
    assert stop_uic_and_platform(stop_id) == expected


@pytest.mark.parametrize(
    ("route_id", "expected"),
    [
        ("92-13-D-j21-1", "92-13-D-jXX-1"),
        ("1-85-j19-1", "1-85-jXX-1"),
        ("11-3-A-j20-1", "11-3-A-jXX-1"),
        ("92-13-D-j21", "92-13-D-jXX"),
        ("92-j13-D-1", "92-jXX-D-1"),
        ("92-13-Dj21-1", "92-13-Dj21-1"),  # not a dash-separated part: untouched
        ("plain", "plain"),
    ],
)
def test_normalise_route_id(route_id: str, expected: str) -> None:
    assert normalise_route_id(route_id) == expected


# --- resolution ------------------------------------------------------------------------------

BERN = (46.948825, 7.439122)
# 1e-6° of latitude is about 0.11 m.
METRE_LAT = 1 / 111_195


def stop(stop_id: str, lat: float, lon: float, *, location_type: int = 0, original: str = "") -> GtfsStop:
    return GtfsStop(stop_id, "S", lat, lon, location_type, "", original)


def platform(sloid: str, number: str, designation: str, lat: float, lon: float) -> AtlasPlatform:
    return AtlasPlatform(sloid=sloid, number=number, designation=designation, name="P", lat=lat, lon=lon)


def resolution_case() -> tuple[GtfsFeed, list[AtlasPlatform]]:
    lat, lon = BERN
    stops = [
        # 1. a SLOID in original_stop_id wins even though the platform code disagrees
        stop("8507000:0:5", lat, lon, original="ch:1:sloid:7000:5:10"),
        # 2. UIC + platform code, including the 10000 placeholder for platform 1
        stop("8503000:0:7", lat + 0.01, lon),
        stop("8503000:0:10000", lat + 0.02, lon),
        # 3. bare bus stop 0.3 m from one of two ATLAS points of its UIC
        stop("8502088", lat + 0.03, lon),
        # 3'. ambiguous: two ATLAS points of the UIC within 0.5 m
        stop("8502089", lat + 0.04, lon),
        # 3''. ambiguous the other way: two GTFS stops within 0.5 m of one ATLAS point
        stop("8502090", lat + 0.05, lon),
        stop("8502090:0:Z", lat + 0.05 + 0.2 * METRE_LAT, lon),
        # 4. the UIC occurs once in ATLAS (100 m away, platform code unknown)
        stop("8572668", lat + 0.06, lon),
        stop("8572669:0:3", lat + 0.07, lon),
        # parents stay unresolved, even with a unique UIC
        stop("8572668P", lat + 0.06, lon, location_type=1),
        stop("Parent8572669", lat + 0.07, lon, location_type=1),
        # no ATLAS counterpart at all
        stop("8599999", lat + 0.08, lon),
        # duplicate number + designation in ATLAS: the code is ambiguous, proximity decides
        stop("8504000:0:2", lat + 0.09, lon),
    ]
    atlas = [
        platform("ch:1:sloid:7000:5:10", "8507000", "9", lat + 0.5, lon),
        platform("ch:1:sloid:7000:5:11", "8507000", "5", lat, lon),
        platform("ch:1:sloid:3000:0:7", "8503000", "7", lat + 0.01, lon + 0.001),
        platform("ch:1:sloid:3000:0:1", "8503000", "1", lat + 0.02, lon + 0.001),
        platform("ch:1:sloid:2088:0:1", "8502088", "A", lat + 0.03 + 3 * 0.1 * METRE_LAT, lon),
        platform("ch:1:sloid:2088:0:2", "8502088", "B", lat + 0.03 + 20 * METRE_LAT, lon),
        platform("ch:1:sloid:2089:0:1", "8502089", "A", lat + 0.04 + 0.2 * METRE_LAT, lon),
        platform("ch:1:sloid:2089:0:2", "8502089", "B", lat + 0.04 - 0.2 * METRE_LAT, lon),
        platform("ch:1:sloid:2090:0:1", "8502090", "A", lat + 0.05 + 0.1 * METRE_LAT, lon),
        platform("ch:1:sloid:2090:0:2", "8502090", "B", lat + 0.05 + 50 * METRE_LAT, lon),
        platform("ch:1:sloid:72668:0:1", "8572668", "1", lat + 0.06 + 100 * METRE_LAT, lon),
        platform("ch:1:sloid:72669:0:1", "8572669", "1", lat + 0.07 + 80 * METRE_LAT, lon),
        platform("ch:1:sloid:4000:0:2", "8504000", "2", lat + 0.09 + 0.3 * METRE_LAT, lon),
        platform("ch:1:sloid:4000:0:22", "8504000", "2", lat + 0.09 + 30 * METRE_LAT, lon),
    ]
    return GtfsFeed(stops=stops, routes=[], patterns=[]), atlas


def test_resolution_applies_each_method_in_order() -> None:
    feed, atlas = resolution_case()
    resolved = resolve_stop_ids(feed, atlas)
    assert resolved == {
        "8507000:0:5": StopResolution("ch:1:sloid:7000:5:10", "original_stop_id", 1.0),
        "8503000:0:7": StopResolution("ch:1:sloid:3000:0:7", "uic_platform", 0.95),
        "8503000:0:10000": StopResolution("ch:1:sloid:3000:0:1", "uic_platform", 0.95),
        "8502088": StopResolution("ch:1:sloid:2088:0:1", "uic_proximity", 0.9),
        "8504000:0:2": StopResolution("ch:1:sloid:4000:0:2", "uic_proximity", 0.9),
        "8572668": StopResolution("ch:1:sloid:72668:0:1", "unique_uic", 0.7),
        "8572669:0:3": StopResolution("ch:1:sloid:72669:0:1", "unique_uic", 0.7),
    }
    stats = resolution_stats(feed, resolved)
    assert stats["stops"] == 13 and stats["eligible_stops"] == 11 and stats["resolved"] == 7
    assert stats["by_method"] == {"original_stop_id": 1, "uic_platform": 2, "uic_proximity": 2, "unique_uic": 2}
    assert stats["coverage_eligible"] == pytest.approx(7 / 11, abs=1e-4)


def test_proximity_needs_the_half_metre() -> None:
    lat, lon = BERN
    feed = GtfsFeed(stops=[stop("8502088", lat, lon)])
    atlas = [platform("ch:1:sloid:2088:0:1", "8502088", "A", lat + 0.6 * METRE_LAT, lon),
             platform("ch:1:sloid:2088:0:2", "8502088", "B", lat + 30 * METRE_LAT, lon)]
    assert resolve_stop_ids(feed, atlas) == {}
    atlas[0] = platform("ch:1:sloid:2088:0:1", "8502088", "A", lat + 0.4 * METRE_LAT, lon)
    assert resolve_stop_ids(feed, atlas)["8502088"].method == "uic_proximity"


def test_a_sloid_unknown_to_atlas_falls_through() -> None:
    lat, lon = BERN
    feed = GtfsFeed(stops=[stop("8503000:0:7", lat, lon, original="ch:1:sloid:3000:0:99")])
    atlas = [platform("ch:1:sloid:3000:0:7", "8503000", "7", lat + 0.001, lon),
             platform("ch:1:sloid:3000:0:8", "8503000", "8", lat + 0.002, lon)]
    assert resolve_stop_ids(feed, atlas) == {
        "8503000:0:7": StopResolution("ch:1:sloid:3000:0:7", "uic_platform", 0.95)}


def test_resolution_on_the_real_feed_leaves_parents_alone(real_data: Path) -> None:
    feed = read_gtfs(real_data / "gtfs_ch_2019_subset.zip").records
    stops = {s.stop_id: s for s in feed.stops}
    olten_7, olten_8 = stops["8500218:0:7"], stops["8500218:0:8"]
    atlas = [
        platform("ch:1:sloid:218:0:7", "8500218", "7", olten_7.lat + 0.0005, olten_7.lon),
        platform("ch:1:sloid:218:0:8", "8500218", "8", olten_8.lat + 0.0005, olten_8.lon),
        platform("ch:1:sloid:2088:0:1", "8502088", "", stops["8502088"].lat, stops["8502088"].lon + 0.001),
    ]
    resolved = resolve_stop_ids(feed, atlas)
    assert resolved == {
        "8500218:0:7": StopResolution("ch:1:sloid:218:0:7", "uic_platform", 0.95),
        "8500218:0:8": StopResolution("ch:1:sloid:218:0:8", "uic_platform", 0.95),
        "8502088": StopResolution("ch:1:sloid:2088:0:1", "unique_uic", 0.7),
    }
    assert "8500218P" not in resolved
    assert resolution_stats(feed, resolved)["eligible_stops"] == 89


# --- route evidence --------------------------------------------------------------------------


def route_feed() -> GtfsFeed:
    routes = [GtfsRoute("92-13-D-j21-1", "92-13-D-jXX-1", "13", "", 700, "1"),
              GtfsRoute("92-13-D-j22-1", "92-13-D-jXX-1", "13", "", 700, "1"),
              GtfsRoute("1-85-j19-1", "1-85-jXX-1", "85", "", 700, "2")]
    patterns = [
        GtfsPattern("a", "92-13-D-j21-1", 0, ("A", "B", "C"), 10),
        GtfsPattern("b", "92-13-D-j22-1", 0, ("A", "B", "C"), 5),
        GtfsPattern("c", "92-13-D-j21-1", 1, ("C", "B", "A"), 8),
        GtfsPattern("d", "92-13-D-j21-1", 0, ("A", "B"), 2),
        GtfsPattern("e", "1-85-j19-1", 0, ("B", "D", "B"), 4),
    ]
    return GtfsFeed(stops=[], routes=routes, patterns=patterns)


def test_route_tokens_per_sloid() -> None:
    resolutions = {"A": StopResolution("s:a", "uic_platform", 0.95), "B": StopResolution("s:b", "unique_uic", 0.7)}
    assert route_tokens(route_feed(), resolutions) == {
        "s:a": {"92-13-D-jXX-1:0", "92-13-D-jXX-1:1"},
        "s:b": {"92-13-D-jXX-1:0", "92-13-D-jXX-1:1", "1-85-jXX-1:0"},
    }


def test_line_families_merge_years_and_order_by_trips() -> None:
    families = line_families(route_feed())
    assert sorted(families) == ["1-85-jXX-1", "92-13-D-jXX-1"]
    line_13 = families["92-13-D-jXX-1"]
    assert [(it.direction_id, it.stop_ids, it.trip_count) for it in line_13] == [
        (0, ("A", "B", "C"), 15), (0, ("A", "B"), 2), (1, ("C", "B", "A"), 8)]
    resolutions = {"A": StopResolution("s:a", "uic_platform", 0.95)}
    assert itinerary_sloids(line_13[2], resolutions) == (None, None, "s:a")


def test_line_families_of_the_real_feed(real_data: Path) -> None:
    result = read_gtfs(real_data / "gtfs_ch_2020_subset.zip")
    families = line_families(result.records)
    assert sorted(families) == ["11-3-A-jXX-1", "26-1-A-jXX-1", "59-9-Y-jXX-1", "6-10-jXX-1"]
    assert sum(it.trip_count for family in families.values() for it in family) == 2_114
    assert sum(len(family) for family in families.values()) == result.stats["patterns"]


# --- broken feeds ----------------------------------------------------------------------------


@pytest.fixture
def feed_2019(real_data: Path) -> dict[str, bytes]:
    return members(real_data / "gtfs_ch_2019_subset.zip")


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "feed.zip"
    path.write_text("stop_id,stop_name\n1,A\n")
    with pytest.raises(InputError, match="not a ZIP") as error:
        read_gtfs(path)
    assert error.value.details["path"] == str(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_gtfs(tmp_path / "nowhere.zip")


@pytest.mark.parametrize("member", ["stops.txt", "routes.txt", "trips.txt", "stop_times.txt"])
def test_missing_member(tmp_path: Path, feed_2019: dict[str, bytes], member: str) -> None:
    del feed_2019[member]
    path = write_zip(tmp_path / "feed.zip", feed_2019)
    with pytest.raises(InputError, match=f"no {member}") as error:
        read_gtfs(path)
    assert error.value.details["path"] == f"{path}!{member}"


@pytest.mark.parametrize(("member", "column"), [("stop_times.txt", "stop_sequence"), ("trips.txt", "trip_id"),
                                                ("stops.txt", "stop_id"), ("routes.txt", "route_id")])
def test_missing_column(tmp_path: Path, feed_2019: dict[str, bytes], member: str, column: str) -> None:
    header, rest = feed_2019[member].split(b"\n", 1)
    feed_2019[member] = header.replace(f'"{column}"'.encode(), b'"renamed"').replace(
        f"{column},".encode(), b"renamed,") + b"\n" + rest
    assert column.encode() not in feed_2019[member].split(b"\n", 1)[0]
    path = write_zip(tmp_path / "feed.zip", feed_2019)
    with pytest.raises(InputError, match="required column") as error:
        read_gtfs(path)
    assert error.value.details["path"] == f"{path}!{member}"
    assert error.value.details["column"] == column


def test_truncated_zip(tmp_path: Path, real_data: Path) -> None:
    data = (real_data / "gtfs_ch_2019_subset.zip").read_bytes()
    path = tmp_path / "feed.zip"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated or damaged") as error:
        read_gtfs(path)
    assert error.value.details["path"] == str(path)


def test_damaged_member(tmp_path: Path, real_data: Path) -> None:
    """A corrupted byte inside stop_times.txt: a CRC or inflate error names the member."""
    source = real_data / "gtfs_ch_2019_subset.zip"
    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        info = archive.getinfo("stop_times.txt")
    local_header = data[info.header_offset: info.header_offset + 30]
    name_length = int.from_bytes(local_header[26:28], "little")
    extra_length = int.from_bytes(local_header[28:30], "little")
    start = info.header_offset + 30 + name_length + extra_length
    middle = start + info.compress_size // 2
    data[middle: middle + 8] = bytes(b ^ 0xFF for b in data[middle: middle + 8])
    path = tmp_path / "feed.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="damaged or truncated") as error:
        read_gtfs(path)
    assert error.value.details["path"] == f"{path}!stop_times.txt"


@pytest.mark.parametrize(("content", "message"), [(b"", "empty"), (b"trip_id,stop_id,stop_sequence\n", "no data rows")])
def test_empty_stop_times(tmp_path: Path, feed_2019: dict[str, bytes], content: bytes, message: str) -> None:
    feed_2019["stop_times.txt"] = content
    path = write_zip(tmp_path / "feed.zip", feed_2019)
    with pytest.raises(InputError, match=message) as error:
        read_gtfs(path)
    assert error.value.details["path"] == f"{path}!stop_times.txt"


def test_bad_value_names_member_and_line(tmp_path: Path, feed_2019: dict[str, bytes]) -> None:
    lines = feed_2019["stop_times.txt"].split(b"\n")
    lines[3] = lines[3].replace(b'"3"', b'"third"')
    assert b"third" in lines[3]
    feed_2019["stop_times.txt"] = b"\n".join(lines)
    path = write_zip(tmp_path / "feed.zip", feed_2019)
    with pytest.raises(InputError, match='Could not convert string "third"') as error:
        read_gtfs(path)
    assert error.value.details == {"path": f"{path}!stop_times.txt", "line": 4, "column": "stop_sequence"}


def test_row_with_too_many_fields(tmp_path: Path, feed_2019: dict[str, bytes]) -> None:
    lines = feed_2019["stops.txt"].split(b"\n")
    lines[5] = lines[5].rstrip(b"\r") + b',"surplus"\r'  # this member has CRLF line ends
    feed_2019["stops.txt"] = b"\n".join(lines)
    path = write_zip(tmp_path / "feed.zip", feed_2019)
    with pytest.raises(InputError, match="Expected Number of Columns") as error:
        read_gtfs(path)
    assert error.value.details["path"] == f"{path}!stops.txt"
    assert error.value.details["line"] == 6


def test_invalid_memory_limit(real_data: Path) -> None:
    with pytest.raises(ConfigurationError, match="memory limit"):
        read_gtfs(real_data / "gtfs_ch_2019_subset.zip", memory_limit="lots")


def test_stop_times_at_unknown_stops_are_counted(tmp_path: Path, feed_2019: dict[str, bytes]) -> None:
    text = feed_2019["stop_times.txt"].decode()
    feed_2019["stop_times.txt"] = text.replace('"8572668"', '"8999999"').encode()
    result = read_gtfs(write_zip(tmp_path / "feed.zip", feed_2019))
    unknown = text.count('"8572668"')
    assert unknown > 0
    assert result.stats["stop_times_unknown_stop"] == unknown
    assert result.stats["unknown_stop_examples"] == ["8999999"]
    assert all("8999999" not in pattern.stop_ids for pattern in result.records.patterns)


def test_repeated_stop_sequence(tmp_path: Path, feed_2019: dict[str, bytes]) -> None:
    lines = feed_2019["stop_times.txt"].split(b"\n")
    lines[2] = lines[2].replace(b'"2","0","0"', b'"1","0","0"')
    feed_2019["stop_times.txt"] = b"\n".join(lines)
    with pytest.raises(InputError, match="repeat a stop_sequence") as error:
        read_gtfs(write_zip(tmp_path / "feed.zip", feed_2019))
    assert error.value.details["column"] == "stop_sequence"


def test_row_order_of_stop_times_does_not_matter(tmp_path: Path, real_data: Path,
                                                 feed_2019: dict[str, bytes]) -> None:
    header, *rows = feed_2019["stop_times.txt"].rstrip(b"\n").split(b"\n")
    feed_2019["stop_times.txt"] = b"\n".join([header, *reversed(rows)]) + b"\n"
    shuffled = read_gtfs(write_zip(tmp_path / "feed.zip", feed_2019)).records.patterns
    assert shuffled == read_gtfs(real_data / "gtfs_ch_2019_subset.zip").records.patterns
