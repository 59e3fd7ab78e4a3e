"""Stop units: pairs and trios around their thresholds, stations outside, KD-tree metres."""

from __future__ import annotations

import numpy as np
import pytest

from stopsync.pipeline.geo import haversine_m
from stopsync.pipeline.grouping import chord_to_arc_m, to_xyz

from .matching_helpers import atlas, engine_for, osm


def unit_kinds(engine: object) -> list[tuple[str, tuple[str, ...]]]:
    units = engine.units  # type: ignore[attr-defined]
    records = engine.osm  # type: ignore[attr-defined]
    return sorted((kind, tuple(records[j].osm_id for j in members))
                  for kind, members in zip(units.kind_of_unit, units.members, strict=True))


def test_chords_are_great_circle_metres() -> None:
    lat = np.array([45.82, 47.80, 46.0])
    lon = np.array([6.0, 10.4, 8.0])
    xyz = to_xyz(lat, lon)
    for (a, b) in ((0, 1), (0, 2)):
        chord = np.linalg.norm(xyz[a] - xyz[b])
        assert float(chord_to_arc_m(np.array([chord]))[0]) == pytest.approx(
            haversine_m(lat[a], lon[a], lat[b], lon[b]), rel=1e-9)
    near = to_xyz(np.array([47.0, 47.0 + 50 / 111_195.08]), np.array([8.0, 8.0]))
    assert np.linalg.norm(near[0] - near[1]) == pytest.approx(50.0, abs=1e-3)


@pytest.mark.parametrize(("distance", "paired"), [(11.9, True), (12.1, False)])
def test_pair_within_12_m(distance: float, paired: bool) -> None:
    engine = engine_for([], [osm(1, 0), osm(2, distance, kind="stop_position")])
    expected = [("pair", ("node/1", "node/2"))] if paired else [("single", ("node/1",)), ("single", ("node/2",))]
    assert unit_kinds(engine) == expected


@pytest.mark.parametrize(("distance", "paired"), [(14.9, True), (15.1, False)])
def test_pair_within_15_m_when_counts_agree(distance: float, paired: bool) -> None:
    engine = engine_for([atlas("a1")], [osm(1, 0, uic_ref="8500001"),
                                        osm(2, distance, kind="stop_position", uic_ref="8500001")])
    assert (unit_kinds(engine)[0][0] == "pair") is paired


def test_no_relaxed_pair_when_counts_differ() -> None:
    engine = engine_for([atlas("a1"), atlas("a2", 30)], [osm(1, 0, uic_ref="8500001"),
                                                         osm(2, 13, kind="stop_position", uic_ref="8500001")])
    assert [kind for kind, _ in unit_kinds(engine)] == ["single", "single"]


@pytest.mark.parametrize(("second", "paired"), [(-14.9, False), (-15.1, True)])
def test_pair_needs_second_nearest_ratio_1_5(second: float, paired: bool) -> None:
    # Platform at 0, its stop_position 10 m north, another stop_position `second` m south.
    engine = engine_for([], [osm(1, 0), osm(2, 10, kind="stop_position"), osm(3, second, kind="stop_position")])
    assert (("pair", ("node/1", "node/2")) in unit_kinds(engine)) is paired


def test_pair_must_be_reciprocal_and_untied() -> None:
    # Two platforms at exactly the same distance from one stop_position: no pair at all.
    engine = engine_for([], [osm(1, 5), osm(2, -5), osm(3, 0, kind="stop_position")])
    assert [kind for kind, _ in unit_kinds(engine)] == ["single"] * 3


def test_contradicting_tags_never_pair() -> None:
    engine = engine_for([], [osm(1, 0, local_ref="1"), osm(2, 3, kind="stop_position", local_ref="2")])
    assert [kind for kind, _ in unit_kinds(engine)] == ["single", "single"]
    engine = engine_for([], [osm(1, 0, uic_ref="8500001"), osm(2, 3, kind="stop_position", uic_ref="8500002")])
    assert [kind for kind, _ in unit_kinds(engine)] == ["single", "single"]


