"""Generate the national-size evaluation instance (ATLAS, OSM and the true links).

Seeds ~55,000 ATLAS platforms and ~63,000 OSM elements from the real Swiss service points of
``hrdf_service_points_2024.csv`` (see stopsync/evaluation/generator.py for the realism choices)
and prints the counts and the time taken.

Usage: python benchmarks/gen_national.py OUT_DIR [--seed 7] [--scale 1.0] [--hrdf FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stopsync.evaluation.cli import DEFAULT_HRDF  # noqa: E402
from stopsync.evaluation.generator import generate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--hrdf", type=Path, default=DEFAULT_HRDF)
    args = parser.parse_args()
    started = time.perf_counter()
    instance = generate(args.out_dir, seed=args.seed, scale=args.scale, hrdf_csv=args.hrdf)
    wall = time.perf_counter() - started
    print(json.dumps(instance.counts, indent=2))
    sizes = {path.name: path.stat().st_size for path in (instance.atlas_csv, instance.osm_xml, instance.truth_csv)}
    print("file sizes: " + ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in sizes.items()))
    print(f"generated seed {args.seed}, scale {args.scale} into {args.out_dir} in {wall:.1f} s")


if __name__ == "__main__":
    main()
