"""Benchmark of the database-free slice (`flask pipeline match`) on the real sample.

Runs the command in a fresh subprocess several times and prints wall time and peak RSS, plus
the stage timings from summary.json. Usage: python benchmarks/bench_slice.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "real"


def run_once(out: Path) -> tuple[float, dict[str, object]]:
    command = [
        sys.executable, "-m", "flask", "--app", "stopsync", "pipeline", "match",
        "--atlas", str(REAL / "atlas_traffic_points_sample.csv"),
        "--osm", str(REAL / "osm_sample.xml"),
        "--border", str(REAL / "switzerland.geojson"),
        "--out", str(out),
    ]
    env = {"STOPSYNC_ENVIRONMENT": "development", "STOPSYNC_LOG_LEVEL": "WARNING", "PATH": "/usr/bin:/bin"}
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO, env=env, capture_output=True)
    wall = time.perf_counter() - started
    return wall, json.loads((out / "summary.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    walls: list[float] = []
    summary: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            wall, summary = run_once(Path(tmp) / f"run{i}")
            walls.append(wall)
    peak_children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}")
    print(f"slice on real sample ({args.repeat} runs): wall median {statistics.median(walls):.2f} s, "
          f"min {min(walls):.2f} s (includes interpreter and app start-up)")
    print(f"engine duration (summary.json): {summary['duration_s']} s; stages: {summary['stages']}")
    print(f"peak RSS of a run: {peak_children_mb:.0f} MB")


if __name__ == "__main__":
    main()
