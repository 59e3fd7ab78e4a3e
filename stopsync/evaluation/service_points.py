"""The real Swiss service points (HRDF 2024 list) that seed a generated instance."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError

HRDF_COLUMNS = ("id_didok", "id_sloid", "name_official", "wgs84_e", "wgs84_n")


@dataclass(frozen=True)
class ForeignPoint:
    """A non-Swiss service point with a SLOID; becomes a row the ``85`` filter drops."""

    number: str
    sloid: str
    name: str
    lat: float
    lon: float


@dataclass(frozen=True)
class ServicePoints:
    """Swiss (``85…``) service points with coordinates and a SLOID, in file order."""

    numbers: list[str]
    names: list[str]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    foreign: list[ForeignPoint]

    def __len__(self) -> int:
        return len(self.numbers)


def _coordinates(row: dict[str, str]) -> tuple[float, float] | None:
    try:
        lon, lat = float(row["wgs84_e"]), float(row["wgs84_n"])
    except (TypeError, ValueError):
        return None
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0) or (lon == 0.0 and lat == 0.0):
        return None
    return lat, lon


def load_service_points(path: Path) -> ServicePoints:
    """Read ``hrdf_service_points_2024.csv``: keep ``85…`` numbers with coordinates and a SLOID;
    foreign points with a SLOID are kept apart (they seed the rows the ``85`` filter drops)."""
    path = Path(path)
    numbers: list[str] = []
    names: list[str] = []
    lats: list[float] = []
    lons: list[float] = []
    foreign: list[ForeignPoint] = []
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"cannot read the service-point list: {exc}", path=str(path)) from exc
    with handle:
        reader = csv.DictReader(handle, delimiter=";")
        missing = [column for column in HRDF_COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"required column {missing[0]!r} is missing from the header", path=str(path),
                             line=1, column=missing[0])
        for row in reader:
            number = (row["id_didok"] or "").strip()
            sloid = (row["id_sloid"] or "").strip()
            point = _coordinates(row)
            if len(number) != 7 or not number.isdigit() or not sloid or point is None:
                continue
            name = (row["name_official"] or "").strip()
            if number.startswith("85"):
                numbers.append(number)
                names.append(name)
                lats.append(point[0])
                lons.append(point[1])
            else:
                foreign.append(ForeignPoint(number, sloid, name, point[0], point[1]))
    if not numbers:
        raise InputError("no Swiss (85…) service point with coordinates and a SLOID", path=str(path))
    return ServicePoints(numbers, names, np.asarray(lats, dtype=np.float64), np.asarray(lons, dtype=np.float64),
                         foreign)
