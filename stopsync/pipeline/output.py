"""File outputs of a match run: CSV tables and the JSON summary.

Each file is written to a temporary file in the same directory and then renamed, so a reader
never sees half a file and a failed run leaves the previous outputs intact.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

from .match import MatchResult

# The reason written when a result carries none for a platform (e.g. built by older code).
UNMATCHED_ATLAS_REASON = "no_candidate"

PROBLEM_COLUMNS = ("key", "type", "priority", "sloid", "osm_id", "side", "side_reason", "evidence")
MATCH_COLUMNS = ("sloid", "osm_id", "method", "distance_m", "score", "evidence")
UNMATCHED_ATLAS_COLUMNS = ("sloid", "number", "designation", "name", "lat", "lon", "reason", "candidates")
UNMATCHED_OSM_COLUMNS = ("osm_id", "kind", "uic_ref", "local_ref", "name", "lat", "lon")


def _write_atomically(path: Path, write: Callable[[TextIO], None]) -> None:
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _write_csv(path: Path, columns: tuple[str, ...], rows: Iterable[Iterable[Any]]) -> None:
    def write(handle: TextIO) -> None:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)

    _write_atomically(path, write)


def write_outputs(result: MatchResult, out_dir: Path) -> dict[str, Path]:
    """Write ``matches.csv``, ``unmatched_atlas.csv``, ``unmatched_osm.csv``, ``problems.csv``
    and ``summary.json`` into ``out_dir``; returns the path of each by short name."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "matches": out_dir / "matches.csv",
        "unmatched_atlas": out_dir / "unmatched_atlas.csv",
        "unmatched_osm": out_dir / "unmatched_osm.csv",
        "problems": out_dir / "problems.csv",
        "summary": out_dir / "summary.json",
    }
    links = sorted(result.links, key=lambda link: (link.sloid, link.osm_id))
    _write_csv(paths["matches"], MATCH_COLUMNS, (
        (link.sloid, link.osm_id, link.method, link.distance_m, link.score,
         json.dumps(link.evidence, sort_keys=True, ensure_ascii=False))
        for link in links
    ))
    linked_sloids = {link.sloid for link in result.links}
    reasons = result.unmatched_reasons

    def reason_row(sloid: str) -> tuple[str, str]:
        reason = reasons.get(sloid)
        return (reason.reason, " ".join(reason.candidates)) if reason else (UNMATCHED_ATLAS_REASON, "")

    _write_csv(paths["unmatched_atlas"], UNMATCHED_ATLAS_COLUMNS, (
        (p.sloid, p.number, p.designation, p.name, p.lat, p.lon, *reason_row(p.sloid))
        for p in sorted(result.atlas, key=lambda p: p.sloid) if p.sloid not in linked_sloids
    ))
    linked_osm = {link.osm_id for link in result.links}
    # Stations are never candidates, so listing them as "unmatched" would be noise.
    _write_csv(paths["unmatched_osm"], UNMATCHED_OSM_COLUMNS, (
        (e.osm_id, e.kind, e.uic_ref, e.local_ref, e.name, e.lat, e.lon)
        for e in sorted(result.osm, key=lambda e: (e.osm_type, e.osm_numeric_id))
        if e.kind != "station" and e.osm_id not in linked_osm
    ))

    _write_csv(paths["problems"], PROBLEM_COLUMNS, (
        (p.key, p.type, p.priority, p.sloid or "", p.osm_id or "", p.side, p.side_reason,
         json.dumps(p.evidence, sort_keys=True, ensure_ascii=False, default=str))
        for p in result.problems
    ))

    def write_summary(handle: TextIO) -> None:
        json.dump(result.summary, handle, indent=2, sort_keys=True, ensure_ascii=False)
        handle.write("\n")

    _write_atomically(paths["summary"], write_summary)
    return paths
