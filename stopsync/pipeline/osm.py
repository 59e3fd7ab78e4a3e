"""Streaming reader for OSM XML (plain, bzip2 or gzip), e.g. an Overpass answer or an extract.

Elements are cleared as soon as they are read so memory stays flat on national files. Only
node coordinates are kept for all nodes (in flat arrays), because a stop way is represented by
the mean of its nodes.
"""

from __future__ import annotations

import bz2
import gzip
import re
from array import array
from bisect import bisect_left
from collections import Counter
from pathlib import Path
from typing import IO, Any

from lxml import etree

from ..errors import InputError
from ..plugins.base import SourceResult
from .records import OsmElement

PT_VALUES = ("platform", "stop_position", "station")
RAILWAY_STOP_VALUES = ("tram_stop", "halt", "station", "stop", "platform")
# Words Overpass puts into a <remark> when the query failed; the document is still <osm>.
OVERPASS_FAILURE = re.compile(r"runtime error|timeout|timed out|out of memory", re.IGNORECASE)
_SNIFF_BYTES = 4096


def osm_kind(tags: dict[str, str]) -> str:
    """``station``, ``platform``, ``stop_position`` or ``other`` for one element's tags."""
    pt = tags.get("public_transport", "")
    railway = tags.get("railway", "")
    if tags.get("aerialway") == "station":
        return "platform"  # a cable-car station is where people board
    if pt == "station" or (railway in ("station", "halt") and pt not in ("platform", "stop_position")):
        return "station"
    # An explicit public_transport role wins over older tags on the same element.
    if pt == "platform":
        return "platform"
    if pt == "stop_position":
        return "stop_position"
    if (tags.get("highway") == "bus_stop" or railway == "platform"
            or tags.get("amenity") == "ferry_terminal"):
        return "platform"
    if railway in ("stop", "tram_stop"):
        return "stop_position"
    return "other"


def is_stop_node(tags: dict[str, str]) -> bool:
    return (
        tags.get("public_transport") in PT_VALUES
        or tags.get("highway") == "bus_stop"
        or tags.get("railway") in RAILWAY_STOP_VALUES
        or tags.get("amenity") == "ferry_terminal"
        or tags.get("aerialway") == "station"
    )


def is_stop_way(tags: dict[str, str]) -> bool:
    return (
        tags.get("public_transport") in ("platform", "station")
        or tags.get("railway") in ("platform", "station", "halt")
        or tags.get("highway") == "bus_stop"
        or tags.get("amenity") == "ferry_terminal"
        or tags.get("aerialway") == "station"
        or bool(tags.get("uic_ref", "").strip())
        or bool(tags.get("ref:sloid", "").strip())
    )


class _NodeCoordinates:
    """Compact id -> (lat, lon) store: three flat arrays instead of a dict of tuples."""

    def __init__(self) -> None:
        self._ids = array("q")
        self._lats = array("d")
        self._lons = array("d")
        self._sorted = True
        self._fallback: dict[int, int] | None = None

    def add(self, node_id: int, lat: float, lon: float) -> None:
        if self._ids and node_id <= self._ids[-1]:
            self._sorted = False
        self._ids.append(node_id)
        self._lats.append(lat)
        self._lons.append(lon)

    def get(self, node_id: int) -> tuple[float, float] | None:
        if self._sorted:
            position = bisect_left(self._ids, node_id)
            if position == len(self._ids) or self._ids[position] != node_id:
                return None
        else:
            # Unsorted input (rare: OSM files are sorted by id); build the index once.
            if self._fallback is None or len(self._fallback) != len(self._ids):
                self._fallback = {n: i for i, n in enumerate(self._ids)}
            found = self._fallback.get(node_id)
            if found is None:
                return None
            position = found
        return self._lats[position], self._lons[position]


def _open_binary(path: Path) -> IO[bytes] | gzip.GzipFile | bz2.BZ2File:
    """Decompress by magic bytes, because downloads rarely carry a trustworthy suffix."""
    with open(path, "rb") as probe:
        magic = probe.read(3)
    if magic.startswith(b"BZh"):
        return bz2.open(path, "rb")
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _html_text(path: Path) -> str | None:
    """The visible text of an HTML error page, or ``None`` when the file is not HTML."""
    with _open_binary(path) as stream:
        head = stream.read(65536)
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if not re.match(r"(<\?xml[^>]*>\s*)?<(!doctype\s+html|html)\b", text, re.IGNORECASE):
        return None
    body = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", text)
    body = re.sub(r"<[^>]+>", " ", body)
    return " ".join(body.split())


