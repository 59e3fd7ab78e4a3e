"""Paths to the real data used by the pipeline tests, plus helpers to derive broken inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

# CI checks out shared/ beside the repository clone.
REAL_DATA_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    if not REAL_DATA_DIR.is_dir():
        pytest.skip(f"real data not found at {REAL_DATA_DIR}")
    return REAL_DATA_DIR


@pytest.fixture(scope="session")
def atlas_sample(real_data_dir: Path) -> Path:
    return real_data_dir / "atlas_traffic_points_sample.csv"


@pytest.fixture(scope="session")
def osm_sample(real_data_dir: Path) -> Path:
    return real_data_dir / "osm_sample.xml"


@pytest.fixture(scope="session")
def swiss_border(real_data_dir: Path) -> Path:
    return real_data_dir / "switzerland.geojson"


@pytest.fixture(scope="session")
def swiss_border_with_li(real_data_dir: Path) -> Path:
    return real_data_dir / "switzerland_with_liechtenstein.geojson"


@pytest.fixture(scope="session")
def liechtenstein_osm(real_data_dir: Path) -> Path:
    return real_data_dir / "osm_liechtenstein_2013.osm.bz2"