def trio_engine(side_m: float, atlas_rows: int = 2, same_side: bool = False) -> object:
    south = side_m if same_side else -side_m
    return engine_for(
        [atlas(f"a{k}", number="8500009") for k in range(atlas_rows)],
        [osm(1, side_m, 1, uic_ref="8500009"), osm(2, 0, kind="stop_position", uic_ref="8500009"),
         osm(3, south, -1, uic_ref="8500009")],
    )


@pytest.mark.parametrize(("side", "is_trio"), [(14.9, True), (15.1, False)])
def test_trio_sides_within_15_m(side: float, is_trio: bool) -> None:
    engine = trio_engine(side)
    assert (unit_kinds(engine)[0][0] == "trio") is is_trio
    if is_trio:
        units = engine.units  # type: ignore[attr-defined]
        assert units.is_representative.tolist() == [True, False, True]
        assert units.propagate_to == {0: (1,), 2: (1,)}
        assert units.counts() == {"single": 0, "pair": 0, "trio": 1}


def test_trio_needs_two_atlas_rows_and_the_stop_in_the_middle() -> None:
    assert "trio" not in {kind for kind, _ in unit_kinds(trio_engine(10, atlas_rows=1))}
    assert "trio" not in {kind for kind, _ in unit_kinds(trio_engine(10, atlas_rows=3))}
    assert "trio" not in {kind for kind, _ in unit_kinds(trio_engine(10, same_side=True))}


def test_stations_join_no_unit_and_are_no_candidates() -> None:
    engine = engine_for([atlas("a1")], [osm(1, 2, kind="station", uic_ref="8500001"), osm(2, 3)])
    assert engine.units.unit_of[0] == -1 and engine.units.kind(0) == "station"
    assert engine.units.kind(1) == "single"
    assert engine.candidates_within(0, 50) == [(1, pytest.approx(3.0, abs=1e-6))]


def test_a_pair_across_two_atlas_platforms_is_two_singles() -> None:
    # Two directions 10 m apart (a1 at 0, a2 at 10 m east): the platform of a1 and the
    # stop_position of a2, 8 m apart, are each clearly nearer their own platform (by > 2 m).
    straddling = [osm(1, 0, 0.5), osm(2, 0, 8.5, kind="stop_position"), osm(3, 30, 0), osm(4, 30, 10)]
    engine = engine_for([atlas("a1", 0, 0), atlas("a2", 0, 10)], straddling)
    assert [kind for kind, _ in unit_kinds(engine)] == ["single"] * 4
    # With one ATLAS platform the same two elements are one stop unit.
    engine = engine_for([atlas("a1", 0, 0)], straddling)
    assert ("pair", ("node/1", "node/2")) in unit_kinds(engine)


@pytest.mark.parametrize(("neighbour", "paired"), [(19.0, True), (21.0, False)])
def test_an_isolated_pair_refuses_any_straddle(neighbour: float, paired: bool) -> None:
    # The stop_position is only 1 m nearer a2 than a1 (below the 2 m margin): that splits the
    # pair only when no other stop element lies within 20 m of the pair's middle (0, 3 m east).
    records = [osm(1, 0, 1), osm(2, 0, 5, kind="stop_position"), osm(3, neighbour, 3)]
    engine = engine_for([atlas("a1", 0, 0), atlas("a2", 0, 9)], records)
    assert (("pair", ("node/1", "node/2")) in unit_kinds(engine)) is paired


def test_trio_middle_is_centred_and_has_no_platform_code() -> None:
    def trio(middle_m: float, **tags: str) -> list[tuple[str, tuple[str, ...]]]:
        return unit_kinds(engine_for(
            [atlas("a1", number="8500009"), atlas("a2", number="8500009")],
            [osm(1, 6, uic_ref="8500009"), osm(2, middle_m, kind="stop_position", uic_ref="8500009", **tags),
             osm(3, -6, uic_ref="8500009")]))

    # Sides 12 m apart: the middle may lie 0.15 x 12 + 1 = 2.8 m off their midpoint.
    assert trio(2.7)[0][0] == "trio"
    assert "trio" not in {kind for kind, _ in trio(2.9)}
    assert "trio" not in {kind for kind, _ in trio(0, local_ref="1")}
