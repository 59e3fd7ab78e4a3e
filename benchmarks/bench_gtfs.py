"""Benchmark of the GTFS reader (pattern reduction) on a national-scale synthetic feed.

Generates the feed with ``gen_gtfs.py`` unless it exists, then runs ``read_gtfs`` on it in a
fresh subprocess and prints wall time, the reader's own phase timings and the peak RSS of that
subprocess. Targets on a 2-core machine: ≤ 120 s and ≤ 1.5 GB peak RSS.
Usage: python benchmarks/bench_gtfs.py [--feed /tmp/stopsync-bench/gtfs_national.zip] [--memory-limit 1GB]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FEED = Path(tempfile.gettempdir()) / "stopsync-bench" / "gtfs_national.zip"
TARGET_WALL_S = 120.0
TARGET_RSS_MB = 1536.0

CHILD = """
import json, sys
from pathlib import Path
from stopsync.pipeline.gtfs import read_gtfs
result = read_gtfs(Path(sys.argv[1]), work_dir=Path(sys.argv[2]), memory_limit=sys.argv[3])
print(json.dumps(result.stats))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feed", type=Path, default=DEFAULT_FEED)
    parser.add_argument("--memory-limit", default="1GB")
    args = parser.parse_args()
    if not args.feed.exists():
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from gen_gtfs import generate  # a sibling script, not a package

        started = time.perf_counter()
        counts = generate(args.feed)
        print(f"generated {args.feed} in {time.perf_counter() - started:.0f} s: {counts}")
    with tempfile.TemporaryDirectory(prefix="stopsync-bench-", dir=args.feed.parent) as work_dir:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", CHILD, str(args.feed), work_dir, args.memory_limit],
                              check=True, cwd=REPO, capture_output=True, text=True)
        wall = time.perf_counter() - started
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kB on Linux
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}")
    print(f"feed: {args.feed} ({args.feed.stat().st_size / 1e6:.0f} MB zipped)")
    print("sizes: " + ", ".join(f"{key} {stats[key]:,}" for key in ("stops", "routes", "trips", "stop_times",
                                                                     "patterns")))
    print(f"read_gtfs: wall {wall:.1f} s (extract {stats['extract_s']} s, pattern reduction {stats['pattern_s']} s, "
          f"reader total {stats['duration_s']} s); peak RSS {peak_mb:.0f} MB")
    print(f"targets: wall ≤ {TARGET_WALL_S:.0f} s {'met' if wall <= TARGET_WALL_S else 'MISSED'}, "
          f"peak RSS ≤ {TARGET_RSS_MB:.0f} MB {'met' if peak_mb <= TARGET_RSS_MB else 'MISSED'}")


if __name__ == "__main__":
    main()
