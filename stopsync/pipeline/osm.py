"""Reader for OSM data: PBF, OSM XML (plain, bzip2 or gzip) and Overpass answers.

Two parsers feed one collector, so both give the same elements, kinds, way points, routes and
statistics:

- libosmium (through pyosmium) reads PBF and standard OSM XML 0.6. Its C++ tag filters drop
  the millions of non-stop objects before they reach Python, and its node location index gives
  the coordinates for way points. Measured on this project's 2-core machine it reads OSM XML at
  about 100 MB/s against about 32-45 MB/s for lxml (benchmarks/bench_osm.py).
- lxml reads the Overpass dialect: ``<center>`` on ways (``out center``), ``<remark>`` error
  reports, or a root without ``version="0.6"``, none of which libosmium accepts. Overpass
  answers are small (tens of MB for all of Switzerland), so speed matters less there than
  reporting the failing line.

The format is recognised by content, never by file name. Memory stays flat in the size of the
input: elements are dropped once read, and only node coordinates (for way points) are kept.
"""

from __future__ import annotations

import bz2
import gzip
import re
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import osmium
import osmium.filter
from lxml import etree
from osmium.osm import NODE, RELATION, WAY

from ..errors import InputError
from ..plugins.base import SourceResult
from .records import OsmElement, OsmMember, OsmRoute

PT_VALUES = ("platform", "stop_position", "station")
RAILWAY_STOP_VALUES = ("tram_stop", "halt", "station", "stop", "platform")
# key -> values that make a node a stop element.
STOP_NODE_TAGS: dict[str, frozenset[str]] = {
    "public_transport": frozenset(PT_VALUES),
    "highway": frozenset({"bus_stop"}),
    "railway": frozenset(RAILWAY_STOP_VALUES),
    "amenity": frozenset({"ferry_terminal"}),
    "aerialway": frozenset({"station"}),
}
# key -> values that make a way (platform edge or area) a stop element ...
STOP_WAY_TAGS: dict[str, frozenset[str]] = {
    "public_transport": frozenset({"platform", "station"}),
    "railway": frozenset({"platform", "station", "halt"}),
    "highway": frozenset({"bus_stop"}),
    "amenity": frozenset({"ferry_terminal"}),
    "aerialway": frozenset({"station"}),
}
# ... and keys that do so with any non-blank value.
STOP_WAY_KEYS = ("uic_ref", "ref:sloid")
# route=* values of relations that are not public transport.
NON_TRANSIT_ROUTES = frozenset({
    "hiking", "bicycle", "foot", "mtb", "road", "horse", "piste", "ski", "running",
    "fitness_trail", "inline_skates", "canoe", "detour", "power",
})
# Words Overpass puts into a <remark> when the query failed; the document is still <osm>.
OVERPASS_FAILURE = re.compile(r"runtime error|timeout|timed out|out of memory", re.IGNORECASE)
_SNIFF_BYTES = 65536
_TAIL_BYTES = 16384
_PBF_MAGIC = b"\x0a\x09OSMHeader"  # the first BlobHeader, after its 4-byte length
_MEMBER_TYPES = {"n": "node", "w": "way", "r": "relation"}


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
    return any(tags.get(key) in values for key, values in STOP_NODE_TAGS.items())


def is_stop_way(tags: dict[str, str]) -> bool:
    return (any(tags.get(key) in values for key, values in STOP_WAY_TAGS.items())
            or any(tags.get(key, "").strip() for key in STOP_WAY_KEYS))


def route_kind(tags: dict[str, str]) -> str | None:
    """``route`` or ``route_master`` for a public-transport route relation, else ``None``."""
    kind = tags.get("type")
    if kind not in ("route", "route_master"):
        return None
    modes = tags.get("route_master" if kind == "route_master" else "route", "").split(";")
    # "foot;bicycle" is a walking and cycling route: any non-transit mode excludes it.
    return None if any(mode.strip() in NON_TRANSIT_ROUTES for mode in modes) else kind


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