def _overpass_message(text: str) -> str:
    found = re.search(r"error:?\s*(.{0,300})", text, re.IGNORECASE)
    return (found.group(0) if found else text[:300]).strip()


def _element(elem: Any, tags: dict[str, str], lat: float, lon: float, osm_type: str) -> OsmElement:
    return OsmElement(osm_type=osm_type, osm_numeric_id=int(elem.get("id")), lat=lat, lon=lon,
                      tags=tags, kind=osm_kind(tags))


def _read_tags(elem: Any) -> dict[str, str]:
    return {tag.get("k"): tag.get("v", "") for tag in elem.iterfind("tag") if tag.get("k")}


def _way_centre(elem: Any, nodes: _NodeCoordinates) -> tuple[float, float] | None:
    coords = [c for nd in elem.iterfind("nd") if (c := nodes.get(int(nd.get("ref")))) is not None]
    if not coords:
        return None
    # A closed way repeats its first node; counting it twice would pull the mean towards it.
    if len(coords) > 1 and coords[0] == coords[-1]:
        coords = coords[:-1]
    return (sum(c[0] for c in coords) / len(coords), sum(c[1] for c in coords) / len(coords))


def read_osm(path: Path) -> SourceResult:
    """Stop elements of an OSM XML file; raises ``InputError`` on Overpass errors or bad XML."""
    path = Path(path)
    try:
        html = _html_text(path)
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read OSM file: {exc}", path=str(path)) from exc
    if html is not None:
        raise InputError(f"Overpass failed: the answer is an HTML page: {_overpass_message(html)}",
                         path=str(path), line=1)

    records: list[OsmElement] = []
    nodes = _NodeCoordinates()
    nodes_read = ways_read = 0
    unresolved_ways = 0
    root_seen = False
    stream = _open_binary(path)
    events = etree.iterparse(stream, events=("start", "end"), resolve_entities=False,
                             no_network=True, huge_tree=True, remove_comments=True)
    try:
        for event, elem in events:
            if event == "start":
                if not root_seen:
                    root_seen = True
                    if elem.tag != "osm":
                        raise InputError(f"not an OSM XML document (root element <{elem.tag}>)",
                                         path=str(path), line=elem.sourceline)
                continue
            tag = elem.tag
            if tag == "node":
                nodes_read += 1
                lat, lon = float(elem.get("lat")), float(elem.get("lon"))
                nodes.add(int(elem.get("id")), lat, lon)
                tags = _read_tags(elem)
                if tags and is_stop_node(tags):
                    records.append(_element(elem, tags, lat, lon, "node"))
            elif tag == "way":
                ways_read += 1
                tags = _read_tags(elem)
                if tags and is_stop_way(tags):
                    centre = _way_centre(elem, nodes)
                    if centre is None:
                        unresolved_ways += 1
                    else:
                        records.append(_element(elem, tags, centre[0], centre[1], "way"))
            elif tag == "remark":
                remark = " ".join((elem.text or "").split())
                if OVERPASS_FAILURE.search(remark):
                    raise InputError(f"Overpass failed: {remark}", path=str(path),
                                     line=elem.sourceline)
            if tag in ("node", "way", "relation"):
                # Drop the element and everything read before it; keeps memory flat.
                elem.clear(keep_tail=False)
                parent = elem.getparent()
                if parent is not None:
                    while elem.getprevious() is not None:
                        del parent[0]
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        raise InputError(f"malformed or truncated XML: {exc.msg}", path=str(path),
                         line=line) from exc
    except (TypeError, ValueError) as exc:
        raise InputError(f"an element has a missing or invalid id or coordinate: {exc}",
                         path=str(path)) from exc
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read OSM file (damaged compression?): {exc}",
                         path=str(path)) from exc
    finally:
        stream.close()
    if not root_seen:
        raise InputError("the file is empty: no <osm> root element", path=str(path), line=1)

    per_kind = Counter(record.kind for record in records)
    stats: dict[str, Any] = {
        "elements": len(records),
        "per_kind": {kind: per_kind[kind] for kind in sorted(per_kind)},
        "nodes_read": nodes_read,
        "ways_read": ways_read,
        "ways_without_coordinates": unresolved_ways,
    }
    return SourceResult(records=records, stats=stats)
