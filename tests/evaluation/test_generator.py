"""The generator: deterministic, parseable by stopsync's own readers, truth consistent with inputs."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from stopsync.errors import InputError
from stopsync.evaluation.atlas_format import ATLAS_COLUMNS, check_digit
from stopsync.evaluation.generator import CATEGORIES, GeneratedInstance, generate
from stopsync.evaluation.service_points import load_service_points
from stopsync.pipeline.atlas import read_atlas
from stopsync.pipeline.geo import haversine_m
from stopsync.pipeline.osm import read_osm

FILES = ("atlas.csv", "osm.xml", "gtfs.zip", "truth.csv", "truth_unmatched_atlas.csv", "truth_routes.csv")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_same_seed_gives_identical_files_and_another_seed_does_not(hrdf_csv: Path, tmp_path: Path) -> None:
    first = generate(tmp_path / "a", seed=5, scale=0.01, hrdf_csv=hrdf_csv)
    again = generate(tmp_path / "b", seed=5, scale=0.01, hrdf_csv=hrdf_csv)
    other = generate(tmp_path / "c", seed=6, scale=0.01, hrdf_csv=hrdf_csv)
    for name in FILES:
        assert (first.out_dir / name).read_bytes() == (again.out_dir / name).read_bytes(), name
    assert first.counts == again.counts
    assert (first.out_dir / "osm.xml").read_bytes() != (other.out_dir / "osm.xml").read_bytes()


def test_atlas_file_has_the_real_export_header_and_a_bom(small_instance: GeneratedInstance, real_data: Path) -> None:
    raw = small_instance.atlas_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header = raw[3:].split(b"\n", 1)[0].decode("utf-8")
    real_header = (real_data / "atlas_traffic_points_sample.csv").read_text(encoding="utf-8-sig").split("\n", 1)[0]
    assert header == real_header == ";".join(ATLAS_COLUMNS)
    with small_instance.atlas_csv.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    assert all(len(row) == 34 and None not in row for row in rows)
    assert all(row["checkDigit"] == str(check_digit(int(row["numberShort"]))) for row in rows)
    valid_to = Counter(row["validTo"] for row in rows)
    assert valid_to.most_common(1)[0][0] == "9999-12-31"
    assert valid_to["9999-12-31"] > 0.95 * len(rows)


def test_check_digit_agrees_with_the_real_sample(real_data: Path) -> None:
    with (real_data / "atlas_traffic_points_sample.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    assert rows and all(str(check_digit(int(row["numberShort"]))) == row["checkDigit"] for row in rows)


def test_atlas_parses_and_the_funnel_drops_exactly_the_planted_rows(small_instance: GeneratedInstance) -> None:
    result = read_atlas(small_instance.atlas_csv, region=None)
    counts, planted = small_instance.counts, small_instance.counts["planted_filtered"]
    assert result.stats["bad_row_count"] == 0
    funnel = {step["step"]: step["count"] for step in result.stats["funnel"]}
    assert funnel["rows"] == counts["atlas_rows"]
    assert funnel["rows"] - funnel["country_code_85"] == planted["non_85"] > 0
    assert funnel["inside_region"] - funnel["valid_today"] == planted["expired"] > 0
    assert funnel["valid_today"] - funnel["boarding_platform"] == planted["boarding_area"] > 0
    assert funnel["boarding_platform"] == len(result.records) == counts["atlas_platforms"]
    kept = {platform.sloid for platform in result.records}
    truth_sloids = {row["sloid"] for row in _rows(small_instance.truth_csv)}
    unmatched_sloids = {row["sloid"] for row in _rows(small_instance.truth_unmatched_csv)}
    # Every kept platform is in exactly one truth file; no filtered row is.
    assert truth_sloids | unmatched_sloids == kept
    assert not truth_sloids & unmatched_sloids


def test_osm_parses_and_truth_ids_exist_and_are_never_stations(small_instance: GeneratedInstance) -> None:
    result = read_osm(small_instance.osm_xml)
    elements = {element.osm_id: element for element in result.records}
    assert len(elements) == small_instance.counts["osm_elements"]
    assert result.stats["per_kind"] == small_instance.counts["osm_per_kind"]
    assert result.stats["per_kind"]["station"] > 0
    assert result.stats["ways_without_coordinates"] == 0
    truth = _rows(small_instance.truth_csv)
    assert truth and all(row["osm_id"] in elements for row in truth)
    assert all(elements[row["osm_id"]].kind in ("platform", "stop_position") for row in truth)
    assert any(osm_id.startswith("way/") for osm_id in (row["osm_id"] for row in truth))
    # Extras and stations: OSM elements no true link points to.
    linked = {row["osm_id"] for row in truth}
    assert len(set(elements) - linked) >= small_instance.counts["osm_extras"]


def test_every_category_occurs_and_matches_its_pattern(small_instance: GeneratedInstance) -> None:
    truth = _rows(small_instance.truth_csv)
    unmatched = _rows(small_instance.truth_unmatched_csv)
    assert {row["category"] for row in truth} | {row["category"] for row in unmatched} == set(CATEGORIES)
    assert {row["category"] for row in unmatched} == {"missing"}
    links: dict[str, list[str]] = defaultdict(list)
    category = {}
    for row in truth:
        links[row["sloid"]].append(row["osm_id"])
        category[row["sloid"]] = row["category"]
    per_sloid = Counter(len(osm_ids) for sloid, osm_ids in links.items() if category[sloid] == "pair")
    assert set(per_sloid) == {2}  # a pair is two elements
    assert all(len(links[s]) == 1 for s in links if category[s] in ("platform_only", "stop_position_only", "way"))
    assert all(osm_id.startswith("way/") for s in links if category[s] == "way" for osm_id in links[s])
    # A trio's stop_position and a shared element serve both platforms of the stop.
    shared_by = Counter(osm_id for s in links if category[s] in ("trio", "shared") for osm_id in links[s])
    assert 2 in shared_by.values()


def test_duplicates_repeat_number_and_designation_of_a_mapped_platform(small_instance: GeneratedInstance) -> None:
    platforms = {p.sloid: p for p in read_atlas(small_instance.atlas_csv, region=None).records}
    truth = _rows(small_instance.truth_csv)
    duplicates = {row["sloid"] for row in truth if row["category"] == "duplicate"}
    assert duplicates
    keys = Counter((p.number, p.designation) for p in platforms.values())
    for sloid in duplicates:
        assert platforms[sloid].designation
        assert keys[(platforms[sloid].number, platforms[sloid].designation)] >= 2


def test_position_errors_are_heavy_tailed(hrdf_csv: Path, tmp_path: Path) -> None:
    instance = generate(tmp_path, seed=21, scale=0.05, hrdf_csv=hrdf_csv)
    platforms = {p.sloid: p for p in read_atlas(instance.atlas_csv, region=None).records}
    elements = {e.osm_id: e for e in read_osm(instance.osm_xml).records}
    distances = sorted(
        haversine_m(platforms[row["sloid"]].lat, platforms[row["sloid"]].lon, elements[row["osm_id"]].lat,
                    elements[row["osm_id"]].lon)
        for row in _rows(instance.truth_csv) if row["category"] == "platform_only")
    assert len(distances) > 500
    share_below_5 = sum(d < 5 for d in distances) / len(distances)
    assert 0.70 < share_below_5 < 0.90
    assert 0.02 < sum(30 <= d <= 160 for d in distances) / len(distances) < 0.08
    assert distances[-1] > 250  # gross errors exist


def test_tag_noise_rates_are_near_the_documented_ones(hrdf_csv: Path, tmp_path: Path) -> None:
    instance = generate(tmp_path, seed=22, scale=0.05, hrdf_csv=hrdf_csv)
    elements = {e.osm_id: e for e in read_osm(instance.osm_xml).records}
    linked = [elements[osm_id] for osm_id in {row["osm_id"] for row in _rows(instance.truth_csv)}]
    without_uic = sum(not e.uic_ref for e in linked) / len(linked)
    assert 0.16 < without_uic < 0.24
    with_sloid = sum(bool(e.sloid) for e in linked) / len(linked)
    assert 0.01 < with_sloid < 0.05
    names = sum(bool(e.name) and e.name != e.tags.get("uic_name", e.name) for e in linked) / len(linked)
    assert names > 0.1  # name variants differ from the official name


def test_bad_generator_inputs_raise_input_error(hrdf_csv: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="scale"):
        generate(tmp_path, seed=1, scale=0.0, hrdf_csv=hrdf_csv)
    with pytest.raises(InputError, match="cannot read"):
        generate(tmp_path, seed=1, scale=0.01, hrdf_csv=tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("id_didok;name_official\n8500001;Somewhere\n", encoding="utf-8")
    with pytest.raises(InputError, match="id_sloid"):
        generate(tmp_path, seed=1, scale=0.01, hrdf_csv=bad)


def test_scale_samples_that_share_of_the_service_points(small_instance: GeneratedInstance, hrdf_csv: Path) -> None:
    swiss = len(load_service_points(hrdf_csv))
    assert 25_000 < swiss < 26_500  # the 85… points with coordinates and a SLOID
    assert small_instance.counts["service_points"] == round(swiss * small_instance.scale)
    # National shape: ~55,000 platforms from ~25,800 points, i.e. ~2.1 per point.
    per_point = small_instance.counts["atlas_platforms"] / small_instance.counts["service_points"]
    assert 1.8 < per_point < 2.5