def _mean_point(coords: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """The representative point of a way: the mean of its resolved nodes."""
    if not coords:
        return None
    # A closed way repeats its first node; counting it twice would pull the mean towards it.
    if len(coords) > 1 and coords[0] == coords[-1]:
        coords = coords[:-1]
    return (sum(c[0] for c in coords) / len(coords), sum(c[1] for c in coords) / len(coords))


class _Collector:
    """What both parsers produce: stop elements, routes and the counts behind the stats."""

    def __init__(self) -> None:
        self.records: list[OsmElement] = []
        self.routes: list[OsmRoute] = []
        self.nodes_read = 0
        self.ways_read = 0
        self.relations_read = 0
        self.unresolved_ways = 0

    def add_stop_node(self, node_id: int, lat: float, lon: float, tags: dict[str, str]) -> None:
        self.records.append(OsmElement(osm_type="node", osm_numeric_id=node_id, lat=lat, lon=lon,
                                       tags=tags, kind=osm_kind(tags)))

    def add_stop_way(self, way_id: int, tags: dict[str, str], point: tuple[float, float] | None) -> None:
        if point is None:
            self.unresolved_ways += 1
            return
        self.records.append(OsmElement(osm_type="way", osm_numeric_id=way_id, lat=point[0],
                                       lon=point[1], tags=tags, kind=osm_kind(tags)))

    def add_route(self, relation_id: int, tags: dict[str, str], kind: str, members: list[OsmMember]) -> None:
        self.routes.append(OsmRoute(osm_numeric_id=relation_id, tags=tags, members=members, kind=kind))

    def result(self) -> SourceResult:
        per_kind = Counter(record.kind for record in self.records)
        route_kinds = Counter(route.kind for route in self.routes)
        stats: dict[str, Any] = {
            "elements": len(self.records),
            "per_kind": {kind: per_kind[kind] for kind in sorted(per_kind)},
            "nodes_read": self.nodes_read,
            "ways_read": self.ways_read,
            "relations_read": self.relations_read,
            "ways_without_coordinates": self.unresolved_ways,
            "routes": route_kinds["route"],
            "route_masters": route_kinds["route_master"],
        }
        return SourceResult(records=self.records, stats=stats, related={"routes": self.routes})


# --- recognising the input ------------------------------------------------------------------


def _open_binary(path: Path) -> IO[bytes] | gzip.GzipFile | bz2.BZ2File:
    """Decompress by magic bytes, because downloads rarely carry a trustworthy suffix."""
    with open(path, "rb") as probe:
        magic = probe.read(3)
    if magic.startswith(b"BZh"):
        return bz2.open(path, "rb")
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(path, "rb")
    return open(path, "rb")


@dataclass(frozen=True)
class _Sniffed:
    file_format: str  # for libosmium: "pbf", "osm", "osm.bz2" or "osm.gz"
    head: str  # the first decompressed bytes as text ("" for PBF)
    tail: str  # the last bytes of a plain XML file ("" otherwise)


def _sniff(path: Path) -> _Sniffed:
    with open(path, "rb") as probe:
        raw = probe.read(16)
        if raw[4:15] == _PBF_MAGIC:
            return _Sniffed("pbf", "", "")
        compression = "bz2" if raw.startswith(b"BZh") else "gz" if raw.startswith(b"\x1f\x8b") else ""
        tail = b""
        if not compression:  # the end of a compressed file is not cheap to reach
            size = probe.seek(0, 2)
            probe.seek(max(0, size - _TAIL_BYTES))
            tail = probe.read()
    with _open_binary(path) as stream:
        head = stream.read(_SNIFF_BYTES)
    return _Sniffed(f"osm.{compression}" if compression else "osm", head.decode("utf-8", errors="replace"),
                    tail.decode("utf-8", errors="replace"))


def _html_text(text: str) -> str | None:
    """The visible text of an HTML error page, or ``None`` when ``text`` is not HTML."""
    text = text.lstrip("\ufeff \t\r\n")
    if not re.match(r"(<\?xml[^>]*>\s*)?<(!doctype\s+html|html)\b", text, re.IGNORECASE):
        return None
    body = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", text)
    body = re.sub(r"<[^>]+>", " ", body)
    return " ".join(body.split())


def _overpass_message(text: str) -> str:
    found = re.search(r"error:?\s*(.{0,300})", text, re.IGNORECASE)
    return (found.group(0) if found else text[:300]).strip()


def _failure_remark(text: str) -> str | None:
    for remark in re.findall(r"(?s)<remark>(.*?)</remark>", text):
        remark = " ".join(remark.split())
        if OVERPASS_FAILURE.search(remark):
            return remark
    return None


def overpass_error(path: Path) -> str | None:
    """Why an Overpass answer is an error report (an HTML page or a failure ``<remark>`` in its
    first or last bytes), or ``None`` when it looks like data. Cheap: reads only both ends."""
    sniffed = _sniff(path)
    html = _html_text(sniffed.head)
    if html is not None:
        return f"the answer is an HTML page: {_overpass_message(html)}"
    return _failure_remark(sniffed.head) or _failure_remark(sniffed.tail)


_PROLOG = re.compile(r"\s*(<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)", re.DOTALL | re.IGNORECASE)


def _root_element(text: str) -> tuple[str, str, int] | None:
    """Name, attribute text and line of the root element at the start of ``text``."""
    position = 0
    text_start = text.lstrip("\ufeff")
    while found := _PROLOG.match(text_start, position):
        position = found.end()
    root = re.compile(r"\s*<([^\s/>!?]+)([^>]*)>").match(text_start, position)
    if root is None:
        return None
    return root.group(1), root.group(2), text_start.count("\n", 0, root.start(1)) + 1


def _is_overpass_dialect(sniffed: _Sniffed, root_attributes: str) -> bool:
    """Whether lxml must read the file: Overpass extensions or a version libosmium refuses."""
    version = re.search(r"""\bversion\s*=\s*["']([^"']*)["']""", root_attributes)
    return (
        version is None or version.group(1) != "0.6"
        or re.search(r"""\bgenerator\s*=\s*["']Overpass""", root_attributes) is not None
        or "<remark" in sniffed.head or "<center" in sniffed.head or "<remark" in sniffed.tail
    )


# --- lxml: the Overpass dialect -------------------------------------------------------------


def _read_tags(elem: Any) -> dict[str, str]:
    return {tag.get("k"): tag.get("v", "") for tag in elem.iterfind("tag") if tag.get("k")}


def _lxml_way_point(elem: Any, nodes: _NodeCoordinates) -> tuple[float, float] | None:
    centre = elem.find("center")
    if centre is not None:  # Overpass "out center" gives the point directly
        return float(centre.get("lat")), float(centre.get("lon"))
    coords = [c for nd in elem.iterfind("nd") if (c := nodes.get(int(nd.get("ref")))) is not None]
    return _mean_point(coords)


def _read_lxml(path: Path, collector: _Collector) -> None:
    nodes = _NodeCoordinates()
    stream = _open_binary(path)
    events = etree.iterparse(stream, events=("end",), tag=("node", "way", "relation", "remark"),
                             resolve_entities=False, no_network=True, huge_tree=True,
                             remove_comments=True)
    try:
        for _event, elem in events:
            tag = elem.tag
            if tag == "node":
                collector.nodes_read += 1
                node_id, lat, lon = int(elem.get("id")), float(elem.get("lat")), float(elem.get("lon"))
                nodes.add(node_id, lat, lon)
                if len(elem) and is_stop_node(tags := _read_tags(elem)):
                    collector.add_stop_node(node_id, lat, lon, tags)
            elif tag == "way":
                collector.ways_read += 1
                if is_stop_way(tags := _read_tags(elem)):
                    collector.add_stop_way(int(elem.get("id")), tags, _lxml_way_point(elem, nodes))
            elif tag == "relation":
                collector.relations_read += 1
                tags = _read_tags(elem)
                if kind := route_kind(tags):
                    members = [OsmMember(type=m.get("type"), ref=int(m.get("ref")), role=m.get("role", ""))
                               for m in elem.iterfind("member")]
                    collector.add_route(int(elem.get("id")), tags, kind, members)
            else:
                remark = " ".join((elem.text or "").split())
                if OVERPASS_FAILURE.search(remark):
                    raise InputError(f"Overpass failed: {remark}", path=str(path), line=elem.sourceline)
            # Drop the element and everything read before it; keeps memory flat.
            elem.clear(keep_tail=False)
            parent = elem.getparent()
            if parent is not None:
                while elem.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise InputError(f"malformed or truncated XML: {exc.msg}", path=str(path),
                         line=exc.lineno or None) from exc
    except (TypeError, ValueError) as exc:
        raise InputError(f"an element has a missing or invalid id or coordinate: {exc}",
                         path=str(path)) from exc
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read OSM file (damaged compression?): {exc}", path=str(path)) from exc
    finally:
        stream.close()


# --- libosmium: PBF and standard OSM XML ----------------------------------------------------


# The node location index is a sorted vector of (id, location) pairs, 8 + 8 bytes each: its
# size counts the nodes read without a Python call per node (tests pin this on a real file).
_LOCATION_STORAGE = "sparse_mem_array"
_LOCATION_ENTRY_BYTES = 16


class _SkippedCounter(osmium.SimpleHandler):
    """Counts the ways and relations the C++ filters dropped (nodes: see _LOCATION_STORAGE).
    Having no ``node`` method matters: pyosmium then makes no Python call per node."""

    def __init__(self) -> None:
        super().__init__()
        self.ways = 0
        self.relations = 0

    def way(self, way: Any) -> None:
        self.ways += 1

    def relation(self, relation: Any) -> None:
        self.relations += 1


def _osmium_way_point(way: Any) -> tuple[float, float] | None:
    coords = [(node.location.lat, node.location.lon) for node in way.nodes if node.location.valid()]
    return _mean_point(coords)


def _only_for(entities: Any, tag_filter: Any) -> Any:
    tag_filter.enable_for(entities)  # the stubs say None; at run time it returns the filter
    return tag_filter


def _read_osmium(path: Path, file_format: str, collector: _Collector) -> None:
    skipped = _SkippedCounter()
    stop_node_tags = [(key, value) for key, values in STOP_NODE_TAGS.items() for value in sorted(values)]
    processor = (
        osmium.FileProcessor(osmium.io.File(str(path), file_format), NODE | WAY | RELATION)
        # Locations are stored for every node, before the filters run.
        .with_locations(_LOCATION_STORAGE)
        .with_filter(_only_for(NODE, osmium.filter.TagFilter(*stop_node_tags)))
        .with_filter(_only_for(WAY, osmium.filter.KeyFilter(*STOP_WAY_TAGS, *STOP_WAY_KEYS)))
        .with_filter(_only_for(RELATION, osmium.filter.TagFilter(("type", "route"), ("type", "route_master"))))
        .handler_for_filtered(skipped)
    )
    try:
        for obj in processor:
            if isinstance(obj, osmium.osm.Node):
                tags = dict(obj.tags)
                if is_stop_node(tags):
                    location = obj.location
                    if not location.valid():
                        raise InputError(f"an element has a missing or invalid id or coordinate: node/{obj.id}",
                                         path=str(path))
                    collector.add_stop_node(obj.id, location.lat, location.lon, tags)
            elif isinstance(obj, osmium.osm.Way):
                collector.ways_read += 1
                tags = dict(obj.tags)
                if is_stop_way(tags):
                    collector.add_stop_way(obj.id, tags, _osmium_way_point(obj))
            elif isinstance(obj, osmium.osm.Relation):
                collector.relations_read += 1
                tags = dict(obj.tags)
                if kind := route_kind(tags):
                    members = [OsmMember(type=_MEMBER_TYPES[m.type], ref=m.ref, role=m.role) for m in obj.members]
                    collector.add_route(obj.id, tags, kind, members)
    except (osmium.InvalidLocationError, ValueError) as exc:
        raise InputError(f"an element has a missing or invalid id or coordinate: {exc}", path=str(path)) from exc
    except RuntimeError as exc:
        raise _osmium_input_error(path, str(exc)) from exc
    locations = processor.node_location_storage
    if locations is not None:  # always set by with_locations()
        collector.nodes_read += locations.used_memory() // _LOCATION_ENTRY_BYTES
    collector.ways_read += skipped.ways
    collector.relations_read += skipped.relations


class _OverpassDialectError(Exception):
    """libosmium met an Overpass extension (``<center>``) past the bytes that were sniffed."""


def _osmium_input_error(path: Path, message: str) -> InputError | _OverpassDialectError:
    if re.match(r"Unknown element in <(way|relation)>: center\b", message):
        return _OverpassDialectError(message)
    xml = re.match(r"XML parsing error at line (\d+)(?:, column \d+)?: (.*)", message)
    if xml:
        return InputError(f"malformed or truncated XML: {xml.group(2)}", path=str(path), line=int(xml.group(1)))
    if message.startswith(("bzip2 error", "gzip error")):
        return InputError(f"cannot read OSM file (damaged compression?): {message}", path=str(path))
    if message.startswith("PBF error"):
        return InputError(f"malformed or truncated PBF: {message}", path=str(path))
    return InputError(f"cannot read OSM file: {message}", path=str(path))


# --- the entry point ------------------------------------------------------------------------


def read_osm(path: Path) -> SourceResult:
    """Stop elements (``records``) and route relations (``related["routes"]``) of an OSM file;
    raises ``InputError`` on Overpass error answers, bad XML/PBF or damaged compression."""
    path = Path(path)
    try:
        sniffed = _sniff(path)
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read OSM file: {exc}", path=str(path)) from exc
    collector = _Collector()
    if sniffed.file_format == "pbf":
        _read_osmium(path, "pbf", collector)
        return collector.result()
    html = _html_text(sniffed.head)
    if html is not None:
        raise InputError(f"Overpass failed: the answer is an HTML page: {_overpass_message(html)}",
                         path=str(path), line=1)
    if not sniffed.head.strip("\ufeff \t\r\n"):
        raise InputError("the file is empty: no <osm> root element", path=str(path), line=1)
    root = _root_element(sniffed.head)
    if root is not None and root[0] != "osm":
        raise InputError(f"not an OSM XML document (root element <{root[0]}>)", path=str(path), line=root[2])
    if root is None or _is_overpass_dialect(sniffed, root[1]):
        _read_lxml(path, collector)
        return collector.result()
    try:
        _read_osmium(path, sniffed.file_format, collector)
    except _OverpassDialectError:
        collector = _Collector()  # start again with the reader that understands it
        _read_lxml(path, collector)
    return collector.result()
