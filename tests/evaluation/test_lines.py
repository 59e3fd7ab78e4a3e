"""Lines of a generated instance: the GTFS feed, the OSM route relations and their agreement."""

from __future__ import annotations

import csv
import re
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from stopsync.evaluation.generator import GeneratedInstance, generate
from stopsync.pipeline.atlas import read_atlas
from stopsync.pipeline.gtfs import (
    GtfsFeed,
    StopResolution,
    normalise_route_id,
    resolution_stats,
    resolve_stop_ids,
    route_tokens,
)
from stopsync.pipeline.osm import read_osm
from stopsync.pipeline.records import AtlasPlatform, OsmRoute
from stopsync.pipeline.routes import osm_route_tokens, route_direction
from stopsync.plugins.builtin.gtfs_source import GtfsZipSource

LINES_SEED, LINES_SCALE = 13, 0.02
ROAD_ROUTE_TYPES = (700, 900)
_STOP_ID_STYLES = re.compile(r"^(\d{7}:0:[^:]+|Parent\d{7}|\d{7})$")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def instance(hrdf_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> GeneratedInstance:
    return generate(tmp_path_factory.mktemp("lines"), seed=LINES_SEED, scale=LINES_SCALE, hrdf_csv=hrdf_csv)


@pytest.fixture(scope="module")
def feed(instance: GeneratedInstance) -> GtfsFeed:
    assert instance.gtfs_zip is not None
    result = GtfsZipSource({"GTFS_MEMORY_LIMIT": "256MB"}).read(instance.gtfs_zip)
    assert isinstance(result.records, GtfsFeed)
    return result.records


@pytest.fixture(scope="module")
def atlas(instance: GeneratedInstance) -> list[AtlasPlatform]:
    return list(read_atlas(instance.atlas_csv, region=None).records)


@pytest.fixture(scope="module")
def resolutions(feed: GtfsFeed, atlas: list[AtlasPlatform]) -> dict[str, StopResolution]:
    return resolve_stop_ids(feed, atlas)


@pytest.fixture(scope="module")
def routes(instance: GeneratedInstance) -> list[OsmRoute]:
    return list(read_osm(instance.osm_xml).related["routes"])


def test_gtfs_zip_is_read_by_the_gtfs_source(instance: GeneratedInstance) -> None:
    assert instance.gtfs_zip is not None
    with zipfile.ZipFile(instance.gtfs_zip) as archive:
        assert {info.filename for info in archive.infolist()} == {
            "agency.txt", "stops.txt", "routes.txt", "trips.txt", "stop_times.txt", "calendar.txt"}
    stats = GtfsZipSource({}).read(instance.gtfs_zip).stats
    counts = instance.counts["gtfs"]
    assert (stats["stops"], stats["routes"], stats["trips"], stats["stop_times"], stats["patterns"]) == (
        counts["stops"], counts["routes"], counts["trips"], counts["stop_times"], counts["patterns"])
    assert stats["stop_times_unknown_stop"] == stats["stop_times_unknown_trip"] == 0
    assert stats["trips_unknown_route"] == stats["trips_without_stop_times"] == 0
    assert stats["service_start"] == "20241215" and stats["calendar_rows"] > 0
    assert counts["routes"] == instance.counts["lines"]["lines"]


def test_lines_cover_most_stops_with_realistic_shapes(instance: GeneratedInstance, feed: GtfsFeed) -> None:
    lines = instance.counts["lines"]
    assert set(lines["lines_per_mode"]) == {"bus", "tram", "train"}
    per_stop = lines["lines_per_service_point"]
    total = sum(per_stop.values())
    assert total == instance.counts["service_points"]
    assert 0.01 < per_stop["0"] / total < 0.15  # some stops have no line
    assert (per_stop["1"] + per_stop["2"] + per_stop["3"]) / total > 0.75
    assert 8 <= lines["line_stops_median"] <= 25
    route_types = Counter(route.route_type for route in feed.routes)
    assert route_types[700] > route_types[900] > 0 and sum(route_types[t] for t in (103, 106, 109)) > 0
    assert all(re.fullmatch(r"\d+-[A-Z0-9]+(-[A-Z])?-j25-\d+", route.route_id) for route in feed.routes)
    assert {pattern.direction_id for pattern in feed.patterns} == {0, 1}


def test_stop_ids_follow_the_swiss_styles_and_most_resolve(feed: GtfsFeed, atlas: list[AtlasPlatform],
                                                           resolutions: dict[str, StopResolution],
                                                           instance: GeneratedInstance) -> None:
    assert all(_STOP_ID_STYLES.match(stop.stop_id) for stop in feed.stops)
    styles = Counter("parent" if stop.is_parent else "platform" if ":" in stop.stop_id else "bare"
                     for stop in feed.stops)
    assert styles["parent"] > 0 and styles["platform"] > styles["bare"] > 0
    with_sloid = sum(stop.original_stop_id.startswith("ch:1:sloid:") for stop in feed.stops if not stop.is_parent)
    assert 0.4 < with_sloid / (styles["platform"] + styles["bare"]) < 0.7
    stats = resolution_stats(feed, resolutions)
    assert all(stats["by_method"][method] > 0 for method in ("original_stop_id", "uic_platform", "unique_uic"))
    assert 0.85 < stats["coverage_eligible"] < 0.995  # most, not all
    tokens = route_tokens(feed, resolutions)
    called = {row["sloid"] for row in _rows(instance.out_dir / "truth_routes.csv")}
    assert len(called & set(tokens)) > 0.85 * len(called)
    assert set(tokens) <= {platform.sloid for platform in atlas}


def _expected_members(instance: GeneratedInstance) -> dict[str, list[str]]:
    """Per relation the members truth_routes.csv says it holds: the call's elements without the
    dropped ones, then a planted element of the other direction's platform."""
    members: dict[str, list[str]] = defaultdict(list)
    for row in _rows(instance.out_dir / "truth_routes.csv"):
        if not row["relation"]:
            continue
        noise = [item.split(":", 1) for item in row["noise"].split(";") if item]
        dropped = {osm_id for kind, osm_id in noise if kind == "dropped"}
        members[row["relation"]] += [osm_id for osm_id in row["osm_ids"].split(";") if osm_id and osm_id not in dropped]
        members[row["relation"]] += [osm_id for kind, osm_id in noise if kind == "opposite"]
    return members


def test_osm_route_relations_parse_with_members_in_stop_order(instance: GeneratedInstance,
                                                              routes: list[OsmRoute]) -> None:
    counts = instance.counts["osm_routes"]
    by_kind = Counter(route.kind for route in routes)
    assert by_kind["route"] == counts["route_relations"] > 0
    assert by_kind["route_master"] == counts["route_masters"] == counts["route_relations"] // 2
    assert 0.5 < counts["mapped_lines"] / instance.counts["lines"]["lines"] < 0.8
    expected = _expected_members(instance)
    elements = {element.osm_id: element for element in read_osm(instance.osm_xml).records}
    relations = {route.osm_id: route for route in routes}
    for route in routes:
        if route.kind == "route_master":
            assert len(route.members) == 2
            assert all(m.type == "relation" and relations[m.osm_id].ref == route.ref for m in route.members)
            continue
        assert {"type", "route", "ref", "name", "from", "to", "operator", "public_transport:version"} <= set(route.tags)
        assert route.route in ("bus", "tram", "train")
        assert [member.osm_id for member in route.members] == expected[route.osm_id]
        for member in route.members:
            assert member.role == ("stop" if elements[member.osm_id].kind == "stop_position" else "platform")
    # Some relations carry gtfs:route_id (some of an older year), most of those a direction.
    tagged = [route for route in routes if route.kind == "route" and route.gtfs_route_id]
    assert 0.5 < len(tagged) / by_kind["route"] < 0.9
    assert any("-j25-" not in route.gtfs_route_id for route in tagged)
    directions = Counter(route_direction(route) for route in tagged)
    assert directions[0] > 0 and directions[1] > 0 and directions[None] > 0


def _main_patterns(feed: GtfsFeed) -> dict[tuple[str, int], tuple[str, ...]]:
    """Per (normalised route, direction) its longest stop sequence (the full line)."""
    normalised = {route.route_id: route.route_id_normalised for route in feed.routes}
    main: dict[tuple[str, int], tuple[str, ...]] = {}
    for pattern in feed.patterns:
        assert pattern.direction_id is not None
        key = (normalised[pattern.route_id], pattern.direction_id)
        if len(pattern.stop_ids) > len(main.get(key, ())):
            main[key] = pattern.stop_ids
    return main


def test_two_directions_call_at_opposite_platforms_of_a_road_stop(feed: GtfsFeed, atlas: list[AtlasPlatform],
                                                                  resolutions: dict[str, StopResolution]) -> None:
    platforms_of = Counter(platform.number for platform in atlas)
    number_of = {platform.sloid: platform.number for platform in atlas}
    road = {route.route_id_normalised for route in feed.routes if route.route_type in ROAD_ROUTE_TYPES}
    main = _main_patterns(feed)
    checked = 0
    for route_id in road:
        called: list[dict[str, str]] = []
        for direction in (0, 1):
            sloids = [resolutions[stop].sloid for stop in main[(route_id, direction)] if stop in resolutions]
            called.append({number_of[sloid]: sloid for sloid in sloids})
        for number in called[0].keys() & called[1].keys():
            if platforms_of[number] == 2:
                assert called[0][number] != called[1][number], (route_id, number)
                checked += 1
    assert checked > 100


def test_relation_of_a_direction_holds_the_platforms_that_direction_calls_at(
        instance: GeneratedInstance, feed: GtfsFeed, routes: list[OsmRoute],
        resolutions: dict[str, StopResolution]) -> None:
    truth: dict[str, set[str]] = defaultdict(set)
    for row in _rows(instance.truth_csv):
        if row["category"] != "duplicate":
            truth[row["sloid"]].add(row["osm_id"])
    noise: dict[str, set[str]] = defaultdict(set)
    for row in _rows(instance.out_dir / "truth_routes.csv"):
        for item in filter(None, row["noise"].split(";")):
            noise[row["relation"]].add(item.split(":", 1)[1])
    main = _main_patterns(feed)
    checked = 0
    for route in routes:
        direction = route_direction(route)
        if route.kind != "route" or not route.gtfs_route_id or direction is None:
            continue
        stop_ids = main[(normalise_route_id(route.gtfs_route_id), direction)]
        called = {resolutions[stop].sloid for stop in stop_ids if stop in resolutions}
        should = set().union(*(truth[sloid] for sloid in called))
        members = {member.osm_id for member in route.members}
        planted = noise[route.osm_id]
        assert should - members <= planted  # only the dropped members are missing
        if len(called) == len(stop_ids):  # every call resolved: nothing else belongs in the relation
            assert members - should <= planted
        checked += 1
    assert checked > 10
    # The same in token form: along a true link, the tokens of both sides share the direction.
    gtfs_tokens = route_tokens(feed, resolutions)
    osm_tokens = osm_route_tokens(routes)
    both = [(gtfs_tokens[row["sloid"]], osm_tokens[row["osm_id"]]) for row in _rows(instance.truth_csv)
            if row["sloid"] in gtfs_tokens and row["osm_id"] in osm_tokens]
    directed = [(g, o) for g, o in both if not any(token.endswith(":") for token in o)]
    assert directed and sum(bool(g & o) for g, o in directed) > 0.95 * len(directed)


def test_lines_are_deterministic_per_seed(hrdf_csv: Path, tmp_path: Path) -> None:
    first = generate(tmp_path / "a", seed=4, scale=0.005, hrdf_csv=hrdf_csv)
    again = generate(tmp_path / "b", seed=4, scale=0.005, hrdf_csv=hrdf_csv)
    other = generate(tmp_path / "c", seed=8, scale=0.005, hrdf_csv=hrdf_csv)
    for name in ("gtfs.zip", "osm.xml", "truth_routes.csv"):
        assert (first.out_dir / name).read_bytes() == (again.out_dir / name).read_bytes(), name
    assert (first.out_dir / "gtfs.zip").read_bytes() != (other.out_dir / "gtfs.zip").read_bytes()
    assert first.counts["lines"] == again.counts["lines"] and first.counts["gtfs"] == again.counts["gtfs"]
