"""Benchmark of the OSM reader (`stopsync.pipeline.osm.read_osm`) on a national-size file.

Builds an OSM XML file of at least 300 MB by repeating the real Liechtenstein extract with
shifted ids (streamed to disk, never held whole), converts it to PBF with pyosmium, and reads
each in a fresh subprocess: libosmium on XML and on PBF, and lxml on the same XML marked as an
Overpass answer. Prints throughput (MB/s of the file as stored) and peak RSS.

Usage: python benchmarks/bench_osm.py [--copies N] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import bz2
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIECHTENSTEIN = REPO.parent / "shared" / "data" / "real" / "osm_liechtenstein_2013.osm.bz2"
ID_STRIDE = 1_000_000  # above every id in the extract (65,733 nodes, 7,121 ways, 113 relations)
_IDS = re.compile(rb'(?<![\w:])(id|ref)="(\d+)"')

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from stopsync.pipeline.osm import read_osm
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
result = read_osm(Path(sys.argv[1]))
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "elements": len(result.records),
                  "routes": len(result.related["routes"]), "nodes_read": result.stats["nodes_read"],
                  "rss_before_mb": before / 1024,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _sections(text: bytes) -> tuple[bytes, list[bytes], bytes]:
    """Header, the node, way and relation blocks, and the footer of an osmium-written file."""
    first_way = text.index(b"  <way ")
    first_relation = text.index(b"  <relation ")
    first_node = text.index(b"  <node ")
    end = text.rindex(b"</osm>")
    return text[:first_node], [text[first_node:first_way], text[first_way:first_relation],
                               text[first_relation:end]], text[end:]


def _shifted(block: bytes, offset: int) -> bytes:
    return _IDS.sub(lambda m: b'%s="%d"' % (m.group(1), int(m.group(2)) + offset), block)


def _copies(block: bytes, copies: int) -> Iterator[bytes]:
    for copy in range(copies):
        yield _shifted(block, copy * ID_STRIDE)


def build_xml(target: Path, copies: int, generator: bytes | None = None) -> int:
    """Write ``copies`` id-shifted copies of Liechtenstein, nodes then ways then relations."""
    header, blocks, footer = _sections(bz2.decompress(LIECHTENSTEIN.read_bytes()))
    if generator is not None:
        header = re.sub(rb'generator="[^"]*"', b'generator="' + generator + b'"', header, count=1)
    with open(target, "wb") as out:
        out.write(header)
        for block in blocks:  # OSM order: all nodes, then all ways, then all relations
            for chunk in _copies(block, copies):
                out.write(chunk)
        out.write(footer)
    return target.stat().st_size


def build_pbf(source: Path, target: Path) -> int:
    import osmium

    target.unlink(missing_ok=True)
    with osmium.SimpleWriter(str(target)) as writer:
        for obj in osmium.FileProcessor(str(source)):
            writer.add(obj)
    return target.stat().st_size


def measure(path: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    completed = subprocess.run([sys.executable, "-c", CHILD, str(path)], check=True, cwd=REPO, env=env,
                               capture_output=True, text=True)
    figures: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    figures["mb"] = path.stat().st_size / 1e6
    figures["mb_per_s"] = figures["mb"] / figures["seconds"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=23, help="copies of Liechtenstein (23: about 312 MB)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/stopsync-bench-osm"))
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    xml, overpass_xml, pbf = (args.workdir / name for name in ("national.osm", "national-overpass.osm",
                                                               "national.osm.pbf"))
    try:
        started = time.perf_counter()
        size = build_xml(xml, args.copies)
        build_xml(overpass_xml, args.copies, generator=b"Overpass API 0.7.62")
        pbf_size = build_pbf(xml, pbf)
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
        print(f"built in {time.perf_counter() - started:.0f} s: XML {size / 1e6:.0f} MB, "
              f"PBF {pbf_size / 1e6:.0f} MB ({args.copies} copies of Liechtenstein)")
        runs = [("XML, libosmium", xml), ("PBF, libosmium", pbf), ("XML, lxml (Overpass dialect)", overpass_xml)]
        for label, path in runs:
            figures = measure(path)
            # PBF MB/s says little (repeated copies compress very well): compare the XML-equivalent rate.
            print(f"{label:30s} {figures['mb']:7.0f} MB {figures['seconds']:6.1f} s "
                  f"{figures['mb_per_s']:6.1f} MB/s (XML-equivalent {size / 1e6 / figures['seconds']:6.1f} MB/s, "
                  f"{figures['nodes_read'] / figures['seconds'] / 1e6:.2f} M nodes/s)  "
                  f"peak RSS {figures['peak_rss_mb']:5.0f} MB "
                  f"(after imports {figures['rss_before_mb']:.0f} MB)  elements {figures['elements']:.0f} "
                  f"routes {figures['routes']:.0f}")
    finally:
        if not args.keep:
            shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
