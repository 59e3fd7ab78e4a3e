"""Named regions from the vendored swiss-maps border, bbox regions and the precedence rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from stopsync.errors import ConfigurationError
from stopsync.pipeline.region import load_region
from stopsync.pipeline.regions import SWISS_MAPS_TOPOJSON, choose_region

BERN = (46.948, 7.447)
VADUZ = (47.141, 9.521)
BUESINGEN = (47.697, 8.690)  # German enclave: a hole in Switzerland
CAMPIONE = (45.969, 8.971)  # Italian enclave
PARIS = (48.857, 2.352)


def test_the_border_is_vendored() -> None:
    assert SWISS_MAPS_TOPOJSON.is_file()
    licence = SWISS_MAPS_TOPOJSON.parent.parent / "LICENSE"
    assert "Interactive Things" in licence.read_text()


def test_switzerland_excludes_liechtenstein_and_the_enclaves() -> None:
    region = choose_region("switzerland").region
    assert region is not None
    assert region.contains(*BERN)
    for outside in (VADUZ, BUESINGEN, CAMPIONE, PARIS):
        assert not region.contains(*outside), outside


def test_switzerland_liechtenstein_includes_vaduz() -> None:
    choice = choose_region("Switzerland-Liechtenstein")
    assert choice.region is not None and choice.overpass_area is None
    assert choice.region.contains(*VADUZ) and choice.region.contains(*BERN)
    assert not choice.region.contains(*BUESINGEN)


def test_named_region_agrees_with_the_derived_geojson(real_data: Path) -> None:
    vendored = choose_region("switzerland").region
    derived = load_region(real_data / "switzerland.geojson")
    assert vendored is not None
    overlap = vendored.geometry.intersection(derived.geometry).area
    assert overlap / derived.geometry.area > 0.999
    assert abs(vendored.geometry.area - derived.geometry.area) / derived.geometry.area < 0.001


def test_bbox_beats_the_name_and_a_border_file_beats_both(real_data: Path) -> None:
    bbox = choose_region("switzerland", bbox="8.4,47.3,8.7,47.5")
    assert bbox.bbox == (8.4, 47.3, 8.7, 47.5) and bbox.overpass_area is None
    assert bbox.region is not None and not bbox.region.contains(*BERN)
    border = choose_region("switzerland", bbox="8.4,47.3,8.7,47.5",
                           border=real_data / "switzerland_with_liechtenstein.geojson")
    assert border.region is not None and border.region.contains(*VADUZ)


def test_none_means_no_filter() -> None:
    assert choose_region("none").region is None


@pytest.mark.parametrize("bbox", ["1,2,3", "a,b,c,d", "9,47,8,48", "0,95,1,96"])
def test_bad_bbox_is_a_clear_error(bbox: str) -> None:
    with pytest.raises(ConfigurationError, match="bbox"):
        choose_region(bbox=bbox)


def test_unknown_region_names_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="known regions: switzerland, switzerland-liechtenstein, none"):
        choose_region("atlantis")


def test_overpass_settings_follow_the_region() -> None:
    from stopsync.pipeline.regions import overpass_region_settings

    assert overpass_region_settings(choose_region("switzerland")) == {
        "OVERPASS_AREA": "ISO3166-1=CH", "OVERPASS_BBOX": None}
    assert overpass_region_settings(choose_region(bbox="8.4,47.3,8.7,47.5")) == {
        "OVERPASS_AREA": None, "OVERPASS_BBOX": "8.4,47.3,8.7,47.5"}
    # No single Overpass area covers CH + LI: the polygon is sent instead.
    assert overpass_region_settings(choose_region("switzerland-liechtenstein")) == {
        "OVERPASS_AREA": None, "OVERPASS_BBOX": None}
