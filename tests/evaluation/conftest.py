"""A small generated instance shared by the evaluation tests (generation is deterministic)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stopsync.evaluation.generator import GeneratedInstance, generate

SMALL_SCALE = 0.01
SMALL_SEED = 11


@pytest.fixture(scope="session")
def hrdf_csv(real_data: Path) -> Path:
    return real_data / "hrdf_service_points_2024.csv"


@pytest.fixture(scope="session")
def small_instance(hrdf_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> GeneratedInstance:
    return generate(tmp_path_factory.mktemp("small"), seed=SMALL_SEED, scale=SMALL_SCALE, hrdf_csv=hrdf_csv)
