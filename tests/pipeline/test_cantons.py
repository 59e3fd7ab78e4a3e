"""Canton assignment: real places, lakes and borders, and national scale in one vectorised pass."""

from __future__ import annotations

import csv
import random
import time
from pathlib import Path

import numpy as np
import pytest

from stopsync.pipeline.cantons import CANTON_CODES, NEAREST_LIMIT_M, assign_cantons, default_canton_index

PLACES = [
    ("Zürich HB", 47.378, 8.540, "ZH"),
    ("Bern", 46.9490, 7.4390, "BE"),
    ("Lausanne, gare", 46.5167, 6.6290, "VD"),
    ("Lugano", 46.0037, 8.9511, "TI"),
    ("Genève Cornavin", 46.2102, 6.1424, "GE"),
    ("Basel SBB", 47.5476, 7.5897, "BS"),
    ("Chur", 46.8530, 9.5290, "GR"),
    ("Sion", 46.2275, 7.3590, "VS"),
    ("Appenzell", 47.3310, 9.4090, "AI"),
    ("Delémont", 47.3650, 7.3440, "JU"),
]


def test_every_canton_is_read_with_its_bfs_abbreviation() -> None:
    index = default_canton_index()
    assert sorted(index.codes) == sorted(CANTON_CODES) and len(index.codes) == 26


@pytest.mark.parametrize(("place", "lat", "lon", "canton"), PLACES)
def test_real_places_get_their_canton(place: str, lat: float, lon: float, canton: str) -> None:
    assert assign_cantons([lat], [lon]) == [canton], place


def test_lake_points_near_the_shore_belong_to_the_shore_canton() -> None:
    # Lake Geneva off Ouchy (Lausanne) and off the Geneva quays; Lake Zurich off Bürkliplatz.
    assert assign_cantons([46.500, 46.215, 47.362], [6.628, 6.160, 8.542]) == ["VD", "GE", "ZH"]


def test_points_abroad_get_no_canton_but_points_just_across_the_border_do() -> None:
    # Milan, Konstanz city centre (a few hundred metres from Kreuzlingen TG), Lyon.
    cantons = assign_cantons([45.4642, 47.6600, 45.7640], [9.1900, 9.1750, 4.8357])
    assert cantons[0] == "" and cantons[2] == ""
    assert cantons[1] in ("TG", "")  # within the tolerance of the border or not: never a far canton


def test_the_nearest_canton_tolerance_is_bounded() -> None:
    # 1 km and 5 km south of the Swiss border at Chiasso (TI).
    near, far = assign_cantons([45.823, 45.790], [9.030, 9.030])
    assert near == "TI" and far == ""
    assert NEAREST_LIMIT_M == 2000.0


def test_empty_and_malformed_input() -> None:
    assert assign_cantons([], []) == []
    with pytest.raises(ValueError):
        default_canton_index().assign([47.0, 46.0], [8.0])
    assert assign_cantons([float("nan")], [8.5]) == [""]


def test_national_scale_runs_well_under_a_second(real_data: Path) -> None:
    with (real_data / "hrdf_service_points_2024.csv").open(encoding="utf-8", newline="") as handle:
        points = [(float(r["wgs84_n"]), float(r["wgs84_e"])) for r in csv.DictReader(handle, delimiter=";")
                  if r["wgs84_n"] and 45.8 < float(r["wgs84_n"]) < 47.85 and 5.95 < float(r["wgs84_e"]) < 10.5]
    rng = random.Random(7)
    sample = [points[i % len(points)] for i in range(120_000)]
    lats = np.array([lat + rng.uniform(-3e-4, 3e-4) for lat, _ in sample])
    lons = np.array([lon + rng.uniform(-3e-4, 3e-4) for _, lon in sample])
    default_canton_index()  # loading the polygons is once per process
    # CPU time: the wall clock of a shared CI machine measures its neighbours too.
    started = time.process_time()
    cantons = assign_cantons(lats, lons)
    took = time.process_time() - started
    assert len(cantons) == 120_000
    assert sum(1 for c in cantons if c) > 100_000
    assert took < 1.0, f"{took:.2f} s for 120,000 points"
