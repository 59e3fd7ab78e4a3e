"""Match quality and cost of `flask pipeline match` on the national generated instance.

Generates (or reuses, when seed and scale agree) the instance under /tmp, runs
``flask --app stopsync pipeline match`` on it in a fresh subprocess (``--region none``: the
generated platforms include Liechtenstein's, and all of them are matchable; ``--gtfs`` with the
instance's ``gtfs.zip``, so route evidence takes part; an instance without one is regenerated), measures wall
time and the child's peak RSS (``getrusage(RUSAGE_CHILDREN)``), then scores ``matches.csv``
against the truth: precision, recall and F1 overall, per method and per truth category.

Usage: python benchmarks/bench_matching.py [--dir /tmp/stopsync-national] [--seed 7]
       [--scale 1.0] [--regenerate] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stopsync.evaluation.cli import DEFAULT_HRDF  # noqa: E402
from stopsync.evaluation.generator import generate  # noqa: E402
from stopsync.evaluation.metrics import evaluate, format_report  # noqa: E402


def instance_matches(directory: Path, seed: int, scale: float) -> bool:
    summary = directory / "generation.json"
    if not summary.is_file() or not all((directory / name).is_file() for name in (
            "atlas.csv", "osm.xml", "gtfs.zip", "truth.csv", "truth_unmatched_atlas.csv")):
        return False
    recorded = json.loads(summary.read_text(encoding="utf-8"))
    return bool(recorded.get("seed") == seed and recorded.get("scale") == scale)


def run_match(directory: Path, out: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) of the child and its output."""
    command = [sys.executable, "-m", "flask", "--app", "stopsync", "pipeline", "match",
               "--atlas", str(directory / "atlas.csv"), "--osm", str(directory / "osm.xml"),
               "--region", "none", "--out", str(out)]
    if (directory / "gtfs.zip").is_file():  # route evidence: GTFS tokens vs the OSM route relations
        command[-2:-2] = ["--gtfs", str(directory / "gtfs.zip")]
    with tempfile.TemporaryDirectory() as instance_path:
        env = {"STOPSYNC_ENVIRONMENT": "development", "STOPSYNC_LOG_LEVEL": "WARNING",
               "STOPSYNC_INSTANCE_PATH": instance_path, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        started = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"match failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: kilobytes
    return wall, peak_kb / 1024, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "stopsync-national")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--hrdf", type=Path, default=DEFAULT_HRDF)
    parser.add_argument("--regenerate", action="store_true", help="Generate even if a matching instance exists.")
    parser.add_argument("--json", type=Path, default=None, help="Also write the report and timings as JSON.")
    args = parser.parse_args()

    if args.regenerate or not instance_matches(args.dir, args.seed, args.scale):
        started = time.perf_counter()
        instance = generate(args.dir, seed=args.seed, scale=args.scale, hrdf_csv=args.hrdf)
        print(f"generated {args.dir} in {time.perf_counter() - started:.1f} s: {instance.counts['atlas_platforms']} "
              f"ATLAS platforms, {instance.counts['osm_elements']} OSM elements")
    else:
        print(f"reusing {args.dir} (seed {args.seed}, scale {args.scale})")

    out = args.dir / "match"
    wall, peak_mb, output = run_match(args.dir, out)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    report = evaluate(args.dir, out / "matches.csv")
    print(output.rstrip())
    print()
    print(format_report(report))
    print()
    print(f"match: wall {wall:.1f} s (engine {summary.get('duration_s')} s; stages {summary.get('stages')}), "
          f"peak RSS {peak_mb:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps({"wall_s": round(wall, 2), "peak_rss_mb": round(peak_mb, 1),
                                         "engine": summary.get("stages"), "report": report.to_dict()},
                                        indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
