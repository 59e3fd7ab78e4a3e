"""ATLAS parse throughput at national size.

Generates the national test instance (the ATLAS export in its exact 34-column format, ~57,000
rows, from `stopsync.evaluation.generator`) or reuses it, then runs `read_atlas` with the Swiss
border in a fresh subprocess and prints rows/s, MB/s and the child's peak RSS.
Usage: python benchmarks/bench_atlas.py [--dir /tmp/stopsync-national] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stopsync.evaluation.cli import DEFAULT_HRDF  # noqa: E402
from stopsync.evaluation.generator import generate  # noqa: E402

CHILD = """
import json, sys, time
from pathlib import Path
from stopsync.pipeline.atlas import read_atlas
from stopsync.pipeline.regions import choose_region
region = choose_region("switzerland").region
started = time.perf_counter()
result = read_atlas(Path(sys.argv[1]), region=region)
print(json.dumps({"seconds": time.perf_counter() - started, "rows": result.stats["rows"],
                  "funnel": result.stats["funnel"]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/stopsync-national"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    atlas = args.dir / "atlas.csv"
    if not atlas.is_file():
        generate(args.dir, seed=7, scale=1.0, hrdf_csv=DEFAULT_HRDF)
    size_mb = atlas.stat().st_size / 1e6
    best = None
    for _ in range(args.repeat):
        out = subprocess.run([sys.executable, "-c", CHILD, str(atlas)], check=True, capture_output=True,
                             text=True, cwd=REPO)
        run = json.loads(out.stdout)
        best = run if best is None or run["seconds"] < best["seconds"] else best
    assert best is not None
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"ATLAS export: {atlas} ({size_mb:.1f} MB, {best['rows']} rows)")
    print(f"read_atlas with the Swiss border, best of {args.repeat}: {best['seconds']:.2f} s = "
          f"{best['rows'] / best['seconds']:,.0f} rows/s, {size_mb / best['seconds']:.1f} MB/s")
    print("funnel: " + " -> ".join(f"{s['step']} {s['count']}" for s in best["funnel"]))
    print(f"peak RSS of the parsing process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
